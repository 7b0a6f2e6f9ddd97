"""2D flood simulation on a DEM: the local inertial shallow-water scheme (Bates et al. 2010,
θ-weighted as in de Almeida et al. 2012), compiled with numba where it imports, plain numpy
otherwise, and a quick "bathtub" fill.

- `run_flood(FloodScenario(...))`: files in, rasters and a summary out (what `twin sim flood`
  runs);
- `FloodModel(Grid.from_array(z, dx), ...)`: the model on arrays in memory, for tests and
  notebooks;
- `bathtub(grid, level, seeds)`: the cells connected to the seeds below a level, in a second.
"""

from twin.sim.flood.bathtub import bathtub
from twin.sim.flood.errors import FloodDivergedError, FloodInputError
from twin.sim.flood.grid import Grid, read_dem
from twin.sim.flood.model import FloodModel, SchemeParams
from twin.sim.flood.run import FloodScenario, run_flood
from twin.sim.flood.sources import Inflow, Series, Sources, locate

__all__ = [
    "FloodDivergedError",
    "FloodInputError",
    "FloodModel",
    "FloodScenario",
    "Grid",
    "Inflow",
    "SchemeParams",
    "Series",
    "Sources",
    "bathtub",
    "locate",
    "read_dem",
    "run_flood",
]

"""Simulations run on the territory's data: flood (2D shallow water on the DEM) for now; walk
and access later. Each simulation is a library package with a thin CLI in `twin.sim.cli`."""

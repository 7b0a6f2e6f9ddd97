"""Shared fixtures: the real OSM extracts and DEM of ../shared/data, networks built once per
session (cached where the CLI looks, so CLI tests load instead of rebuilding), and the same
graph in networkx for brute-force answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from twin.routing.network import BuildOptions, Network, load_network

#: Two real addresses' worth of points in Monaco: Fontvieille to Monte-Carlo.
FONTVIEILLE = (7.4197, 43.7311)
MONTE_CARLO = (7.4280, 43.7398)
SEA = (7.43, 43.72)  # a kilometre off the coast
HARBOUR = (7.4245, 43.7350)  # Port Hercule's basin
HILLS = (7.3808, 43.7663)  # inside the extract, about 580 m from any way


@pytest.fixture(scope="session")
def pbf(shared_data: Path) -> Path:
    return shared_data / "osm" / "monaco-osrm-2016.osm.pbf"


@pytest.fixture(scope="session")
def xml_gz(shared_data: Path) -> Path:
    return shared_data / "osm" / "monaco.osm.gz"


@pytest.fixture(scope="session")
def dem(shared_data: Path) -> str:
    return f"/vsizip/{(shared_data / 'dem' / 'N43E007.hgt.zip').resolve()}/N43E007.hgt"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TWIN_DATA_DIR of the CLI tests; networks cache under data_dir/cache/routing."""
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def cache_dir(data_dir: Path) -> Path:
    return data_dir / "cache" / "routing"


@pytest.fixture(scope="session")
def network(pbf: Path, cache_dir: Path) -> Network:
    return load_network(pbf, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def small_dem_network(xml_gz: Path, dem: str, cache_dir: Path) -> Network:
    """Monaco 2012 (XML) with SRTM heights: small, so the DEM path costs little."""
    return load_network(xml_gz, options=BuildOptions(dem=dem), cache_dir=cache_dir)


def to_networkx(network: Network, cost: np.ndarray) -> nx.DiGraph:
    """The same directed graph (parallel arcs: the cheapest), finite costs only."""
    a = network.arcs
    graph = nx.DiGraph()
    graph.add_nodes_from(range(network.nodes.x.size))
    order = np.argsort(-cost)  # cheapest last, so it wins
    for i in order[np.isfinite(cost[order])]:
        graph.add_edge(int(a.tail[i]), int(a.head[i]), w=float(cost[i]))
    return graph


@pytest.fixture(scope="session")
def walk_cost(network: Network) -> np.ndarray:
    return np.where(network.arcs.walk, network.arcs.length, np.inf)


@pytest.fixture(scope="session")
def walk_graph(network: Network, walk_cost: np.ndarray) -> nx.DiGraph:
    return to_networkx(network, walk_cost)


@pytest.fixture
def data_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's environment: its data directory (network cache, no sensor database)."""
    monkeypatch.setenv("TWIN_DATA_DIR", str(data_dir))
    yield data_dir

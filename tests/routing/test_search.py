"""The kernels against networkx and scipy on the same graph, and the profile cost formula."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

from tests.routing.conftest import to_networkx
from twin.routing.network import Network
from twin.routing.profiles import PROFILES, arc_costs, resolve
from twin.routing.scores import FACTORS, ArcEnvironment, Conditions
from twin.routing.search import Seeds, dijkstra, shortest


def _pairs(network: Network, count: int, seed: int) -> np.ndarray:
    label, main = network.components("walk")
    return np.random.default_rng(seed).choice(np.flatnonzero(label == main), (count, 2))


def _route(network: Network, cost: np.ndarray, s: int, t: int):  # type: ignore[no-untyped-def]
    one = np.zeros(1)
    return shortest(network, cost, Seeds(np.array([s]), one), Seeds(np.array([t]), one))


def test_shortest_equals_networkx_dijkstra(
    network: Network, walk_cost: np.ndarray, walk_graph: nx.DiGraph
) -> None:
    a = network.arcs
    for s, t in _pairs(network, 50, seed=1):
        path = _route(network, walk_cost, s, t)
        expected = nx.dijkstra_path_length(walk_graph, int(s), int(t), weight="w")
        assert path is not None and path.cost == pytest.approx(expected, rel=1e-12, abs=1e-9)
        # the arcs form a path from s to t whose costs add up
        assert path.first == s and path.last == t
        if path.arcs.size:
            assert a.tail[path.arcs[0]] == s and a.head[path.arcs[-1]] == t
            np.testing.assert_array_equal(a.head[path.arcs[:-1]], a.tail[path.arcs[1:]])
        assert walk_cost[path.arcs].sum() == pytest.approx(path.cost)


def test_shortest_equals_scipy_for_every_profile(network: Network) -> None:
    """Landmark bounds stay valid for costs above the length: the quiet, school and bike
    (directed) profiles give scipy's answers too."""
    env = ArcEnvironment(network, Conditions())
    n = network.nodes.x.size
    for name in ("quiet", "school", "bike"):
        cost = arc_costs(env, PROFILES[name])
        ok = np.isfinite(cost)
        matrix = csr_matrix((cost[ok], (network.arcs.tail[ok], network.arcs.head[ok])), (n, n))
        pairs = _pairs(network, 12, seed=2)
        rows = scipy_dijkstra(matrix, directed=True, indices=pairs[:, 0])
        for row, (s, t) in zip(rows, pairs, strict=True):
            path = _route(network, cost, s, t)
            if np.isinf(row[t]):
                assert path is None
            else:
                assert path is not None and path.cost == pytest.approx(row[t], rel=1e-9)


def test_multi_source_dijkstra_equals_networkx(
    network: Network, walk_cost: np.ndarray, walk_graph: nx.DiGraph
) -> None:
    sources = _pairs(network, 5, seed=3)[:, 0]
    offsets = np.array([0.0, 10.0, 25.0, 3.0, 100.0])
    tree = dijkstra(network, walk_cost, Seeds(sources, offsets))
    graph = walk_graph.copy()
    for s, off in zip(sources, offsets, strict=True):
        graph.add_edge("source", int(s), w=float(off))
    expected = nx.single_source_dijkstra_path_length(graph, "source", weight="w")
    reached = np.flatnonzero(np.isfinite(tree))
    assert len(reached) == len(expected) - 1
    for node in reached[::97]:
        assert tree[node] == pytest.approx(expected[int(node)])
    # a limit stops it exactly there
    limited = dijkstra(network, walk_cost, Seeds(sources, offsets), limit=300.0)
    within = {k for k, v in expected.items() if k != "source" and v <= 300.0}
    assert set(np.flatnonzero(np.isfinite(limited)).tolist()) == within


def test_profile_costs_follow_the_formula(network: Network) -> None:
    env = ArcEnvironment(network, Conditions())
    a = network.arcs
    profile = resolve("custom", "noise=2,green=1,steps=0.5,unlit=0.25")
    cost = arc_costs(env, profile)
    factors = {
        "noise": np.clip((a.noise_db - 45.0) / 30.0, 0, 1),
        "green": 1.0 - a.green,
        "steps": a.steps.astype(float),
        "unlit": np.where(a.lit == 1, 0.0, np.where(a.lit == 0, 1.0, 0.5)),
    }
    expected = a.length * (
        1
        + 2 * factors["noise"]
        + factors["green"]
        + 0.5 * factors["steps"]
        + 0.25 * factors["unlit"]
    )
    expected[~a.walk] = np.inf
    np.testing.assert_allclose(cost, expected, rtol=1e-6)
    shortest_cost = arc_costs(env, PROFILES["shortest"])
    np.testing.assert_array_equal(shortest_cost[a.walk], a.length[a.walk])
    assert (cost[a.walk] >= a.length[a.walk]).all()
    for name in FACTORS:
        if name != "shade":
            f = env.factor(name)
            assert ((f >= 0) & (f <= 1)).all(), name


def test_networkx_graph_helper_keeps_the_cheapest_parallel_arc(network: Network) -> None:
    cost = np.where(network.arcs.walk, network.arcs.length, np.inf)
    graph = to_networkx(network, cost)
    t, h = int(network.arcs.tail[0]), int(network.arcs.head[0])
    parallel = (network.arcs.tail == t) & (network.arcs.head == h)
    assert graph[t][h]["w"] == pytest.approx(cost[parallel].min())

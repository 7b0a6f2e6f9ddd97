"""Benchmark: walking routes on a whole city's network against networkx's Dijkstra on the very
same graph, same pairs, same run; plus network build and load times and the accessibility map
of every building.

Why: a planner clicks two points and compares profiles side by side, and the 15-minute map of
the city should come back while they wait. Goals (issue #8): at least 50x networkx per query,
a city-wide accessibility map in under a minute.

Network: the largest real OSM extract in ../shared/data (Monaco and the French communes around
it, 2016: about 24,000 nodes and 51,000 arcs, unsimplified). Pairs: random nodes of the main
connected part (fixed seed). Compared, per query, answer and path included:

- ours, kernel: `search.shortest` (A* with landmark bounds, numba) on the arc costs;
- ours, full request: `planner.plan` from two lon/lat points: snapping, search, geometry and
  every score (noise, air, green, shade, schools...), one route;
- networkx: `nx.dijkstra_path` on an `nx.DiGraph` with the same arcs and costs (and, for
  reference, `nx.bidirectional_dijkstra`).

Each answer of ours is checked against networkx's cost. Not a test: it asserts nothing, and
exits 0 with a message when the data or networkx is missing.

    .venv/bin/python bench/routing.py [--pairs 1000] [--nx-pairs 100] [--profile shortest]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geodata.osm import read_osm
from twin.config import Settings
from twin.routing.access import AccessOptions, access_geojson, accessibility
from twin.routing.network import Network, build_network, load_network
from twin.routing.planner import RouteQuery, plan
from twin.routing.profiles import arc_costs, resolve
from twin.routing.scores import ArcEnvironment, Conditions
from twin.routing.search import Seeds, landmarks_for, shortest

OSM = "osm/monaco-osrm-2016.osm.pbf"


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0


def networkx_graph(network: Network, cost: np.ndarray):  # type: ignore[no-untyped-def]
    """The same directed graph; of parallel arcs, the cheapest (what any search would use)."""
    import networkx as nx

    a = network.arcs
    graph = nx.DiGraph()
    order = np.argsort(-cost)
    for i in order[np.isfinite(cost[order])]:
        graph.add_edge(int(a.tail[i]), int(a.head[i]), w=float(cost[i]))
    return graph


def bench_build(path: Path) -> Network:
    data, read_s = timed(read_osm, path)
    network, build_s = timed(build_network, data)
    with tempfile.TemporaryDirectory() as tmp:
        load_network(path, cache_dir=tmp)  # builds again and writes the cache file
        _, load_s = timed(load_network, path, cache_dir=tmp)
    n, arcs = network.nodes.x.size, network.arcs.tail.size
    print(f"network: {n:,} nodes, {arcs:,} arcs, {len(network.features.buildings):,} buildings")
    print(
        f"build: read {read_s:.2f} s + build {build_s:.2f} s (noise, air, green...), "
        f"then load from the .npz cache {load_s * 1000:.0f} ms "
        f"({(read_s + build_s) / load_s:.0f}x)"
    )
    return network


def bench_routes(network: Network, profile_name: str, pairs: int, nx_pairs: int) -> None:
    import networkx as nx

    profile = resolve(profile_name)
    env = ArcEnvironment(network, Conditions())
    cost = arc_costs(env, profile)
    label, main = network.components(profile.mode)
    rng = np.random.default_rng(8)
    nodes = rng.choice(np.flatnonzero(label == main), (pairs, 2))
    one = np.zeros(1)
    bounds, prepare_s = timed(landmarks_for, network, cost)

    def ours(s: int, t: int):  # type: ignore[no-untyped-def]
        src, dst = Seeds(np.array([s]), one), Seeds(np.array([t]), one)
        return shortest(network, cost, src, dst, bounds=bounds)

    ours(*nodes[0])  # compile / load the kernel
    paths, ours_s = timed(lambda: [ours(s, t) for s, t in nodes])
    graph = networkx_graph(network, cost)
    ref, nx_s = timed(
        lambda: [nx.dijkstra_path(graph, int(s), int(t), weight="w") for s, t in nodes[:nx_pairs]]
    )
    _, bi_s = timed(
        lambda: [
            nx.bidirectional_dijkstra(graph, int(s), int(t), weight="w")
            for s, t in nodes[:nx_pairs]
        ]
    )
    worst = 0.0
    for p, r in zip(paths, ref, strict=False):
        expected = sum(graph[u][v]["w"] for u, v in itertools.pairwise(r))
        got = p.cost if p is not None else np.inf
        worst = max(worst, abs(got - expected) / max(expected, 1.0))
    per_ours, per_nx, per_bi = ours_s / pairs, nx_s / nx_pairs, bi_s / nx_pairs
    print(
        f"profile {profile_name}: {pairs} pairs (networkx: first {nx_pairs}), "
        f"largest relative cost difference {worst:.1e}; landmarks of this cost array "
        f"{prepare_s * 1000:.0f} ms, once"
    )
    print(f"  ours, kernel        {1 / per_ours:8.0f} routes/s  {per_ours * 1e3:7.3f} ms")
    print(
        f"  networkx dijkstra   {1 / per_nx:8.1f} routes/s  {per_nx * 1e3:7.2f} ms   "
        f"ratio {per_nx / per_ours:6.1f}x"
    )
    print(
        f"  networkx bidirect.  {1 / per_bi:8.1f} routes/s  {per_bi * 1e3:7.2f} ms   "
        f"ratio {per_bi / per_ours:6.1f}x"
    )
    full = _full_requests(network, profile_name, nodes[: max(pairs // 10, 10)])
    print(
        f"  ours, full request  {1 / full:8.0f} routes/s  {full * 1e3:7.3f} ms   "
        f"ratio {per_nx / full:6.1f}x  (snap, search, geometry, all scores)"
    )


def _full_requests(network: Network, profile_name: str, nodes: np.ndarray) -> float:
    """Seconds per `plan` call between the lon/lat of node pairs (conditions fixed, so the
    shade map is built once, as a server does for the same quarter hour)."""
    lon, lat = network.nodes.lon, network.nodes.lat
    conditions = Conditions()
    profile = resolve(profile_name)
    queries = [
        RouteQuery((lon[s], lat[s]), (lon[t], lat[t]), profile, 1, conditions) for s, t in nodes
    ]
    plan(network, queries[0])
    _, seconds = timed(lambda: [plan(network, q) for q in queries])
    return seconds / len(queries)


def bench_access(network: Network) -> None:
    result, compute_s = timed(accessibility, network, "all", AccessOptions(minutes=15))
    data, geojson_s = timed(access_geojson, result)
    shares = ", ".join(f"{k} {v:.0%}" for k, v in data["summary"]["share_within"].items())
    print(
        f"accessibility, all {result.places.ids.size:,} buildings x 5 categories: "
        f"{compute_s:.2f} s (+ GeoJSON {geojson_s:.2f} s); goal < 60 s: "
        f"{60 / (compute_s + geojson_s):.0f}x under"
    )
    print(f"  within 15 min: {shares}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=1000, help="queries of ours")
    ap.add_argument("--nx-pairs", type=int, default=100, help="queries of networkx (slow)")
    ap.add_argument("--profile", action="append", help="profiles (default: shortest, quiet)")
    args = ap.parse_args()
    path = Settings().shared_data_dir / OSM
    if not path.is_file():
        print(f"no OSM extract at {path}: nothing to benchmark")
        return
    try:
        import networkx  # noqa: F401
    except ImportError:
        print("networkx is not installed: no baseline to compare with (pip install networkx)")
        return
    network = bench_build(path)
    for name in args.profile or ["shortest", "quiet"]:
        bench_routes(network, name, args.pairs, min(args.nx_pairs, args.pairs))
    bench_access(network)


if __name__ == "__main__":
    main()

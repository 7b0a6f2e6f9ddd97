"""Accessibility against brute force, isochrones exactly as far as the time allows."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from tests.routing.conftest import FONTVIEILLE, to_networkx
from twin.errors import InputError
from twin.routing.access import (
    AccessOptions,
    access_geojson,
    accessibility,
    amenity_seeds,
    isochrones,
    summary,
)
from twin.routing.network import Network
from twin.routing.planner import snap


@pytest.fixture(scope="module")
def time_graph(network: Network) -> nx.DiGraph:
    return to_networkx(network, np.where(network.arcs.walk, network.arcs.walk_s, np.inf))


@pytest.fixture(scope="module")
def schools(network: Network):  # type: ignore[no-untyped-def]
    return accessibility(network, "school", AccessOptions(minutes=15))


def test_times_equal_brute_force_dijkstra(
    network: Network, time_graph: nx.DiGraph, schools
) -> None:  # type: ignore[no-untyped-def]
    seeds = amenity_seeds(network, "school")
    assert seeds.nodes.size >= 10
    places = schools.places
    rng = np.random.default_rng(5)
    for i in rng.choice(places.ids.size, 12, replace=False):
        # brute force: from the building's node to every school, the cheapest total
        from_building = nx.single_source_dijkstra_path_length(
            time_graph, int(places.node[i]), weight="w"
        )
        options = [
            from_building[int(n)] + c
            for n, c in zip(seeds.nodes, seeds.cost, strict=True)
            if int(n) in from_building
        ]
        expected = min(options) + places.offset_s[i] if options else np.inf
        assert schools.times["school"][i] == pytest.approx(expected, rel=1e-9)


def test_all_categories_and_score(network: Network) -> None:
    result = accessibility(network, "all", AccessOptions(minutes=15))
    assert set(result.times) == {"school", "food", "health", "park", "transport"}
    limit = 15 * 60
    expected = 100 * np.mean([np.clip(2 - t / limit, 0, 1) for t in result.times.values()], 0)
    np.testing.assert_allclose(result.score, expected)
    data = access_geojson(result)
    props = data["features"][0]["properties"]
    assert {"id", "school_min", "park_min", "within", "score"} <= set(props)
    assert len(data["features"]) == len(network.features.buildings)
    shares = data["summary"]["share_within"]
    assert 0 < shares["school"] < shares["transport"] < 1


def test_a_longer_time_reaches_more(network: Network, schools) -> None:  # type: ignore[no-untyped-def]
    more = accessibility(network, "school", AccessOptions(minutes=30))
    np.testing.assert_array_equal(more.times["school"], schools.times["school"])
    assert summary(more)["share_within"]["school"] > summary(schools)["share_within"]["school"]


def test_grid_and_bbox(network: Network) -> None:
    grid = accessibility(network, "park", AccessOptions(grid_m=200))
    assert 500 < grid.places.ids.size < 5000
    assert grid.places.geoms[0].geom_type == "Polygon"
    box = (7.41, 43.725, 7.43, 43.74)
    part = accessibility(network, "park", AccessOptions(bbox=box))
    assert 0 < part.places.ids.size < len(network.features.buildings)
    assert shapely.intersects(part.places.geoms, shapely.box(*box)).all()


def test_isochrone_holds_exactly_the_nodes_within_the_time(
    network: Network, time_graph: nx.DiGraph
) -> None:
    start = snap(network, *FONTVIEILLE, mode="walk", what="from")
    a = network.arcs
    g = time_graph.copy()
    fwd = 2 * start.edge
    g.add_edge("P", int(a.head[fwd]), w=(1 - start.t) * a.walk_s[fwd])
    g.add_edge("P", int(a.tail[fwd]), w=start.t * a.walk_s[fwd + 1])
    dist = nx.single_source_dijkstra_path_length(g, "P", weight="w")
    items = isochrones(network, *FONTVIEILLE, [5, 10])
    for iso in items:
        expected = {k for k, v in dist.items() if k != "P" and v <= iso.minutes * 60}
        assert set(iso.nodes.tolist()) == expected
        points = shapely.points(network.nodes.lon[iso.nodes], network.nodes.lat[iso.nodes])
        assert shapely.covers(iso.polygon, points).all()
    assert items[0].polygon.area < items[1].polygon.area
    assert items[1].polygon.covers(items[0].polygon.buffer(-1e-6))


def test_bad_requests(network: Network) -> None:
    with pytest.raises(InputError, match="unknown category 'bars'"):
        accessibility(network, "bars", AccessOptions())
    with pytest.raises(InputError, match="minutes"):
        accessibility(network, "school", AccessOptions(minutes=0))
    with pytest.raises(InputError, match="in the water"):
        isochrones(network, 7.43, 43.72, [10])

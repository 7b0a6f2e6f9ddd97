"""Bike-lane siting: candidates, sub-scores and ranking."""

from __future__ import annotations

import numpy as np

from twin.routing.bike import WEIGHTS, candidates, ranking_geojson
from twin.routing.network import HEAVY, Network


def test_candidates_exclude_existing_lanes_and_fast_roads(network: Network) -> None:
    found = candidates(network)
    a = network.arcs
    hw = network.ways.highway[found.way]
    assert not np.isin(hw, ["motorway", "trunk", "motorway_link", "trunk_link"]).any()
    cycle_ways = np.unique(a.way[a.cycleway])
    assert not np.isin(found.way, cycle_ways).any()
    assert (found.length_m >= 50).all() and len(found.way) > 500
    # heavy roads are at distance 0 of themselves, so not calm
    heavy_ways = np.unique(a.way[a.traffic >= HEAVY])
    assert (found.calm[np.isin(found.way, heavy_ways)] == 0).all()


def test_scores_follow_their_definition(network: Network) -> None:
    found = candidates(network)
    expected = 100 * (
        WEIGHTS["flatness"] * 1.0
        + WEIGHTS["calm"] * found.calm
        + WEIGHTS["connection"] * found.connection
    )
    np.testing.assert_allclose(found.score, expected)  # no DEM: every street counts as flat
    assert ((found.connection >= 0) & (found.connection <= 1)).all()


def test_ranking_geojson_best_first(network: Network, small_dem_network: Network) -> None:
    data = ranking_geojson(network, candidates(network), 20)
    scores = [f["properties"]["score"] for f in data["features"]]
    assert len(scores) == 20 and scores == sorted(scores, reverse=True)
    assert data["features"][0]["geometry"]["type"] == "LineString" and "no DEM" in data["note"]
    hilly = candidates(small_dem_network)
    assert np.isfinite(hilly.mean_grade).all() and hilly.flatness.min() < 0.5
    top = ranking_geojson(small_dem_network, hilly, 5)["features"]
    assert all(f["properties"]["mean_grade"] is not None for f in top)

"""Routes between points: exact shortest paths, profiles that do what they say, alternatives,
scores, live sensors, and clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import networkx as nx
import numpy as np
import pytest
import shapely

from tests.routing.conftest import FONTVIEILLE, HARBOUR, HILLS, MONTE_CARLO, SEA
from twin.errors import InputError
from twin.routing.live import Readings, SensorReadings
from twin.routing.network import Network
from twin.routing.planner import RouteQuery, plan, snap, to_geojson
from twin.routing.profiles import arc_costs, resolve
from twin.routing.scores import ArcEnvironment, Conditions

NOON = Conditions(when=datetime(2024, 7, 15, 12, 0, tzinfo=UTC))


def _plan(network: Network, profile: str = "shortest", k: int = 1, **kw: object):  # type: ignore[no-untyped-def]
    query = RouteQuery(
        kw.pop("origin", FONTVIEILLE),
        kw.pop("destination", MONTE_CARLO),  # type: ignore[arg-type]
        resolve(profile),
        k,
        kw.pop("conditions", NOON),
        **kw,
    )  # type: ignore[arg-type]
    return plan(network, query)


def _point_to_point(network: Network, graph: nx.DiGraph, a: tuple, b: tuple) -> float:
    """Brute force: the two snapped points as extra nodes of the networkx graph."""
    s, t = snap(network, *a, mode="walk", what="from"), snap(network, *b, mode="walk", what="to")
    g = graph.copy()
    arcs, length = network.arcs, network.arcs.length
    es, et = 2 * s.edge, 2 * t.edge
    g.add_edge("S", int(arcs.head[es]), w=(1 - s.t) * length[es])
    g.add_edge("S", int(arcs.tail[es]), w=s.t * length[es])
    g.add_edge(int(arcs.tail[et]), "T", w=t.t * length[et])
    g.add_edge(int(arcs.head[et]), "T", w=(1 - t.t) * length[et])
    best = nx.dijkstra_path_length(g, "S", "T", weight="w")
    if s.edge == t.edge:
        best = min(best, abs(s.t - t.t) * length[es])
    return float(best)


def test_shortest_route_is_the_true_shortest_path(network: Network, walk_graph: nx.DiGraph) -> None:
    rng = np.random.default_rng(7)
    w, s, e, n = 7.415, 43.727, 7.440, 43.745  # central Monaco
    for _ in range(12):
        a = (float(rng.uniform(w, e)), float(rng.uniform(s, n)))
        b = (float(rng.uniform(w, e)), float(rng.uniform(s, n)))
        try:
            routes = _plan(network, origin=a, destination=b)
        except InputError as exc:
            assert "water" in exc.message  # random points may fall in the sea
            continue
        expected = _point_to_point(network, walk_graph, a, b)
        assert routes[0].cost == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert routes[0].scores["length_m"] == pytest.approx(expected, abs=0.051)


def test_quiet_route_is_quieter_and_longer(network: Network) -> None:
    shortest = _plan(network, "shortest")[0].scores
    quiet = _plan(network, "quiet")[0].scores
    assert quiet["noise_mean_db"] < shortest["noise_mean_db"] - 2
    assert quiet["length_m"] > shortest["length_m"]


@pytest.mark.parametrize(
    ("profile", "score", "better"),
    [
        ("green", "green_share", max),
        ("clean", "no2_mean_ugm3", min),
        ("cool", "shade_share", max),
    ],
)
def test_profiles_improve_their_own_score(
    network: Network, profile: str, score: str, better: object
) -> None:
    base = _plan(network, "shortest")[0].scores[score]
    own = _plan(network, profile)[0].scores[score]
    assert better(base, own) == own and own != base  # type: ignore[operator]


def test_route_cost_is_the_formula_along_the_route(network: Network) -> None:
    route = _plan(network, "quiet")[0]
    env = ArcEnvironment(network, NOON)
    cost = arc_costs(env, resolve("quiet"))
    assert route.cost == pytest.approx(float((cost[route.leg.arcs] * route.leg.fractions).sum()))
    noise = np.clip((env.noise_db[route.leg.arcs] - 45) / 30, 0, 1)
    metres = network.arcs.length[route.leg.arcs] * route.leg.fractions
    assert route.cost == pytest.approx(float((metres * (1 + 4 * noise)).sum()))


def test_alternatives_are_distinct_and_best_first(network: Network) -> None:
    routes = _plan(network, "shortest", k=3)
    assert len(routes) == 3
    costs = [r.cost for r in routes]
    assert costs == sorted(costs) and costs[0] == pytest.approx(_plan(network)[0].cost)
    edges = [set((r.leg.arcs // 2).tolist()) for r in routes]
    assert edges[0] != edges[1] and edges[1] != edges[2]


def test_route_geometry_starts_and_ends_at_the_points(network: Network) -> None:
    route = _plan(network)[0]
    start, end = route.lonlat[0], route.lonlat[-1]
    assert np.hypot(*(start - FONTVIEILLE)) < 0.001 and np.hypot(*(end - MONTE_CARLO)) < 0.001
    x, y = network.frame.to_xy(route.lonlat[:, 0], route.lonlat[:, 1])
    line_length = shapely.length(shapely.linestrings(np.column_stack([x, y])))
    assert line_length == pytest.approx(route.scores["length_m"], abs=0.5)


def test_scores_are_complete_and_plausible(network: Network, small_dem_network: Network) -> None:
    scores = _plan(network)[0].scores
    for key in (
        "length_m",
        "duration_s",
        "noise_mean_db",
        "noise_max_db",
        "no2_mean_ugm3",
        "pm10_mean_ugm3",
        "green_share",
        "shade_share",
        "climb_m",
        "schools_served",
    ):
        assert key in scores
    assert scores["duration_s"] == pytest.approx(scores["length_m"] / 1.33, rel=0.2)
    assert scores["noise_max_db"] >= scores["noise_mean_db"] and scores["climb_m"] is None
    hilly = _plan(small_dem_network, origin=(7.4210, 43.7310), destination=(7.4270, 43.7370))
    assert hilly[0].scores["climb_m"] > 0 and hilly[0].scores["descent_m"] is not None


def test_night_is_all_shade(network: Network) -> None:
    night = Conditions(when=datetime(2024, 7, 15, 23, 0, tzinfo=UTC))
    assert _plan(network, conditions=night)[0].scores["shade_share"] == 1.0


def test_a_loud_sensor_raises_noise_where_it_stands(network: Network) -> None:
    quiet_arc = int(np.argmin(network.arcs.noise_db))
    n, a = network.nodes, network.arcs
    lon = float((n.lon[a.tail[quiet_arc]] + n.lon[a.head[quiet_arc]]) / 2)
    lat = float((n.lat[a.tail[quiet_arc]] + n.lat[a.head[quiet_arc]]) / 2)
    loud = SensorReadings(noise=Readings(np.array([lon]), np.array([lat]), np.array([85.0])))
    env = ArcEnvironment(network, Conditions(sensors=loud))
    assert env.noise_db[quiet_arc] == pytest.approx(85.0, abs=0.5)
    far = np.hypot(*(np.array(env.midpoints) - np.array(env.midpoints)[:, [quiet_arc]])) > 3000
    np.testing.assert_allclose(env.noise_db[far], a.noise_db[far], atol=0.05)
    # a sensor far outside the network changes nothing
    away = SensorReadings(noise=Readings(np.array([5.37]), np.array([43.3]), np.array([90.0])))
    np.testing.assert_array_equal(
        ArcEnvironment(network, Conditions(sensors=away)).noise_db, a.noise_db.astype(float)
    )


def test_bike_profile_respects_oneways_and_avoids_steps(network: Network) -> None:
    route = _plan(network, "bike")[0]
    assert network.arcs.bike[route.leg.arcs].all() and route.scores["steps_m"] == 0
    walk = _plan(network, "shortest")[0]
    assert route.scores["duration_s"] < walk.scores["duration_s"]


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ((7.60, 43.73), "outside the network's area"),
        (SEA, "in the water"),
        (HARBOUR, "in the water"),
        (HILLS, "m from the nearest way usable on foot"),
        ((float("nan"), 43.7), "not a longitude,latitude"),
    ],
)
def test_bad_points_are_refused(network: Network, point: tuple, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _plan(network, destination=point)


def test_unreachable_pair_is_refused(network: Network) -> None:
    x, y = network.frame.to_xy(np.array([MONTE_CARLO[0]]), np.array([MONTE_CARLO[1]]))
    ring = shapely.Point(x[0], y[0]).buffer(200).difference(shapely.Point(x[0], y[0]).buffer(150))
    lonlat = shapely.transform(
        ring, lambda c: np.column_stack(network.frame.to_lonlat(c[:, 0], c[:, 1]))
    )
    with pytest.raises(InputError, match=r"no walking route .* outside the areas to avoid"):
        _plan(network, avoid=np.array([lonlat], dtype=object))


def test_same_point_and_bad_alternatives(network: Network) -> None:
    routes = _plan(network, destination=FONTVIEILLE)
    assert routes[0].scores["length_m"] == 0
    assert (
        to_geojson(routes, resolve("shortest"))["features"][0]["geometry"]["type"] == "LineString"
    )
    with pytest.raises(InputError, match="alternatives"):
        _plan(network, k=9)


@pytest.mark.parametrize(
    ("name", "weights", "message"),
    [
        ("fastest", None, "unknown profile 'fastest'"),
        ("custom", None, "needs weights"),
        ("quiet", "loud=2", "unknown factor 'loud'"),
        ("quiet", "noise=-1", "from 0 to"),
        ("quiet", "noise=abc", "FACTOR=NUMBER"),
    ],
)
def test_bad_profiles_are_refused(name: str, weights: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve(name, weights)

"""The command-line contract of `twin route walk` and `twin access`, and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.routing.conftest import FONTVIEILLE, MONTE_CARLO, SEA
from twin.cli import app
from twin.routing.network import Network

runner = CliRunner()
PROPERTIES = {
    "profile",
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
}


def _point(p: tuple[float, float]) -> str:
    return f"{p[0]},{p[1]}"


def _walk(pbf: Path, *extra: str, to: tuple = MONTE_CARLO):  # type: ignore[no-untyped-def]
    args = [
        "route",
        "walk",
        "--osm",
        str(pbf),
        "--from",
        _point(FONTVIEILLE),
        "--to",
        _point(to),
        "--when",
        "2024-07-15T14:00",
        *extra,
    ]
    return runner.invoke(app, args)


def _check_collection(data: dict, count: int, profile: str) -> None:
    assert data["type"] == "FeatureCollection" and len(data["features"]) == count
    for feature in data["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "LineString"
        coords = feature["geometry"]["coordinates"]
        assert len(coords) >= 2
        for lon, lat in coords:
            assert 7.34 < lon < 7.50 and 43.71 < lat < 43.78  # WGS84 degrees, lon first
        props = feature["properties"]
        assert set(props) >= PROPERTIES and props["profile"] == profile
        assert props["length_m"] > 0 and props["duration_s"] > 0


def test_route_walk_contract(pbf: Path, network: Network, data_env: Path) -> None:
    result = _walk(pbf, "--profile", "quiet", "--alternatives", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    _check_collection(data, 3, "quiet")
    costs = [f["properties"]["cost"] for f in data["features"]]
    assert costs == sorted(costs) and [f["properties"]["rank"] for f in data["features"]] == [
        1,
        2,
        3,
    ]


def test_route_walk_shortest_is_the_library_shortest(
    pbf: Path, network: Network, data_env: Path
) -> None:
    from twin.routing.planner import RouteQuery, plan
    from twin.routing.profiles import resolve

    result = _walk(pbf)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    _check_collection(data, 1, "shortest")
    expected = plan(network, RouteQuery(FONTVIEILLE, MONTE_CARLO, resolve("shortest")))[0]
    assert data["features"][0]["properties"]["length_m"] == expected.scores["length_m"]


@pytest.mark.parametrize(
    ("extra", "to", "message"),
    [
        (("--profile", "fastest"), MONTE_CARLO, "unknown profile 'fastest'"),
        (("--weights", "noise=x"), MONTE_CARLO, "FACTOR=NUMBER"),
        ((), SEA, "in the water"),
        ((), (8.0, 44.0), "outside the network's area"),
        (("--alternatives", "0"), MONTE_CARLO, "alternatives"),
        (("--when", "tomorrow"), MONTE_CARLO, "ISO date"),
    ],
)
def test_route_walk_errors_exit_2(
    pbf: Path, network: Network, data_env: Path, extra: tuple, to: tuple, message: str
) -> None:
    result = _walk(pbf, *extra, to=to)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


def test_bad_point_and_corrupt_file_exit_2(tmp_path: Path, data_env: Path) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot really a pbf file")
    result = runner.invoke(
        app, ["route", "walk", "--osm", str(bad), "--from", "7.42,43.73", "--to", "7.43,43.74"]
    )
    assert result.exit_code == 2 and "not a readable OSM file" in result.stderr
    result = runner.invoke(
        app, ["route", "walk", "--osm", str(bad), "--from", "7.42", "--to", "7.43,43.74"]
    )
    assert result.exit_code == 2 and "expected LON,LAT" in result.stderr


def test_access_writes_geojson(pbf: Path, network: Network, data_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "schools.geojson"
    result = runner.invoke(
        app,
        ["access", "--osm", str(pbf), "--category", "school", "--minutes", "10", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) == len(network.features.buildings)
    props = data["features"][0]["properties"]
    assert set(props) == {"id", "school_min", "within"} and data["summary"]["minutes"] == 10
    assert data["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "within 10 min" in result.stderr


def test_access_prints_to_stdout_and_refuses_bad_input(xml_gz: Path, data_env: Path) -> None:
    result = runner.invoke(app, ["access", "--osm", str(xml_gz), "--category", "all"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "score" in data["features"][0]["properties"]
    bad = runner.invoke(app, ["access", "--osm", str(xml_gz), "--category", "bars"])
    assert bad.exit_code == 2 and "unknown category 'bars'" in bad.stderr
    bad = runner.invoke(
        app, ["access", "--osm", str(xml_gz), "--category", "food", "--minutes", "-3"]
    )
    assert bad.exit_code == 2 and "minutes" in bad.stderr


def test_isochrone_and_bike_lanes_commands(xml_gz: Path, data_env: Path) -> None:
    result = runner.invoke(
        app,
        [
            "route",
            "isochrone",
            "--osm",
            str(xml_gz),
            "--from",
            "7.4246,43.7384",
            "--minutes",
            "5,10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert [f["properties"]["minutes"] for f in json.loads(result.stdout)["features"]] == [5, 10]
    result = runner.invoke(app, ["route", "bike-lanes", "--osm", str(xml_gz), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["features"]) == 3


def test_route_walk_stdout_is_pure_geojson_in_a_real_process(
    pbf: Path, network: Network, data_dir: Path
) -> None:
    """What outside checks see: stdout parses as GeoJSON as a whole, notes go to stderr."""
    env = {**os.environ, "TWIN_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    args = [
        "route",
        "walk",
        "--osm",
        str(pbf),
        "--from",
        _point(FONTVIEILLE),
        "--to",
        _point(MONTE_CARLO),
        "--profile",
        "green",
        "--alternatives",
        "2",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    _check_collection(json.loads(done.stdout), 2, "green")
    assert "1. green:" in done.stderr

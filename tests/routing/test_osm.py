"""The OSM reader: the right ways kept, amenities by category, buildings, bad files refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from geodata.osm import OsmError, category, is_bikeable, is_walkable, parse_height, read_osm


@pytest.fixture(scope="module")
def pbf_data(pbf: Path):  # type: ignore[no-untyped-def]
    return read_osm(pbf)


def test_pbf_ways_follow_the_filters(pbf_data) -> None:  # type: ignore[no-untyped-def]
    ways = pbf_data.ways
    hw = ways.tags["highway"]
    assert len(ways) > 2500 and ways.walk.sum() > 2500
    assert not np.isin(hw[ways.walk], ["motorway", "motorway_link", "cycleway"]).any()
    assert not ways.walk[
        np.isin(ways.tags["access"], ["private", "no"])
        & ~np.isin(ways.tags["foot"], ["yes", "designated", "permissive"])
    ].any()
    assert not ways.walk[ways.tags["foot"] == "no"].any()
    assert not ways.bike[
        np.isin(hw, ["steps", "footway", "pedestrian"])
        & ~np.isin(ways.tags["bicycle"], ["yes", "designated"])
    ].any()
    assert (hw == "steps").sum() > 200  # the steep Monaco network keeps its stairs
    # CSR: every way has at least two located nodes
    assert (np.diff(ways.offsets) >= 2).all() and ways.offsets[-1] == ways.node_ids.size
    assert ways.lon.min() > 7.3 and ways.lon.max() < 7.5 and 43.7 < ways.lat.min() < 43.8


def test_pbf_features(pbf_data) -> None:  # type: ignore[no-untyped-def]
    kinds = set(pbf_data.pois.kind)
    assert {"school", "food", "health", "park", "transport"} <= kinds
    assert len(pbf_data.buildings) > 23_000
    assert np.isfinite(pbf_data.buildings.height).sum() >= 1
    assert len(pbf_data.trees) > 200 and len(pbf_data.green) > 40
    assert pbf_data.coastline.size > 0 and pbf_data.crossings.size > 300
    assert all(g.geom_type in ("Polygon", "MultiPolygon") for g in pbf_data.buildings.geoms)


def test_xml_gz_reads_like_pbf(xml_gz: Path) -> None:
    data = read_osm(xml_gz)
    assert 800 < len(data.ways) < 900
    assert len(data.buildings) > 900 and "school" in set(data.pois.kind)


@pytest.mark.parametrize(
    ("tags", "walk", "bike"),
    [
        ({"highway": "footway"}, True, False),
        ({"highway": "steps"}, True, False),
        ({"highway": "residential"}, True, True),
        ({"highway": "motorway"}, False, False),
        ({"highway": "primary", "foot": "no"}, False, True),
        ({"highway": "service", "access": "private"}, False, False),
        ({"highway": "path", "access": "private", "foot": "yes"}, True, False),
        ({"highway": "cycleway"}, False, True),
        ({"highway": "cycleway", "foot": "designated"}, True, True),
        ({"highway": "footway", "bicycle": "yes"}, True, True),
        ({"highway": "pedestrian", "area": "yes"}, False, False),
        ({"highway": "construction"}, False, False),
        ({"building": "yes"}, False, False),
    ],
)
def test_walk_and_bike_filters(tags: dict[str, str], walk: bool, bike: bool) -> None:
    assert is_walkable(tags) is walk and is_bikeable(tags) is bike


def test_categories_and_heights() -> None:
    assert category({"amenity": "school"}) == "school"
    assert category({"shop": "bakery"}) == "food"
    assert category({"healthcare": "physiotherapist"}) == "health"
    assert category({"highway": "bus_stop"}) == "transport"
    assert category({"leisure": "park"}) == "park"
    assert category({"amenity": "bench"}) is None
    assert parse_height({"height": "12.5 m"}) == 12.5
    assert parse_height({"building:levels": "4"}) == 12.0
    assert np.isnan(parse_height({"height": "tall"}))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("garbage.osm.pbf", b"this is not OSM", "not a readable OSM file"),
        ("empty.osm.pbf", b"", "not a readable OSM file"),
        ("broken.osm", b'<osm><node id="1" lat="x"', "not a readable OSM file"),
        ("nothing.osm", b'<osm version="0.6"></osm>', "no walkable or bikeable way"),
        ("notes.txt", b"hello", "not a readable OSM file"),
    ],
)
def test_bad_files_raise_osm_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(OsmError, match=message) as info:
        read_osm(path)
    assert str(path) in str(info.value)


def test_truncated_and_missing_files(tmp_path: Path, xml_gz: Path) -> None:
    cut = tmp_path / "cut.osm.gz"
    cut.write_bytes(xml_gz.read_bytes()[:50_000])
    with pytest.raises(OsmError, match="not a readable OSM file"):
        read_osm(cut)
    with pytest.raises(OsmError, match="no such file"):
        read_osm(tmp_path / "absent.osm.pbf")
    assert gzip.decompress(xml_gz.read_bytes())[:5] == b"<?xml"

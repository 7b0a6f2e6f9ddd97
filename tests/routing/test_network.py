"""The network: built once and cached, true lengths, consistent arcs and CSR, DEM grades."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

import twin.routing.network as network_module
from twin.routing.network import BuildOptions, Network, load_network, walking_speed_factor


def test_cached_network_loads_without_rebuilding(
    network: Network, pbf: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = list(cache_dir.glob("monaco-osrm-2016-*.npz"))
    assert len(files) == 1
    monkeypatch.setattr(network_module, "build_network", _refuse)
    again = load_network(pbf, cache_dir=cache_dir)
    assert again.meta == network.meta
    for name in ("length", "tail", "head", "noise_db", "green", "walk_s"):
        np.testing.assert_array_equal(getattr(again.arcs, name), getattr(network.arcs, name))
    assert len(again.features.buildings.geoms()) == len(network.features.buildings)


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the cached network was rebuilt")


def test_a_changed_source_is_rebuilt(xml_gz: Path, tmp_path: Path) -> None:
    copy = tmp_path / "monaco.osm.gz"
    copy.write_bytes(xml_gz.read_bytes())
    first = load_network(copy, cache_dir=tmp_path / "cache")
    copy.write_bytes(xml_gz.read_bytes() + b"\n")  # different bytes, same content
    second = load_network(copy, cache_dir=tmp_path / "cache")
    assert first.meta.key != second.meta.key
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_arcs_are_consistent_and_lengths_true(network: Network) -> None:
    a, n = network.arcs, network.nodes
    np.testing.assert_array_equal(a.tail[0::2], a.head[1::2])
    np.testing.assert_array_equal(a.head[0::2], a.tail[1::2])
    np.testing.assert_array_equal(a.length[0::2], a.length[1::2])
    _, _, geodesic = Geod(ellps="WGS84").inv(
        n.lon[a.tail], n.lat[a.tail], n.lon[a.head], n.lat[a.head]
    )
    np.testing.assert_allclose(a.length, geodesic, rtol=1e-4, atol=1e-3)
    # CSR lists every arc once, by tail and by head
    c = network.csr
    assert sorted(c.out_arc.tolist()) == list(range(a.tail.size))
    for node in (0, 17, n.x.size - 1):
        assert (a.tail[c.out_arc[c.out_ptr[node] : c.out_ptr[node + 1]]] == node).all()
        assert (a.head[c.in_arc[c.in_ptr[node] : c.in_ptr[node + 1]]] == node).all()


def test_attributes_are_in_range(network: Network) -> None:
    a = network.arcs
    assert ((a.green >= 0) & (a.green <= 1)).all() and a.green.max() == 1
    assert a.noise_db.min() >= 40 and a.noise_db.max() < 90
    # beside primary roads it is louder than on footways
    primary = a.highway == network_module.HIGHWAY_CLASSES.index("primary")
    footway = a.highway == network_module.HIGHWAY_CLASSES.index("footway")
    assert np.median(a.noise_db[primary]) > np.median(a.noise_db[footway]) + 5
    assert np.median(a.no2[primary]) > np.median(a.no2[footway])
    assert np.isnan(a.grade).all() and not network.has_heights
    assert a.steps.sum() > 1000 and a.crossing.any() and a.cycleway.any()
    # oneway streets: cyclists one way only, pedestrians both
    oneway = a.bike[0::2] != a.bike[1::2]
    assert oneway.any() and (a.walk[0::2] == a.walk[1::2]).all()


def test_dem_gives_grades_and_slower_uphill(small_dem_network: Network) -> None:
    net = small_dem_network
    a, z = net.arcs, net.nodes.z
    assert net.has_heights and np.isfinite(z).all()
    expected = np.clip((z[a.head] - z[a.tail]) / np.maximum(a.length, 1e-9), -0.5, 0.5)
    np.testing.assert_allclose(a.grade, expected, atol=1e-5)
    np.testing.assert_array_equal(a.grade[0::2], -a.grade[1::2])
    steep = np.abs(a.grade) > 0.1
    assert steep.any() and (a.walk_s[steep] > a.length[steep] / 1.33).all()
    assert walking_speed_factor(np.array([0.0]), np.array([False]))[0] == pytest.approx(1.0)


def test_dem_is_part_of_the_cache_key(xml_gz: Path, dem: str) -> None:
    plain = network_module.cache_key(xml_gz, BuildOptions())
    assert network_module.cache_key(xml_gz, BuildOptions(dem=dem)) != plain

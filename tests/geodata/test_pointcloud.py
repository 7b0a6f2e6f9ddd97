"""geodata.pointcloud (LAS/LAZ reading, CRS resolution) and the CRS helpers it relies on, against
laspy and pyproj called directly on the real sample files of ../shared/data/pointcloud."""

from __future__ import annotations

from pathlib import Path

import laspy
import numpy as np
import pyproj
import pytest
from pyproj import CRS, Transformer

from geodata.crs import (
    ecef_pipeline,
    ecef_to_local_matrix,
    enu_to_ecef_matrix,
    lonlat_bounds,
    to_local,
)
from geodata.pointcloud import (
    PointCloudError,
    check_plausible,
    iter_chunks,
    read_info,
    resolve_crs,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "pointcloud"
IGN = DATA / "test_semis_2023_0292_6833_LA93_IGN69.laz"
MONTPELLIER = DATA / "test_data_77055_627760_LA93_IGN69.laz"
TOULOUSE = DATA / "cars_mesh_toulouse" / "point_cloud.laz"
AUTZEN = DATA / "autzen-thin-srs.las"
LONE_STAR = DATA / "lone-star.copc.laz"
RAF20 = Path(pyproj.datadir.get_data_dir()) / "fr_ign_RAF20.tif"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"sample point cloud not found at {path}")
    return path


# --- headers and CRS ------------------------------------------------------------------------


def test_read_info_lidar_hd() -> None:
    info = read_info(_need(IGN))
    assert (info.version, info.point_format, info.point_count) == ("1.4", 6, 289_055)
    assert info.compressed and not info.has_color
    assert info.mins[:2] == pytest.approx((292000, 6832000), abs=0.1)
    assert CRS.from_wkt(info.crs).to_epsg() == 2154


def test_read_info_without_crs() -> None:
    info = read_info(_need(TOULOUSE))
    assert info.crs is None and "no CRS" in info.crs_note
    assert info.has_color and info.point_format == 8


def test_geotiff_keys_of_a_user_defined_crs_are_reported() -> None:
    info = read_info(_need(AUTZEN))
    assert info.crs is None and "GeoTIFF keys" in info.crs_note
    with pytest.raises(PointCloudError, match=r"autzen-thin-srs\.las.*--srs"):
        resolve_crs([info])


def test_missing_crs_names_the_file_and_suggests_srs() -> None:
    with pytest.raises(PointCloudError) as err:
        resolve_crs([read_info(_need(MONTPELLIER)), read_info(_need(TOULOUSE))])
    assert str(TOULOUSE) in str(err.value) and "--srs" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_srs_overrides_and_fills() -> None:
    wkt, name = resolve_crs([read_info(_need(TOULOUSE))], "EPSG:32631")
    assert name == "EPSG:32631" and CRS.from_wkt(wkt).to_epsg() == 32631
    with pytest.raises(PointCloudError, match="not a CRS"):
        resolve_crs([read_info(TOULOUSE)], "EPSG:999999")


def test_same_crs_in_several_files_is_one_crs() -> None:
    infos = [read_info(_need(IGN)), read_info(_need(MONTPELLIER))]
    assert resolve_crs(infos)[1] == "EPSG:2154"


def test_different_crs_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "utm.las"
    header = laspy.LasHeader(version="1.4", point_format=6)
    header.add_crs(CRS("EPSG:32631"))
    las = laspy.LasData(header)
    las.x, las.y, las.z = np.array([500000.0]), np.array([4800000.0]), np.array([10.0])
    las.write(other)
    with pytest.raises(PointCloudError, match="different CRSs"):
        resolve_crs([read_info(_need(MONTPELLIER)), read_info(other)])


def test_geocentric_crs_of_projected_coordinates_is_refused() -> None:
    info = read_info(_need(LONE_STAR))
    wkt, name = resolve_crs([info])
    assert CRS.from_wkt(wkt).is_geocentric
    with pytest.raises(PointCloudError, match=r"geocentric.*--srs"):
        check_plausible(wkt, name, [info])


def test_wrong_srs_is_outside_the_area_of_use() -> None:
    info = read_info(_need(TOULOUSE))
    with pytest.raises(PointCloudError, match="area of use"):
        check_plausible(*resolve_crs([info], "EPSG:2154"), [info])
    check_plausible(*resolve_crs([info], "EPSG:32631"), [info])  # the right one passes


@pytest.mark.parametrize("content", [b"x,y,z\n1,2,3\n" * 50, b"", b"LASF" + b"\0" * 40])
def test_not_a_las_file(tmp_path: Path, content: bytes) -> None:
    fake = tmp_path / "points.las"
    fake.write_bytes(content)
    with pytest.raises(PointCloudError, match=r"points\.las"):
        read_info(fake)


def test_missing_file() -> None:
    with pytest.raises(PointCloudError, match="no such file"):
        read_info(DATA / "nope.laz")


def test_truncated_laz_names_the_file(tmp_path: Path) -> None:
    cut = tmp_path / "cut.laz"
    cut.write_bytes(_need(MONTPELLIER).read_bytes()[:120_000])
    with pytest.raises(PointCloudError, match=r"cut\.laz"):
        for _ in iter_chunks(cut, chunk_points=10_000):
            pass


# --- chunked reading ------------------------------------------------------------------------


def test_chunks_and_ranges_match_laspy() -> None:
    las = laspy.read(_need(MONTPELLIER))
    chunks = list(iter_chunks(MONTPELLIER, chunk_points=25_000))
    assert [len(c) for c in chunks] == [25_000, 25_000, 10_653]
    np.testing.assert_array_equal(np.concatenate([c.x for c in chunks]), las.x)
    np.testing.assert_array_equal(
        np.concatenate([c.classification for c in chunks]), las.classification
    )
    # a range in the middle of a compressed file (a seek into a LAZ chunk)
    (part,) = iter_chunks(MONTPELLIER, start=33_333, count=1_000, chunk_points=5_000)
    np.testing.assert_array_equal(part.z, np.asarray(las.z)[33_333:34_333])
    np.testing.assert_array_equal(part.intensity, np.asarray(las.intensity)[33_333:34_333])
    np.testing.assert_array_equal(part.rgb[:, 0], np.asarray(las.red)[33_333:34_333])


def test_copc_reads_as_plain_laz() -> None:
    """COPC's variable-size LAZ chunks: laspy/lazrs mis-seek in them, so they read in order."""
    info = read_info(_need(LONE_STAR))
    assert not info.seekable and read_info(_need(IGN)).seekable
    full = laspy.read(LONE_STAR)
    got = np.concatenate([c.x for c in iter_chunks(LONE_STAR, chunk_points=200_000)])
    np.testing.assert_array_equal(got, full.x)
    assert len(got) == info.point_count == 518_862
    (part,) = iter_chunks(LONE_STAR, start=120_000, count=10, chunk_points=50_000)
    np.testing.assert_array_equal(part.x, np.asarray(full.x)[120_000:120_010])


# --- heights and frames (geodata.crs) -------------------------------------------------------


def test_lambert93_heights_note_and_pipeline() -> None:
    pipe = ecef_pipeline("EPSG:2154")
    if RAF20.is_file():
        assert "RAF20" in pipe.note or "RAF" in " ".join(pipe.grids)
        return
    assert "NGF-IGN69" in pipe.note and "EGM96" in pipe.note and "RAF20" in pipe.note
    expected = Transformer.from_crs("EPSG:2154+5773", "EPSG:4978", always_xy=True)
    x, y, z = 891_000.0, 6_247_000.0, 50.0  # Marseille
    np.testing.assert_allclose(pipe.to_ecef(x, y, z), expected.transform(x, y, z), atol=1e-6)
    # and the geoid offset is really applied: not the ellipsoid (about 50 m off in France)
    ellipsoidal = Transformer.from_crs(CRS("EPSG:2154").to_3d(), "EPSG:4978", always_xy=True)
    assert np.linalg.norm(np.subtract(pipe.to_ecef(x, y, z), ellipsoidal.transform(x, y, z))) > 40


def test_height_assumptions_are_stated() -> None:
    assert "ellipsoidal" in ecef_pipeline("EPSG:4979").note
    assert "geocentric" in ecef_pipeline("EPSG:4978").note
    utm = ecef_pipeline("EPSG:32631")
    assert "no vertical part" in utm.note and "EGM96" in utm.note
    assert "us_nga_egm96_15.tif" in utm.grids


def test_lonlat_bounds_match_pyproj() -> None:
    box = (292_000.0, 6_832_000.0, 293_000.0, 6_833_000.0)
    expected = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform_bounds(
        *box, densify_pts=21
    )
    assert lonlat_bounds("EPSG:2154+5720", box) == pytest.approx(expected, abs=1e-9)


def test_fast_local_frame_matches_pyproj_within_a_millimetre() -> None:
    las = laspy.read(_need(IGN))
    x, y, z = (np.asarray(v, np.float64) for v in (las.x, las.y, las.z))
    pipe = ecef_pipeline("EPSG:2154")
    m = enu_to_ecef_matrix(-2.517, 48.465, 100.0)
    fast = to_local(pipe, m, x, y, z)
    inv = ecef_to_local_matrix(m)
    exact = pipe.to_ecef(x, y, z) @ inv[:3, :3].T + inv[:3, 3]
    assert np.abs(fast - exact).max() < 1e-3
    np.testing.assert_allclose(inv @ m, np.eye(4), atol=1e-9)

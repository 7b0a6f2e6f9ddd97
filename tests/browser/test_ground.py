"""The demo's ground in the viewer: the imported DTM as Cesium terrain, the orthophoto as
imagery over it, the textured mesh and the LiDAR standing on it (Montpellier crop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import Viewer
from tests.browser.test_viewer import (
    SETTLE_MS,
    assert_not_blank,
    canvas_stats,
    layer_id,
    zoom_with_button,
)

pytestmark = pytest.mark.browser

TERRAIN = "Terrain: Montpellier 0.5 m DTM (IGN)"
ORTHO = "Orthophoto: Montpellier 20 cm (IGN BD ORTHO)"
MESH = "Mesh: Montpellier surface textured with the orthophoto"
LIDAR = "LiDAR HD: Montpellier urban crop (IGN)"

SAMPLE = """([lon, lat]) => {
  const globe = window.twin.viewer.scene.globe;
  const h = globe.getHeight(Cesium.Cartographic.fromDegrees(lon, lat));
  return h === undefined ? null : h;
}"""


def test_terrain_is_the_ground(viewer: Viewer) -> None:
    tid = layer_id(viewer, TERRAIN)
    state = viewer.page.evaluate(
        """(id) => {
          const e = window.twin.layers.get(id);
          const scene = window.twin.viewer.scene;
          return { show: e.tileset.show,
                   isOurs: scene.terrainProvider === e.tileset.provider,
                   normals: scene.terrainProvider.hasVertexNormals };
        }""",
        tid,
    )
    assert state == {"show": True, "isOurs": True, "normals": True}, state


def test_mesh_and_lidar_sit_on_the_terrain_under_the_orthophoto(
    viewer: Viewer, tmp_path: Path
) -> None:
    """The crop's ground is 20.8-21.6 m NGF-IGN69, about 71.5 m above the ellipsoid (geoid
    ~50.4 m): the terrain Cesium samples there must say so, and the mesh's and the point
    cloud's bounding volumes must start at that height, not 50 m above or below."""
    zoom_with_button(viewer, MESH)
    page = viewer.page
    page.wait_for_function(
        "() => window.twin.viewer.scene.globe.tilesLoaded", polling=250, timeout=SETTLE_MS
    )
    w, s, e, n = page.evaluate(
        "(id) => window.twin.layers.get(id).layer.extent_wgs84", layer_id(viewer, TERRAIN)
    )
    height = page.evaluate(SAMPLE, [(w + e) / 2, (s + n) / 2])
    assert height is not None and 70.0 < height < 73.5, height
    bottoms = page.evaluate(
        """(ids) => ids.map((id) => {
          const t = window.twin.layers.get(id).tileset;
          const s = t.boundingSphere;
          const c = Cesium.Cartographic.fromCartesian(s.center);
          return c.height;
        })""",
        [layer_id(viewer, MESH), layer_id(viewer, LIDAR)],
    )
    for centre_height in bottoms:  # both are ~20 m tall above that ground
        assert height - 5 < centre_height < height + 40, (centre_height, height)
    ortho = layer_id(viewer, ORTHO)
    imagery = page.evaluate(
        """(id) => { const t = window.twin.layers.get(id).tileset;
                     return { show: t.show, ready: t.imageryLayer.ready }; }""",
        ortho,
    )
    assert imagery == {"show": True, "ready": True}, imagery
    webp = [u for u in viewer.requests if u.endswith(".webp")]
    terrain = [u for u in viewer.requests if ".terrain" in u]
    assert webp and terrain, "no orthophoto or terrain tile was requested"
    assert_not_blank(canvas_stats(viewer))
    viewer.screenshot("ground-mesh-terrain.png", tmp_path)


def test_hiding_the_terrain_brings_back_the_ellipsoid(viewer: Viewer) -> None:
    tid = layer_id(viewer, TERRAIN)
    box = viewer.page.locator(f"#layer-{tid}")
    box.click(force=True)
    flat = viewer.page.evaluate(
        "() => window.twin.viewer.scene.terrainProvider instanceof Cesium.EllipsoidTerrainProvider"
    )
    assert flat and not box.is_checked()
    box.click(force=True)
    assert viewer.page.evaluate(
        "(id) => window.twin.viewer.scene.terrainProvider === "
        "window.twin.layers.get(id).tileset.provider",
        tid,
    )

"""The CesiumJS viewer against the real server: globe, layer panel, 3D Tiles, point clouds and
their styling, buildings, picking, offline.

The first test opens its own page with a faked layer API; the others share one page (see `viewer`
in conftest) and run in file order: the first of them waits for the globe, later ones zoom to
layers, and the last two check what the page logged and requested during all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import Viewer, get_json, open_viewer

pytestmark = pytest.mark.browser

MARSEILLE_LAYER = "Sample: multiple contents (3D Tiles 1.1)"
CITY_LAYER = "Sample: city blocks (3D Tiles 1.0, b3dm)"
LIDAR_LAYER = "LiDAR HD: Montpellier urban crop (IGN)"
KIND_LABELS = {
    "tiles3d": "3D Tiles",
    "pointcloud": "Point cloud",
    "vector": "Buildings",
    "mesh": "Mesh",
    "terrain": "Terrain",
    "imagery": "Imagery",
}
DRAPED_LABELS = {"polygon": "Areas on the ground", "line": "Lines on the ground", "point": "Points"}
BUILDING_CLASS_RGB = (0xE4, 0x57, 0x2E)  # class 6 in "Class" mode (web/static/styles.js)
HOME = (5.0, 43.2, 5.8, 43.7)
SETTLE_MS = 120_000
SMALL_VIEWPORT = {"width": 800, "height": 600}

# Statistics of what WebGL drew, read back in the same task as the frame (so the drawing buffer
# is still there without preserveDrawingBuffer) and without the HTML panels laid over it.
CANVAS_STATS = """() => new Promise((resolve) => {
  const scene = window.twin.viewer.scene;
  const remove = scene.postRender.addEventListener(() => {
    remove();
    const src = scene.canvas;
    const copy = document.createElement("canvas");
    copy.width = src.width;
    copy.height = src.height;
    const ctx = copy.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(src, 0, 0);
    const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
    const colours = new Set();
    let n = 0, sum = 0, sum2 = 0, dark = 0;
    for (let i = 0; i < data.length; i += 4 * 7) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      n += 1; sum += y; sum2 += y * y;
      if (y < 8) dark += 1;
      colours.add((r >> 3) << 10 | (g >> 3) << 5 | (b >> 3));
    }
    const mean = sum / n;
    resolve({
      width: copy.width, height: copy.height, colours: colours.size,
      mean, std: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), dark: dark / n,
    });
  });
  scene.requestRender();
})"""


# Pixels of what WebGL drew: how many are within `tolerance` of each target colour, how many are
# not the (near black) background, and a coarse signature (every 29th pixel, 4 bits a channel)
# to tell whether the image changed.
CANVAS_COLOURS = """([targets, tolerance]) => new Promise((resolve) => {
  const scene = window.twin.viewer.scene;
  const remove = scene.postRender.addEventListener(() => {
    remove();
    const src = scene.canvas;
    const copy = document.createElement("canvas");
    copy.width = src.width;
    copy.height = src.height;
    const ctx = copy.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(src, 0, 0);
    const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
    const near = targets.map(() => 0);
    const signature = [];
    let drawn = 0;
    for (let i = 0, p = 0; i < data.length; i += 4, p++) {
      const r = data[i], g = data[i + 1], b = data[i + 2];
      if (Math.max(r, g, b) > 40) drawn += 1;
      for (let k = 0; k < targets.length; k++) {
        const [tr, tg, tb] = targets[k];
        if (Math.abs(r - tr) <= tolerance && Math.abs(g - tg) <= tolerance
            && Math.abs(b - tb) <= tolerance) near[k] += 1;
      }
      if (p % 29 === 0) signature.push(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
    }
    resolve({ near, drawn, total: data.length / 4, signature });
  });
  scene.requestRender();
})"""


def press(locator: Any) -> None:
    """Click a control that must be visible and enabled. Playwright's own wait for a "stable"
    element spans animation frames, which software GL makes seconds long: check, then click."""
    locator.wait_for(state="visible")
    assert locator.is_enabled(), locator
    locator.click(force=True)


def canvas_stats(viewer: Viewer) -> dict[str, Any]:
    return viewer.page.evaluate(CANVAS_STATS)  # type: ignore[no-any-return]


def canvas_colours(
    viewer: Viewer, targets: list[tuple[int, int, int]], tolerance: int = 12
) -> dict[str, Any]:
    return viewer.page.evaluate(CANVAS_COLOURS, [targets, tolerance])  # type: ignore[no-any-return]


def changed_fraction(before: list[int], after: list[int]) -> float:
    assert len(before) == len(after) > 0
    return sum(a != b for a, b in zip(before, after, strict=True)) / len(before)


def assert_not_blank(stats: dict[str, Any]) -> None:
    """A black, transparent or single-colour canvas fails; a drawn globe passes easily."""
    assert stats["width"] > 0 and stats["height"] > 0, stats
    assert stats["dark"] < 0.5, f"the canvas is mostly black: {stats}"
    assert stats["std"] > 4, f"the canvas is nearly uniform: {stats}"
    assert stats["colours"] > 64, f"the canvas has too few colours: {stats}"


def wait_globe(viewer: Viewer) -> None:
    viewer.page.wait_for_function(
        "() => window.twin.viewer.scene.globe.tilesLoaded", polling=250, timeout=SETTLE_MS
    )


def layer_id(viewer: Viewer, name: str) -> int:
    ids = viewer.page.evaluate(
        "(name) => [...window.twin.layers.values()]"
        ".filter((e) => e.layer.name === name).map((e) => e.layer.id)",
        name,
    )
    assert len(ids) == 1, f"expected one layer named {name!r}, got {ids}"
    return int(ids[0])


def zoom_with_button(viewer: Viewer, name: str) -> int:
    """Click the layer's "Zoom to" button, then wait for the flight and the layer's tiles in
    view (not the globe's: at that scale the offline base imagery is one blur anyway)."""
    lid = layer_id(viewer, name)
    press(viewer.page.locator(f'li.layer[data-layer-id="{lid}"] button.zoom'))
    viewer.page.wait_for_function(
        """(id) => {
          const e = window.twin.layers.get(id);
          return !window.twin.flying && e.tileset && e.tileset.tilesLoaded;
        }""",
        arg=lid,
        polling=250,
        timeout=SETTLE_MS,
    )
    return lid


def test_api_failure_then_empty_scene(browser: Any, live_server: str) -> None:
    """The layer list fails (503), then, after "Retry", answers an empty list."""
    answers = [
        {"status": 503, "body": '{"detail": "database down"}'},
        {"status": 200, "body": "[]"},
    ]

    def layers(route: Any) -> None:
        route.fulfill(content_type="application/json", **answers.pop(0))

    page_viewer = open_viewer(browser, live_server, route=layers, viewport=SMALL_VIEWPORT)
    page = page_viewer.page
    try:
        result = page_viewer.wait_ready()
        assert result["layers"] == 0 and "503" in result["error"], result
        message = page.locator("#layer-message")
        assert "Could not load the layer list" in message.inner_text()
        assert "database down" in message.inner_text()
        # Only the panel matters here: stop drawing the globe, it would slow the page down.
        page.evaluate("() => { window.twin.viewer.useDefaultRenderLoop = false; }")
        press(message.locator("button.retry"))
        page.wait_for_function("() => window.twin.error === null")
        assert page_viewer.wait_ready() == {"layers": 0, "error": None}
        assert "Empty scene" in message.inner_text()
        assert page.locator("#layer-list li").count() == 0
        assert answers == []
    finally:
        page.close()


def test_globe_renders_home_view(viewer: Viewer, tmp_path: Path) -> None:
    wait_globe(viewer)
    stats = canvas_stats(viewer)
    assert_not_blank(stats)
    # The camera frames Aix-Marseille-Provence.
    w, s, e, n = viewer.page.evaluate(
        """() => {
          const r = window.twin.viewer.camera.computeViewRectangle();
          return [r.west, r.south, r.east, r.north].map(Cesium.Math.toDegrees);
        }"""
    )
    lon, lat = (HOME[0] + HOME[2]) / 2, (HOME[1] + HOME[3]) / 2
    assert w < lon < e and s < lat < n, (w, s, e, n)
    assert e - w < 5, f"the home view should show the metropolis, not a continent: {(w, e)}"
    shot = viewer.screenshot("viewer-home.png", tmp_path)
    assert shot.stat().st_size > 10_000


def test_layer_panel_lists_the_layers(viewer: Viewer) -> None:
    api_layers = get_json(f"{viewer.base_url}/api/v1/layers")
    expected = [layer["name"] for layer in api_layers]
    assert LIDAR_LAYER in expected and MARSEILLE_LAYER in expected, expected
    rows = viewer.page.locator("#layer-list li.layer")
    assert rows.locator(".layer-name").all_inner_texts() == expected
    # Every demo layer is drawable, whatever its kind: a checked box and a zoom button, the
    # description as tooltip, the kind and size in words.
    for layer in api_layers:
        assert layer["tileset_url"], layer
        row = viewer.page.locator(f'li.layer[data-layer-id="{layer["id"]}"]')
        assert row.locator(':scope > input[type="checkbox"]').is_checked()
        assert row.locator("button.zoom").is_enabled()
        assert row.get_attribute("title") == layer["description"]
        meta = row.locator(".layer-meta").inner_text()
        label = KIND_LABELS.get(layer["kind"], layer["kind"])
        if layer.get("draped"):
            label = DRAPED_LABELS[layer["geometry"]]
        assert meta.startswith(label), meta
        if layer["kind"] == "pointcloud":
            assert f"{layer['point_count']:,} pts" in meta, meta
        elif layer["kind"] == "vector" and layer["feature_count"]:
            assert f"{layer['feature_count']:,}" in meta, meta
        elif layer["kind"] == "mesh":
            assert f"{layer['triangle_count']:,} triangles" in meta, meta
        # Point clouds and buildings have a style button; the 3D Tiles samples do not.
        styled = layer["kind"] in ("pointcloud", "vector")
        assert row.locator("button.style-toggle").count() == int(styled), layer["name"]
    assert viewer.page.locator("#layer-message").is_hidden()
    assert viewer.page.locator("#layer-count").inner_text() == str(len(api_layers))


def test_layer_panel_collapses(viewer: Viewer) -> None:
    panel = viewer.page.locator("#layer-panel")
    toggle = viewer.page.locator("#layers-toggle")
    press(toggle)
    assert toggle.get_attribute("aria-expanded") == "false"
    panel.locator("xpath=self::*[contains(@class, 'collapsed')]").wait_for()
    press(toggle)
    assert toggle.get_attribute("aria-expanded") == "true"
    assert "collapsed" not in (panel.get_attribute("class") or "")


def test_tileset_loads_in_marseille(viewer: Viewer, tmp_path: Path) -> None:
    lid = zoom_with_button(viewer, MARSEILLE_LAYER)
    info = viewer.page.evaluate(
        """(id) => {
          const t = window.twin.layers.get(id).tileset;
          const c = Cesium.Cartographic.fromCartesian(t.boundingSphere.center);
          return {
            show: t.show, selected: t.statistics.selected,
            lon: Cesium.Math.toDegrees(c.longitude), lat: Cesium.Math.toDegrees(c.latitude),
          };
        }""",
        lid,
    )
    assert info["show"] and info["selected"] > 0, info
    # Placed at the Vieux-Port by the demo.
    assert 5.3 < info["lon"] < 5.45 and 43.25 < info["lat"] < 43.35, info
    glb = [u for u in viewer.requests if "/tiles/" in u and urlsplit(u).path.endswith(".glb")]
    assert glb, "no .glb tile was requested"
    assert_not_blank(canvas_stats(viewer))
    viewer.screenshot("viewer-tileset.png", tmp_path)


def test_hiding_a_layer(viewer: Viewer) -> None:
    lid = layer_id(viewer, MARSEILLE_LAYER)
    box = viewer.page.locator(f"#layer-{lid}")
    shown = "(id) => window.twin.layers.get(id).tileset.show"
    assert box.is_checked()
    press(box)
    assert not box.is_checked()
    assert viewer.page.evaluate(shown, lid) is False
    press(box)
    assert box.is_checked()
    assert viewer.page.evaluate(shown, lid) is True


def test_picking_a_building_shows_its_properties(viewer: Viewer, tmp_path: Path) -> None:
    lid = zoom_with_button(viewer, CITY_LAYER)
    # Where a building is on screen: a feature's own position, from its batch table, away from
    # the layer panel on the left and the info panel on the right.
    point = viewer.page.evaluate(
        """(id) => {
          const tileset = window.twin.layers.get(id).tileset;
          const scene = window.twin.viewer.scene;
          const rect = scene.canvas.getBoundingClientRect();
          const found = [];
          tileset.root.children.forEach((tile) => {
            const content = tile.content;
            for (let i = 0; content && i < content.featuresLength; i++) {
              const f = content.getFeature(i);
              const p = Cesium.Cartesian3.fromRadians(
                f.getProperty("Longitude"), f.getProperty("Latitude"),
                f.getProperty("Height") / 2);
              const xy = Cesium.SceneTransforms.worldToWindowCoordinates(scene, p);
              if (xy && xy.x > 450 && xy.x < rect.width - 450 && xy.y > 80
                  && xy.y < rect.height - 40) {
                found.push([Cesium.Cartesian3.distance(scene.camera.positionWC, p), xy.x, xy.y]);
              }
            }
          });
          // The nearest buildings are the least likely to be hidden; each pick costs a render.
          found.sort((a, b) => a[0] - b[0]);
          for (const [, x, y] of found.slice(0, 8)) {
            const picked = scene.pick(new Cesium.Cartesian2(x, y));
            if (picked instanceof Cesium.Cesium3DTileFeature) {
              return { x: x + rect.left, y: y + rect.top };
            }
          }
          return null;
        }""",
        lid,
    )
    assert point, "no building of the city layer could be picked on screen"
    viewer.page.mouse.click(point["x"], point["y"])
    panel = viewer.page.locator("#info-panel")
    panel.wait_for(state="visible")
    assert panel.locator("#info-layer").inner_text() == CITY_LAYER
    names = panel.locator("#info-table th").all_inner_texts()
    assert {"Height", "Longitude", "Latitude"} <= set(names), names
    viewer.screenshot("viewer-pick.png", tmp_path)
    press(panel.locator("#info-close"))
    panel.wait_for(state="hidden")


@contextmanager
def points_only(viewer: Viewer) -> Iterator[None]:
    """Hide the globe (and sky) and every layer but point clouds while frames are compared: what
    is left on the plain background is what the point clouds drew (the demo's textured mesh of
    the same crop would show through where points are filtered out), and no globe tile arriving
    between two frames changes it."""
    show = """(show) => {
      const s = window.twin.viewer.scene;
      s.globe.show = s.skyAtmosphere.show = s.skyBox.show = show;
      for (const e of window.twin.layers.values()) {
        if (!e.tileset || ["pointcloud", "terrain", "imagery"].includes(e.layer.kind)) continue;
        if (!show) { e.savedShow = e.tileset.show; e.tileset.show = false; }
        else if (e.savedShow !== undefined) { e.tileset.show = e.savedShow; delete e.savedShow; }
      }
      s.requestRender();
    }"""
    viewer.page.evaluate(show, False)
    try:
        yield
    finally:
        viewer.page.evaluate(show, True)


def open_style(viewer: Viewer, lid: int) -> Any:
    """The layer's style section, opened with its palette button if it is closed."""
    row = viewer.page.locator(f'li.layer[data-layer-id="{lid}"]')
    panel = row.locator(".layer-style")
    if panel.is_hidden():
        press(row.locator("button.style-toggle"))
    panel.wait_for(state="visible")
    return panel


def test_point_cloud_loads(viewer: Viewer, tmp_path: Path) -> None:
    """A LiDAR HD layer (glTF points with EXT_structural_metadata) is drawn, by height."""
    layers = get_json(f"{viewer.base_url}/api/v1/layers")
    layer = next(x for x in layers if x["name"] == LIDAR_LAYER)
    assert layer["kind"] == "pointcloud", layer
    lid = zoom_with_button(viewer, LIDAR_LAYER)
    info = viewer.page.evaluate(
        """(id) => {
          const e = window.twin.layers.get(id);
          const s = e.tileset.statistics;
          return { show: e.tileset.show, selected: s.selected, points: s.numberOfPointsSelected,
                   shader: !!e.tileset.customShader, mode: e.pc.mode };
        }""",
        lid,
    )
    assert info["show"] and info["selected"] > 0 and info["points"] > 1000, info
    assert info["shader"], "the point cloud is drawn without its styling shader"
    base = urlsplit(layer["tileset_url"]).path.rsplit("/", 1)[0] + "/"
    glb = [u for u in viewer.requests if urlsplit(u).path.startswith(base) and u.endswith(".glb")]
    assert glb, f"no .glb tile of the point cloud was requested under {base}"
    # The Montpellier crop has no colour: "RGB" is not offered and the points go by height.
    panel = open_style(viewer, lid)
    assert info["mode"] == "height", info
    assert panel.locator('[data-mode="rgb"]').is_hidden()
    assert panel.locator(f"#colour-{lid}-height").is_checked()
    labels = panel.locator(".ramp-labels").inner_text()
    assert "20.7 m" in labels and "39.6 m" in labels, labels  # the source's z range
    viewer.screenshot("viewer-pointcloud-rgb-or-height.png", tmp_path)


def test_colour_by_classification(viewer: Viewer, tmp_path: Path) -> None:
    """Switching to "Class" recolours the points: building points turn the building colour."""
    lid = layer_id(viewer, LIDAR_LAYER)
    panel = open_style(viewer, lid)
    with points_only(viewer):
        before = canvas_colours(viewer, [BUILDING_CLASS_RGB])
        press(panel.locator(f'label[for="colour-{lid}-classification"]'))
        assert panel.locator(f"#colour-{lid}-classification").is_checked()
        after = canvas_colours(viewer, [BUILDING_CLASS_RGB])
    assert before["drawn"] > 20_000, f"few points on screen: {before['drawn']} pixels"
    # The same points in other colours: most of the drawn pixels changed, and only they.
    changed = changed_fraction(before["signature"], after["signature"])
    share = before["drawn"] / before["total"]
    assert changed > 0.5 * share, f"only {changed:.1%} of the image changed ({share:.1%} drawn)"
    assert abs(after["drawn"] - before["drawn"]) < 0.1 * before["drawn"], (before, after)
    # 14,908 of the crop's points are buildings (class 6): many pixels of their colour now.
    assert after["near"][0] > 5000, after["near"]
    assert after["near"][0] > 3 * before["near"][0], (before["near"], after["near"])
    viewer.screenshot("viewer-pointcloud-classes.png", tmp_path)


def test_class_filter_hides_buildings(viewer: Viewer) -> None:
    lid = layer_id(viewer, LIDAR_LAYER)
    panel = open_style(viewer, lid)
    box = panel.locator(f"#class-{lid}-6")
    assert box.is_checked()
    with points_only(viewer):
        shown = canvas_colours(viewer, [BUILDING_CLASS_RGB])
        press(box)
        assert not box.is_checked()
        hidden = canvas_colours(viewer, [BUILDING_CLASS_RGB])
    press(box)
    assert box.is_checked()
    # Building points gone: their colour, and fewer pixels drawn at all (the ground under the
    # roofs was not scanned, so nothing takes their place).
    assert hidden["near"][0] < 0.05 * shown["near"][0], (shown["near"], hidden["near"])
    assert hidden["drawn"] < 0.9 * shown["drawn"], (shown["drawn"], hidden["drawn"])
    assert changed_fraction(shown["signature"], hidden["signature"]) > 0.02


def test_picking_a_point_shows_its_attributes(viewer: Viewer) -> None:
    """CesiumJS picks no attributes of glTF points: the viewer reads them from the tile."""
    lid = layer_id(viewer, LIDAR_LAYER)
    point = viewer.page.evaluate(
        """(id) => {
          const tileset = window.twin.layers.get(id).tileset;
          const scene = window.twin.viewer.scene;
          const rect = scene.canvas.getBoundingClientRect();
          const c = Cesium.SceneTransforms.worldToWindowCoordinates(
            scene, tileset.boundingSphere.center);
          if (!c) return null;
          for (const [dx, dy] of [[0, 0], [25, 10], [-25, -10], [10, 30], [-10, -30]]) {
            const p = new Cesium.Cartesian2(c.x + dx, c.y + dy);
            const picked = scene.pick(p);
            if (picked && picked.primitive === tileset) {
              return { x: p.x + rect.left, y: p.y + rect.top };
            }
          }
          return null;
        }""",
        lid,
    )
    assert point, "no point of the cloud could be picked on screen"
    viewer.page.mouse.click(point["x"], point["y"])
    panel = viewer.page.locator("#info-panel")
    panel.wait_for(state="visible")
    assert panel.locator("#info-title").inner_text() == "Point"
    assert panel.locator("#info-layer").inner_text() == LIDAR_LAYER
    names = panel.locator("#info-table th").all_inner_texts()
    assert {"classification", "intensity", "return"} <= set(names), names
    value = panel.locator('#info-table tr[data-name="classification"] td').inner_text()
    code = int(value.split(" ")[0])
    assert code in {1, 2, 3, 4, 5, 6}, value  # the classes of the Montpellier crop
    press(panel.locator("#info-close"))
    panel.wait_for(state="hidden")


def test_buildings_layer(viewer: Viewer) -> None:
    """A kind "vector" layer (extruded buildings, a property table per tile): drawn plain,
    picked, coloured by a numeric attribute."""
    layers = get_json(f"{viewer.base_url}/api/v1/layers")
    layer = next((x for x in layers if x["kind"] == "vector" and x["tileset_url"]), None)
    if layer is None:
        pytest.skip("no buildings (kind vector) layer in this scene")
    lid = zoom_with_button(viewer, layer["name"])
    style = "(id) => JSON.stringify(window.twin.layers.get(id).tileset.style.style)"
    assert "color" in viewer.page.evaluate(style, lid)
    # A building near the middle of the view (each pick renders a frame: few tries).
    point = viewer.page.evaluate(
        """(id) => {
          const tileset = window.twin.layers.get(id).tileset;
          const scene = window.twin.viewer.scene;
          const rect = scene.canvas.getBoundingClientRect();
          const c = Cesium.SceneTransforms.worldToWindowCoordinates(
            scene, tileset.boundingSphere.center);
          for (let r = 0; c && r <= 90; r += 30) {
            for (const [dx, dy] of r ? [[r, 0], [-r, 0], [0, r], [0, -r]] : [[0, 0]]) {
              const p = new Cesium.Cartesian2(c.x + dx, c.y + dy);
              const picked = scene.pick(p);
              if (picked instanceof Cesium.Cesium3DTileFeature && picked.tileset === tileset) {
                return { x: p.x + rect.left, y: p.y + rect.top };
              }
            }
          }
          return null;
        }""",
        lid,
    )
    assert point, "no building could be picked on screen"
    viewer.page.mouse.click(point["x"], point["y"])
    info = viewer.page.locator("#info-panel")
    info.wait_for(state="visible")
    assert info.locator("#info-title").inner_text() == "Building"
    assert info.locator("#info-layer").inner_text() == layer["name"]
    names = set(info.locator("#info-table th").all_inner_texts())
    sources = {a["name"] for a in layer["attributes"]}
    assert names & sources, (names, sources)
    press(info.locator("#info-close"))
    info.wait_for(state="hidden")
    panel = open_style(viewer, lid)
    select = panel.locator(f"#colour-by-{lid}")
    if select.locator("option").count() > 1:
        select.select_option(index=1)
        assert panel.locator(".choropleth li").count() >= 3
        assert "conditions" in viewer.page.evaluate(style, lid)
        select.select_option(index=0)
        assert "conditions" not in viewer.page.evaluate(style, lid)


def test_no_console_errors(viewer: Viewer) -> None:
    assert viewer.errors == []


def test_no_request_leaves_the_machine(viewer: Viewer) -> None:
    assert viewer.requests, "no request was recorded"
    outside = [
        u
        for u in viewer.requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert outside == []

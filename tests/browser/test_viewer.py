"""The CesiumJS viewer against the real server: globe, layer panel, 3D Tiles, picking, offline.

The first test opens its own page with a faked layer API; the others share one page (see `viewer`
in conftest) and run in file order: the first of them waits for the globe, later ones zoom to
layers, and the last two check what the page logged and requested during all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import Viewer, get_json, open_viewer

pytestmark = pytest.mark.browser

MARSEILLE_LAYER = "Sample: multiple contents (3D Tiles 1.1)"
CITY_LAYER = "Sample: city blocks (3D Tiles 1.0, b3dm)"
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


def press(locator: Any) -> None:
    """Click a control that must be visible and enabled. Playwright's own wait for a "stable"
    element spans animation frames, which software GL makes seconds long: check, then click."""
    locator.wait_for(state="visible")
    assert locator.is_enabled(), locator
    locator.click(force=True)


def canvas_stats(viewer: Viewer) -> dict[str, Any]:
    return viewer.page.evaluate(CANVAS_STATS)  # type: ignore[no-any-return]


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
    assert len(expected) == 3, expected
    rows = viewer.page.locator("#layer-list li.layer")
    assert rows.locator(".layer-name").all_inner_texts() == expected
    # Every demo layer is drawable: a checked box and a zoom button, the description as tooltip.
    for layer in api_layers:
        row = viewer.page.locator(f'li.layer[data-layer-id="{layer["id"]}"]')
        assert row.locator('input[type="checkbox"]').is_checked()
        assert row.locator("button.zoom").is_enabled()
        assert row.get_attribute("title") == layer["description"]
    assert viewer.page.locator("#layer-message").is_hidden()
    assert viewer.page.locator("#layer-count").inner_text() == "3"


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
    box = viewer.page.locator(f'li.layer[data-layer-id="{lid}"] input[type="checkbox"]')
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

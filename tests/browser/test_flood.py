"""A planner runs flood scenarios from the viewer on the demo terrain (Montpellier 0.5 m DTM,
100 x 100 cells): a quick fill seeded by a click on the map, then a short storm, watched frame
by frame over the terrain, then both compared from the saved results.

The tests share one page and run in file order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import EXISTING_SERVER, USERS, Viewer
from tests.browser.test_upload import sign_in
from tests.browser.test_viewer import layer_id, press

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(EXISTING_SERVER), reason="needs the accounts of the test server"),
]

TERRAIN = "Terrain: Montpellier 0.5 m DTM (IGN)"
# Drawn over the terrain, and so over the water draped on it: hidden for these tests.
OVER_THE_GROUND = ("Mesh: Montpellier surface textured with the orthophoto",
                   "LiDAR HD: Montpellier urban crop (IGN)")  # fmt: skip
RUN_TIMEOUT_MS = 60_000

# Pixels of what WebGL drew that are clearly blue (the water ramp; the orthophoto has little).
BLUE_PIXELS = """() => new Promise((resolve) => {
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
    let blue = 0;
    for (let i = 0; i < data.length; i += 4) {
      const r = data[i], g = data[i + 1], b = data[i + 2];
      if (b > r + 45 && b > g + 10) blue += 1;
    }
    resolve(blue / (data.length / 4));
  });
  scene.requestRender();
})"""

# The water shown: the frame's imagery on a tile the globe draws, and the globe done loading.
WATER_DRAWN = """() => {
  const f = window.twin.flood;
  const scene = window.twin.viewer.scene;
  if (!f.shown || f.shownFrame !== f.frame || !scene.globe.tilesLoaded) return false;
  return scene.globe._surface._tilesToRender.some((tile) => tile.data && tile.data.imagery.some(
    (t) => t.readyImagery && t.readyImagery.imageryLayer === f.shown));
}"""


def blue_share(viewer: Viewer) -> float:
    return float(viewer.page.evaluate(BLUE_PIXELS))


def wait_water(viewer: Viewer) -> None:
    viewer.page.wait_for_function(WATER_DRAWN, polling=250, timeout=RUN_TIMEOUT_MS)


def run_and_wait(viewer: Viewer) -> dict[str, Any]:
    """Press Run; wait until the result is open on the map; return it."""
    page = viewer.page
    before = page.evaluate("() => window.twin.flood.result && window.twin.flood.result.id")
    press(page.locator("#flood-run"))
    page.wait_for_function(
        """(before) => {
          const f = window.twin.flood;
          if (f.job && f.job.status === 'failed') return true;
          return f.result && f.result.id !== before && f.shownFrame === f.frame;
        }""",
        arg=before,
        polling=250,
        timeout=RUN_TIMEOUT_MS,
    )
    job = page.evaluate("() => window.twin.flood.job")
    assert job["status"] == "succeeded", job
    wait_water(viewer)
    return page.evaluate("() => window.twin.flood.result")  # type: ignore[no-any-return]


def choose(viewer: Viewer, mode: str) -> None:
    viewer.page.locator(f"#flood-mode-{mode}").check()


def test_planner_opens_the_flood_panel(viewer: Viewer) -> None:
    page = viewer.page
    assert page.locator("#flood-open").is_hidden()  # not for anonymous visitors
    sign_in(viewer, "paul", USERS["paul"][1])
    press(page.locator("#flood-open"))
    panel = page.locator("#flood-panel")
    panel.wait_for(state="visible")
    layer = page.locator("#flood-layer")
    assert layer.locator("option:checked").inner_text() == TERRAIN
    assert "DEM heights 20.78 to 21.58 m" in page.locator("#flood-dem-note").inner_text()


def test_quick_fill_from_a_click_on_the_terrain(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    for name in OVER_THE_GROUND:
        page.locator(f"#layer-{layer_id(viewer, name)}").click(force=True)
    # Straight there (no flight: software GL would draw every tile on the way).
    page.evaluate("(id) => window.twin.zoomTo(id, { duration: 0 })", layer_id(viewer, TERRAIN))
    page.wait_for_function(
        "() => !window.twin.flying && window.twin.viewer.scene.globe.tilesLoaded",
        polling=250,
        timeout=RUN_TIMEOUT_MS,
    )
    dry = blue_share(viewer)
    choose(viewer, "bathtub")
    press(page.locator("#flood-place"))
    assert page.evaluate("() => window.twin.flood.placing")
    # Click on the middle of the DEM, where the terrain is drawn on the screen.
    x, y = page.evaluate(
        """(id) => {
          const [w, s, e, n] = window.twin.layers.get(id).layer.extent_wgs84;
          const scene = window.twin.viewer.scene;
          const at = Cesium.Cartographic.fromDegrees((w + e) / 2, (s + n) / 2);
          const h = scene.globe.getHeight(at);
          const p = Cesium.SceneTransforms.worldToWindowCoordinates(
            scene, Cesium.Cartesian3.fromRadians(at.longitude, at.latitude, h));
          const r = scene.canvas.getBoundingClientRect();
          return [r.left + p.x, r.top + p.y];
        }""",
        layer_id(viewer, TERRAIN),
    )
    page.mouse.click(x, y)
    point = page.evaluate("() => window.twin.flood.point")
    w, s, e, n = page.evaluate(
        "(id) => window.twin.layers.get(id).layer.extent_wgs84", layer_id(viewer, TERRAIN)
    )
    assert point and w < point["lon"] < e and s < point["lat"] < n, (point, (w, s, e, n))
    assert not page.evaluate("() => window.twin.flood.placing")
    page.locator("#flood-level").fill("21.4")
    result = run_and_wait(viewer)
    assert result["params"]["mode"] == "bathtub" and len(result["frames"]) == 1
    assert result["summary"]["flooded_area_m2"] > 500  # most of the 50 m x 50 m crop
    wet = blue_share(viewer)
    viewer.screenshot("flood-quick-fill.png", tmp_path)
    assert wet > dry + 0.05, (dry, wet)


def test_storm_animates_over_the_terrain(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    choose(viewer, "rain")
    page.locator("#flood-rain").fill("300")
    page.locator("#flood-minutes").fill("10")
    page.locator("#flood-every").fill("1")
    result = run_and_wait(viewer)
    frames = result["frames"]
    assert [f["t_s"] for f in frames] == [60.0 * k for k in range(1, 11)]
    assert frames[-1]["flooded_area_m2"] > frames[0]["flooded_area_m2"]
    label = page.locator("#flood-time-label")
    assert label.inner_text().startswith("10 min")
    end = blue_share(viewer)
    viewer.screenshot("flood-storm-end.png", tmp_path)
    # Step back to the first minute with the slider.
    slider = page.locator("#flood-time")
    slider.focus()
    slider.press("Home")
    page.wait_for_function("() => window.twin.flood.shownFrame === 0")
    wait_water(viewer)
    assert label.inner_text().startswith("1 min")
    start = blue_share(viewer)
    viewer.screenshot("flood-storm-start.png", tmp_path)
    assert 0.002 < start < end, (start, end)  # the water spreads: more of it at the end
    # Play: the frames advance by themselves.
    press(page.locator("#flood-play"))
    page.wait_for_function("() => window.twin.flood.frame >= 2", timeout=RUN_TIMEOUT_MS)
    press(page.locator("#flood-play"))
    assert not page.evaluate("() => window.twin.flood.playing")


def test_saved_results_compare(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    page.wait_for_function("() => window.twin.flood.saved.length >= 2")
    items = page.locator("#flood-saved li")
    assert items.count() >= 2
    compare = page.locator("#flood-compare")
    tub = page.evaluate("() => window.twin.flood.saved.find((r) => r.params.mode === 'bathtub').id")
    compare.select_option(tub)
    page.wait_for_function("() => window.twin.flood.compare !== null")
    headers = page.locator("#flood-summary thead th")
    assert headers.count() == 3
    rows = page.locator("#flood-summary tbody tr")
    assert rows.first.locator("td").count() == 2
    page.locator("#flood-summary").scroll_into_view_if_needed()
    viewer.screenshot("flood-compare.png", tmp_path)


def test_no_console_errors(viewer: Viewer) -> None:
    assert viewer.errors == []

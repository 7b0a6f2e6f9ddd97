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
from tests.browser.test_viewer import press, zoom_with_button

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(EXISTING_SERVER), reason="needs the accounts of the test server"),
]

TERRAIN = "Terrain: Montpellier 0.5 m DTM (IGN)"
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

# The water shown: its layer drawn (imagery ready) and the globe done with its tiles.
WATER_DRAWN = """() => {
  const f = window.twin.flood;
  const scene = window.twin.viewer.scene;
  return !!f.shown && f.shown.show && f.shown.ready && scene.globe.tilesLoaded;
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
          return f.result && f.result.id !== before && f.shown;
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
    viewer.page.locator(f'#flood-panel label[for="flood-mode-{mode}"]').click()


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
    zoom_with_button(viewer, TERRAIN)
    page.wait_for_function(
        "() => window.twin.viewer.scene.globe.tilesLoaded", polling=250, timeout=RUN_TIMEOUT_MS
    )
    dry = blue_share(viewer)
    choose(viewer, "bathtub")
    press(page.locator("#flood-place"))
    assert page.evaluate("() => window.twin.flood.placing")
    box = page.locator("#cesium canvas").bounding_box()
    # Left of the centre: the panel covers the right of the view.
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.55)
    point = page.evaluate("() => window.twin.flood.point")
    assert point and 3.8755 < point["lon"] < 3.8762 and 43.5935 < point["lat"] < 43.594, point
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
    viewer.screenshot("flood-storm-end.png", tmp_path)
    # Step back to the first minute with the slider.
    slider = page.locator("#flood-time")
    slider.focus()
    slider.press("Home")
    page.wait_for_function("() => window.twin.flood.frame === 0")
    wait_water(viewer)
    assert label.inner_text().startswith("1 min")
    first = page.evaluate("() => window.twin.flood.shown")
    assert first is not None
    viewer.screenshot("flood-storm-start.png", tmp_path)
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
    tub = page.evaluate(
        "() => window.twin.flood.saved.find((r) => r.params.mode === 'bathtub').id"
    )
    compare.select_option(tub)
    page.wait_for_function("() => window.twin.flood.compare !== null")
    headers = page.locator("#flood-summary thead th")
    assert headers.count() == 3
    rows = page.locator("#flood-summary tbody tr")
    assert rows.first.locator("td").count() == 2
    viewer.screenshot("flood-compare.png", tmp_path)


def test_no_console_errors(viewer: Viewer) -> None:
    assert viewer.errors == []

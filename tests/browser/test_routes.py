"""A planner plans walking routes in the viewer on the server's street network (the Monaco OSM
extract): start and end on the map, the quiet profile compared with the shortest, the routes on
the ground with their score cards, then the 15-minute accessibility to schools.

The tests share one page and run in file order.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import EXISTING_SERVER, SHARED_DATA, USERS, Viewer
from tests.browser.test_upload import api_token, sign_in
from tests.browser.test_viewer import press

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(EXISTING_SERVER), reason="needs the accounts of the test server"),
    pytest.mark.skipif(
        not (SHARED_DATA / "osm" / "monaco-osrm-2016.osm.pbf").is_file(),
        reason="the Monaco OSM extract is not in the shared data",
    ),
]

# The old town on the rock to Monte-Carlo (by the casino): the start is left of the panel.
START = (7.4205, 43.7312)
END = (7.4275, 43.7395)
TIMEOUT_MS = 60_000
# What the map shows is drawn: the entities (ground polylines, markers) and the globe's tiles.
DRAWN = "() => window.twin.routes.drawn() && window.twin.viewer.scene.globe.tilesLoaded"


def api_get(viewer: Viewer, path: str, **params: Any) -> Any:
    token = api_token(viewer.base_url, "paul")
    url = f"{viewer.base_url}/api/v1{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.load(r)


def on_screen(viewer: Viewer, lon: float, lat: float) -> tuple[float, float]:
    x, y = viewer.page.evaluate(
        """([lon, lat]) => {
          const scene = window.twin.viewer.scene;
          const p = Cesium.SceneTransforms.worldToWindowCoordinates(
            scene, Cesium.Cartesian3.fromDegrees(lon, lat, 0));
          const r = scene.canvas.getBoundingClientRect();
          return [r.left + p.x, r.top + p.y];
        }""",
        [lon, lat],
    )
    return float(x), float(y)


def test_planner_opens_the_routes_panel(viewer: Viewer) -> None:
    page = viewer.page
    assert page.locator("#routes-open").is_hidden()  # not for anonymous visitors
    sign_in(viewer, "paul", USERS["paul"][1])
    press(page.locator("#routes-open"))
    page.locator("#routes-panel").wait_for(state="visible")
    page.wait_for_function("() => document.querySelectorAll('#routes-profile option').length > 3")
    names = page.locator("#routes-profile option").evaluate_all("(os) => os.map((o) => o.value)")
    assert {"shortest", "quiet", "green", "school"} <= set(names)


def test_pick_start_and_end_on_the_map(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    press(page.locator("#routes-fly"))
    page.wait_for_function(
        "() => !window.twin.routes.flying && window.twin.viewer.scene.globe.tilesLoaded",
        polling=250,
        timeout=TIMEOUT_MS,
    )
    # A real click on the map while "Pick start" is on places the start there.
    press(page.locator("#routes-pick-start"))
    assert page.evaluate("() => window.twin.routes.picking") == "start"
    x, y = on_screen(viewer, *START)
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName", [x, y]) == "CANVAS"
    page.mouse.click(x, y)
    start = page.evaluate("() => window.twin.routes.start")
    assert start and abs(start["lon"] - START[0]) < 2e-4 and abs(start["lat"] - START[1]) < 2e-4
    # Then it waits for the end: set it through the hook.
    assert page.evaluate("() => window.twin.routes.picking") == "end"
    page.evaluate(
        "([lon, lat]) => { window.twin.routes.setEnd(lon, lat); window.twin.routes.pick(null); }",
        list(END),
    )
    assert page.evaluate("() => window.twin.routes.picking") is None
    assert page.locator("#routes-go").is_enabled()
    # Out of picking mode, a click on the map is no longer taken for a route point.
    page.mouse.click(*on_screen(viewer, 7.43, 43.745))
    assert page.evaluate("() => window.twin.routes.end") == {"lon": END[0], "lat": END[1]}


def test_quiet_compared_with_shortest(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    page.locator("#routes-profile").select_option("quiet")
    page.locator("#routes-compare").check()
    page.locator("#routes-alternatives").fill("1")
    press(page.locator("#routes-go"))
    page.wait_for_function(
        "() => !window.twin.routes.busy && (window.twin.routes.routes.length > 0 ||"
        " window.twin.routes.error)",
        polling=250,
        timeout=TIMEOUT_MS,
    )
    assert page.evaluate("() => window.twin.routes.error") is None
    shown = page.evaluate("() => window.twin.routes.routes.map((f) => f.properties)")
    ends = page.evaluate("() => [window.twin.routes.start, window.twin.routes.end]")
    frm, to = (f"{p['lon']:.6f},{p['lat']:.6f}" for p in ends)
    quiet = api_get(viewer, "/routes/walk", **{"from": frm, "to": to, "profile": "quiet"})
    shortest = api_get(viewer, "/routes/walk", **{"from": frm, "to": to, "profile": "shortest"})
    expected = [f["properties"] for f in quiet["features"] + shortest["features"]]
    assert [p["profile"] for p in shown] == ["quiet", "shortest"]
    # Two ground-clamped polylines on the map.
    page.wait_for_function(DRAWN, polling=250, timeout=TIMEOUT_MS)
    lines = page.evaluate(
        "() => window.twin.routes.entities.map((p) => p instanceof Cesium.GroundPolylinePrimitive"
        " && p.ready && p.show)"
    )
    assert lines == [True, True]
    # Two cards side by side, with the API's numbers.
    cards = page.locator("#routes-cards .route-card")
    assert cards.count() == 2
    boxes = [cards.nth(i).bounding_box() for i in range(2)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"]
    for i, props in enumerate(expected):
        card = cards.nth(i)
        for key in ("length_m", "duration_s", "noise_mean_db", "noise_max_db", "no2_mean_ugm3",
                    "green_share", "shade_share", "climb_m", "schools_served"):  # fmt: skip
            cell = card.locator(f'td[data-field="{key}"]')
            value = props[key]
            raw = cell.get_attribute("data-value")
            assert (raw == "") if value is None else float(raw) == value, (key, raw, value)
            text = page.evaluate("([k, v]) => window.twin.routes.format(k, v)", [key, value])
            assert cell.inner_text() == text, key
        length = card.locator('td[data-field="length_m"]').inner_text()
        assert length.endswith(" m") or length.endswith(" km")
    page.wait_for_function(DRAWN, polling=250, timeout=TIMEOUT_MS)
    viewer.screenshot("routes-quiet-vs-shortest.png", tmp_path)


def test_bad_point_shows_the_error(viewer: Viewer) -> None:
    page = viewer.page
    saved = page.evaluate("() => window.twin.routes.end")
    page.evaluate("() => window.twin.routes.setEnd(5.37, 43.29)")  # Marseille: off the network
    page.evaluate("() => window.twin.routes.plan()")
    error = page.evaluate("() => window.twin.routes.error")
    assert error and page.locator("#routes-error").is_visible(), error
    page.evaluate(
        "([lon, lat]) => window.twin.routes.setEnd(lon, lat)", [saved["lon"], saved["lat"]]
    )


def test_accessibility_to_schools(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    page.locator("#routes-access-category").select_option("school")
    page.locator("#routes-access-minutes").fill("15")
    # Zoom in on the routes: the accessibility covers the area in view.
    page.evaluate(
        """([a, b]) => window.twin.viewer.camera.setView({
             destination: Cesium.Rectangle.fromDegrees(
               Math.min(a.lon, b.lon) - 0.006, Math.min(a.lat, b.lat) - 0.002,
               Math.max(a.lon, b.lon) + 0.006, Math.max(a.lat, b.lat) + 0.002) })""",
        page.evaluate("() => [window.twin.routes.start, window.twin.routes.end]"),
    )
    page.locator("#routes-access").check()
    page.wait_for_function(
        "() => (window.twin.routes.access && window.twin.routes.access.category === 'school')"
        " || window.twin.routes.error",
        polling=250,
        timeout=TIMEOUT_MS,
    )
    assert page.evaluate("() => window.twin.routes.error") is None
    access = page.evaluate("() => window.twin.routes.access")
    assert access["bbox"], access
    expected = api_get(viewer, "/access", category="school", minutes=15, bbox=access["bbox"])
    assert access["features"] == len(expected["features"]) > 0
    assert access["coloured"] == len(expected["features"])
    assert page.locator("#routes-access-legend li").count() == 5
    # 23,000 building footprints draped on the ground take a while in software GL.
    page.wait_for_function(DRAWN, polling=250, timeout=2 * TIMEOUT_MS)
    viewer.screenshot("routes-access-school.png", tmp_path)
    page.locator("#routes-access").uncheck()
    assert page.evaluate("() => window.twin.routes.access") is None


def test_no_errors_and_no_other_host(viewer: Viewer) -> None:
    # The browser logs the 400 of the off-network request itself (the panel showed it).
    errors = [e for e in viewer.errors if "5.370000" not in e]
    assert not errors, errors
    others = [u for u in viewer.requests if not u.startswith(viewer.base_url + "/")]
    assert not [u for u in others if not u.startswith(("data:", "blob:"))], others

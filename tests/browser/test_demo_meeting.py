"""The demo's public meeting as a citizen opens it: the school stands on the ground of the
Périgueux buildings it joins (their real altitude; the demo has no terrain there), where the
building it replaces is hidden."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import EXISTING_SERVER, Viewer
from tests.browser.test_projects import api, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(EXISTING_SERVER) and not os.environ.get("BROWSER_TESTS_USERS"),
        reason="needs the accounts of the test server (BROWSER_TESTS_USERS=1 if it has them)",
    ),
]
DEMO = "École du centre, Périgueux"


def test_demo_school_stands_with_the_buildings(
    browser: Any, viewer: Viewer, tmp_path: Path
) -> None:
    (project,) = [p for p in api(viewer.base_url, "GET", "/projects") if p["name"] == DEMO]
    (meeting,) = api(viewer.base_url, "GET", f"/projects/{project['id']}/meetings")
    school = project["variants"][0]["content"]["footprints"][0]
    page = browser.new_page(viewport={"width": 1024, "height": 700})
    try:
        page.goto(viewer.base_url + meeting["public_url"])
        page.wait_for_function(
            "() => window.twinMeeting && window.twinMeeting.scene", timeout=60_000
        )
        page.evaluate("() => window.twinMeeting.ready")
        # The school's entities drawn and the camera still: the pick below needs no more (all
        # 10,000 buildings' tiles would take a minute of software rendering).
        page.wait_for_function(
            """() => { const m = window.twinMeeting; const s = m.scene;
              s.viewer.scene.requestRender();
              return s.flying === 0 && !m.renderer.drawing()
                && s.viewer.dataSourceDisplay.ready; }""",
            polling=250,
            timeout=60_000,
        )
        ring = school["polygon"]
        lon = sum(p[0] for p in ring) / len(ring)
        lat = sum(p[1] for p in ring) / len(ring)
        # What is drawn half-way up the school's wall height, at its centre, is the school:
        # drawn on the bare globe instead, it would stand ~150 m below that point.
        picked = page.evaluate(
            """([lon, lat, h]) => {
              const scene = window.twinMeeting.scene.viewer.scene; scene.render();
              const at = Cesium.SceneTransforms.worldToWindowCoordinates(
                scene, Cesium.Cartesian3.fromDegrees(lon, lat, h));
              const p = at && scene.pick(at);
              return p && p.id && p.id.id ? p.id.id : null; }""",
            [lon, lat, school["base"] + school["height"] / 2],
        )
        shot(page, "demo-meeting-public.png", tmp_path)
        assert picked == "footprint:school"
    finally:
        page.close()

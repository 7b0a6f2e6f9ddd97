"""A planner draws an urban project in the viewer (issue #9), compares two variants and presents
them in a public meeting that a citizen follows live, comments on and votes in.

In Perigueux (the demo's BDNB buildings): variant A adds a 25 m school drawn by clicking its
corners on the ground; variant B removes an existing building (clicked in the buildings layer)
and places an uploaded GLB model. Both are saved (a conflicting save is refused and offered
back), compared side by side, then shown in a meeting: the presenter steps through bookmarks
and switches variants, the public page follows over the WebSocket, posts a pinned comment that
the presenter approves, and votes.

The tests share one page (the viewer, then the compare and presenter pages in the same tab, so
the staff token of the tab is kept) and run in file order.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import EXISTING_SERVER, USERS, Viewer
from tests.browser.test_upload import api_token, sign_in
from tests.browser.test_viewer import press

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(EXISTING_SERVER) and not os.environ.get("BROWSER_TESTS_USERS"),
        reason="needs the accounts of the test server (BROWSER_TESTS_USERS=1 if it has them)",
    ),
]

BUILDINGS = "Buildings: Perigueux (BDNB heights)"
# Open ground by the cathedral of Perigueux, seen from the south: where the school goes.
VIEW = {"lon": 0.7225, "lat": 45.1785, "height": 500.0, "heading": 0.0, "pitch": -45.0, "roll": 0.0}
SCHOOL = [(0.72215, 45.18205), (0.72275, 45.18205), (0.72275, 45.18245), (0.72215, 45.18245)]
SCHOOL_HEIGHT = 25
MODEL_AT = (0.72245, 45.18225)  # where variant A puts the school
COMMENT = 'Trees & benches > parking; "shade" please <3'
TIMEOUT_MS = 150_000
SHOTS = Path("/tmp/shots")


def shot(page: Any, name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path))
    SHOTS.mkdir(exist_ok=True)
    shutil.copyfile(path, SHOTS / name)
    return path


def api(base_url: str, method: str, path: str, body: Any = None) -> Any:
    token = api_token(base_url, "paul")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base_url}/api/v1{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


def on_screen(
    page: Any, lon: float, lat: float, viewer: str = "window.twin.viewer"
) -> tuple[float, float]:
    """Page coordinates of a point on the ground (the globe's height there)."""
    x, y = page.evaluate(
        f"""([lon, lat]) => {{
          const scene = {viewer}.scene;
          const c = Cesium.Cartographic.fromDegrees(lon, lat);
          const h = scene.globe.getHeight(c) || 0;
          const p = Cesium.SceneTransforms.worldToWindowCoordinates(
            scene, Cesium.Cartesian3.fromDegrees(lon, lat, h));
          const r = scene.canvas.getBoundingClientRect();
          return [r.left + p.x, r.top + p.y];
        }}""",
        [lon, lat],
    )
    return float(x), float(y)


def wait_drawn(page: Any, timeout: int = TIMEOUT_MS) -> None:
    """The viewer's globe, shown tilesets and entities are drawn for the current view."""
    page.wait_for_function(
        """() => { const t = window.twin; const s = t.viewer.scene; s.requestRender();
          if (!s.globe.tilesLoaded || !t.viewer.dataSourceDisplay.ready) return false;
          if (t.projects.renderer.drawing()) return false;
          for (const e of t.layers.values()) {
            if (e.tileset && e.tileset.show && e.tileset.tilesLoaded === false) return false;
          }
          return true; }""",
        polling=500,
        timeout=timeout,
    )


def meeting_drawn(page: Any) -> None:
    """A meeting page's flights are over and its scene is drawn."""
    page.wait_for_function(
        """() => { const m = window.twinMeeting; const s = m.scene; s.viewer.scene.requestRender();
          return s.flying === 0 && !m.renderer.drawing() && s.tilesLoaded()
            && s.viewer.dataSourceDisplay.ready; }""",
        polling=500,
        timeout=TIMEOUT_MS,
    )


def projects(page: Any, expression: str) -> Any:
    return page.evaluate(f"() => {{ const p = window.twin.projects; return {expression}; }}")


@pytest.fixture(scope="module")
def glb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20 m x 30 m-tall x 20 m block standing on its base (glTF is y-up), painted blue."""
    import trimesh

    box = trimesh.creation.box(extents=(20.0, 30.0, 20.0))
    box.apply_translation((0.0, 15.0, 0.0))
    box.visual.face_colors = [37, 99, 235, 255]
    path = tmp_path_factory.mktemp("model") / "tower.glb"
    path.write_bytes(box.export(file_type="glb"))
    return path


def test_planner_creates_a_project_with_two_variants(viewer: Viewer) -> None:
    page = viewer.page
    assert page.locator("#projects-open").is_hidden()  # not for anonymous visitors
    sign_in(viewer, "paul", USERS["paul"][1])
    press(page.locator("#projects-open"))
    page.locator("#projects-panel").wait_for(state="visible")
    page.wait_for_function("() => !window.twin.projects.busy")
    press(page.locator("#projects-new"))
    page.locator("#projects-new-name").fill("Saint-Front school")
    page.locator("#projects-new-description").fill("A school on the open ground by the cathedral")
    press(page.locator("#projects-new-create"))
    page.wait_for_function(
        """() => { const p = window.twin.projects.project;
          return p && p.name === 'Saint-Front school' && p.variants.length === 0; }"""
    )
    for name, source in (("A: new school", ""), ("B: tower, one building less", "")):
        page.locator("#projects-variant-name").fill(name)
        page.locator("#projects-variant-from").select_option(source)
        press(page.locator("#projects-variant-create"))
        page.wait_for_function(
            "(n) => window.twin.projects.variant && window.twin.projects.variant.name === n",
            arg=name,
        )
    assert page.locator("#projects-variants li").count() == 2
    assert projects(page, "p.error") is None


def test_draw_a_school_footprint(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    # Only the buildings layer: quicker to draw in software GL, and what the meeting will show.
    lid = page.evaluate(
        """(name) => { let id = null;
          for (const [k, e] of window.twin.layers) {
            const box = document.getElementById('layer-' + k);
            const show = e.layer.name === name;
            if (show) id = k;
            if (box && !box.disabled && box.checked !== show) {
              box.checked = show; box.dispatchEvent(new Event('change')); }
          } return id; }""",
        BUILDINGS,
    )
    assert lid is not None
    press(page.locator("#layer-panel-close"))
    page.evaluate("(c) => window.twin.viewer.camera.setView(window.TwinScene.viewOf(c))", VIEW)
    page.locator("#projects-variants li:first-child button").click(force=True)
    page.wait_for_function("() => window.twin.projects.variant.name === 'A: new school'")
    page.evaluate("(c) => window.twin.viewer.camera.setView(window.TwinScene.viewOf(c))", VIEW)
    wait_drawn(page)
    press(page.locator('#projects-tools [data-tool="footprint"]'))
    assert projects(page, "p.editor.tool") == "footprint"
    for lon, lat in SCHOOL:
        x, y = on_screen(page, lon, lat)
        assert (
            page.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName", [x, y]) == "CANVAS"
        )
        page.mouse.click(x, y)
    drawn = projects(page, "p.editor.points")
    assert len(drawn) == 4
    for (lon, lat), (dlon, dlat) in zip(SCHOOL, drawn, strict=True):
        assert abs(lon - dlon) < 2e-4 and abs(lat - dlat) < 2e-4, (lon, lat, dlon, dlat)
    press(page.locator("#projects-tool-finish"))
    form = page.locator("#projects-footprint-form")
    form.wait_for(state="visible")
    form.get_by_label("Name").fill("School")
    form.get_by_label("Height (m)").fill(str(SCHOOL_HEIGHT))
    form.get_by_label("Use").select_option("school")
    press(page.locator("#projects-footprint-add"))
    footprints = projects(page, "p.content.footprints")
    assert len(footprints) == 1 and footprints[0]["height"] == SCHOOL_HEIGHT
    assert footprints[0]["use"] == "school" and footprints[0]["name"] == "School"
    assert page.locator("#projects-dirty").is_visible()
    # The school stands in the scene: an extruded polygon entity of its height.
    entity = page.evaluate(
        """() => { const e = window.twin.projects.renderer.dataSource.entities.values
                     .find((e) => e.polygon);
                   return e && { h: e.polygon.extrudedHeight.getValue(), relative:
                     e.polygon.extrudedHeightReference.getValue()
                       === Cesium.HeightReference.RELATIVE_TO_GROUND }; }"""
    )
    assert entity == {"h": SCHOOL_HEIGHT, "relative": True}
    press(page.locator("#projects-save-view"))
    press(page.locator("#projects-save"))
    page.wait_for_function(
        "() => !window.twin.projects.dirty && window.twin.projects.variant.version === 2"
    )
    indicators = projects(page, "p.variant.indicators")
    assert indicators["buildings_added"] == 1 and indicators["height_max_m"] == SCHOOL_HEIGHT
    assert 1500 < indicators["footprint_area_m2"] < 3500, indicators
    row = page.locator('#projects-indicators tr[data-key="buildings_added"] td')
    assert row.inner_text() == "1"
    wait_drawn(page)
    shot(page, "projects-school.png", tmp_path)


def test_remove_a_building_and_place_a_model(viewer: Viewer, glb: Path, tmp_path: Path) -> None:
    page = viewer.page
    page.locator("#projects-variants li:nth-child(2) button").click(force=True)
    page.wait_for_function("() => window.twin.projects.variant.name.startsWith('B:')")
    page.evaluate("(c) => window.twin.viewer.camera.setView(window.TwinScene.viewOf(c))", VIEW)
    wait_drawn(page)
    # A building of the buildings layer on screen, left of the panel: the large one standing
    # alone near the middle of the view first (each pick renders a frame: few tries).
    target = page.evaluate(
        """() => { const scene = window.twin.viewer.scene;
          const r = scene.canvas.getBoundingClientRect();
          const points = [];
          for (let y = 300; y <= 600; y += 30) {
            for (let x = 150; x <= 700; x += 30) points.push([x, y]);
          }
          const d = (p) => Math.hypot(p[0] - 565, p[1] - 410);
          points.sort((a, b) => d(a) - d(b));
          for (const [x, y] of points.slice(0, 40)) {
            const p = scene.pick(new Cesium.Cartesian2(x, y));
            if (p instanceof Cesium.Cesium3DTileFeature && p.getProperty('batiment_c')) {
              return { x: x + r.left, y: y + r.top, id: p.getProperty('batiment_c') }; }
          } return null; }"""
    )
    assert target, "no building could be picked on screen"
    press(page.locator('#projects-tools [data-tool="hide"]'))
    page.mouse.click(target["x"], target["y"])
    hidden = projects(page, "p.content.hidden")
    assert len(hidden) == 1 and hidden[0]["property"] == "batiment_c"
    assert hidden[0]["values"] == [target["id"]]
    # The building is gone from the picture: the pixel shows what is behind it.
    page.wait_for_function(
        """(t) => { const s = window.twin.viewer.scene; s.render();
          const p = s.pick(new Cesium.Cartesian2(t.x, t.y - s.canvas.getBoundingClientRect().top));
          return !(p instanceof Cesium.Cesium3DTileFeature
                   && p.getProperty('batiment_c') === t.id); }""",
        arg=target,
        polling=500,
        timeout=30_000,
    )
    assert projects(page, "p.renderer.hiddenSeen()") >= 1
    # A model: upload the GLB, then click where it stands.
    press(page.locator('#projects-tools [data-tool="model"]'))
    page.set_input_files("#projects-model-file", str(glb))
    page.wait_for_function(
        "() => window.twin.projects.assets.length === 1 && window.twin.projects.editor.modelAsset"
    )
    asset = projects(page, "p.assets[0]")
    assert sorted(asset["info"]["extent_m"]) == pytest.approx([20, 20, 30], abs=0.5)
    page.mouse.click(*on_screen(page, *MODEL_AT))
    models = projects(page, "p.content.models")
    assert len(models) == 1 and models[0]["asset"] == asset["id"]
    assert abs(models[0]["lon"] - MODEL_AT[0]) < 3e-4 and abs(models[0]["lat"] - MODEL_AT[1]) < 3e-4
    press(page.locator("#projects-tool-cancel"))
    press(page.locator("#projects-save-view"))
    press(page.locator("#projects-save"))
    page.wait_for_function(
        "() => !window.twin.projects.dirty && window.twin.projects.variant.version === 2"
    )
    indicators = projects(page, "p.variant.indicators")
    assert indicators["features_hidden"] == 1 and indicators["models_placed"] == 1, indicators
    page.wait_for_function(
        """() => { const r = window.twin.projects.renderer;
          const e = r.dataSource.entities.values.find((e) => e.model);
          window.twin.viewer.scene.requestRender();
          return e && window.twin.viewer.dataSourceDisplay.ready; }""",
        polling=500,
        timeout=60_000,
    )
    wait_drawn(page)
    shot(page, "projects-tower-and-removed-building.png", tmp_path)


def test_a_conflicting_save_is_refused_and_kept(viewer: Viewer) -> None:
    page = viewer.page
    project = projects(page, "p.project.id")
    variant = projects(page, "p.variant")
    # Someone else saves the variant meanwhile (version 3).
    other = dict(
        variant["content"], trees=[{"id": "t-other", "lon": 0.7224, "lat": 45.1819, "height": 9}]
    )
    api(
        viewer.base_url,
        "PUT",
        f"/projects/{project}/variants/{variant['id']}",
        {"name": variant["name"], "description": "", "content": other, "base_version": 2},
    )
    press(page.locator('#projects-tools [data-tool="tree"]'))
    page.mouse.click(*on_screen(page, 0.7231, 45.1821))
    press(page.locator("#projects-tool-cancel"))
    press(page.locator("#projects-save"))
    box = page.locator("#projects-conflict")
    box.wait_for(state="visible")
    assert "changed meanwhile" in box.inner_text() and "revision" in box.inner_text()
    conflict = projects(page, "p.conflict")
    assert conflict["current"]["version"] == 3 and conflict["kept_revision"]
    press(page.locator("#projects-load-current"))
    page.wait_for_function(
        "() => window.twin.projects.variant.version === 3 && !window.twin.projects.dirty"
    )
    assert [t["id"] for t in projects(page, "p.content.trees")] == ["t-other"]
    assert box.is_hidden()
    page.locator("#projects-revisions-box summary").click()
    page.wait_for_function("() => window.twin.projects.revisions.length >= 3")
    revisions = projects(page, "p.revisions")
    assert any(r["conflict"] for r in revisions)
    assert page.locator("#projects-revisions li.conflict").count() >= 1


def test_create_a_meeting(viewer: Viewer) -> None:
    page = viewer.page
    page.evaluate("(c) => window.twin.viewer.camera.setView(window.TwinScene.viewOf(c))", VIEW)
    page.locator("#projects-meeting-title").fill("Saint-Front: public meeting")
    press(page.locator("#projects-meeting-create"))
    page.wait_for_function("() => window.twin.projects.meetings.length === 1")
    meeting = projects(page, "p.meetings[0]")
    # The view, then each variant's saved view.
    assert len(meeting["bookmarks"]) == 3
    assert [b["variant_id"] for b in meeting["bookmarks"][1:]] == [
        v["id"] for v in projects(page, "p.project.variants")
    ]
    item = page.locator(f'#projects-meetings li[data-meeting-id="{meeting["id"]}"]')
    assert meeting["public_url"] in item.locator(".public-link").inner_text()


def test_compare_two_variants(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    url = page.evaluate(
        """() => { const v = window.twin.projects.project.variants;
          return window.twin.projects.compareUrl(v[0].id, v[1].id); }"""
    )
    page.goto(viewer.base_url + url)
    page.wait_for_function("() => window.twinCompare && window.twinCompare.ready")
    assert page.evaluate("() => window.twinCompare.ready") is True
    assert page.locator(".compare-view canvas").count() == 2
    rows = {r[0]: r[1:] for r in page.evaluate("() => window.twinCompare.rows")}
    assert rows["buildings_added"][:2] == [1, 0]
    assert rows["features_hidden"][:2] == [0, 1] or rows["features_hidden"][:2] == [None, 1]
    assert rows["height_max_m"][0] == SCHOOL_HEIGHT
    assert (
        page.locator('#compare-table tr[data-key="buildings_added"] td').nth(2).inner_text() == "-1"
    )
    # The school on the left, the tower on the right.
    counts = page.evaluate("() => window.twinCompare.renderers.map((r) => r.counts())")
    assert counts[0]["footprints"] == 1 and counts[1]["models"] == 1 and counts[1]["hidden"] == 1
    # Moving one view moves the other.
    box = page.locator("#cesium-a canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 60)
    page.wait_for_function(
        """() => { const [a, b] = window.twinCompare.cameras();
          return Math.abs(a.lon - b.lon) < 1e-6 && Math.abs(a.lat - b.lat) < 1e-6
            && Math.abs(a.height - b.height) < 0.05 && Math.abs(a.pitch - b.pitch) < 0.01; }""",
        polling=250,
        timeout=30_000,
    )
    page.wait_for_function(
        """() => window.twinCompare.scenes.every((s, i) => { s.viewer.scene.requestRender();
            return s.tilesLoaded() && s.viewer.dataSourceDisplay.ready
              && !window.twinCompare.renderers[i].drawing(); })""",
        polling=500,
        timeout=TIMEOUT_MS,
    )
    shot(page, "projects-compare.png", tmp_path)
    press(page.locator("#compare-table-toggle"))  # the table folds away: the views in full
    assert page.locator("#compare-table").is_hidden()
    shot(page, "projects-compare-views.png", tmp_path)


@pytest.fixture(scope="module")
def public_page(browser: Any, viewer: Viewer) -> Any:
    page = browser.new_page(viewport={"width": 1024, "height": 700})
    page.set_default_timeout(45_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    page.close()


def test_meeting_presenter_and_public_follow_live(
    viewer: Viewer, public_page: Any, tmp_path: Path
) -> None:
    page = viewer.page
    meeting = api(viewer.base_url, "GET", f"/projects/{_project_id(viewer)}/meetings")[0]
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{viewer.base_url}/meeting/{meeting['id']}")
    page.wait_for_function("() => window.twinMeeting && window.twinMeeting.ready")
    assert page.evaluate("() => window.twinMeeting.ready") is True
    assert page.locator("#meeting-link").inner_text().endswith(meeting["public_url"])
    pub = public_page
    pub.goto(viewer.base_url + meeting["public_url"])
    pub.wait_for_function("() => window.twinMeeting && window.twinMeeting.ready")
    pub.wait_for_function("() => window.twinMeeting.connected")
    page.wait_for_function("() => window.twinMeeting.connected")
    # A clicker's "next" (PageDown) goes to the first bookmark, then the second (variant A).
    before = page.evaluate("() => window.twinMeeting.state_version")
    page.keyboard.press("PageDown")
    page.wait_for_function("(v) => window.twinMeeting.state_version > v", arg=before)
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(v) => window.twinMeeting.state_version > v + 1", arg=before)
    version = page.evaluate("() => window.twinMeeting.state_version")
    assert page.evaluate("() => window.twinMeeting.bookmark") == 1
    pub.wait_for_function("(v) => window.twinMeeting.state_version === v", arg=version)
    assert pub.evaluate("() => window.twinMeeting.bookmark") == 1
    variants = page.evaluate("() => window.twinMeeting.variants.map((v) => v.id)")
    assert pub.evaluate("() => window.twinMeeting.variantId") == variants[0]
    assert "A: new school" in pub.locator("#meeting-step-text").inner_text()
    # The presenter switches to variant B: the public page shows it.
    press(page.locator(f'#meeting-variants [data-variant-id="{variants[1]}"]'))
    pub.wait_for_function("(id) => window.twinMeeting.variantId === id", arg=variants[1])
    assert pub.evaluate("() => window.twinMeeting.renderer.counts().models") == 1
    # Back one step (PageUp): the school again, on both screens.
    page.keyboard.press("PageUp")
    pub.wait_for_function(
        "(id) => window.twinMeeting.variantId === id && window.twinMeeting.bookmark === 0",
        arg=page.evaluate("() => window.twinMeeting.bookmarks[0].variant_id"),
    )
    page.keyboard.press("PageDown")
    pub.wait_for_function("(id) => window.twinMeeting.variantId === id", arg=variants[0])
    meeting_drawn(pub)
    shot(pub, "meeting-public-following.png", tmp_path)


def test_citizen_comments_and_votes(viewer: Viewer, public_page: Any, tmp_path: Path) -> None:
    page = viewer.page
    pub = public_page
    # Pin the comment on the school, by clicking the view.
    meeting_drawn(pub)
    x, y = on_screen(pub, 0.72245, 45.18225, "window.twinMeeting.scene.viewer")
    pub.mouse.click(x, y)
    pub.wait_for_function(
        "() => document.getElementById('comment-where').textContent.startsWith('Pinned')"
    )
    # The robot trap is off screen (a person never fills it), not `display: none`.
    trap = pub.locator("#comment-website").bounding_box()
    assert trap is None or trap["x"] + trap["width"] <= 0
    pub.locator("#comment-text").fill(COMMENT)
    assert pub.locator("#comment-counter").inner_text() == f"{len(COMMENT)} / 1000"
    press(pub.locator("#comment-send"))
    sent = pub.locator("#comment-sent")
    sent.wait_for(state="visible")
    assert "after moderation" in sent.inner_text()
    assert pub.evaluate("() => window.twinMeeting.comments.length") == 0
    # The presenter sees it waiting, approves it; it reaches the public page, as text.
    pending = page.locator("#meeting-pending li[data-comment-id]")
    pending.first.wait_for(state="visible")
    assert pending.first.locator(".comment-text").inner_text() == COMMENT
    press(pending.first.get_by_role("button", name="Approve"))
    pub.wait_for_function("() => window.twinMeeting.comments.length === 1")
    item = pub.locator("#meeting-comments li[data-comment-id] .comment-text")
    assert item.inner_text() == COMMENT
    assert pub.locator("#meeting-comments li b, #meeting-comments li script").count() == 0
    assert (
        pub.evaluate("() => window.twinMeeting.pins.entities.values.filter((e) => e.label).length")
        == 1
    )
    assert page.locator("#meeting-comments li[data-comment-id]").count() == 1
    # A vote, counted on both screens.
    variants = pub.evaluate("() => window.twinMeeting.variants.map((v) => v.id)")
    press(pub.get_by_role("button", name="Vote for A: new school"))
    pub.wait_for_function("(id) => window.twinMeeting.votes[String(id)] === 1", arg=variants[0])
    page.wait_for_function("(id) => window.twinMeeting.votes[String(id)] === 1", arg=variants[0])
    assert (
        page.locator(f'#meeting-votes .vote-count[data-variant-id="{variants[0]}"]').inner_text()
        == "1"
    )
    assert pub.evaluate("() => localStorage.getItem('twin.voter').length") >= 16
    for p in (pub, page):
        meeting_drawn(p)
    shot(pub, "meeting-public-comment.png", tmp_path)
    shot(page, "meeting-presenter.png", tmp_path)


def test_bad_link_says_so(public_page: Any, viewer: Viewer) -> None:
    pub = public_page
    pub.goto(viewer.base_url + "/m/not-a-meeting-token")
    message = pub.locator(".page-message")
    message.wait_for(state="visible")
    assert "not valid or has expired" in message.inner_text()
    assert pub.errors == []


def test_no_errors(viewer: Viewer) -> None:
    assert [e for e in viewer.errors if "409" not in e and "Conflict" not in e] == []


def _project_id(viewer: Viewer) -> int:
    projects_list = api(viewer.base_url, "GET", "/projects")
    return max(int(p["id"]) for p in projects_list if p["name"] == "Saint-Front school")

"""Staff in the viewer: sign in, and GIS staff add a layer from the browser (upload, job card,
the new layer in the list). Against the real server, with the accounts made by conftest.

The tests share one page and run in file order: a wrong password, a planner (no "Add layer"),
then the GIS user uploads a real LAZ tile and a LAZ without a CRS.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import EXISTING_SERVER, OUTPUT, USERS, Viewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(EXISTING_SERVER), reason="needs the accounts of the test server"),
]

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pointcloud"
MONTPELLIER_LAZ = DATA / "test_data_77055_627760_LA93_IGN69.laz"
NO_CRS_LAZ = DATA / "cars_mesh_toulouse" / "point_cloud.laz"
UPLOADED = "Uploaded Montpellier"
JOB_TIMEOUT_MS = 25_000


def sign_in(viewer: Viewer, name: str, password: str) -> None:
    page = viewer.page
    page.get_by_role("button", name="Sign in", exact=True).first.click()
    dialog = page.locator("#sign-in-dialog")
    dialog.get_by_label("User name").fill(name)
    dialog.get_by_label("Password").fill(password)
    dialog.get_by_label("Password").press("Enter")


def sign_out(viewer: Viewer) -> None:
    viewer.page.locator("#sign-out").click()
    viewer.page.locator("#sign-in-open").wait_for(state="visible")


def api_token(base_url: str, name: str) -> str:
    form = urllib.parse.urlencode({"username": name, "password": USERS[name][1]}).encode()
    with urllib.request.urlopen(f"{base_url}/api/v1/auth/token", data=form, timeout=10) as r:
        return str(json.load(r)["access_token"])


def api_layers(base_url: str, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/layers", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)  # type: ignore[no-any-return]


def upload(viewer: Viewer, path: Path, name: str = "") -> Any:
    """Fill the upload panel, press Import and wait for the job card's final status."""
    page = viewer.page
    panel = page.locator("#upload-panel")
    if panel.is_hidden():
        page.locator("#add-layer-open").click()
    panel.wait_for(state="visible")
    page.set_input_files("#upload-files", str(path))
    assert path.name in panel.locator("#upload-file-list").inner_text()
    panel.get_by_label("Name").fill(name)
    panel.get_by_role("button", name="Import").click()
    card = page.locator("#job-card")
    card.wait_for(state="visible")
    page.wait_for_function(
        "() => ['succeeded', 'failed', 'cancelled']"
        ".includes(document.getElementById('job-card').dataset.status)",
        timeout=JOB_TIMEOUT_MS,
    )
    return card


def test_wrong_password_shows_the_servers_error(viewer: Viewer) -> None:
    viewer.wait_ready()
    page = viewer.page
    assert page.locator("#add-layer-open").is_hidden()
    sign_in(viewer, "gisela", "not-the-password")
    error = page.locator("#sign-in-error")
    error.wait_for(state="visible")
    assert re.search(r"incorrect|wrong|invalid", error.inner_text(), re.I), error.inner_text()
    assert page.locator("#sign-in-dialog").is_visible()
    # Escape closes the dialog; still signed out.
    page.keyboard.press("Escape")
    page.locator("#sign-in-dialog").wait_for(state="hidden")
    assert page.locator("#sign-in-open").is_visible()
    assert page.evaluate("() => sessionStorage.getItem('twin.token')") is None


def test_planner_has_no_add_layer_button(viewer: Viewer) -> None:
    page = viewer.page
    sign_in(viewer, "paul", USERS["paul"][1])
    page.locator("#sign-out").wait_for(state="visible")
    assert page.locator("#account-name").inner_text() == "paul"
    assert page.locator("#account-role").inner_text() == "planner"
    assert page.locator("#add-layer-open").is_hidden()
    assert page.evaluate("() => sessionStorage.getItem('twin.token')")
    sign_out(viewer)
    assert page.evaluate("() => sessionStorage.getItem('twin.token')") is None


def test_gis_user_uploads_a_point_cloud(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    sign_in(viewer, "gisela", USERS["gisela"][1])
    add = page.locator("#add-layer-open")
    add.wait_for(state="visible")
    assert page.locator("#account-role").inner_text() == "gis"
    add.click()
    assert add.get_attribute("aria-expanded") == "true"
    srs = page.get_by_label("CRS")
    assert srs.get_attribute("placeholder") == "EPSG:2154 (read from the files when present)"

    card = upload(viewer, MONTPELLIER_LAZ, UPLOADED)
    assert card.get_attribute("data-status") == "succeeded", card.inner_text()
    assert page.locator("#job-progress").evaluate("p => p.value") == 1
    assert "60,653" in page.locator("#job-message").inner_text()
    assert page.locator("#job-cancel").is_hidden()
    # The list is read again and holds the new layer; the camera went to it.
    row = page.locator("#layer-list .layer", has_text=UPLOADED)
    row.wait_for(state="visible")
    assert "60,653 pts" in row.inner_text()
    page.wait_for_function("() => !window.twin.flying", timeout=20_000)
    viewer.screenshot("viewer-upload.png", tmp_path)

    layers = api_layers(viewer.base_url, api_token(viewer.base_url, "gisela"))
    uploaded = [layer for layer in layers if layer["name"] == UPLOADED]
    assert len(uploaded) == 1
    assert uploaded[0]["point_count"] == 60653
    # Leave the shared server's scene as test_viewer.py expects it.
    request = urllib.request.Request(
        f"{viewer.base_url}/api/v1/layers/{uploaded[0]['id']}",
        method="DELETE",
        headers={"Authorization": f"Bearer {api_token(viewer.base_url, 'gisela')}"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status in (200, 202, 204)


def test_upload_without_crs_fails_clearly(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    card = upload(viewer, NO_CRS_LAZ, "Toulouse cars")
    assert card.get_attribute("data-status") == "failed", card.inner_text()
    error = page.locator("#job-error")
    assert error.is_visible()
    assert "srs" in error.inner_text().lower(), error.inner_text()
    assert page.locator("#job-status").inner_text().lower() == "failed"
    page.screenshot(path=str(OUTPUT / "viewer-upload-failed.png"))
    assert page.locator("#layer-list .layer", has_text="Toulouse cars").count() == 0
    sign_out(viewer)
    assert page.locator("#add-layer-open").is_hidden()
    assert page.locator("#upload-panel").is_hidden()


def test_no_console_errors_but_the_refused_password(viewer: Viewer) -> None:
    # The wrong password's 401 is logged by Chromium as a failed resource (no script can stop
    # that): the one expected entry, and nothing else.
    refused = [e for e in viewer.errors if "status of 401" in e and "/api/v1/auth/token" in e]
    assert len(refused) <= 1
    assert [e for e in viewer.errors if e not in refused] == []

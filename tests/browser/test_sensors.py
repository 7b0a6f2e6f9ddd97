"""Live sensors in the viewer and the dashboard, against the real server and its demo sensors:
entities from the register, colours that follow readings pushed over the event stream, the
sensor panel and its chart, alerts raised live, and the public dashboard.

The viewer tests share one page (see `viewer` in conftest) and run in file order; readings are
posted as GIS staff through the API, as a sensor gateway would, and reach the page only over
Server-Sent Events. The dashboard test opens its own page. The last two tests check what the
viewer page logged and requested during all of them.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import EXISTING_SERVER, USERS, VIEWPORT, Viewer, get_json
from tests.browser.test_upload import api_token, sign_in, sign_out

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(EXISTING_SERVER), reason="needs the accounts of the test server"),
]

LIVE_MS = 15_000  # a reading posted to the API shows in the page (SSE) within this
RAMP_TOP = "#d7191c"  # web/static/chart.js: the colour of the ramp's high end
NO_VALUE = "#6b7280"  # web/static/sensors.js: a sensor without the quantity coloured by
STAFF_ROLE = USERS["gisela"][0]

# Where an entity is on screen (page coordinates), and what the scene picks there.
SCREEN = """(id) => {
  const scene = window.twin.viewer.scene;
  const entity = window.twin.sensors.entities.get(id);
  const where = entity.position.getValue(Cesium.JulianDate.now());
  const xy = Cesium.SceneTransforms.worldToWindowCoordinates(scene, where);
  if (!xy) return null;
  const picked = scene.pick(xy);
  const rect = scene.canvas.getBoundingClientRect();
  return { x: xy.x + rect.left, y: xy.y + rect.top,
           picked: picked && picked.id ? picked.id.id : null };
}"""

# Every sensor entity's [lon, lat, height].
PLACES = """() => Object.fromEntries([...window.twin.sensors.entities].map(([id, e]) => {
  const c = Cesium.Cartographic.fromCartesian(e.position.getValue(Cesium.JulianDate.now()));
  return [id, [Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude), c.height]];
}))"""

# Put the camera 3.5 km above a sensor, looking north-down at it.
LOOK_AT = """(id) => {
  const f = window.twin.sensors.features.get(id);
  const [lon, lat] = f.geometry.coordinates;
  window.twin.viewer.camera.setView({
    destination: Cesium.Cartesian3.fromDegrees(lon, lat - 0.027, 3500),
    orientation: { heading: 0, pitch: Cesium.Math.toRadians(-52), roll: 0 },
  });
  window.twin.viewer.scene.requestRender();
}"""


# ---------------------------------------------------------------- helpers


def api(base_url: str, path: str) -> Any:
    return get_json(f"{base_url}/api/v1{path}")


def post_json(base_url: str, path: str, body: Any, method: str = "POST") -> Any:
    request = urllib.request.Request(
        f"{base_url}/api/v1{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {api_token(base_url, 'gisela')}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)


def post_reading(base_url: str, sensor: str, quantity: str, value: float) -> None:
    """One reading, stamped now, through the ingest API (as a device or a gateway would)."""
    now = datetime.now(UTC).isoformat()
    item = {"sensor": sensor, "quantity": quantity, "time": now, "value": value}
    counts = post_json(base_url, "/observations", [item])
    assert counts["accepted"] == 1, counts


def open_alerts(base_url: str) -> list[dict[str, Any]]:
    return api(base_url, "/alerts?status=open")  # type: ignore[no-any-return]


def sensors_ready(viewer: Viewer) -> dict[str, Any]:
    viewer.page.wait_for_function("() => window.twin.sensors && window.twin.sensors.ready")
    return viewer.page.evaluate("() => window.twin.sensors.ready")  # type: ignore[no-any-return]


def colour_of(viewer: Viewer, sensor: str) -> str:
    return str(viewer.page.evaluate("(id) => window.twin.sensors.colourOf(id)", sensor))


def wait_panel_loaded(viewer: Viewer) -> dict[str, Any]:
    viewer.page.wait_for_function(
        "() => { const p = window.twin.sensors.panel; return p && p.loaded && !p.loading; }"
    )
    return viewer.page.evaluate(  # type: ignore[no-any-return]
        "() => { const p = window.twin.sensors.panel; return { sensor: p.sensor, "
        "quantity: p.quantity, period: p.period, aggregate: p.aggregate, zoom: p.zoom, "
        "query: p.query, points: p.points, error: p.error }; }"
    )


def chart_count(viewer: Viewer) -> int:
    """Points the chart holds, and checks that it drew as many: one vertex of a line each, or a
    dot for a lone one (series of more than 48 points get no other dots)."""
    held = int(viewer.page.locator("#sensor-chart svg.chart-svg").get_attribute("data-count") or -1)
    drawn = viewer.page.evaluate(
        """() => {
          const svg = document.querySelector("#sensor-chart svg.chart-svg");
          const vertices = [...svg.querySelectorAll("path.chart-line")]
            .map((p) => (p.getAttribute("d").match(/[ML]/g) || []).length)
            .reduce((a, b) => a + b, 0);
          return vertices + svg.querySelectorAll(".chart-series circle").length;
        }"""
    )
    if held > 48:
        assert drawn == held, (drawn, held)
    return held


def api_points(viewer: Viewer, query: str) -> list[dict[str, Any]]:
    """What the API answers to the query the panel made (a path with its query string)."""
    return get_json(viewer.base_url + query)["points"]  # type: ignore[no-any-return]


def press(locator: Any) -> None:
    """Click a visible, enabled control without Playwright's wait for a "stable" element (animation
    frames are seconds long in software GL); force also reaches radio inputs under their label."""
    locator.wait_for(state="visible")
    assert locator.is_enabled(), locator
    locator.click(force=True)


# ---------------------------------------------------------------- viewer


def test_sensors_are_entities(viewer: Viewer, tmp_path: Path) -> None:
    result = sensors_ready(viewer)
    features = api(viewer.base_url, "/sensors")["features"]
    assert result == {"sensors": len(features), "error": None}
    assert len(features) > 100  # the demo's metropolis: noise, bins, rivers, lighting...
    page = viewer.page
    # On the ground: height 0 on the bare ellipsoid, else the terrain's height there.
    page.wait_for_function("() => window.twin.sensors.grounded")
    placed = page.evaluate(PLACES)
    assert len(placed) == len(features)
    where = {f["id"]: f["geometry"]["coordinates"] for f in features}
    for sid, (lon, lat, height) in placed.items():
        assert abs(lon - where[sid][0]) < 1e-6 and abs(lat - where[sid][1]) < 1e-6, sid
        assert -100 < height < 2000, (sid, height)
    assert page.locator("#sensor-count").inner_text() == str(len(features))
    # "Colour by" offers every quantity measured, and the sensor type.
    quantities = {q["name"] for f in features for q in f["properties"]["quantities"]}
    options = page.locator("#sensor-colour option").evaluate_all("os => os.map(o => o.value)")
    assert set(options) == quantities | {"type"}, options
    page.wait_for_function("() => window.twin.sensors.stream.connected", timeout=LIVE_MS)
    assert page.locator("#sensor-live").inner_text().lower() == "live"
    viewer.screenshot("sensors-home.png", tmp_path)


def test_colour_by_and_legend(viewer: Viewer) -> None:
    page = viewer.page
    features = api(viewer.base_url, "/sensors")["features"]
    page.select_option("#sensor-colour", "LAeq")
    legend = page.locator("#sensor-legend")
    assert "LAeq · dB(A)" in legend.inner_text()
    assert page.locator("#sensor-legend .ramp-min").inner_text().endswith("40")
    assert page.locator("#sensor-legend .ramp-max").inner_text().endswith("80")
    noise = {
        f["id"] for f in features if any(q["name"] == "LAeq" for q in f["properties"]["quantities"])
    }
    assert len(noise) == 10, noise
    looks = page.evaluate(
        """() => Object.fromEntries([...window.twin.sensors.entities].map(([id, e]) =>
          [id, [window.twin.sensors.colourOf(id), e.point.pixelSize.getValue()]]))"""
    )
    grey = {sid for sid, (colour, _) in looks.items() if colour == NO_VALUE}
    assert grey == set(looks) - noise
    assert all(looks[sid][1] < looks[next(iter(noise))][1] for sid in grey)  # drawn small
    assert f"{len(noise)} with LAeq" in legend.inner_text()
    # By type: one colour per type, listed in the legend with its count.
    page.select_option("#sensor-colour", "type")
    types = Counter(f["properties"]["type"] for f in features)
    items = page.locator("#sensor-legend li").all_inner_texts()
    assert len(items) == len(types), items
    assert "Waste bins (100)" in items, items
    colours = page.evaluate(
        "() => [...window.twin.sensors.entities.keys()].map(window.twin.sensors.colourOf)"
    )
    assert len(set(colours)) == len(types)
    page.select_option("#sensor-colour", "LAeq")


def test_live_reading_recolours_a_sensor(viewer: Viewer) -> None:
    page = viewer.page
    sensor = "noise-03"
    before = colour_of(viewer, sensor)
    latest = page.evaluate("(id) => window.twin.sensors.latest.get(id + '|LAeq').value", sensor)
    assert latest < 75, latest  # the simulator's levels: not red already
    assert before != RAMP_TOP
    register_reads = sum(urlsplit(u).path == "/api/v1/sensors" for u in viewer.requests)
    events = page.evaluate("() => window.twin.sensors.stream.events")
    post_reading(viewer.base_url, sensor, "LAeq", 95.0)
    page.wait_for_function(
        "(id) => window.twin.sensors.colourOf(id) === '" + RAMP_TOP + "'",
        arg=sensor,
        timeout=LIVE_MS,
    )
    assert page.evaluate("(id) => window.twin.sensors.latest.get(id + '|LAeq').value", sensor) == 95
    assert page.evaluate("() => window.twin.sensors.stream.events") > events
    # It came over the stream: the page did not read the register again.
    assert sum(urlsplit(u).path == "/api/v1/sensors" for u in viewer.requests) == register_reads
    # 95 is beyond the fixed 40-80 dB(A) scale: the legend says the top end is clamped.
    assert page.locator("#sensor-legend .ramp-max").inner_text() == "≥ 80"


def test_clicking_a_sensor_opens_its_panel(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    sensor = "noise-01"
    feature = api(viewer.base_url, f"/sensors/{sensor}")
    page.evaluate(LOOK_AT, sensor)
    page.wait_for_function(
        "() => window.twin.viewer.scene.globe.tilesLoaded", polling=250, timeout=60_000
    )
    # Clamped points settle as finer globe tiles come in: wait until the scene picks it there.
    spot = page.wait_for_function(
        f"(id) => {{ const r = ({SCREEN})(id); return r && r.picked === 'sensor:' + id && r; }}",
        arg=sensor,
        polling=500,
        timeout=20_000,
    ).json_value()
    page.mouse.click(spot["x"], spot["y"])
    panel = page.locator("#sensor-panel")
    panel.wait_for(state="visible")
    assert page.locator("#sensor-title").inner_text() == feature["properties"]["name"]
    assert sensor in page.locator("#sensor-subtitle").inner_text()
    # Latest values, one per quantity, and the metadata.
    latest = panel.locator(".latest-item")
    assert latest.evaluate_all("xs => xs.map(x => x.dataset.quantity)") == ["LAeq", "LAmax"]
    zone = panel.locator('#sensor-table tr[data-name="Zone"] td').inner_text()
    assert zone == feature["properties"]["zone"]
    assert panel.locator('#sensor-table tr[data-name="Status"] td').inner_text() == "active"

    # 24 h by 15 minutes: the chart draws what the API gives for the same query.
    state = wait_panel_loaded(viewer)
    assert (state["sensor"], state["period"], state["aggregate"]) == (sensor, "24h", "15min")
    assert state["error"] is None
    points = api_points(viewer, state["query"])
    assert len(points) > 80, len(points)  # a day of 15-minute readings
    assert chart_count(viewer) == state["points"] == len(points)
    assert panel.locator("#sensor-chart path.chart-line").count() >= 1
    assert panel.locator("#sensor-chart path.chart-band").count() >= 1  # min/max band
    assert len(panel.locator("#sensor-chart .chart-xlabel").all_inner_texts()) >= 3
    viewer.screenshot("sensors-panel.png", tmp_path)

    # 7 days: hourly by default.
    press(panel.locator("#sensor-period-7d"))
    page.wait_for_function("() => window.twin.sensors.panel.period === '7d'")
    state = wait_panel_loaded(viewer)
    assert state["aggregate"] == "hour"
    assert page.locator("#sensor-aggregate").input_value() == "hour"
    assert chart_count(viewer) == len(api_points(viewer, state["query"])) > 48

    # Drag across the middle of the chart: that time range, finer data, then double-click back.
    box = panel.locator("#sensor-chart rect.chart-overlay").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.70, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.85, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.95, y, steps=4)
    page.mouse.up()
    page.wait_for_function("() => window.twin.sensors.panel.zoom !== null")
    state = wait_panel_loaded(viewer)
    start, end = state["zoom"]
    assert 0 < end - start < 7 * 24 * 3600_000 * 0.3, state
    assert state["aggregate"] in ("15min", "raw"), state
    assert chart_count(viewer) == len(api_points(viewer, state["query"])) > 0
    assert page.locator("#sensor-zoom-reset").is_visible()
    panel.locator("#sensor-chart rect.chart-overlay").dblclick()
    page.wait_for_function("() => window.twin.sensors.panel.zoom === null")
    state = wait_panel_loaded(viewer)
    assert (state["period"], state["aggregate"]) == ("7d", "hour")

    # Exports of the period shown: five files, the spreadsheet one with semicolons.
    links = panel.locator("#sensor-exports a")
    formats = links.evaluate_all("xs => xs.map(x => x.dataset.format)")
    assert formats == ["csv", "csv-semicolon", "json", "geojson", "kml"]
    semicolon = links.nth(1).get_attribute("href")
    assert "sep=%3B" in semicolon and "format=csv" in semicolon
    with urllib.request.urlopen(viewer.base_url + semicolon, timeout=10) as r:
        assert r.status == 200
        head = r.read(300).decode("utf-8-sig").splitlines()[0]
    assert ";" in head and "," not in head, head

    press(panel.locator("#sensor-close"))
    panel.wait_for(state="hidden")
    assert page.evaluate("() => window.twin.sensors.panel") is None


def test_photos_only_from_the_server(viewer: Viewer) -> None:
    """A photo the server holds is shown; one elsewhere is only a link (never fetched)."""
    sensor = "noise-02"
    post_json(
        viewer.base_url,
        f"/sensors/{sensor}",
        {
            "photos": ["/static/favicon.svg", "https://photos.example.org/noise-02.jpg"],
            "maintenance": [{"date": "2024-03-12T09:00:00+01:00", "note": "microphone replaced"}],
        },
        method="PATCH",
    )
    page = viewer.page
    page.evaluate("(id) => window.twin.sensors.select(id)", sensor)
    page.wait_for_function("() => window.twin.sensors.panel.metadata")
    photos = page.locator("#sensor-photos")
    assert photos.locator("img").get_attribute("src") == "/static/favicon.svg"
    link = photos.locator("a.photo-link")
    assert link.get_attribute("href") == "https://photos.example.org/noise-02.jpg"
    assert "photos.example.org" in link.inner_text()
    maintenance = page.locator('#sensor-table tr[data-name="Maintenance"] td').inner_text()
    assert "microphone replaced" in maintenance and "2024" in maintenance
    page.locator("#sensor-close").click()


def test_alert_raised_live_and_handled_by_staff(viewer: Viewer, tmp_path: Path) -> None:
    page = viewer.page
    press(page.locator("#alerts-open"))
    panel = page.locator("#alerts-panel")
    panel.wait_for(state="visible")
    assert page.evaluate("() => window.twin.sensors.panel") is None  # one panel at a time
    alerted = {a["sensor_id"] for a in open_alerts(viewer.base_url)}
    sensor = next(f"noise-{i:02d}" for i in range(4, 11) if f"noise-{i:02d}" not in alerted)
    post_reading(viewer.base_url, sensor, "LAeq", 97.5)
    item = panel.locator(f'li.alert-item[data-sensor="{sensor}"]')
    item.wait_for(state="visible", timeout=LIVE_MS)
    assert item.get_attribute("data-status") == "open"
    assert "97.5" in item.locator(".alert-message").inner_text()
    # The badge counts the open alerts, as the API does.
    expected = len(open_alerts(viewer.base_url))
    page.wait_for_function(
        "(n) => document.getElementById('alert-count').textContent === String(n)",
        arg=expected,
        timeout=LIVE_MS,
    )
    # The public sees no buttons; staff acknowledge, then close.
    assert item.locator("button[data-action]").count() == 0
    assert panel.locator('a[data-format="csv-semicolon"]').get_attribute("href").endswith("sep=%3B")
    sign_in(viewer, "gisela", USERS["gisela"][1])
    acknowledge = item.locator('button[data-action="acknowledge"]')
    acknowledge.wait_for(state="visible")
    viewer.screenshot("sensors-alerts.png", tmp_path)
    press(acknowledge)
    page.wait_for_function(
        "(id) => document.querySelector(`li.alert-item[data-sensor='${id}']`)"
        ".dataset.status === 'acknowledged'",
        arg=sensor,
    )
    alert_id = int(item.get_attribute("data-alert-id") or 0)
    archived = {a["id"]: a for a in api(viewer.base_url, f"/alerts?sensor={sensor}")}
    assert archived[alert_id]["status"] == "acknowledged"
    assert archived[alert_id]["acknowledged_by"] == "gisela" and STAFF_ROLE == "gis"
    assert "gisela" in item.locator(".alert-meta").inner_text()
    press(item.locator('button[data-action="close"]'))
    item.wait_for(state="detached")  # closed alerts are hidden unless asked for
    press(panel.locator("#alerts-closed"))
    closed = panel.locator(f'li.alert-item[data-alert-id="{alert_id}"]')
    closed.wait_for(state="visible")
    assert closed.get_attribute("data-status") == "closed"
    press(panel.locator("#alerts-closed"))
    sign_out(viewer)
    page.locator('li.alert-item button[data-action="close"]').first.wait_for(state="detached")
    press(panel.locator("#alerts-close"))
    panel.wait_for(state="hidden")


def test_resync_after_a_break(viewer: Viewer) -> None:
    """What the page reads again when the stream reconnects agrees with what it had live."""
    page = viewer.page
    before = page.evaluate(
        "() => [...window.twin.sensors.entities.keys()].map(window.twin.sensors.colourOf)"
    )
    page.evaluate("() => window.twin.sensors.resync()")
    after = page.evaluate(
        "() => [...window.twin.sensors.entities.keys()].map(window.twin.sensors.colourOf)"
    )
    assert after == before
    badge = page.locator("#alert-count").inner_text()
    assert badge == str(len(open_alerts(viewer.base_url)))


def test_sensors_follow_the_ground(viewer: Viewer) -> None:
    """Sensors stand on the terrain when the globe has one, at height 0 on the bare ellipsoid."""
    use = """(kind) => {
      const scene = window.twin.viewer.scene;
      if (!window.testTerrain) window.testTerrain = scene.terrainProvider;
      scene.terrainProvider = kind === "flat" ? new Cesium.EllipsoidTerrainProvider()
        : kind === "hills" ? new Cesium.CustomHeightmapTerrainProvider({
            width: 2, height: 2, callback: () => new Float32Array(4).fill(250) })
        : window.testTerrain;
    }"""
    page = viewer.page

    def heights(kind: str) -> set[float]:
        page.evaluate(use, kind)
        page.wait_for_function("() => window.twin.sensors.grounded")
        return {round(h, 1) for _, _, h in page.evaluate(PLACES).values()}

    try:
        assert heights("flat") == {0.0}
        assert heights("hills") == {250.0}
    finally:
        heights("back")  # the viewer's own ground again


def test_no_console_errors(viewer: Viewer) -> None:
    # The sign-in flow logs nothing; any error here is the sensors' (or the viewer's).
    assert viewer.errors == []


def test_no_request_leaves_the_machine(viewer: Viewer) -> None:
    assert any(urlsplit(u).path == "/api/v1/stream" for u in viewer.requests)
    outside = [
        u
        for u in viewer.requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert outside == []


# ---------------------------------------------------------------- dashboard


def newest_reading(feature: dict[str, Any]) -> datetime | None:
    times = [q["latest"]["time"] for q in feature["properties"]["quantities"] if q["latest"]]
    return max(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times) if times else None


def readings_since(base_url: str, ids: list[str], since_ms: float) -> int:
    start = datetime.fromtimestamp(since_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    total = 0
    for sid in ids:
        data = api(base_url, f"/sensors/{sid}/export?format=json&start={start}")
        total += sum(len(s["points"]) for s in data["series"])
    return total


def test_dashboard(browser: Any, live_server: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(30_000)
    dash = Viewer(page, live_server)
    dash.watch()
    try:
        page.goto(f"{live_server}/dashboard")
        page.wait_for_function("() => window.dashboard && window.dashboard.ready")
        features = api(live_server, "/sensors")["features"]
        assert page.evaluate("() => window.dashboard.ready") == {
            "sensors": len(features),
            "error": None,
        }
        page.wait_for_function("() => window.dashboard.counted")
        page.evaluate("() => window.dashboard.counted")
        page.wait_for_function("() => window.dashboard.stream.connected", timeout=LIVE_MS)

        # Cards: "online" is an active sensor with a reading in the last hour.
        now = datetime.now(UTC)
        online = sum(
            1
            for f in features
            if f["properties"]["status"] == "active"
            and (t := newest_reading(f)) is not None
            and now - t <= timedelta(hours=1)
        )
        assert page.locator("#sensor-total").inner_text() == str(len(features))
        assert page.locator("#online-count").inner_text() == str(online)
        page.wait_for_function(
            "(n) => document.getElementById('open-alerts').textContent === String(n)",
            arg=len(open_alerts(live_server)),
        )
        stats = page.evaluate("() => window.dashboard.stats")
        expected = readings_since(live_server, [f["id"] for f in features], stats["readingsSince"])
        assert stats["readings"] == expected > 0
        assert page.locator("#readings-hour").inner_text() == f"{expected:,}"

        # Tables: one per type, a row per sensor, with its raw-data downloads.
        types = Counter(f["properties"]["type"] for f in features)
        tables = page.locator("table.type-table")
        assert tables.count() == len(types)
        for kind, n in types.items():
            rows = page.locator(f'table.type-table[data-type="{kind}"] tbody tr')
            assert rows.count() == n, kind
        row = page.locator('tr[data-sensor="noise-01"]')
        assert row.locator("a").count() == 3
        csv = row.locator("a").first.get_attribute("href")
        with urllib.request.urlopen(live_server + csv, timeout=10) as r:
            assert r.status == 200 and "text/csv" in r.headers["Content-Type"]

        # Map and charts.
        assert page.locator("#dash-map circle.map-dot").count() == len(features)
        noise = [f for f in features if f["properties"]["type"] == "NoiseLevelObserved"]
        assert page.locator("#chart-noise g.chart-series").count() == len(noise)
        rivers = [f for f in features if f["properties"]["type"] == "WaterObserved"]
        assert page.locator("#chart-rivers g.chart-series").count() == len(rivers)
        bins = [f for f in features if f["properties"]["type"] == "WasteContainer"]
        total = page.locator("#chart-waste svg").get_attribute("data-total")
        assert int(total or 0) == len(bins)

        # Live: a bin reading updates its row and the count of readings.
        post_reading(live_server, "waste-001", "fillingLevel", 42.0)
        cell = page.locator('tr[data-sensor="waste-001"] td[data-quantity="fillingLevel"]')
        page.wait_for_function(
            '() => document.querySelector(\'tr[data-sensor="waste-001"] '
            "td[data-quantity=\"fillingLevel\"]').textContent === '42'",
            timeout=LIVE_MS,
        )
        assert cell.text_content() == "42"
        assert page.evaluate("() => window.dashboard.stats.readings") == expected + 1
        page.evaluate("() => window.dashboard.resync()")
        assert page.locator("#open-alerts").inner_text() == str(len(open_alerts(live_server)))
        assert cell.text_content() == "42"
        dash.screenshot("dashboard.png", tmp_path)
        assert dash.errors == []
        outside = [u for u in dash.requests if urlsplit(u).hostname != "127.0.0.1"]
        assert outside == []
    finally:
        page.close()

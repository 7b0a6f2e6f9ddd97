/* twin sensors dashboard (/dashboard): for decision makers and the public, no sign-in. Key
 * figures, a map of the sensors (SVG, no tiles), charts, per-type tables with the latest values
 * and raw-data downloads, kept live by the server's event stream (/api/v1/stream).
 *
 * Tests (and the console) read `window.dashboard`:
 *   ready:    resolves once the sensors, alerts and charts are in ({ sensors, error })
 *   counted:  resolves once "readings in the last hour" is counted
 *   sensors:  Map(id -> GeoJSON feature); latest: Map("id|quantity" -> { time, value, unit })
 *   alerts:   Map(id -> alert)
 *   stats:    { total, online, openAlerts, acknowledged, readings, readingsSince (ms) }
 *   stream:   { connected, events, readings, alertEvents }
 *   resync(): read latest values and alerts again (done by itself when the stream reconnects)
 */
(function () {
  "use strict";

  const { element, errorText } = window.TwinDom;

  const api = (window.TWIN_CONFIG && window.TWIN_CONFIG.api) || "/api/v1";
  const C = window.TwinChart;
  const $ = (id) => document.getElementById(id);
  const HOUR = 3_600_000;
  const ONLINE_MS = HOUR;
  const CHART_REFRESH_MS = 10 * 60_000;
  const COUNT_REFRESH_MS = 5 * 60_000;
  const SERIES_COLOURS = [
    "#38bdf8", "#f472b6", "#a3e635", "#fb923c", "#c084fc",
    "#facc15", "#2dd4bf", "#f87171", "#818cf8", "#e2e8f0",
  ]; // prettier-ignore
  // The main towns, so the map can be read without a base map.
  const PLACES = [
    ["Marseille", 5.3698, 43.2965],
    ["Aix-en-Provence", 5.4474, 43.5297],
    ["Aubagne", 5.5708, 43.2927],
    ["La Ciotat", 5.6047, 43.1748],
    ["Martigues", 5.0531, 43.4045],
    ["Marignane", 5.2145, 43.416],
    ["Vitrolles", 5.2486, 43.46],
    ["Salon-de-Provence", 5.0975, 43.6403],
    ["Istres", 4.9895, 43.5151],
    ["Pertuis", 5.5017, 43.6942],
  ];
  const key = (sensor, quantity) => sensor + "|" + quantity;

  const state = {
    ready: null,
    counted: null,
    error: null,
    sensors: new Map(),
    latest: new Map(),
    alerts: new Map(),
    stats: { total: 0, online: 0, openAlerts: 0, acknowledged: 0, readings: null, readingsSince: null },
    stream: { connected: false, events: 0, readings: 0, alertEvents: 0 },
    charts: {},
    resync: () => resync(),
  };
  window.dashboard = state;

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(await errorText(response));
    return response.json();
  }

  function showError(text) {
    const el = $("dash-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  /** Run `tasks` (functions returning promises) `limit` at a time; results in order. */
  async function pool(tasks, limit) {
    const results = new Array(tasks.length);
    let next = 0;
    async function worker() {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]();
      }
    }
    await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
    return results;
  }

  // ---------------------------------------------------------------- values

  function remember(id, quantity, reading) {
    if (!reading || reading.value === null || reading.value === undefined) return false;
    const k = key(id, quantity);
    const old = state.latest.get(k);
    if (old && Date.parse(old.time) > Date.parse(reading.time)) return false;
    state.latest.set(k, { time: reading.time, value: Number(reading.value), unit: reading.unit });
    return true;
  }

  function lastReading(id) {
    const f = state.sensors.get(id);
    let t = null;
    for (const q of f.properties.quantities) {
      const l = state.latest.get(key(id, q.name));
      if (l && (t === null || Date.parse(l.time) > t)) t = Date.parse(l.time);
    }
    return t;
  }

  function isOnline(id, now) {
    const f = state.sensors.get(id);
    const t = lastReading(id);
    return f.properties.status === "active" && t !== null && (now || Date.now()) - t <= ONLINE_MS;
  }

  function alertStatus(id) {
    let status = null;
    for (const a of state.alerts.values()) {
      if (a.sensor_id !== id) continue;
      if (a.status === "open") return "open";
      if (a.status === "acknowledged") status = "acknowledged";
    }
    return status;
  }

  // ---------------------------------------------------------------- cards

  function renderCards() {
    const now = Date.now();
    const s = state.stats;
    s.total = state.sensors.size;
    s.online = [...state.sensors.keys()].filter((id) => isOnline(id, now)).length;
    const alerts = [...state.alerts.values()];
    s.openAlerts = alerts.filter((a) => a.status === "open").length;
    s.acknowledged = alerts.filter((a) => a.status === "acknowledged").length;
    $("online-count").textContent = String(s.online);
    $("sensor-total").textContent = String(s.total);
    $("card-online").classList.toggle("warn", s.online < s.total);
    $("open-alerts").textContent = String(s.openAlerts);
    $("ack-alerts").textContent = String(s.acknowledged);
    $("card-alerts").classList.toggle("bad", s.openAlerts > 0);
    const types = new Set([...state.sensors.values()].map((f) => f.properties.type));
    $("type-count").textContent = String(types.size);
    if (s.readings !== null) {
      $("readings-hour").textContent = C.formatNumber(s.readings);
      $("readings-note").textContent = "since " + C.formatTime(s.readingsSince);
    }
  }

  // ---------------------------------------------------------------- map

  function renderMap() {
    const holder = $("dash-map");
    const width = Math.round(holder.clientWidth);
    if (!width || !state.sensors.size) return;
    const height = Math.round(Math.min(640, Math.max(260, width * 1.0)));
    const coords = [...state.sensors.values()].map((f) => f.geometry.coordinates);
    let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [lon, lat] of coords) {
      w = Math.min(w, lon);
      e = Math.max(e, lon);
      s = Math.min(s, lat);
      n = Math.max(n, lat);
    }
    const k = Math.cos(((s + n) / 2) * (Math.PI / 180)); // degrees of longitude are shorter
    const pad = 26;
    const scale = Math.min((width - 2 * pad) / ((e - w) * k || 1), (height - 2 * pad) / (n - s || 1));
    const ox = (width - (e - w) * k * scale) / 2;
    const oy = (height - (n - s) * scale) / 2;
    const x = (lon) => ox + (lon - w) * k * scale;
    const y = (lat) => height - oy - (lat - s) * scale;
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    const add = (tag, attrs, parent) => {
      const el = document.createElementNS(NS, tag);
      for (const [a, v] of Object.entries(attrs)) el.setAttribute(a, String(v));
      (parent || svg).append(el);
      return el;
    };
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    svg.classList.add("map-svg");
    add("rect", { x: 0, y: 0, width, height, class: "map-bg", rx: 10 });
    // Graticule every 0.1°.
    const grid = add("g", { class: "map-grid" });
    for (let lon = Math.ceil(w * 10) / 10; lon <= e; lon += 0.1) {
      add("line", { x1: x(lon), x2: x(lon), y1: 0, y2: height }, grid);
    }
    for (let lat = Math.ceil(s * 10) / 10; lat <= n; lat += 0.1) {
      add("line", { x1: 0, x2: width, y1: y(lat), y2: y(lat) }, grid);
    }
    // A 10 km scale bar.
    const km10 = (10 / 111.32) * scale;
    const bar = add("g", { class: "map-scale" });
    add("line", { x1: 14, x2: 14 + km10, y1: height - 14, y2: height - 14 }, bar);
    add("text", { x: 14 + km10 / 2, y: height - 20 }, bar).textContent = "10 km";
    const dots = add("g", { class: "map-dots" });
    const sorted = [...state.sensors.values()].sort(
      (a, b) => (alertStatus(a.id) ? 1 : 0) - (alertStatus(b.id) ? 1 : 0),
    );
    for (const f of sorted) {
      const [lon, lat] = f.geometry.coordinates;
      const info = C.typeInfo(f.properties.type);
      const alert = alertStatus(f.id);
      const dot = add("circle", {
        cx: x(lon).toFixed(1),
        cy: y(lat).toFixed(1),
        r: alert ? 5.5 : 4,
        fill: info.colour,
        class: "map-dot" + (alert ? " alert-" + alert : "") + (isOnline(f.id) ? "" : " offline"),
      }, dots); // prettier-ignore
      dot.dataset.sensor = f.id;
      add("title", {}, dot).textContent =
        `${f.properties.name} (${info.label})` + (alert ? ` · ${alert} alert` : "");
      dot.addEventListener("click", () => showRow(f.id));
    }
    const labels = add("g", { class: "map-places" });
    for (const [name, lon, lat] of PLACES) {
      if (lon < w - 0.05 || lon > e + 0.05 || lat < s - 0.05 || lat > n + 0.05) continue;
      add("text", { x: x(lon), y: y(lat) - 9 }, labels).textContent = name;
    }
    holder.textContent = "";
    holder.append(svg);
    const legend = $("map-legend");
    legend.textContent = "";
    const counts = new Map();
    for (const f of state.sensors.values()) {
      counts.set(f.properties.type, (counts.get(f.properties.type) || 0) + 1);
    }
    for (const [type, count] of [...counts].sort((a, b) => b[1] - a[1])) {
      const info = C.typeInfo(type);
      const swatch = element("span", { className: "swatch round" });
      swatch.style.background = info.colour;
      legend.append(element("li", { title: type }, swatch, `${info.label} (${count})`));
    }
    const ring = element("span", { className: "swatch round ring" });
    legend.append(element("li", null, ring, "open alert"));
  }

  // ---------------------------------------------------------------- tables

  function exportLinks(id) {
    const base = `${api}/sensors/${encodeURIComponent(id)}/export`;
    const box = element("span", { className: "export-links" });
    for (const [text, query, title] of [
      ["CSV", "format=csv", "All readings, comma-separated"],
      ["CSV ;", "format=csv&sep=%3B", "All readings, semicolons and decimal commas"],
      ["JSON", "format=json", "All readings, JSON"],
    ]) {
      const a = element("a", { href: `${base}?${query}`, textContent: text, title });
      a.setAttribute("download", "");
      box.append(a);
    }
    return box;
  }

  function typeTable(type, features) {
    const info = C.typeInfo(type);
    const quantities = [];
    const units = new Map();
    for (const f of features) {
      for (const q of f.properties.quantities) {
        if (!units.has(q.name)) {
          units.set(q.name, q.unit);
          quantities.push(q.name);
        }
      }
    }
    const head = element(
      "tr",
      null,
      element("th", { textContent: "Sensor" }),
      element("th", { textContent: "Zone" }),
      element("th", { textContent: "Status" }),
      ...quantities.map((q) =>
        element(
          "th",
          { className: "num", title: q },
          C.quantityInfo(q).label,
          element("span", { className: "unit", textContent: units.get(q) }),
        ),
      ),
      element("th", { textContent: "Last reading" }),
      element("th", { textContent: "Raw data" }),
    );
    const body = element("tbody");
    for (const f of features.sort((a, b) => a.properties.name.localeCompare(b.properties.name))) {
      const row = element(
        "tr",
        { id: "row-" + f.id },
        element(
          "td",
          { className: "sensor-cell" },
          element("span", { className: "sensor-name", textContent: f.properties.name }),
          element("span", { className: "sensor-id", textContent: f.id }),
        ),
        element("td", { textContent: f.properties.zone || "" }),
        element("td", { className: "status-cell" }),
        ...quantities.map((q) => {
          const td = element("td", { className: "num value" });
          td.dataset.quantity = q;
          return td;
        }),
        element("td", { className: "time-cell" }),
        element("td", null, exportLinks(f.id)),
      );
      row.dataset.sensor = f.id;
      body.append(row);
      fillRow(row, f);
    }
    const table = element(
      "table",
      { className: "dash-table type-table" },
      element("thead", null, head),
      body,
    );
    table.dataset.type = type;
    const swatch = element("span", { className: "swatch round" });
    swatch.style.background = info.colour;
    const summary = element(
      "summary",
      null,
      swatch,
      element("span", { className: "type-name", textContent: info.label }),
      element("span", { className: "type-count count", textContent: String(features.length) }),
      element("span", { className: "type-sdm muted", textContent: type }),
      element("span", { className: "type-summary muted" }),
    );
    const details = element(
      "details",
      { className: "type-block", open: features.length <= 20 },
      summary,
      element("div", { className: "table-wrap" }, table),
    );
    details.dataset.type = type;
    return details;
  }

  function fillRow(row, f) {
    const id = f.id;
    for (const td of row.querySelectorAll("td.value")) {
      const q = td.dataset.quantity;
      const has = f.properties.quantities.some((x) => x.name === q);
      const l = has ? state.latest.get(key(id, q)) : null;
      td.textContent = has ? (l ? C.formatNumber(l.value) : "—") : "";
      td.title = l ? `${q} at ${new Date(l.time).toString()}` : "";
    }
    const t = lastReading(id);
    const time = row.querySelector(".time-cell");
    time.textContent = t === null ? "never" : `${C.formatTime(t)} (${C.formatAge(t)})`;
    const statusCell = row.querySelector(".status-cell");
    statusCell.textContent = "";
    const online = isOnline(id);
    const alert = alertStatus(id);
    const word = alert ? alert + " alert" : online ? "online" : f.properties.status !== "active" ? f.properties.status : "silent";
    const cls = alert ? "alert-" + alert : online ? "online" : "silent";
    statusCell.append(element("span", { className: "badge dash-status " + cls, textContent: word }));
    row.classList.toggle("has-alert", !!alert);
  }

  function summarise(type) {
    const block = document.querySelector(`details.type-block[data-type="${type}"]`);
    if (!block) return;
    const features = [...state.sensors.values()].filter((f) => f.properties.type === type);
    const online = features.filter((f) => isOnline(f.id)).length;
    const parts = [`${online} online`];
    if (type === "WasteContainer") {
      const levels = features
        .map((f) => state.latest.get(key(f.id, "fillingLevel")))
        .filter(Boolean)
        .map((l) => l.value);
      if (levels.length) {
        const mean = levels.reduce((a, b) => a + b, 0) / levels.length;
        parts.push(`mean fill ${C.formatNumber(mean)} %`);
        parts.push(`${levels.filter((v) => v > 90).length} over 90 %`);
      }
    }
    const alerts = features.filter((f) => alertStatus(f.id)).length;
    if (alerts) parts.push(`${alerts} with an alert`);
    block.querySelector(".type-summary").textContent = parts.join(" · ");
  }

  function renderTables() {
    const box = $("type-tables");
    box.textContent = "";
    const byType = new Map();
    for (const f of state.sensors.values()) {
      if (!byType.has(f.properties.type)) byType.set(f.properties.type, []);
      byType.get(f.properties.type).push(f);
    }
    const order = Object.keys(C.TYPES);
    const types = [...byType.keys()].sort(
      (a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b),
    );
    for (const type of types) {
      box.append(typeTable(type, byType.get(type)));
      summarise(type);
    }
  }

  function updateSensor(id) {
    const row = $("row-" + id);
    const f = state.sensors.get(id);
    if (!row || !f) return;
    fillRow(row, f);
    row.classList.remove("flash");
    void row.offsetWidth; // restart the animation
    row.classList.add("flash");
  }

  function showRow(id) {
    const row = $("row-" + id);
    if (!row) return;
    const block = row.closest("details");
    if (block) block.open = true;
    row.scrollIntoView({ block: "center", behavior: "smooth" });
    row.classList.remove("flash");
    void row.offsetWidth;
    row.classList.add("flash");
  }

  // ---------------------------------------------------------------- alerts

  function renderAlerts() {
    const body = $("alerts-table").tBodies[0];
    body.textContent = "";
    const active = [...state.alerts.values()]
      .filter((a) => a.status !== "closed")
      .sort((a, b) => Date.parse(b.opened_at) - Date.parse(a.opened_at) || b.id - a.id);
    for (const a of active.slice(0, 50)) {
      const f = state.sensors.get(a.sensor_id);
      const sensor = element("button", {
        type: "button",
        className: "link",
        textContent: f ? f.properties.name : a.sensor_id,
        title: "Show " + a.sensor_id + " in the tables",
      });
      sensor.addEventListener("click", () => showRow(a.sensor_id));
      const row = element(
        "tr",
        { className: "alert-row " + a.status },
        element(
          "td",
          null,
          element("span", { className: "badge alert-status " + a.status, textContent: a.status }),
        ),
        element("td", null, sensor),
        element("td", { className: "alert-what", textContent: describe(a) }),
        element("td", { className: "time-cell", textContent: C.formatTime(a.opened_at) }),
      );
      row.dataset.alertId = String(a.id);
      row.dataset.sensor = a.sensor_id;
      body.append(row);
    }
    $("alerts-none").hidden = active.length > 0;
    $("alerts-table").hidden = active.length === 0;
  }

  /** An alert in a few words: "Noise LAeq 95 · above the threshold 80 (noise above 80 dB(A))"
   * (the server's message starts with the sensor, quantity, value and time: shown elsewhere). */
  function describe(a) {
    const message = a.message || "";
    if (a.kind === "silent") {
      return "No data " + C.formatMessage(message.replace(/^.*?\bsilent\s*/, ""));
    }
    const m = / at \S+?: (.*)$/.exec(message);
    const what = C.formatMessage(m ? m[1] : message);
    const q = a.quantity ? C.quantityInfo(a.quantity).label + " " : "";
    const value = a.value !== null && a.value !== undefined ? C.formatNumber(a.value) : null;
    return value === null ? what : `${q}${value} · ${what}`;
  }

  // ---------------------------------------------------------------- charts

  function seriesPoints(data) {
    return data.points.map((p) =>
      "mean" in p
        ? { t: Date.parse(p.time), v: p.mean, min: p.min, max: p.max }
        : { t: Date.parse(p.time), v: p.value },
    );
  }

  async function lineChart(chart, features, quantity, span) {
    const end = Math.ceil(Date.now() / 60_000) * 60_000;
    const start = end - span;
    const iso = (ms) => new Date(ms).toISOString();
    const tasks = features.map((f) => () => {
      const query = new URLSearchParams({ quantity, aggregate: "hour", start: iso(start), end: iso(end) });
      return getJson(`${api}/sensors/${encodeURIComponent(f.id)}/observations?${query}`).catch(
        () => null,
      );
    });
    const results = await pool(tasks, 4);
    const series = [];
    let unit = "";
    results.forEach((data, i) => {
      if (!data) return;
      unit = data.unit;
      // No band: with ten sites, bands would hide the lines.
      const points = seriesPoints(data).map((p) => ({ t: p.t, v: p.v }));
      series.push({ name: features[i].properties.name, colour: SERIES_COLOURS[i % 10], points });
    });
    chart.update({ series, unit, domain: [start, end] });
    return series.length;
  }

  function noiseSites() {
    return [...state.sensors.values()]
      .filter((f) => f.properties.quantities.some((q) => q.name === "LAeq"))
      .sort((a, b) => a.properties.name.localeCompare(b.properties.name));
  }

  function riverStations() {
    return [...state.sensors.values()]
      .filter(
        (f) =>
          f.properties.type === "WaterObserved" &&
          f.properties.quantities.some((q) => q.name === "height"),
      )
      .sort((a, b) => a.properties.name.localeCompare(b.properties.name));
  }

  function renderWaste() {
    const bins = Array.from({ length: 10 }, (_, i) => ({
      label: `${i * 10}`,
      value: 0,
      colour: C.rampColour((i + 0.5) / 10),
      title: "",
    }));
    let n = 0;
    for (const f of state.sensors.values()) {
      if (f.properties.type !== "WasteContainer") continue;
      const l = state.latest.get(key(f.id, "fillingLevel"));
      if (!l) continue;
      n += 1;
      bins[Math.max(0, Math.min(9, Math.floor(l.value / 10)))].value += 1;
    }
    bins.forEach((b, i) => {
      b.title = `${b.value} container(s) ${i * 10}–${i * 10 + 10} % full`;
      b.label = `${i * 10}–${i * 10 + 10}` + (i === 9 ? " %" : "");
    });
    state.charts.waste.update({ bins, unit: "%", message: n ? "" : "No fill level yet." });
  }

  async function loadCharts() {
    await Promise.all([
      lineChart(state.charts.noise, noiseSites(), "LAeq", 24 * HOUR),
      lineChart(state.charts.rivers, riverStations(), "height", 7 * 24 * HOUR),
    ]);
  }

  // ---------------------------------------------------------------- readings in the last hour

  /** Readings stored in the last hour, all sensors: one export (JSON, raw) per sensor, a few
   * at a time. (The API has no count over all sensors; this is ~one small request a sensor.) */
  async function countReadings() {
    const since = Date.now() - HOUR;
    const start = new Date(since).toISOString();
    const ids = [...state.sensors.keys()];
    countedSensors.clear();
    const tasks = ids.map((id) => () =>
      getJson(`${api}/sensors/${encodeURIComponent(id)}/export?format=json&start=${start}`)
        .then((data) => (data.series || []).reduce((n, s) => n + s.points.length, 0))
        .catch(() => 0)
        .finally(() => countedSensors.add(id)),
    );
    const counts = await pool(tasks, 4);
    state.stats.readingsSince = since;
    state.stats.readings = counts.reduce((a, b) => a + b, 0) + pendingReadings;
    pendingReadings = 0;
    counting = false;
    renderCards();
    return state.stats.readings;
  }
  let counting = false;
  // Readings that arrived while counting, for sensors already counted (the others' arrive in
  // their answer).
  let pendingReadings = 0;
  const countedSensors = new Set();

  // ---------------------------------------------------------------- live stream

  function setLive(connected) {
    state.stream.connected = connected;
    const live = $("dash-live");
    live.classList.toggle("on", connected);
    live.textContent = connected ? "live" : "offline";
  }

  function touchUpdated() {
    $("dash-updated").textContent = "updated " + C.formatTime(Date.now());
  }

  let lastAlertDraw = 0;
  function onLatest(readings) {
    state.stream.events += 1;
    const touched = new Set();
    for (const r of readings) {
      state.stream.readings += 1;
      if (counting) pendingReadings += countedSensors.has(r.sensor) ? 1 : 0;
      else if (state.stats.readings !== null) state.stats.readings += 1;
      if (state.sensors.has(r.sensor) && remember(r.sensor, r.quantity, r)) touched.add(r.sensor);
    }
    for (const id of touched) updateSensor(id);
    const types = new Set([...touched].map((id) => state.sensors.get(id).properties.type));
    for (const t of types) summarise(t);
    if (types.has("WasteContainer")) renderWaste();
    renderCards();
    touchUpdated();
    // Dots turn grey (offline) or back: redraw the map now and then, not on every reading.
    if (Date.now() - lastAlertDraw > 60_000) {
      lastAlertDraw = Date.now();
      renderMap();
    }
  }

  function onAlert(alert) {
    state.stream.alertEvents += 1;
    state.alerts.set(alert.id, alert);
    renderAlerts();
    renderCards();
    updateSensor(alert.sensor_id);
    const f = state.sensors.get(alert.sensor_id);
    if (f) summarise(f.properties.type);
    renderMap();
    touchUpdated();
  }

  function connect() {
    if (typeof EventSource === "undefined") return;
    const es = new EventSource(api + "/stream");
    let opened = false;
    es.addEventListener("open", () => {
      setLive(true);
      // Back after a break: what was pushed meanwhile is lost, read the state again.
      if (opened) resync();
      opened = true;
    });
    es.addEventListener("error", () => setLive(es.readyState === EventSource.OPEN));
    const handle = (fn) => (event) => {
      try {
        fn(JSON.parse(event.data));
      } catch (err) {
        console.warn("twin: stream:", String((err && err.message) || err));
      }
    };
    es.addEventListener("latest", handle(onLatest));
    es.addEventListener("alert", handle(onAlert));
    window.addEventListener("pagehide", () => es.close());
  }

  async function resync() {
    try {
      const [sensors, open, acknowledged] = await Promise.all([
        getJson(api + "/sensors"),
        getJson(api + "/alerts?status=open"),
        getJson(api + "/alerts?status=acknowledged"),
      ]);
      for (const f of sensors.features || []) {
        if (!state.sensors.has(f.id)) continue; // a new sensor: on the next page load
        for (const q of f.properties.quantities) {
          if (q.latest) remember(f.id, q.name, { ...q.latest, unit: q.unit });
        }
      }
      state.alerts.clear();
      for (const a of [...open, ...acknowledged]) state.alerts.set(a.id, a);
    } catch (err) {
      console.warn("twin: dashboard:", String((err && err.message) || err));
      return;
    }
    for (const [id, f] of state.sensors) {
      const row = $("row-" + id);
      if (row) fillRow(row, f);
    }
    for (const t of new Set([...state.sensors.values()].map((f) => f.properties.type))) summarise(t);
    renderAlerts();
    renderCards();
    renderMap();
    renderWaste();
    touchUpdated();
  }

  // ---------------------------------------------------------------- start

  async function load() {
    let sensors;
    let open;
    let acknowledged;
    try {
      [sensors, open, acknowledged] = await Promise.all([
        getJson(api + "/sensors"),
        getJson(api + "/alerts?status=open"),
        getJson(api + "/alerts?status=acknowledged"),
      ]);
    } catch (err) {
      state.error = String((err && err.message) || err);
      showError("The sensor data could not be loaded: " + state.error);
      return { sensors: 0, error: state.error };
    }
    for (const f of sensors.features || []) {
      f.id = f.id || f.properties.id;
      state.sensors.set(f.id, f);
      for (const q of f.properties.quantities) {
        if (q.latest) remember(f.id, q.name, { ...q.latest, unit: q.unit });
      }
    }
    for (const a of [...open, ...acknowledged]) if (!state.alerts.has(a.id)) state.alerts.set(a.id, a);
    renderCards();
    renderAlerts();
    renderTables();
    renderMap();
    renderWaste();
    touchUpdated();
    counting = true;
    state.counted = countReadings();
    await loadCharts();
    return { sensors: state.sensors.size, error: null };
  }

  state.charts.noise = C.timeSeries($("chart-noise"), { height: 240, legend: true });
  state.charts.rivers = C.timeSeries($("chart-rivers"), { height: 240, legend: true });
  state.charts.waste = C.bars($("chart-waste"), { height: 240 });
  new ResizeObserver(() => renderMap()).observe($("dash-map"));

  setLive(false);
  connect();
  state.ready = load();
  setInterval(() => state.sensors.size && loadCharts(), CHART_REFRESH_MS);
  setInterval(() => {
    if (!state.sensors.size || counting) return;
    counting = true;
    state.counted = countReadings();
  }, COUNT_REFRESH_MS);
  // "Online" and ages depend on the clock too.
  setInterval(() => {
    renderCards();
    for (const id of state.sensors.keys()) {
      const row = $("row-" + id);
      if (row) fillRow(row, state.sensors.get(id));
    }
  }, 60_000);
})();

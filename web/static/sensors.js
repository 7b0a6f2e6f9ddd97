/* twin viewer, live sensors: the register from /api/v1/sensors drawn as Cesium entities coloured
 * by their latest value, kept up to date by the server's event stream (/api/v1/stream, SSE);
 * a panel per sensor (metadata, latest values, a time-series chart, exports) and the alerts
 * panel (live, with Acknowledge / Close for staff).
 *
 * Loaded after app.js: it uses `window.twin.viewer` (null when WebGL is unavailable: the alerts
 * still work, the map does not) and answers `twin.onPick` for clicks on its entities.
 *
 * Tests (and the console) read `window.twin.sensors`:
 *   ready:     resolves once the register is in and its entities are made ({ sensors, error })
 *   features:  Map(id -> GeoJSON feature as the API gave it)
 *   entities:  Map(id -> Cesium.Entity)
 *   latest:    Map("id|quantity" -> { time, value, unit }), from the API then from the stream
 *   colourBy:  the quantity the map is coloured by ("type": by sensor type); setColourBy(name)
 *   colourOf(id): the entity's point colour now, "#rrggbb"
 *   select(id), close(): the sensor panel; panel: its state (sensor, quantity, period,
 *              aggregate, zoom, query: the URL of the series shown, points, loading, error)
 *   alerts:    Map(id -> alert); openAlerts(), closeAlerts()
 *   stream:    { connected, events, readings, alertEvents } counts of what the stream brought
 *   resync():  read latest values and alerts again (done by itself when the stream reconnects)
 */
(function () {
  "use strict";

  const { element, errorText } = window.TwinDom;

  const twin = window.twin || (window.twin = { viewer: null });
  const viewer = twin.viewer || null;
  const api = (window.TWIN_CONFIG && window.TWIN_CONFIG.api) || "/api/v1";
  const C = window.TwinChart;
  const $ = (id) => document.getElementById(id);
  const STAFF = new Set(["admin", "gis", "planner"]);
  const HOUR = 3_600_000;
  const PERIODS = { "24h": 24 * HOUR, "7d": 7 * 24 * HOUR, "30d": 30 * 24 * HOUR };
  // The aggregation a period starts with: about 100 to 700 points, with a min/max band.
  const PERIOD_AGGREGATE = { "24h": "15min", "7d": "hour", "30d": "hour" };
  const NO_VALUE = "#6b7280";
  const OUTLINE = { plain: "#05080d", open: "#f87171", acknowledged: "#fbbf24", selected: "#facc15" };
  const key = (sensor, quantity) => sensor + "|" + quantity;

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(await errorText(response));
    return response.json();
  }

  const state = {
    ready: null,
    error: null,
    grounded: false, // true once the sensors were put on the ground (terrain or ellipsoid)
    features: new Map(),
    entities: new Map(),
    latest: new Map(),
    quantities: new Map(), // name -> { name, unit, count }
    colourBy: null,
    range: null, // [lo, hi] of the ramp for colourBy
    alerts: new Map(),
    stream: { connected: false, events: 0, readings: 0, alertEvents: 0, source: null },
    panel: null,
    select,
    resync: () => resync(),
    close: closePanel,
    colourOf,
    setColourBy,
    openAlerts: () => setAlertsOpen(true),
    closeAlerts: () => setAlertsOpen(false),
  };
  twin.sensors = state;

  // ---------------------------------------------------------------- values and colours

  function latestOf(id, quantity) {
    return state.latest.get(key(id, quantity)) || null;
  }

  function hasQuantity(feature, name) {
    return feature.properties.quantities.some((q) => q.name === name);
  }

  /** Keep the newer of what we have and `reading`; true when it changed. */
  function remember(id, quantity, reading) {
    if (!reading || reading.value === null || reading.value === undefined) return false;
    const k = key(id, quantity);
    const old = state.latest.get(k);
    const t = Date.parse(reading.time);
    if (old && Date.parse(old.time) > t) return false;
    state.latest.set(k, { time: reading.time, value: Number(reading.value), unit: reading.unit });
    return true;
  }

  /** The ramp's ends for a quantity: its natural scale, else the values shown (rounded). */
  function rangeFor(name) {
    const fixed = C.quantityInfo(name).range;
    if (fixed) return fixed.slice();
    let lo = Infinity;
    let hi = -Infinity;
    for (const [id, feature] of state.features) {
      if (!hasQuantity(feature, name)) continue;
      const l = latestOf(id, name);
      if (l && Number.isFinite(l.value)) {
        lo = Math.min(lo, l.value);
        hi = Math.max(hi, l.value);
      }
    }
    if (!Number.isFinite(lo)) return [0, 1];
    if (hi - lo < 1e-9) return [lo - 1, hi + 1];
    const ticks = C.niceTicks(lo, hi, 4);
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : hi - lo;
    return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
  }

  const colourCache = new Map();
  function cesiumColour(css, alpha) {
    const k = css + "/" + (alpha === undefined ? 1 : alpha);
    if (!colourCache.has(k)) {
      const c = Cesium.Color.fromCssColorString(css);
      colourCache.set(k, alpha === undefined ? c : c.withAlpha(alpha));
    }
    return colourCache.get(k);
  }

  /** What a sensor looks like now: { colour, size, value }. */
  function appearance(id) {
    const feature = state.features.get(id);
    const by = state.colourBy;
    if (by === "type") {
      return { colour: C.typeInfo(feature.properties.type).colour, size: 10, value: null };
    }
    const l = hasQuantity(feature, by) ? latestOf(id, by) : null;
    if (!l || !Number.isFinite(l.value)) return { colour: NO_VALUE, size: 6, value: null };
    const [lo, hi] = state.range;
    return { colour: C.rampColour((l.value - lo) / (hi - lo)), size: 12, value: l.value };
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

  function styleEntity(id) {
    const entity = state.entities.get(id);
    if (!entity) return;
    const look = appearance(id);
    const selected = state.panel && state.panel.sensor === id;
    const alert = alertStatus(id);
    const outline = selected ? OUTLINE.selected : alert ? OUTLINE[alert] : OUTLINE.plain;
    const point = entity.point;
    point.color = cesiumColour(look.colour, look.colour === NO_VALUE ? 0.85 : 1);
    point.pixelSize = look.size + (selected ? 5 : alert ? 2 : 0);
    point.outlineColor = cesiumColour(outline);
    point.outlineWidth = selected || alert ? 3 : 1.5;
    entity.twinColour = look.colour;
  }

  function restyleAll() {
    for (const id of state.entities.keys()) styleEntity(id);
    updateLegend();
    requestRender();
  }

  function requestRender() {
    if (viewer) viewer.scene.requestRender();
  }

  function colourOf(id) {
    const entity = state.entities.get(id);
    if (!entity) return null;
    return entity.point.color.getValue(Cesium.JulianDate.now()).toCssHexString().slice(0, 7);
  }

  // ---------------------------------------------------------------- entities

  const source = viewer ? new Cesium.CustomDataSource("sensors") : null;
  if (viewer) {
    viewer.dataSources.add(source);
    // A terrain shown (or hidden) later: the sensors go to its ground.
    viewer.scene.globe.terrainProviderChanged.addEventListener(() => placeOnGround());
  }

  /**
   * Put every sensor on the ground: at height 0 on the bare ellipsoid (the viewer's globe until
   * a terrain layer is shown), else at the terrain's height there, sampled from its most
   * detailed tiles. Why not `heightReference: CLAMP_TO_GROUND`: CesiumJS takes a clamped
   * point's height from the globe tiles loaded (coarse ones first, whose chords lie far below
   * the ground), refines it only as frames are drawn (the viewer draws on request) and not from
   * tiles upsampled from a coarser one (a terrain covering part of the territory): points were
   * left hundreds of metres off, drawn and picked away from their place. `z` (NGF, above sea
   * level) is not used: CesiumJS heights are above the ellipsoid, about 50 m apart here.
   */
  let groundToken = 0;
  async function placeOnGround() {
    if (!source) return;
    const token = ++groundToken;
    state.grounded = false;
    const terrain = viewer.scene.terrainProvider;
    const ids = [...state.entities.keys()];
    const places = ids.map((id) => {
      const [lon, lat] = state.features.get(id).geometry.coordinates;
      return Cesium.Cartographic.fromDegrees(lon, lat, 0);
    });
    if (places.length && terrain && !(terrain instanceof Cesium.EllipsoidTerrainProvider)) {
      try {
        if (terrain.availability) await Cesium.sampleTerrainMostDetailed(terrain, places);
        else await Cesium.sampleTerrain(terrain, 13, places);
      } catch (err) {
        console.warn("twin: sensor heights:", String((err && err.message) || err));
      }
    }
    if (token !== groundToken) return; // the ground changed meanwhile: a newer call places them
    ids.forEach((id, i) => {
      const place = places[i];
      if (!Number.isFinite(place.height)) place.height = 0; // no terrain data there
      state.entities.get(id).position = Cesium.Cartographic.toCartesian(place);
    });
    state.grounded = true;
    for (const label of [hoverLabel, selectLabel]) {
      if (label && label.twinLabelOf) showLabel(label, label.twinLabelOf);
    }
    requestRender();
  }

  function labelGraphics() {
    return {
      text: "",
      show: false,
      font: '600 15px system-ui, "Segoe UI", Roboto, sans-serif',
      fillColor: Cesium.Color.WHITE,
      showBackground: true,
      backgroundColor: Cesium.Color.fromCssColorString("#0e141d").withAlpha(0.88),
      backgroundPadding: new Cesium.Cartesian2(8, 5),
      verticalOrigin: Cesium.VerticalOrigin.BOTTOM,
      pixelOffset: new Cesium.Cartesian2(0, -14),
      disableDepthTestDistance: Number.POSITIVE_INFINITY,
    };
  }
  // Two labels for all sensors: the one under the mouse and the one selected.
  const somewhere = Cesium.Cartesian3.fromDegrees(5.4, 43.4);
  const hoverLabel = source
    ? source.entities.add({ id: "__hover", position: somewhere, label: labelGraphics() })
    : null;
  const selectLabel = source
    ? source.entities.add({ id: "__select", position: somewhere, label: labelGraphics() })
    : null;

  /** Where a sensor is drawn until placeOnGround has run: on the ellipsoid. */
  function position(feature) {
    const [lon, lat] = feature.geometry.coordinates;
    return Cesium.Cartesian3.fromDegrees(lon, lat, 0);
  }

  function addEntity(feature) {
    if (!source) return;
    const id = feature.id;
    const entity = source.entities.add({
      id: "sensor:" + id,
      name: feature.properties.name,
      position: position(feature),
      point: {
        pixelSize: 8,
        color: Cesium.Color.GRAY,
        outlineColor: cesiumColour(OUTLINE.plain),
        outlineWidth: 1.5,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
    });
    entity.twinSensor = id;
    state.entities.set(id, entity);
  }

  function labelText(id) {
    const feature = state.features.get(id);
    let text = feature.properties.name;
    const by = state.colourBy;
    if (by && by !== "type") {
      const l = hasQuantity(feature, by) ? latestOf(id, by) : null;
      if (l) text += " · " + C.formatNumber(l.value) + " " + (l.unit || unitOf(by));
    }
    return text;
  }

  function showLabel(label, id) {
    if (!label) return;
    if (!id || !state.entities.has(id)) {
      label.label.show = false;
      label.twinLabelOf = null;
      return;
    }
    label.twinLabelOf = id;
    label.position = state.entities.get(id).position.getValue(Cesium.JulianDate.now());
    label.label.text = labelText(id);
    label.label.show = true;
  }

  function sensorOf(picked) {
    const entity = picked && picked.id;
    return entity instanceof Cesium.Entity && entity.twinSensor ? entity.twinSensor : null;
  }

  /** The sensor at a window position, also under another entity drawn on top of it (a place
   * name over a city-centre sensor); `picked` is what scene.pick found there, if known. */
  function sensorAt(position, picked) {
    if (!viewer || !source.show) return null;
    const first = picked === undefined ? viewer.scene.pick(position) : picked;
    const id = sensorOf(first);
    if (id || !(first && first.id instanceof Cesium.Entity)) return id;
    for (const hit of viewer.scene.drillPick(position, 4)) {
      const below = sensorOf(hit);
      if (below) return below;
    }
    return null;
  }

  // ---------------------------------------------------------------- layer panel section

  const section = $("sensor-section");
  const toggle = $("sensors-toggle");
  const colourSelect = $("sensor-colour");
  const legend = $("sensor-legend");
  const live = $("sensor-live");

  toggle.addEventListener("change", () => {
    if (source) source.show = toggle.checked;
    if (!toggle.checked) showLabel(hoverLabel, null);
    requestRender();
  });
  colourSelect.addEventListener("change", () => setColourBy(colourSelect.value));

  function unitOf(name) {
    const q = state.quantities.get(name);
    return q ? q.unit : "";
  }

  function fillColourSelect() {
    colourSelect.textContent = "";
    const byValue = element("optgroup", { label: "Latest value" });
    const list = [...state.quantities.values()].sort(
      (a, b) => b.count - a.count || a.name.localeCompare(b.name),
    );
    for (const q of list) {
      const label = C.quantityInfo(q.name).label;
      const text = `${label}${label.includes(q.name) ? "" : " (" + q.name + ")"} · ${q.unit}`;
      byValue.append(element("option", { value: q.name, textContent: text }));
    }
    const byKind = element("optgroup", { label: "Kind" });
    byKind.append(element("option", { value: "type", textContent: "Sensor type" }));
    colourSelect.append(byValue, byKind);
    if (!state.colourBy || (state.colourBy !== "type" && !state.quantities.has(state.colourBy))) {
      state.colourBy = list.length ? list[0].name : "type";
    }
    colourSelect.value = state.colourBy;
  }

  function setColourBy(name) {
    if (name !== "type" && !state.quantities.has(name)) return false;
    state.colourBy = name;
    colourSelect.value = name;
    state.range = name === "type" ? null : rangeFor(name);
    restyleAll();
    if (state.panel) showLabel(selectLabel, state.panel.sensor);
    return true;
  }

  function updateLegend() {
    legend.textContent = "";
    const by = state.colourBy;
    if (!by) return;
    if (by === "type") {
      const counts = new Map();
      for (const f of state.features.values()) {
        counts.set(f.properties.type, (counts.get(f.properties.type) || 0) + 1);
      }
      const list = element("ul", { className: "choropleth" });
      for (const [type, n] of [...counts].sort((a, b) => b[1] - a[1])) {
        const info = C.typeInfo(type);
        const swatch = element("span", { className: "swatch round" });
        swatch.style.background = info.colour;
        const item = element("li", { title: type }, swatch, `${info.label} (${n})`);
        list.append(item);
      }
      legend.append(list);
      return;
    }
    const [lo, hi] = state.range;
    const unit = unitOf(by);
    // A fixed scale clamps the values beyond it: say so at its ends.
    let below = false;
    let above = false;
    const ramp = element("div", { className: "ramp" });
    ramp.style.background = C.rampCss();
    let withValue = 0;
    let without = 0;
    for (const [id, f] of state.features) {
      const l = hasQuantity(f, by) ? latestOf(id, by) : null;
      if (l) {
        withValue++;
        below = below || l.value < lo;
        above = above || l.value > hi;
      } else {
        without++;
      }
    }
    legend.append(
      ramp,
      element(
        "div",
        { className: "ramp-labels" },
        element("span", { className: "ramp-min", textContent: (below ? "≤ " : "") + C.formatNumber(lo) }),
        element("span", { className: "caption", textContent: `${by} · ${unit}` }),
        element("span", { className: "ramp-max", textContent: (above ? "≥ " : "") + C.formatNumber(hi) }),
      ),
    );
    const grey = element("span", { className: "swatch round small" });
    grey.style.background = NO_VALUE;
    const ring = element("span", { className: "swatch round ring" });
    legend.append(
      element(
        "p",
        { className: "hint legend-counts" },
        `${withValue} with ${by} · `,
        grey,
        ` ${without} without · `,
        ring,
        " open alert",
      ),
    );
  }

  function setLive(connected) {
    state.stream.connected = connected;
    live.classList.toggle("on", connected);
    live.textContent = connected ? "live" : "offline";
    live.title = connected
      ? "Receiving readings as they arrive"
      : "Not connected to the live stream: retrying";
  }

  // ---------------------------------------------------------------- load the register

  async function load() {
    $("sensor-count").textContent = "";
    let data;
    try {
      data = await getJson(api + "/sensors");
    } catch (err) {
      state.error = String((err && err.message) || err);
      legend.textContent = "";
      legend.append(element("p", { className: "hint error", textContent: "Sensors: " + state.error }));
      console.warn("twin: sensors:", state.error);
      return { sensors: 0, error: state.error };
    }
    for (const feature of data.features || []) addFeature(feature);
    placeOnGround();
    $("sensor-count").textContent = String(state.features.size);
    section.hidden = false;
    fillColourSelect();
    setColourBy(state.colourBy);
    return { sensors: state.features.size, error: null };
  }

  function addFeature(feature) {
    const id = feature.id || feature.properties.id;
    feature.id = id;
    state.features.set(id, feature);
    for (const q of feature.properties.quantities || []) {
      if (q.latest) remember(id, q.name, { ...q.latest, unit: q.unit });
      const known = state.quantities.get(q.name);
      if (known) known.count += 1;
      else state.quantities.set(q.name, { name: q.name, unit: q.unit, count: 1 });
    }
    if (!state.entities.has(id)) addEntity(feature);
  }

  // A reading for a sensor registered after the page loaded: read it once, then draw it.
  const asking = new Set();
  async function learnSensor(id) {
    if (asking.has(id) || state.features.has(id)) return;
    asking.add(id);
    try {
      addFeature(await getJson(api + "/sensors/" + encodeURIComponent(id)));
      placeOnGround();
      $("sensor-count").textContent = String(state.features.size);
      fillColourSelect();
      setColourBy(state.colourBy);
    } catch (err) {
      console.warn("twin: sensor " + id + ":", String((err && err.message) || err));
    }
  }

  // ---------------------------------------------------------------- live stream

  function onLatest(readings) {
    state.stream.events += 1;
    state.stream.readings += readings.length;
    applyReadings(readings);
  }

  /** Newer readings: recolour their sensors, and refresh the panel when it shows one. */
  function applyReadings(readings) {
    const touched = new Set();
    for (const r of readings) {
      if (!state.features.has(r.sensor)) {
        learnSensor(r.sensor);
        continue;
      }
      if (remember(r.sensor, r.quantity, r)) touched.add(r.sensor);
    }
    if (!touched.size || !state.features.size) return;
    const by = state.colourBy;
    const range = by && by !== "type" ? rangeFor(by) : null;
    if (range && (range[0] !== state.range[0] || range[1] !== state.range[1])) {
      state.range = range;
      restyleAll(); // the ramp moved: every colour may have
    } else {
      for (const id of touched) styleEntity(id);
      updateLegend();
      requestRender();
    }
    const panel = state.panel;
    if (panel && touched.has(panel.sensor)) {
      renderLatest();
      showLabel(selectLabel, panel.sensor);
      if (!panel.zoom) scheduleSeries();
    }
  }

  function onAlert(alert) {
    state.stream.alertEvents += 1;
    upsertAlert(alert);
    renderAlerts();
    styleEntity(alert.sensor_id);
    requestRender();
  }

  function connect() {
    if (typeof EventSource === "undefined") return;
    const es = new EventSource(api + "/stream");
    state.stream.source = es;
    let opened = false;
    es.addEventListener("open", () => {
      setLive(true);
      // Back after a break: what was pushed meanwhile is lost, read the state again.
      if (opened) resync();
      opened = true;
    });
    es.addEventListener("error", () => setLive(es.readyState === EventSource.OPEN));
    es.addEventListener("latest", (event) => {
      try {
        onLatest(JSON.parse(event.data));
      } catch (err) {
        console.warn("twin: stream:", String((err && err.message) || err));
      }
    });
    es.addEventListener("alert", (event) => {
      try {
        onAlert(JSON.parse(event.data));
      } catch (err) {
        console.warn("twin: stream:", String((err && err.message) || err));
      }
    });
    window.addEventListener("pagehide", () => es.close());
  }

  async function resync() {
    try {
      const data = await getJson(api + "/sensors");
      const readings = [];
      for (const f of data.features || []) {
        for (const q of f.properties.quantities || []) {
          if (q.latest) readings.push({ sensor: f.id, quantity: q.name, unit: q.unit, ...q.latest });
        }
      }
      applyReadings(readings);
    } catch (err) {
      console.warn("twin: sensors:", String((err && err.message) || err));
    }
    await loadAlerts(true);
  }

  // ---------------------------------------------------------------- picking and hover

  twin.onPick = (picked, at) => {
    const id = at ? sensorAt(at, picked) : sensorOf(picked);
    if (id && source && source.show) {
      select(id);
      return true;
    }
    if (state.panel) closePanel();
    return false;
  };

  if (viewer) {
    const canvas = viewer.scene.canvas;
    const handler = new Cesium.ScreenSpaceEventHandler(canvas);
    let timer = null;
    let hovered = null;
    // Picking renders a frame: only once the mouse rests, not on every move.
    handler.setInputAction((move) => {
      clearTimeout(timer);
      const at = Cesium.Cartesian2.clone(move.endPosition);
      timer = setTimeout(() => {
        const id = sensorAt(at);
        if (id === hovered) return;
        hovered = id;
        canvas.style.cursor = id ? "pointer" : "";
        showLabel(hoverLabel, id && !(state.panel && state.panel.sensor === id) ? id : null);
        requestRender();
      }, 90);
    }, Cesium.ScreenSpaceEventType.MOUSE_MOVE);
  }

  // ---------------------------------------------------------------- sensor panel

  const panelEl = $("sensor-panel");
  const latestList = $("sensor-latest");
  const quantitySelect = $("sensor-quantity");
  const aggregateSelect = $("sensor-aggregate");
  const chartHint = $("sensor-chart-hint");
  const chart = C.timeSeries($("sensor-chart"), {
    height: 190,
    zoom: true,
    onZoom: (start, end) => {
      if (!state.panel) return;
      state.panel.zoom = [start, end];
      state.panel.aggregate = aggregateFor(end - start);
      aggregateSelect.value = state.panel.aggregate;
      loadSeries();
    },
    onReset: resetZoom,
  });
  state.chart = chart;

  /** The finest aggregation that keeps a zoomed range under a thousand points or so. */
  function aggregateFor(span) {
    if (span <= 8 * HOUR) return "raw";
    if (span <= 3 * 24 * HOUR) return "15min";
    if (span <= 40 * 24 * HOUR) return "hour";
    return "day";
  }

  function resetZoom() {
    const panel = state.panel;
    if (!panel || !panel.zoom) return;
    panel.zoom = null;
    panel.aggregate = panel.chosenAggregate || PERIOD_AGGREGATE[panel.period];
    aggregateSelect.value = panel.aggregate;
    loadSeries();
  }

  for (const input of document.querySelectorAll('input[name="sensor-period"]')) {
    input.addEventListener("change", () => {
      if (!input.checked || !state.panel) return;
      const panel = state.panel;
      panel.period = input.value;
      panel.zoom = null;
      panel.chosenAggregate = null;
      panel.aggregate = PERIOD_AGGREGATE[panel.period];
      aggregateSelect.value = panel.aggregate;
      loadSeries();
    });
  }
  aggregateSelect.addEventListener("change", () => {
    if (!state.panel) return;
    state.panel.aggregate = aggregateSelect.value;
    state.panel.chosenAggregate = aggregateSelect.value;
    loadSeries();
  });
  quantitySelect.addEventListener("change", () => {
    if (!state.panel) return;
    state.panel.quantity = quantitySelect.value;
    loadSeries();
  });
  $("sensor-close").addEventListener("click", closePanel);
  $("sensor-zoom-reset").addEventListener("click", resetZoom);

  function closeOtherPanels() {
    const info = $("info-panel");
    if (info && !info.hidden) $("info-close").click();
    const upload = $("upload-panel");
    if (upload && !upload.hidden) $("upload-close").click();
  }

  function select(id) {
    const feature = state.features.get(id);
    if (!feature) return false;
    setAlertsOpen(false);
    closeOtherPanels();
    const previous = state.panel && state.panel.sensor;
    const quantities = feature.properties.quantities.map((q) => q.name);
    const by = state.colourBy;
    state.panel = {
      sensor: id,
      quantity: quantities.includes(by) ? by : quantities[0] || null,
      period: "24h",
      aggregate: PERIOD_AGGREGATE["24h"],
      chosenAggregate: null,
      zoom: null,
      query: null,
      points: 0,
      loading: false,
      loaded: false,
      error: null,
      token: 0,
      metadata: false, // true once read again from the server
    };
    if (previous && previous !== id) styleEntity(previous);
    styleEntity(id);
    showLabel(selectLabel, id);
    showLabel(hoverLabel, null);
    renderPanel(feature);
    panelEl.hidden = false;
    requestRender();
    loadSeries();
    refreshFeature(id);
    return true;
  }

  /** Read the sensor again: its metadata (name, photos, maintenance) may have changed since
   * the page loaded; the stream only carries readings. */
  async function refreshFeature(id) {
    let fresh;
    try {
      fresh = await getJson(api + "/sensors/" + encodeURIComponent(id));
    } catch (_) {
      return; // the register's copy stays on screen
    }
    fresh.id = fresh.id || id;
    for (const q of fresh.properties.quantities || []) {
      if (q.latest) remember(id, q.name, { ...q.latest, unit: q.unit });
    }
    state.features.set(id, fresh);
    if (!state.panel || state.panel.sensor !== id) return;
    const p = fresh.properties;
    $("sensor-title").textContent = p.name;
    renderLatest();
    renderMetadata(fresh);
    state.panel.metadata = true;
  }

  function closePanel() {
    const panel = state.panel;
    state.panel = null;
    panelEl.hidden = true;
    clearTimeout(seriesTimer);
    if (panel) styleEntity(panel.sensor);
    showLabel(selectLabel, null);
    requestRender();
  }

  function renderPanel(feature) {
    const p = feature.properties;
    const info = C.typeInfo(p.type);
    $("sensor-title").textContent = p.name;
    $("sensor-subtitle").textContent = `${info.label} · ${p.id}`;
    const dot = $("sensor-type-dot");
    dot.style.background = info.colour;
    renderLatest();
    quantitySelect.textContent = "";
    for (const q of p.quantities) {
      const label = C.quantityInfo(q.name).label;
      quantitySelect.append(
        element("option", { value: q.name, textContent: `${label} · ${q.unit}` }),
      );
    }
    quantitySelect.value = state.panel.quantity || "";
    quantitySelect.hidden = p.quantities.length < 2;
    for (const input of document.querySelectorAll('input[name="sensor-period"]')) {
      input.checked = input.value === state.panel.period;
    }
    aggregateSelect.value = state.panel.aggregate;
    renderMetadata(feature);
  }

  function renderLatest() {
    const panel = state.panel;
    if (!panel) return;
    const feature = state.features.get(panel.sensor);
    latestList.textContent = "";
    for (const q of feature.properties.quantities) {
      const l = latestOf(panel.sensor, q.name);
      const item = element(
        "li",
        { className: "latest-item", title: l ? new Date(l.time).toString() : "no reading yet" },
        element("span", { className: "latest-name", textContent: C.quantityInfo(q.name).label }),
        element(
          "span",
          { className: "latest-value" },
          element("strong", { textContent: l ? C.formatNumber(l.value) : "—" }),
          " " + q.unit,
        ),
        element("span", {
          className: "latest-time",
          textContent: l ? `${C.formatTime(l.time)} · ${C.formatAge(l.time)}` : "no reading",
        }),
      );
      item.dataset.quantity = q.name;
      latestList.append(item);
    }
  }

  function sameOrigin(url) {
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (_) {
      return false;
    }
  }

  function renderMetadata(feature) {
    const p = feature.properties;
    const body = $("sensor-table").tBodies[0];
    body.textContent = "";
    const row = (name, value) => {
      if (value === null || value === undefined || value === "") return;
      const td = element("td");
      td.append(value);
      const tr = element("tr", null, element("th", { scope: "row", textContent: name }), td);
      tr.dataset.name = name;
      body.append(tr);
    };
    const [lon, lat, z] = feature.geometry.coordinates;
    row("Type", `${C.typeInfo(p.type).label} (${p.type})`);
    row("Zone", p.zone);
    const status = element("span", { className: "badge status-" + p.status, textContent: p.status });
    row("Status", status);
    row("Commissioned", p.commissioned_at ? C.formatTime(p.commissioned_at, "date") : null);
    const zText = z !== undefined && z !== null ? ` · ${C.formatNumber(z)} m (NGF)` : "";
    row("Position", `${lat.toFixed(5)}, ${lon.toFixed(5)}${zText}`);
    row("Description", p.description);
    const maintenance = p.maintenance || [];
    if (maintenance.length) {
      const list = element("ul", { className: "maintenance" });
      for (const m of maintenance) {
        const when = m.date ? C.formatTime(m.date, "date") : "";
        list.append(element("li", { textContent: [when, m.note].filter(Boolean).join(" — ") }));
      }
      row("Maintenance", list);
    } else {
      row("Maintenance", element("span", { className: "muted", textContent: "none recorded" }));
    }
    const photos = $("sensor-photos");
    photos.textContent = "";
    for (const url of p.photos || []) {
      // Only pictures the server itself holds are shown; others are a link the user may follow
      // (no request to another host unless asked).
      if (sameOrigin(url)) {
        const img = element("img", { src: url, alt: "Photo of " + p.name, loading: "lazy" });
        photos.append(element("a", { href: url, target: "_blank", className: "photo" }, img));
      } else {
        let host = url;
        try {
          host = new URL(url).host;
        } catch (_) {
          /* not a URL: show it as it is */
        }
        photos.append(
          element("a", {
            href: url,
            target: "_blank",
            rel: "noopener noreferrer",
            className: "photo-link",
            textContent: "Photo (" + host + ")",
          }),
        );
      }
    }
    photos.hidden = !(p.photos || []).length;
  }

  function iso(ms) {
    return new Date(ms).toISOString();
  }

  /** The time range shown: the zoom, else the period up to now (to the next minute). */
  function panelRange(panel) {
    if (panel.zoom) return panel.zoom;
    const end = Math.ceil(Date.now() / 60_000) * 60_000;
    return [end - PERIODS[panel.period], end];
  }

  function renderExports(panel, start, end) {
    const base = `${api}/sensors/${encodeURIComponent(panel.sensor)}/export`;
    const common = { start: iso(start), end: iso(end), aggregate: panel.aggregate };
    const links = [
      ["CSV", { format: "csv" }, "Comma-separated, ISO 8601 and spreadsheet dates"],
      ["CSV ;", { format: "csv", sep: ";" }, "Semicolon-separated, decimal commas (French spreadsheets)"],
      ["JSON", { format: "json" }, "JSON"],
      ["GeoJSON", { format: "geojson" }, "GeoJSON features"],
      ["KML", { format: "kml" }, "KML (Google Earth)"],
    ];
    const box = $("sensor-exports");
    box.textContent = "";
    for (const [text, params, title] of links) {
      const query = new URLSearchParams({ ...params, ...common });
      const a = element("a", { href: `${base}?${query}`, textContent: text, title });
      a.setAttribute("download", "");
      a.dataset.format = params.format + (params.sep ? "-semicolon" : "");
      box.append(a);
    }
  }

  let seriesTimer = null;
  function scheduleSeries() {
    clearTimeout(seriesTimer);
    seriesTimer = setTimeout(loadSeries, 1500);
  }

  async function loadSeries() {
    clearTimeout(seriesTimer);
    const panel = state.panel;
    if (!panel || !panel.quantity) {
      chart.update({ message: "This sensor measures nothing yet." });
      return;
    }
    const token = ++panel.token;
    const [start, end] = panelRange(panel);
    const params = new URLSearchParams({
      quantity: panel.quantity,
      aggregate: panel.aggregate,
      start: iso(start),
      end: iso(end),
    });
    const url = `${api}/sensors/${encodeURIComponent(panel.sensor)}/observations?${params}`;
    panel.query = url;
    panel.loading = true;
    panel.loaded = false;
    renderExports(panel, start, end);
    chartHint.textContent = panel.zoom
      ? `${C.formatTime(start)} – ${C.formatTime(end)} · double-click the chart to reset`
      : "Drag across the chart to zoom in.";
    $("sensor-zoom-reset").hidden = !panel.zoom;
    $("sensor-chart").classList.add("loading");
    let data = null;
    let error = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) error = await errorText(response);
      else data = await response.json();
    } catch (err) {
      error = "The server did not answer: " + String((err && err.message) || err);
    }
    if (state.panel !== panel || token !== panel.token) return; // another request won
    $("sensor-chart").classList.remove("loading");
    panel.loading = false;
    panel.loaded = true;
    panel.error = error;
    if (error) {
      panel.points = 0;
      chart.update({ message: error, domain: [start, end] });
      return;
    }
    const points = data.points.map((p) =>
      "mean" in p
        ? { t: Date.parse(p.time), v: p.mean, min: p.min, max: p.max, count: p.count }
        : { t: Date.parse(p.time), v: p.value },
    );
    panel.points = points.length;
    chart.update({
      series: [{ name: C.quantityInfo(data.quantity).label, colour: "#38bdf8", points }],
      unit: data.unit,
      domain: [start, end],
      message: points.length ? "" : "No readings in this period.",
    });
  }

  // ---------------------------------------------------------------- alerts

  const alertsPanel = $("alerts-panel");
  const alertsButton = $("alerts-open");
  const alertList = $("alerts-list");
  const showClosed = $("alerts-closed");
  const alertsError = $("alerts-error");
  let closedLoaded = false;

  function upsertAlert(alert) {
    state.alerts.set(alert.id, alert);
  }

  function isStaff() {
    const auth = window.TwinAuth;
    return !!(auth && auth.user && STAFF.has(auth.user.role));
  }

  function setAlertsOpen(open) {
    if (open) {
      closePanel();
      closeOtherPanels();
    }
    alertsPanel.hidden = !open;
    alertsButton.setAttribute("aria-expanded", String(open));
    alertsButton.classList.toggle("active", open);
    if (open) renderAlerts();
  }

  alertsButton.addEventListener("click", () => setAlertsOpen(alertsPanel.hidden));
  $("alerts-close").addEventListener("click", () => setAlertsOpen(false));
  showClosed.addEventListener("change", async () => {
    if (showClosed.checked && !closedLoaded) {
      try {
        for (const a of await getJson(api + "/alerts?status=closed&limit=200")) {
          if (!state.alerts.has(a.id)) upsertAlert(a);
        }
        closedLoaded = true;
      } catch (err) {
        showAlertsError("Closed alerts: " + String((err && err.message) || err));
      }
    }
    renderAlerts();
  });

  function showAlertsError(text) {
    alertsError.textContent = text || "";
    alertsError.hidden = !text;
  }

  function sensorName(id) {
    const f = state.features.get(id);
    return f ? f.properties.name : id;
  }

  function renderAlerts() {
    const all = [...state.alerts.values()];
    const open = all.filter((a) => a.status === "open").length;
    const acknowledged = all.filter((a) => a.status === "acknowledged").length;
    const badge = $("alert-count");
    badge.textContent = String(open);
    badge.classList.toggle("none", open === 0);
    alertsButton.title = `${open} open, ${acknowledged} acknowledged alert(s)`;
    $("alerts-panel-count").textContent = String(open + acknowledged);
    if (alertsPanel.hidden) return;
    const shown = all
      .filter((a) => showClosed.checked || a.status !== "closed")
      .sort((a, b) => Date.parse(b.opened_at) - Date.parse(a.opened_at) || b.id - a.id);
    alertList.textContent = "";
    $("alerts-empty").hidden = shown.length > 0;
    const staff = isStaff();
    for (const a of shown.slice(0, 300)) alertList.append(alertItem(a, staff));
  }

  function alertItem(a, staff) {
    const sensorButton = element("button", {
      type: "button",
      className: "link alert-sensor",
      textContent: sensorName(a.sensor_id),
      title: "Show " + a.sensor_id + " on the map",
    });
    sensorButton.addEventListener("click", () => {
      setAlertsOpen(false);
      flyToSensor(a.sensor_id);
      select(a.sensor_id);
    });
    const head = element(
      "div",
      { className: "alert-head" },
      element("span", { className: "badge alert-status " + a.status, textContent: a.status }),
      sensorButton,
      element("time", {
        className: "alert-time",
        dateTime: a.opened_at,
        textContent: C.formatTime(a.opened_at),
        title: "Opened " + new Date(a.opened_at).toString(),
      }),
    );
    const item = element(
      "li",
      { className: "alert-item " + a.status },
      head,
      element("p", {
        className: "alert-message",
        textContent: C.formatMessage(a.message),
        title: a.message,
      }),
    );
    item.dataset.alertId = String(a.id);
    item.dataset.sensor = a.sensor_id;
    item.dataset.status = a.status;
    const meta = [];
    if (a.acknowledged_at) {
      meta.push(`acknowledged ${C.formatTime(a.acknowledged_at)} by ${a.acknowledged_by || "?"}`);
    }
    if (a.closed_at) meta.push("closed " + C.formatTime(a.closed_at));
    if (meta.length) item.append(element("p", { className: "alert-meta", textContent: meta.join(" · ") }));
    if (staff && a.status !== "closed") {
      const actions = element("div", { className: "alert-actions" });
      if (a.status === "open") actions.append(actionButton(a, "acknowledge", "Acknowledge"));
      actions.append(actionButton(a, "close", "Close"));
      item.append(actions);
    }
    return item;
  }

  function actionButton(alert, action, text) {
    const button = element("button", { type: "button", className: "button small", textContent: text });
    button.dataset.action = action;
    button.addEventListener("click", async () => {
      button.disabled = true;
      showAlertsError("");
      try {
        const auth = window.TwinAuth;
        const response = await fetch(`${api}/alerts/${alert.id}/${action}`, {
          method: "POST",
          headers: auth ? auth.headers() : { Accept: "application/json" },
        });
        if (!response.ok) {
          const detail = await errorText(response);
          showAlertsError(response.status === 401 ? "Sign in again: " + detail : detail);
          button.disabled = false;
          return;
        }
        upsertAlert(await response.json());
        renderAlerts();
        styleEntity(alert.sensor_id);
        requestRender();
      } catch (err) {
        showAlertsError("The server did not answer: " + String((err && err.message) || err));
        button.disabled = false;
      }
    });
    return button;
  }

  function flyToSensor(id) {
    const entity = state.entities.get(id);
    if (!viewer || !entity) return;
    const where = entity.position.getValue(Cesium.JulianDate.now());
    viewer.camera.flyToBoundingSphere(new Cesium.BoundingSphere(where, 150), {
      offset: new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-50), 3500),
      duration: 1.2,
    });
    requestRender();
  }

  /** The open and acknowledged alerts; `replace`: what the server says wins (after a break in
   * the stream), else alerts the stream brought meanwhile are newer and kept. */
  async function loadAlerts(replace) {
    try {
      const [open, acknowledged] = await Promise.all([
        getJson(api + "/alerts?status=open"),
        getJson(api + "/alerts?status=acknowledged"),
      ]);
      const active = [...open, ...acknowledged];
      if (replace) {
        const ids = new Set(active.map((a) => a.id));
        for (const [id, a] of state.alerts) {
          if (a.status !== "closed" && !ids.has(id)) state.alerts.delete(id); // closed meanwhile
        }
      }
      for (const a of active) if (replace || !state.alerts.has(a.id)) upsertAlert(a);
      if (replace) restyleAll();
      showAlertsError("");
    } catch (err) {
      showAlertsError("Could not load the alerts: " + String((err && err.message) || err));
    }
    renderAlerts();
  }

  // Staff see Acknowledge / Close: render again when someone signs in or out (staff.js shows
  // the account name then).
  const account = $("account-name");
  if (account) {
    new MutationObserver(() => renderAlerts()).observe(account, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  }

  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!alertsPanel.hidden) setAlertsOpen(false);
    else if (state.panel) closePanel();
  });

  // Ages ("3 min ago") go stale: refresh the panel's once a minute.
  setInterval(() => state.panel && renderLatest(), 60_000);

  // ---------------------------------------------------------------- start

  setLive(false);
  connect();
  state.ready = Promise.all([load(), loadAlerts()]).then(([result]) => {
    restyleAll();
    return result;
  });
})();

/* twin viewer, flood scenarios: signed-in staff (planner, gis, admin) pick a terrain layer and a
 * scenario (rain, a river inflow placed on the map, a sea level, or a quick "bathtub" fill), run
 * it as a background job, then watch the water: each depth frame is a transparent PNG on its
 * WGS84 rectangle, draped over the terrain as one imagery layer (SingleTileImageryProvider),
 * with a time slider, play/pause, the depth legend and the summary, side by side with another
 * saved result when one is picked to compare.
 *
 * Loaded after app.js, staff.js and sensors.js: it uses `window.twin` (viewer, layers, zoomTo),
 * `window.TwinAuth` (token, user) and chains `twin.onPick` to take the click that places a
 * point while "Place on the map" is on.
 *
 * Tests (and the console) read `window.twin.flood`:
 *   open(), close(); mode, point ({lon, lat} or null), placing (true while a click is awaited)
 *   job: the last job seen; result: the result shown (as /api/v1/simulations/{id} gives it)
 *   frame: index of the frame asked for; shown, shownFrame: the ImageryLayer on the map and
 *          its frame (null when none)
 *   setFrame(i), play(), pause(); saved: the saved results listed; refresh(): list them again
 *   compare: the result in the comparison column (or null)
 */
(function () {
  "use strict";

  const { element, errorText } = window.TwinDom;

  const twin = window.twin || (window.twin = { viewer: null });
  const viewer = twin.viewer || null;
  const api = (window.TWIN_CONFIG && window.TWIN_CONFIG.api) || "/api/v1";
  const $ = (id) => document.getElementById(id);
  const STAFF = new Set(["admin", "gis", "planner"]);
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);
  const POLL_MS = 500;
  const PLAY_MS = 700; // a frame every 0.7 s: the spread is readable, a run plays in seconds
  const MODE_TEXT = { rain: "Rain", river: "River inflow", sea: "Sea level", bathtub: "Quick fill" };
  const POINT_TEXT = { river: "Inflow point", bathtub: "Seed point (where the water starts)" };
  const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const state = {
    mode: "rain",
    point: null,
    placing: false,
    job: null,
    result: null,
    compare: null,
    frame: 0,
    shown: null,
    shownFrame: null,
    playing: false,
    saved: [],
    open: () => setOpen(true),
    close: () => setOpen(false),
    setFrame: (i) => setFrame(i),
    play: () => setPlaying(true),
    pause: () => setPlaying(false),
    refresh: () => loadSaved(),
  };
  twin.flood = state;

  function headers(extra) {
    const auth = window.TwinAuth;
    return auth ? auth.headers(extra) : Object.assign({ Accept: "application/json" }, extra);
  }

  function isStaff() {
    const auth = window.TwinAuth;
    return !!(auth && auth.user && STAFF.has(auth.user.role));
  }

  async function call(method, path, body) {
    const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
    if (body) init.body = JSON.stringify(body);
    const response = await fetch(api + path, init);
    if (!response.ok) throw new Error(await errorText(response));
    return response.status === 204 ? null : response.json();
  }

  function showError(el, text) {
    el.textContent = text || "";
    el.hidden = !text;
  }

  // ---------------------------------------------------------------- formatting

  function area(m2) {
    if (m2 >= 10000) return (m2 / 10000).toFixed(2) + " ha";
    return numberFormat.format(m2) + " m²";
  }

  function metres(m) {
    return m >= 10 ? m.toFixed(1) + " m" : m.toFixed(2) + " m";
  }

  function duration(s) {
    if (s >= 3600 && s % 3600 === 0) return s / 3600 + " h";
    if (s >= 60) return Math.round((s / 60) * 10) / 10 + " min";
    return Math.round(s) + " s";
  }

  function when(iso) {
    return new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  function scenarioText(result) {
    const p = result.params || {};
    if (p.mode === "rain") {
      const stop = p.rain_duration_s ? ` for ${duration(p.rain_duration_s)}` : "";
      return `Rain ${p.rain_mm_h} mm/h${stop}`;
    }
    if (p.mode === "river") return `River ${p.peak_m3s} m³/s (${p.hydrograph})`;
    if (p.mode === "sea") return `Sea level ${p.sea_level_m} m`;
    return `Fill to ${p.level_m} m`;
  }

  // ---------------------------------------------------------------- panel

  const panel = $("flood-panel");
  const openButton = $("flood-open");
  const form = $("flood-form");
  const layerSelect = $("flood-layer");
  const formError = $("flood-error");

  function closeOthers() {
    for (const [panelId, closeId] of [
      ["upload-panel", "upload-close"],
      ["info-panel", "info-close"],
      ["sensor-panel", "sensor-close"],
      ["alerts-panel", "alerts-close"],
    ]) {
      const other = $(panelId);
      if (other && !other.hidden) $(closeId).click();
    }
  }

  function setOpen(open) {
    if (open && !isStaff()) return;
    if (open) {
      closeOthers();
      fillLayers();
      loadSaved();
    } else {
      setPlacing(false);
    }
    panel.hidden = !open;
    openButton.setAttribute("aria-expanded", String(open));
    openButton.classList.toggle("active", open);
  }

  function renderAccount() {
    const staff = isStaff();
    openButton.hidden = !staff;
    if (!staff) {
      setOpen(false);
      clearWater();
    }
  }

  openButton.addEventListener("click", () => setOpen(panel.hidden));
  $("flood-close").addEventListener("click", () => {
    setOpen(false);
    openButton.focus();
  });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      if (state.placing) setPlacing(false);
      else setOpen(false);
    }
  });
  // Another panel opening over ours closes it (the water stays on the map).
  for (const id of ["upload-panel", "sensor-panel", "alerts-panel", "info-panel"]) {
    const other = $(id);
    if (!other) continue;
    new MutationObserver(() => {
      if (!other.hidden && !panel.hidden) setOpen(false);
    }).observe(other, { attributes: true, attributeFilter: ["hidden"] });
  }

  // ---------------------------------------------------------------- the form

  function terrainEntries() {
    const layers = twin.layers ? [...twin.layers.values()] : [];
    return layers.filter((e) => e.layer.kind === "terrain" && e.layer.tileset_url);
  }

  function demStats(layer) {
    const version = (layer.versions || []).find((v) => v.number === layer.version);
    return (version && version.stats) || {};
  }

  function fillLayers() {
    const entries = terrainEntries();
    const previous = layerSelect.value;
    layerSelect.textContent = "";
    for (const { layer } of entries) {
      const option = element("option", { value: String(layer.id), textContent: layer.name });
      if (!demStats(layer).dem) option.textContent += " (re-import to simulate)";
      layerSelect.append(option);
    }
    // The terrain shown as the ground first: that is where the planner is looking.
    const shown = entries.find((e) => e.tileset && e.tileset.show);
    if (previous && entries.some((e) => String(e.layer.id) === previous)) {
      layerSelect.value = previous;
    } else if (shown) {
      layerSelect.value = String(shown.layer.id);
    }
    $("flood-run").disabled = entries.length === 0;
    describeLayer();
  }

  function chosenLayer() {
    const entry = twin.layers && twin.layers.get(Number(layerSelect.value));
    return entry ? entry.layer : null;
  }

  /** The DEM's height range as a hint, and sensible levels for the sea and the quick fill. */
  function describeLayer() {
    const note = $("flood-dem-note");
    const layer = chosenLayer();
    if (!layer) {
      note.textContent = "No terrain layer: import a DEM first.";
      return;
    }
    const stats = demStats(layer);
    const heights = stats.dem_heights;
    if (!stats.dem) {
      note.textContent = "This version keeps no DEM for simulations: re-import it.";
    } else if (heights) {
      const [lo, hi] = heights;
      note.textContent = `DEM heights ${lo.toFixed(2)} to ${hi.toFixed(2)} m (the DEM's datum).`;
      const level = (f) => String(Math.round((lo + f * (hi - lo)) * 100) / 100);
      if (!$("flood-sea").dataset.touched) $("flood-sea").value = level(0.5);
      if (!$("flood-level").dataset.touched) $("flood-level").value = level(0.75);
    } else {
      note.textContent = "";
    }
  }
  layerSelect.addEventListener("change", () => {
    for (const id of ["flood-sea", "flood-level"]) delete $(id).dataset.touched;
    describeLayer();
  });
  for (const id of ["flood-sea", "flood-level"]) {
    $(id).addEventListener("input", () => ($(id).dataset.touched = "1"));
  }

  function setMode(mode) {
    state.mode = mode;
    for (const el of form.querySelectorAll("[data-modes]")) {
      el.hidden = !el.dataset.modes.split(" ").includes(mode);
    }
    $("flood-point-label").textContent = POINT_TEXT[mode] || "Point";
    if (marker) {
      marker.show = !!state.point && mode in POINT_TEXT;
      marker.label.text = mode === "bathtub" ? "Seed" : "Inflow";
      viewer.scene.requestRender();
    }
    showError(formError, "");
  }
  for (const input of form.querySelectorAll('input[name="flood-mode"]')) {
    input.addEventListener("change", () => input.checked && setMode(input.value));
  }

  // ---------------------------------------------------------------- a point on the map

  const marker = viewer
    ? viewer.entities.add({
        show: false,
        position: Cesium.Cartesian3.ZERO,
        point: {
          pixelSize: 13,
          color: Cesium.Color.fromCssColorString("#38bdf8"),
          outlineColor: Cesium.Color.WHITE,
          outlineWidth: 2,
          disableDepthTestDistance: Number.POSITIVE_INFINITY,
        },
        label: {
          text: "",
          font: '600 15px system-ui, "Segoe UI", Roboto, sans-serif',
          fillColor: Cesium.Color.WHITE,
          outlineColor: Cesium.Color.fromCssColorString("#05080d"),
          outlineWidth: 4,
          style: Cesium.LabelStyle.FILL_AND_OUTLINE,
          verticalOrigin: Cesium.VerticalOrigin.BOTTOM,
          pixelOffset: new Cesium.Cartesian2(0, -12),
          disableDepthTestDistance: Number.POSITIVE_INFINITY,
        },
      })
    : null;

  function setPlacing(on) {
    state.placing = !!on && !!viewer;
    const button = $("flood-place");
    button.classList.toggle("active", state.placing);
    button.textContent = state.placing ? "Click on the terrain…" : "Place on the map";
    if (viewer) viewer.scene.canvas.style.cursor = state.placing ? "crosshair" : "";
  }

  function setPoint(lon, lat) {
    state.point = { lon, lat };
    $("flood-point-text").textContent = `${lon.toFixed(6)}, ${lat.toFixed(6)}`;
    if (marker) {
      const ground = viewer.scene.globe.getHeight(Cesium.Cartographic.fromDegrees(lon, lat));
      marker.position = Cesium.Cartesian3.fromDegrees(lon, lat, ground || 0);
      marker.label.text = state.mode === "bathtub" ? "Seed" : "Inflow";
      marker.show = true;
      viewer.scene.requestRender();
    }
  }
  state.setPoint = setPoint;

  $("flood-place").addEventListener("click", () => setPlacing(!state.placing));

  // app.js asks twin.onPick first on every click: take it while placing, else pass it on.
  const chained = twin.onPick;
  twin.onPick = (picked, position) => {
    if (state.placing && position) {
      const scene = viewer.scene;
      const ray = viewer.camera.getPickRay(position);
      const at = ray && scene.globe.pick(ray, scene);
      if (at) {
        const c = Cesium.Cartographic.fromCartesian(at);
        setPoint(Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude));
        setPlacing(false);
      }
      return true;
    }
    return typeof chained === "function" ? chained(picked, position) : false;
  };

  // ---------------------------------------------------------------- run

  function number(id, scale) {
    const raw = $(id).value.trim();
    if (raw === "") return null;
    const value = Number(raw);
    return Number.isFinite(value) ? value * (scale || 1) : NaN;
  }

  /** The request body, or a message saying what is missing. */
  function requestBody() {
    const layer = chosenLayer();
    if (!layer) return "Choose a terrain layer.";
    const body = { layer_id: layer.id, mode: state.mode };
    const name = $("flood-name").value.trim();
    if (name) body.name = name;
    if (state.mode === "river" || state.mode === "bathtub") {
      if (!state.point) return `Place the ${state.mode === "river" ? "inflow" : "seed"} point on the map.`;
      body.lon = state.point.lon;
      body.lat = state.point.lat;
    }
    if (state.mode === "bathtub") {
      body.level_m = number("flood-level");
      return body;
    }
    body.duration_s = number("flood-minutes", 60);
    const every = number("flood-every", 60);
    if (every !== null) body.output_every_s = every;
    const manning = number("flood-manning");
    if (manning !== null) body.manning = manning;
    if (state.mode === "rain") {
      body.rain_mm_h = number("flood-rain");
      const stop = number("flood-rain-minutes", 60);
      if (stop !== null) body.rain_duration_s = stop;
    } else if (state.mode === "river") {
      body.peak_m3s = number("flood-peak");
      body.hydrograph = $("flood-hydrograph").value;
    } else {
      body.sea_level_m = number("flood-sea");
    }
    for (const [key, value] of Object.entries(body)) {
      if (Number.isNaN(value)) return `${key.replace(/_/g, " ")}: not a number.`;
    }
    return body;
  }

  const STATUS_TEXT = { queued: "queued", running: "running", succeeded: "done",
                        failed: "failed", cancelled: "cancelled" }; // prettier-ignore

  function showJob(job, title) {
    state.job = job;
    const card = $("flood-job");
    card.hidden = false;
    card.dataset.status = job.status;
    if (title !== undefined) $("flood-job-title").textContent = title;
    const status = $("flood-job-status");
    status.textContent = STATUS_TEXT[job.status] || job.status;
    status.className = "job-status " + job.status;
    const bar = $("flood-job-progress");
    if (job.status === "queued") bar.removeAttribute("value");
    else bar.value = job.status === "succeeded" ? 1 : Math.max(0, Math.min(1, job.progress || 0));
    $("flood-job-message").textContent = job.status === "succeeded" ? "" : job.message || "";
    showError($("flood-job-error"), job.status === "failed" ? job.error || "The run failed." : "");
    const cancel = $("flood-job-cancel");
    cancel.hidden = FINAL.has(job.status);
    cancel.disabled = !!job.cancel_requested;
  }

  async function run(event) {
    event.preventDefault();
    if (state.job && !FINAL.has(state.job.status)) return;
    showError(formError, "");
    setPlacing(false);
    const body = requestBody();
    if (typeof body === "string") {
      showError(formError, body);
      return;
    }
    const submit = $("flood-run");
    submit.disabled = true;
    try {
      const job = await call("POST", "/simulations/flood", body);
      showJob(job, body.name || MODE_TEXT[body.mode]);
      await follow(job);
    } catch (err) {
      showError(formError, String((err && err.message) || err));
    } finally {
      submit.disabled = false;
    }
  }

  async function follow(job) {
    while (!FINAL.has(job.status)) {
      await sleep(POLL_MS);
      job = await call("GET", "/jobs/" + encodeURIComponent(job.id));
      showJob(job);
    }
    loadSaved();
    if (job.status === "succeeded") {
      $("flood-job").hidden = true;
      await openResult(job.result.result_id, { fly: true });
    }
  }

  async function cancelJob() {
    const job = state.job;
    if (!job) return;
    $("flood-job-cancel").disabled = true;
    try {
      await call("DELETE", "/jobs/" + encodeURIComponent(job.id));
      $("flood-job-message").textContent = "Cancelling…";
    } catch (err) {
      showError($("flood-job-error"), String((err && err.message) || err));
      $("flood-job-cancel").disabled = false;
    }
  }

  form.addEventListener("submit", run);
  $("flood-job-cancel").addEventListener("click", cancelJob);

  // ---------------------------------------------------------------- the water on the map

  let water = { id: null, rectangle: null, layers: new Map() }; // frame index -> ImageryLayer
  let playTimer = null;
  let frameRequest = 0;

  function clearWater() {
    setPlaying(false);
    if (viewer) {
      for (const layer of water.layers.values()) viewer.imageryLayers.remove(layer, true);
      viewer.scene.requestRender();
    }
    water = { id: null, rectangle: null, layers: new Map() };
    state.shown = null;
    state.shownFrame = null;
  }

  /** The frame's imagery layer, made (and its PNG loaded) on first use. It is added on the map
   * at alpha 0: Cesium then drapes it on the terrain tiles ahead of time, and showing it is a
   * change of alpha, without a blink of dry ground while its textures are made. */
  async function frameLayer(i) {
    if (water.layers.has(i)) return water.layers.get(i);
    const id = water.id;
    const provider = await Cesium.SingleTileImageryProvider.fromUrl(state.result.frames[i].url, {
      rectangle: water.rectangle,
    });
    if (water.id !== id) return null; // another result meanwhile
    if (water.layers.has(i)) return water.layers.get(i);
    const layer = new Cesium.ImageryLayer(provider, { alpha: 0 });
    viewer.imageryLayers.add(layer);
    water.layers.set(i, layer);
    return layer;
  }

  async function setFrame(i) {
    const result = state.result;
    if (!result || !result.frames.length) return;
    i = Math.max(0, Math.min(result.frames.length - 1, Math.round(i)));
    state.frame = i;
    $("flood-time").value = String(i);
    const f = result.frames[i];
    const at = result.params.mode === "bathtub" ? "filled" : duration(f.t_s);
    $("flood-time-label").textContent =
      `${at} · ${area(f.flooded_area_m2)} · max ${metres(f.max_depth_m)}`;
    if (!viewer) return;
    const request = ++frameRequest;
    const layer = await frameLayer(i);
    if (!layer || request !== frameRequest) return;
    layer.alpha = 1;
    // Neighbours stay draped, invisible, for the next step; the others leave the GPU.
    for (const [k, other] of water.layers) {
      if (other === layer) continue;
      if (Math.abs(k - i) > 1) {
        viewer.imageryLayers.remove(other, true);
        water.layers.delete(k);
      } else {
        other.alpha = 0;
      }
    }
    state.shown = layer;
    state.shownFrame = i;
    viewer.scene.requestRender();
    if (i + 1 < result.frames.length) frameLayer(i + 1);
  }

  function setPlaying(on) {
    const frames = state.result ? state.result.frames.length : 0;
    state.playing = !!on && frames > 1;
    clearTimeout(playTimer);
    const button = $("flood-play");
    button.classList.toggle("playing", state.playing);
    button.setAttribute("aria-label", state.playing ? "Pause" : "Play");
    if (!state.playing) return;
    if (state.frame >= frames - 1) setFrame(0);
    const tick = async () => {
      if (!state.playing) return;
      if (state.frame >= frames - 1) {
        setPlaying(false);
        return;
      }
      await setFrame(state.frame + 1);
      playTimer = setTimeout(tick, PLAY_MS);
    };
    playTimer = setTimeout(tick, PLAY_MS);
  }

  $("flood-play").addEventListener("click", () => setPlaying(!state.playing));
  $("flood-time").addEventListener("input", (e) => {
    setPlaying(false);
    setFrame(Number(e.target.value));
  });
  $("flood-clear").addEventListener("click", () => {
    clearWater();
    state.result = null;
    $("flood-result").hidden = true;
  });

  /** Make the result's terrain the ground, so the water lies on the surface it ran on. */
  function showTerrain(layerId) {
    const entry = twin.layers && twin.layers.get(layerId);
    if (entry && entry.tileset && !entry.tileset.show) entry.tileset.show = true;
  }

  /** Whether the camera already looks at `rectangle` from close enough to see it (then it
   * stays where the planner put it). */
  function inView(rectangle) {
    const camera = viewer.camera;
    const view = camera.computeViewRectangle();
    const size = Math.max(rectangle.width, rectangle.height) * Cesium.Ellipsoid.WGS84.maximumRadius;
    return (
      !!view &&
      Cesium.Rectangle.contains(view, Cesium.Rectangle.center(rectangle)) &&
      camera.positionCartographic.height < 20 * size + 500
    );
  }

  async function openResult(id, options) {
    const result = await call("GET", "/simulations/" + encodeURIComponent(id));
    clearWater();
    state.result = result;
    if (state.compare && state.compare.id === result.id) state.compare = null;
    $("flood-result").hidden = false;
    $("flood-result-name").textContent = result.name;
    $("flood-time").max = String(Math.max(0, result.frames.length - 1));
    $("flood-play").disabled = result.frames.length < 2;
    renderLegend(result);
    renderHint(result);
    renderCompareOptions();
    renderSummary();
    if (viewer && result.image_bounds) {
      const [w, s, e, n] = result.image_bounds;
      water.id = result.id;
      water.rectangle = Cesium.Rectangle.fromDegrees(w, s, e, n);
      showTerrain(result.layer_id);
      if (options && options.fly && !inView(water.rectangle)) {
        if (twin.layers && twin.layers.has(result.layer_id)) await twin.zoomTo(result.layer_id);
        else await viewer.camera.flyTo({ destination: water.rectangle, duration: 1 });
      }
    }
    // A run opens on its last frame (where the water got to); play goes back to the start.
    await setFrame(result.frames.length - 1);
    return result;
  }
  state.openResult = openResult;

  /** Water is draped on the terrain: 3D layers shown over it hide it. Say which. */
  function renderHint(result) {
    const hint = $("flood-hint");
    const [w, s, e, n] = result.image_bounds || [0, 0, 0, 0];
    const over = [...(twin.layers ? twin.layers.values() : [])].filter((entry) => {
      const x = entry.layer.extent_wgs84;
      return (
        ["mesh", "pointcloud", "tiles3d"].includes(entry.layer.kind) &&
        entry.tileset &&
        entry.tileset.show &&
        x && x[0] < e && x[2] > w && x[1] < n && x[3] > s
      );
    });
    hint.textContent = over.length
      ? `Drawn over the water here: ${over.map((x) => x.layer.name).join(", ")}. ` +
        "Hide them in the layer list to see the water on the ground."
      : "";
    hint.hidden = !over.length;
  }

  // A layer shown or hidden in the list (app.js acts on the box first, then it bubbles here).
  $("layer-list").addEventListener("change", () => state.result && renderHint(state.result));

  function renderLegend(result) {
    const stops = (result.summary && result.summary.legend) || [];
    const legend = $("flood-legend");
    legend.textContent = "";
    if (!stops.length) return;
    const top = stops[stops.length - 1].depth_m;
    const gradient = stops.map((s) => `${s.color} ${((s.depth_m / top) * 100).toFixed(1)}%`);
    legend.append(
      element("div", {
        className: "ramp",
        style: `background: linear-gradient(90deg, ${gradient.join(", ")})`,
      }),
      element(
        "div",
        { className: "ramp-labels" },
        element("span", { textContent: "1 cm" }),
        element("span", { className: "caption", textContent: "water depth" }),
        element("span", { textContent: `${top} m+` }),
      ),
    );
  }

  // ---------------------------------------------------------------- summary and comparison

  const ROWS = [
    ["Scenario", (r) => scenarioText(r)],
    ["Terrain", (r) => (r.params.layer_name || "layer " + r.layer_id) + " v" + r.params.version],
    ["Flooded area", (r) => area(r.summary.flooded_area_m2)],
    ["Deepest water", (r) => metres(r.summary.max_depth_m)],
    ["Water on the ground at the end", (r) => numberFormat.format(r.summary.volume_m3) + " m³"],
    ["Water in", (r) => (r.summary.volume_in_m3 === undefined ? "—"
      : numberFormat.format(r.summary.volume_in_m3) + " m³")], // prettier-ignore
    ["Simulated", (r) => (r.params.mode === "bathtub" ? "instant fill" : duration(r.summary.simulated_s))],
    ["Cells", (r) => numberFormat.format(r.summary.cells)],
    ["Run time", (r) => r.summary.wall_s.toFixed(1) + " s"],
    ["Run by", (r) => `${r.user || "?"}, ${when(r.created_at)}`],
  ];

  function renderSummary() {
    const table = $("flood-summary");
    const results = [state.result, state.compare].filter((r) => r && r.summary);
    const head = table.tHead;
    head.textContent = "";
    const headRow = element("tr", null, element("th", { scope: "col" }));
    if (results.length > 1) {
      for (const r of results) headRow.append(element("th", { scope: "col", textContent: r.name }));
      head.append(headRow);
    }
    const body = table.tBodies[0];
    body.textContent = "";
    for (const [label, value] of ROWS) {
      const row = element("tr", null, element("th", { scope: "row", textContent: label }));
      for (const r of results) row.append(element("td", { textContent: value(r) }));
      body.append(row);
    }
    table.classList.toggle("compared", results.length > 1);
  }

  function renderCompareOptions() {
    const select = $("flood-compare");
    select.textContent = "";
    select.append(element("option", { value: "", textContent: "nothing" }));
    for (const r of state.saved) {
      if (r.status !== "succeeded" || (state.result && r.id === state.result.id)) continue;
      select.append(element("option", { value: r.id, textContent: r.name }));
    }
    select.value = state.compare ? state.compare.id : "";
  }

  $("flood-compare").addEventListener("change", async (e) => {
    const id = e.target.value;
    state.compare = id ? await call("GET", "/simulations/" + encodeURIComponent(id)) : null;
    renderSummary();
  });

  // ---------------------------------------------------------------- saved results

  function canDelete(result) {
    const user = window.TwinAuth && window.TwinAuth.user;
    return !!user && (user.role === "admin" || user.username === result.user);
  }

  async function loadSaved() {
    if (!isStaff()) return [];
    try {
      state.saved = await call("GET", "/simulations");
    } catch (err) {
      console.warn("twin: flood results:", String((err && err.message) || err));
      return state.saved;
    }
    const list = $("flood-saved");
    list.textContent = "";
    $("flood-saved-empty").hidden = state.saved.length > 0;
    for (const r of state.saved) {
      const meta = [r.user || "?", when(r.created_at)];
      if (r.status === "succeeded" && r.summary) meta.push(area(r.summary.flooded_area_m2));
      const item = element(
        "li",
        { className: "flood-saved-item" },
        element(
          "div",
          { className: "flood-saved-text" },
          element("span", { className: "flood-saved-name", textContent: r.name }),
          element("span", { className: "flood-saved-meta muted", textContent: meta.join(" · ") }),
        ),
      );
      item.dataset.id = r.id;
      if (r.status !== "succeeded") {
        item.append(element("span", { className: "job-status " + r.status, textContent: r.status }));
      } else {
        const open = element("button", { type: "button", className: "button small", textContent: "Open" });
        open.addEventListener("click", () =>
          openResult(r.id, { fly: true }).catch((err) => showError(formError, String(err.message))),
        );
        item.append(open);
      }
      if (canDelete(r)) {
        const remove = element("button", {
          type: "button",
          className: "button small flood-delete",
          textContent: "Delete",
          title: "Delete this result and its files",
        });
        remove.addEventListener("click", () => deleteResult(r));
        item.append(remove);
      }
      list.append(item);
    }
    renderCompareOptions();
    return state.saved;
  }

  async function deleteResult(r) {
    if (!window.confirm(`Delete "${r.name}"?`)) return;
    try {
      await call("DELETE", "/simulations/" + encodeURIComponent(r.id));
    } catch (err) {
      showError(formError, String((err && err.message) || err));
      return;
    }
    if (state.result && state.result.id === r.id) {
      clearWater();
      state.result = null;
      $("flood-result").hidden = true;
    }
    if (state.compare && state.compare.id === r.id) state.compare = null;
    await loadSaved();
    renderSummary();
  }

  // ---------------------------------------------------------------- start

  setMode("rain");
  // staff.js shows the account name on sign in and out: follow it.
  const account = $("account-name");
  if (account) {
    new MutationObserver(renderAccount).observe(account, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  }
  if (window.TwinAuth && window.TwinAuth.ready) window.TwinAuth.ready.then(renderAccount);
  renderAccount();
})();

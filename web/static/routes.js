/* twin viewer, walking routes and accessibility: signed-in staff (planner, gis, admin) pick a
 * start and an end on the map, choose a profile (quiet, clean, green, cool, school, bike…),
 * optionally compared with the shortest path and with alternatives; the routes from
 * /api/v1/routes/walk are drawn on the ground in distinct colours, with their score cards side
 * by side. "Accessibility" colours the buildings (or grid cells) of /api/v1/access by walking
 * minutes to the nearest amenity of a category, with a legend.
 *
 * Loaded after app.js, staff.js and sensors.js: it uses `window.twin.viewer`, `window.TwinAuth`
 * (token, user) and chains `twin.onPick`, taking a click only while "pick start/end" is on.
 *
 * Tests (and the console) read `window.twin.routes`:
 *   open(), close(), flyToNetwork() (`flying` while it runs); picking ("start", "end" or null); pick(which)
 *   start, end: {lon, lat} or null; setStart(lon, lat), setEnd(lon, lat)
 *   plan(): request the routes (a promise); routes: the features drawn, in card order;
 *   entities: their GroundPolylinePrimitives; drawn(): true once the lines and shapes are drawn
 *   error: the last error shown (or null); busy
 *   showAccess(), hideAccess(): the places in view; access: { category, minutes, bbox, features,
 *           coloured, summary, drawn (the polygons are on the map) }
 */
(function () {
  "use strict";

  const { element, errorText } = window.TwinDom;

  const twin = window.twin || (window.twin = { viewer: null });
  const viewer = twin.viewer || null;
  const api = (window.TWIN_CONFIG && window.TWIN_CONFIG.api) || "/api/v1";
  const $ = (id) => document.getElementById(id);
  const STAFF = new Set(["admin", "gis", "planner"]);
  // The server's default street network: the Monaco OSM extract (Monaco and its neighbours).
  const NETWORK_AREA = [7.405, 43.724, 7.44, 43.752];
  const ROUTE_COLOURS = ["#22d3ee", "#f472b6", "#a3e635", "#fb923c", "#c084fc", "#facc15"];
  const SHORTEST_COLOUR = "#f8fafc";
  // Walking minutes, as a share of the limit: within a third, two thirds, the limit, beyond.
  const ACCESS_COLOURS = ["#16a34a", "#84cc16", "#facc15", "#ef4444"];
  const NO_ACCESS = "#6b7280";

  const state = {
    picking: null,
    start: null,
    end: null,
    routes: [],
    entities: [],
    error: null,
    busy: false,
    flying: false,
    profiles: [],
    access: null,
    open: () => setOpen(true),
    close: () => setOpen(false),
    flyToNetwork: (duration) => flyToNetwork(duration),
    pick: (which) => setPicking(which),
    setStart: (lon, lat) => setPoint("start", lon, lat),
    setEnd: (lon, lat) => setPoint("end", lon, lat),
    plan: () => plan(),
    showAccess: () => showAccess(),
    hideAccess: () => hideAccess(),
  };
  twin.routes = state;

  function headers() {
    const auth = window.TwinAuth;
    return auth ? auth.headers() : { Accept: "application/json" };
  }

  function isStaff() {
    const auth = window.TwinAuth;
    return !!(auth && auth.user && STAFF.has(auth.user.role));
  }

  async function get(path) {
    const response = await fetch(api + path, { headers: headers() });
    if (!response.ok) throw new Error(await errorText(response));
    return response.json();
  }

  function showError(text) {
    state.error = text || null;
    const el = $("routes-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  const dataSource = viewer ? new Cesium.CustomDataSource("routes") : null;
  if (viewer) viewer.dataSources.add(dataSource);
  const redraw = () => viewer && viewer.scene.requestRender();

  // What this panel drew as primitives: route lines, accessibility polygons.
  let routeLines = null; // a PrimitiveCollection of GroundPolylinePrimitive
  if (viewer) routeLines = viewer.scene.groundPrimitives.add(new Cesium.PrimitiveCollection());

  /** True once the routes and accessibility shapes are on the map. */
  function drawn() {
    if (!viewer) return true;
    for (const line of state.entities) if (!line.ready) return false;
    return !accessShapes || accessShapes.ready;
  }
  state.drawn = drawn;

  // The viewer renders on request: keep asking while ground primitives are being built.
  let rendering = null;
  function renderUntilDrawn(limitMs) {
    if (!viewer || rendering) return;
    const until = performance.now() + (limitMs || 120000);
    let ticks = 0;
    rendering = setInterval(() => {
      viewer.scene.requestRender();
      // A few frames more once drawn: the entity batches settle over two or three frames.
      if (drawn() ? ++ticks > 5 : ((ticks = 0), performance.now() > until)) {
        clearInterval(rendering);
        rendering = null;
      }
    }, 100);
  }

  // ---------------------------------------------------------------- formatting

  const fmt = {
    length_m: (v) => (v >= 1000 ? (v / 1000).toFixed(2) + " km" : Math.round(v) + " m"),
    duration_s: (v) => (v >= 3600 ? (v / 3600).toFixed(1) + " h" : Math.round(v / 60) + " min"),
    noise_mean_db: (v) => v.toFixed(1) + " dB(A)",
    noise_max_db: (v) => v.toFixed(1) + " dB(A)",
    no2_mean_ugm3: (v) => v.toFixed(1) + " µg/m³",
    green_share: (v) => Math.round(v * 100) + " %",
    shade_share: (v) => Math.round(v * 100) + " %",
    climb_m: (v) => Math.round(v) + " m",
    schools_served: (v) => String(v),
  };
  const ROWS = [
    ["length_m", "Length"],
    ["duration_s", "Duration"],
    ["noise_mean_db", "Noise, mean"],
    ["noise_max_db", "Noise, max"],
    ["no2_mean_ugm3", "NO₂"],
    ["green_share", "Green"],
    ["shade_share", "Shade"],
    ["climb_m", "Climb"],
    ["schools_served", "Schools"],
  ];
  state.format = (key, value) =>
    value === null || value === undefined ? "–" : fmt[key](Number(value));

  // ---------------------------------------------------------------- panel

  const panel = $("routes-panel");
  const openButton = $("routes-open");

  function closeOthers() {
    for (const [panelId, closeId] of [
      ["upload-panel", "upload-close"],
      ["info-panel", "info-close"],
      ["sensor-panel", "sensor-close"],
      ["alerts-panel", "alerts-close"],
      ["flood-panel", "flood-close"],
    ]) {
      const other = $(panelId);
      const button = $(closeId);
      if (other && !other.hidden && button) button.click();
    }
  }

  function setOpen(open) {
    if (open && !isStaff()) return;
    if (open) {
      closeOthers();
      loadProfiles();
    } else {
      setPicking(null);
    }
    panel.hidden = !open;
    openButton.setAttribute("aria-expanded", String(open));
    openButton.classList.toggle("active", open);
  }

  function clearAll() {
    setPicking(null);
    clearRoutes();
    hideAccess();
    state.start = state.end = null;
    for (const m of Object.values(markers)) if (m) m.show = false;
    renderPoints();
  }

  function renderAccount() {
    const staff = isStaff();
    openButton.hidden = !staff;
    if (!staff) {
      setOpen(false);
      clearAll();
    }
  }

  openButton.addEventListener("click", () => setOpen(panel.hidden));
  $("routes-close").addEventListener("click", () => {
    setOpen(false);
    openButton.focus();
  });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      if (state.picking) setPicking(null);
      else setOpen(false);
    }
  });
  for (const id of ["upload-panel", "sensor-panel", "alerts-panel", "info-panel", "flood-panel"]) {
    const other = $(id);
    if (!other) continue;
    new MutationObserver(() => {
      if (!other.hidden && !panel.hidden) setOpen(false);
    }).observe(other, { attributes: true, attributeFilter: ["hidden"] });
  }

  /** The area widened west and east so that it shows between the side panels. */
  function framed([w, s, e, n]) {
    const canvas = viewer.scene.canvas.getBoundingClientRect();
    if (!canvas.width) return [w, s, e, n];
    let left = canvas.left;
    let right = canvas.right;
    for (const id of ["layer-panel", "routes-panel"]) {
      const el = $(id);
      if (!el || el.hidden) continue;
      const r = el.getBoundingClientRect();
      if (!r.width) continue;
      if (r.left + r.width / 2 < canvas.left + canvas.width / 2) left = Math.max(left, r.right);
      else right = Math.min(right, r.left);
    }
    const share = Math.max(0.25, (right - left) / canvas.width);
    const span = (e - w) / share;
    const west = w - Math.min(1 - share, (left - canvas.left) / canvas.width) * span;
    return [west, s, west + span, n];
  }

  function flyToNetwork(duration) {
    if (!viewer) return Promise.resolve(false);
    const [w, s, e, n] = framed(NETWORK_AREA);
    state.flying = true;
    const done = (ok) => {
      state.flying = false;
      return ok;
    };
    return new Promise((resolve) => {
      viewer.camera.flyTo({
        destination: Cesium.Rectangle.fromDegrees(w, s, e, n),
        duration: duration === undefined ? 1.5 : duration,
        complete: () => resolve(done(true)),
        cancel: () => resolve(done(false)),
      });
    });
  }
  $("routes-fly").addEventListener("click", () => flyToNetwork());

  async function loadProfiles() {
    if (state.profiles.length) return state.profiles;
    try {
      state.profiles = (await get("/routes/profiles")).profiles;
    } catch (err) {
      showError(String((err && err.message) || err));
      return [];
    }
    const select = $("routes-profile");
    const current = select.value || "quiet";
    select.textContent = "";
    for (const p of state.profiles) {
      if (p.name === "custom") continue;
      select.append(element("option", { value: p.name, textContent: `${p.name} — ${p.description}` }));
    }
    select.value = state.profiles.some((p) => p.name === current) ? current : "shortest";
    return state.profiles;
  }

  // ---------------------------------------------------------------- start and end

  function marker(text, colour) {
    if (!dataSource) return null;
    return dataSource.entities.add({
      show: false,
      position: Cesium.Cartesian3.fromDegrees(0, 0),
      point: {
        pixelSize: 14,
        color: Cesium.Color.fromCssColorString(colour),
        outlineColor: Cesium.Color.fromCssColorString("#05080d"),
        outlineWidth: 2,
        heightReference: Cesium.HeightReference.CLAMP_TO_GROUND,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
      label: {
        text,
        font: "bold 13px sans-serif",
        fillColor: Cesium.Color.WHITE,
        outlineColor: Cesium.Color.BLACK,
        outlineWidth: 3,
        style: Cesium.LabelStyle.FILL_AND_OUTLINE,
        verticalOrigin: Cesium.VerticalOrigin.BOTTOM,
        pixelOffset: new Cesium.Cartesian2(0, -12),
        heightReference: Cesium.HeightReference.CLAMP_TO_GROUND,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
    });
  }
  const markers = { start: marker("Start", "#22c55e"), end: marker("End", "#ef4444") };

  function renderPoints() {
    for (const which of ["start", "end"]) {
      const p = state[which];
      $(`routes-${which}-text`).textContent = p
        ? `${p.lon.toFixed(5)}, ${p.lat.toFixed(5)}`
        : "not set";
      const button = $(`routes-pick-${which}`);
      const on = state.picking === which;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", String(on));
      button.textContent = on ? "Click the map…" : which === "start" ? "Pick start" : "Pick end";
    }
    $("routes-go").disabled = !(state.start && state.end) || state.busy;
  }

  function setPoint(which, lon, lat) {
    state[which] = { lon: Number(lon), lat: Number(lat) };
    const m = markers[which];
    if (m) {
      m.position = Cesium.Cartesian3.fromDegrees(state[which].lon, state[which].lat);
      m.show = true;
      redraw();
    }
    renderPoints();
  }

  function setPicking(which) {
    state.picking = viewer && (which === "start" || which === "end") ? which : null;
    if (viewer) viewer.scene.canvas.style.cursor = state.picking ? "crosshair" : "";
    if (panel && $("routes-go")) renderPoints();
  }

  $("routes-pick-start").addEventListener("click", () =>
    setPicking(state.picking === "start" ? null : "start"),
  );
  $("routes-pick-end").addEventListener("click", () =>
    setPicking(state.picking === "end" ? null : "end"),
  );

  // app.js asks twin.onPick first on every click: take it only while picking, else pass it on.
  const chained = twin.onPick;
  twin.onPick = (picked, position) => {
    if (state.picking && position && !panel.hidden) {
      const scene = viewer.scene;
      const ray = viewer.camera.getPickRay(position);
      const at = ray && scene.globe.pick(ray, scene);
      if (at) {
        const c = Cesium.Cartographic.fromCartesian(at);
        const which = state.picking;
        setPoint(which, Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude));
        // After the start, go on to the end if it is not set yet.
        setPicking(which === "start" && !state.end ? "end" : null);
      }
      return true;
    }
    return typeof chained === "function" ? chained(picked, position) : false;
  };

  // ---------------------------------------------------------------- routes

  function clearRoutes() {
    if (routeLines) routeLines.removeAll();
    state.entities = [];
    state.routes = [];
    $("routes-cards").textContent = "";
    redraw();
  }

  /** The route as a line draped on the ground (terrain and 3D tiles), in its colour. */
  function drawRoute(feature, colour) {
    if (!routeLines) return null;
    const coords = feature.geometry.coordinates.flat();
    return routeLines.add(
      new Cesium.GroundPolylinePrimitive({
        geometryInstances: new Cesium.GeometryInstance({
          geometry: new Cesium.GroundPolylineGeometry({
            positions: Cesium.Cartesian3.fromDegreesArray(coords),
            width: 5,
          }),
          attributes: {
            color: Cesium.ColorGeometryInstanceAttribute.fromColor(
              Cesium.Color.fromCssColorString(colour),
            ),
          },
        }),
        appearance: new Cesium.PolylineColorAppearance(),
      }),
    );
  }

  function card(feature, colour, index) {
    const p = feature.properties;
    const title = p.rank > 1 ? `${p.profile} · alternative ${p.rank - 1}` : p.profile;
    const table = element("table", { className: "props route-card-table" });
    const body = element("tbody");
    for (const [key, label] of ROWS) {
      const cell = element("td", { textContent: state.format(key, p[key]) });
      cell.dataset.field = key;
      cell.dataset.value = p[key] === null || p[key] === undefined ? "" : String(p[key]);
      body.append(element("tr", {}, element("th", { textContent: label }), cell));
    }
    table.append(body);
    const head = element(
      "div",
      { className: "route-card-head" },
      element("span", { className: "route-swatch", ariaHidden: "true" }),
      element("span", { className: "route-card-title", textContent: title }),
    );
    head.firstChild.style.background = colour;
    const el = element("article", { className: "route-card" }, head, table);
    el.dataset.index = String(index);
    el.dataset.profile = p.profile;
    el.style.borderTopColor = colour;
    return el;
  }

  async function plan() {
    if (!state.start || !state.end) {
      showError("Pick a start and an end on the map first.");
      return state.routes;
    }
    const profile = $("routes-profile").value || "shortest";
    const alternatives = Math.max(1, Math.min(5, Number($("routes-alternatives").value) || 1));
    const compare = $("routes-compare").checked && profile !== "shortest";
    const q = (name, k) =>
      "/routes/walk?" +
      new URLSearchParams({
        from: `${state.start.lon.toFixed(6)},${state.start.lat.toFixed(6)}`,
        to: `${state.end.lon.toFixed(6)},${state.end.lat.toFixed(6)}`,
        profile: name,
        alternatives: String(k),
      });
    state.busy = true;
    setPicking(null);
    showError("");
    $("routes-status").textContent = "Finding routes…";
    try {
      const requests = [get(q(profile, alternatives))];
      if (compare) requests.push(get(q("shortest", 1)));
      const answers = await Promise.all(requests);
      clearRoutes();
      const cards = $("routes-cards");
      answers.forEach((collection, a) => {
        for (const feature of collection.features) {
          const index = state.routes.length;
          const colour = a === 1 ? SHORTEST_COLOUR : ROUTE_COLOURS[index % ROUTE_COLOURS.length];
          state.routes.push(feature);
          const entity = drawRoute(feature, colour);
          if (entity) state.entities.push(entity);
          if (entity && a === 1) routeLines.lowerToBottom(entity); // the chosen profile on top
          cards.append(card(feature, colour, index));
        }
      });
      $("routes-status").textContent = state.routes.length
        ? ""
        : "No route found between these points.";
      renderUntilDrawn();
    } catch (err) {
      $("routes-status").textContent = "";
      showError(String((err && err.message) || err));
    } finally {
      state.busy = false;
      renderPoints();
    }
    return state.routes;
  }

  $("routes-form").addEventListener("submit", (e) => {
    e.preventDefault();
    plan();
  });
  $("routes-clear").addEventListener("click", clearAll);

  // ---------------------------------------------------------------- accessibility

  function accessColour(value, limit) {
    if (value === null || value === undefined) return NO_ACCESS;
    if (value <= limit / 3) return ACCESS_COLOURS[0];
    if (value <= (2 * limit) / 3) return ACCESS_COLOURS[1];
    if (value <= limit) return ACCESS_COLOURS[2];
    return ACCESS_COLOURS[3];
  }

  function renderLegend(limit, summary) {
    const legend = $("routes-access-legend");
    legend.textContent = "";
    if (!limit) return;
    const r = (v) => Math.round(v * 10) / 10;
    const bins = [
      [ACCESS_COLOURS[0], `≤ ${r(limit / 3)} min`],
      [ACCESS_COLOURS[1], `≤ ${r((2 * limit) / 3)} min`],
      [ACCESS_COLOURS[2], `≤ ${r(limit)} min`],
      [ACCESS_COLOURS[3], `> ${r(limit)} min`],
      [NO_ACCESS, "none reachable"],
    ];
    const list = element("ul", { className: "chart-legend" });
    for (const [colour, text] of bins) {
      const swatch = element("span", { className: "route-swatch" });
      swatch.style.background = colour;
      list.append(element("li", {}, swatch, element("span", { textContent: text })));
    }
    legend.append(list);
    if (summary && summary.share_within_all !== undefined) {
      legend.append(
        element("p", {
          className: "muted routes-access-share",
          textContent: `${Math.round(summary.share_within_all * 100)} % of the ${summary.places} places in view within ${r(limit)} min`,
        }),
      );
    }
  }

  // The coloured places: one ground primitive for the polygons (batched: tens of thousands of
  // buildings), one point collection for points; `drawn` once the polygons are on the map.
  let accessShapes = null;
  let accessPoints = null;

  function clearAccessShapes() {
    if (!viewer) return;
    if (accessShapes) viewer.scene.groundPrimitives.remove(accessShapes);
    if (accessPoints) viewer.scene.primitives.remove(accessPoints);
    accessShapes = accessPoints = null;
  }

  function hideAccess() {
    clearAccessShapes();
    state.access = null;
    $("routes-access").checked = false;
    renderLegend(null);
    redraw();
  }

  let accessRequest = 0;
  async function showAccess() {
    const category = $("routes-access-category").value;
    const minutes = Number($("routes-access-minutes").value) || 15;
    $("routes-access").checked = true;
    const ticket = ++accessRequest;
    showError("");
    $("routes-access-status").textContent = "Computing walking times…";
    // Only the area in view: a whole city's buildings are too many to drape at once.
    const params = new URLSearchParams({ category, minutes: String(minutes) });
    const view = viewer && viewer.camera.computeViewRectangle();
    const bbox = view
      ? [view.west, view.south, view.east, view.north].map((r) => Cesium.Math.toDegrees(r).toFixed(5))
      : null;
    if (bbox) params.set("bbox", bbox.join(","));
    let collection;
    try {
      collection = await get("/access?" + params);
    } catch (err) {
      if (ticket === accessRequest) {
        $("routes-access-status").textContent = "";
        showError(String((err && err.message) || err));
        $("routes-access").checked = false;
      }
      return null;
    }
    if (ticket !== accessRequest || !$("routes-access").checked) return null;
    const key = `${category}_min`;
    clearAccessShapes();
    const coloured = viewer ? drawAccess(collection.features, key, minutes) : 0;
    state.access = {
      category,
      minutes,
      bbox: bbox ? bbox.join(",") : null,
      features: collection.features.length,
      coloured,
      summary: collection.summary || null,
      get drawn() {
        return !accessShapes || accessShapes.ready;
      },
    };
    $("routes-access-status").textContent = "";
    renderLegend(minutes, collection.summary);
    renderUntilDrawn();
    return state.access;
  }

  function ring(coords) {
    return Cesium.Cartesian3.fromDegreesArray(coords.flatMap((c) => [c[0], c[1]]));
  }

  function hierarchy(rings) {
    return new Cesium.PolygonHierarchy(
      ring(rings[0]),
      rings.slice(1).map((h) => new Cesium.PolygonHierarchy(ring(h))),
    );
  }

  /** Colour every feature (building polygons or points) on the ground; how many were drawn. */
  function drawAccess(features, key, limit) {
    const instances = [];
    const globe = viewer.scene.globe;
    let coloured = 0;
    for (const f of features) {
      const g = f.geometry;
      if (!g) continue;
      const colour = Cesium.Color.fromCssColorString(accessColour(f.properties[key], limit));
      const polygons =
        g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : null;
      if (polygons) {
        const attributes = {
          color: Cesium.ColorGeometryInstanceAttribute.fromColor(colour.withAlpha(0.75)),
        };
        for (const rings of polygons) {
          if (!rings.length || rings[0].length < 4) continue;
          instances.push(
            new Cesium.GeometryInstance({
              geometry: new Cesium.PolygonGeometry({ polygonHierarchy: hierarchy(rings) }),
              attributes,
            }),
          );
        }
        coloured++;
      } else if (g.type === "Point") {
        if (!accessPoints) accessPoints = viewer.scene.primitives.add(new Cesium.PointPrimitiveCollection());
        const [lon, lat] = g.coordinates;
        const h = globe.getHeight(Cesium.Cartographic.fromDegrees(lon, lat)) || 0;
        accessPoints.add({
          position: Cesium.Cartesian3.fromDegrees(lon, lat, h),
          color: colour,
          pixelSize: 7,
          outlineColor: Cesium.Color.BLACK,
          outlineWidth: 1,
          disableDepthTestDistance: Number.POSITIVE_INFINITY,
        });
        coloured++;
      }
    }
    if (instances.length) {
      accessShapes = viewer.scene.groundPrimitives.add(
        new Cesium.GroundPrimitive({
          geometryInstances: instances,
          appearance: new Cesium.PerInstanceColorAppearance({ flat: true, translucent: true }),
          classificationType: Cesium.ClassificationType.TERRAIN,
        }),
      );
    }
    return coloured;
  }

  $("routes-access").addEventListener("change", (e) => {
    if (e.target.checked) showAccess();
    else {
      accessRequest++;
      hideAccess();
    }
  });
  for (const id of ["routes-access-category", "routes-access-minutes"]) {
    $(id).addEventListener("change", () => {
      if ($("routes-access").checked) showAccess();
    });
  }

  // ---------------------------------------------------------------- start

  renderPoints();
  const account = $("account-name");
  if (account) {
    new MutationObserver(renderAccount).observe(account, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  }
  renderAccount();
})();

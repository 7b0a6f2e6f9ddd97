/* twin viewer: CesiumJS served by the app itself, the layer catalog from /api/v1/layers.
 *
 * Nothing here talks to a host other than the one that served the page: no Cesium ion token,
 * no geocoder, no CDN; the base imagery is the Natural Earth II pyramid shipped with CesiumJS
 * and the terrain is the plain ellipsoid.
 *
 * Tests (and the console) read `window.twin`:
 *   viewer:  the Cesium.Viewer (null when WebGL is unavailable)
 *   layers:  Map(id -> { layer, tileset, status, error }), `layer` as /api/v1/layers gives it
 *   ready:   resolves once the layer list is in and the first tilesets have been requested
 *            (it never rejects: failures are shown in the panel and kept in `twin.error`)
 *   zoomTo(id, {duration}), home(duration): camera flights (promises); `flying` while one runs
 */
(function () {
  "use strict";

  const config = window.TWIN_CONFIG || {};
  const api = config.api || "/api/v1";
  const [west, south, east, north] = config.home || [5.0, 43.2, 5.8, 43.7];
  const $ = (id) => document.getElementById(id);

  // No ion: an empty token makes any accidental ion use fail loudly instead of phoning home.
  Cesium.Ion.defaultAccessToken = "";

  // The home view frames the metropolis with a margin (what Cesium falls back to, too).
  const pad = 0.08;
  const home = Cesium.Rectangle.fromDegrees(
    west - pad * (east - west),
    south - pad * (north - south),
    east + pad * (east - west),
    north + pad * (north - south),
  );
  Cesium.Camera.DEFAULT_VIEW_RECTANGLE = home;
  Cesium.Camera.DEFAULT_VIEW_FACTOR = 0;

  let viewer;
  try {
    viewer = createViewer();
  } catch (err) {
    // No WebGL: say so where the globe would be, rather than leave a blank page.
    const reason = String((err && err.message) || err);
    $("cesium").append(
      Object.assign(document.createElement("div"), {
        className: "fatal",
        textContent: "The 3D view cannot start in this browser: " + reason,
      }),
    );
    $("layer-message").textContent = "The 3D view is unavailable (WebGL).";
    window.twin = {
      viewer: null,
      layers: new Map(),
      error: reason,
      ready: Promise.resolve({ layers: 0, error: reason }),
    };
    console.warn("twin: no 3D view:", reason);
    return;
  }

  function createViewer() {
    return new Cesium.Viewer("cesium", {
      baseLayer: Cesium.ImageryLayer.fromProviderAsync(
        Cesium.TileMapServiceImageryProvider.fromUrl(
          Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII"),
        ),
      ),
      terrainProvider: new Cesium.EllipsoidTerrainProvider(),
      baseLayerPicker: false,
      geocoder: false,
      animation: false,
      timeline: false,
      infoBox: false, // our own info panel (the stock one is a sandboxed iframe)
      selectionIndicator: false,
      sceneModePicker: true,
      navigationHelpButton: true,
      navigationInstructionsInitiallyVisible: false,
      fullscreenButton: true,
      homeButton: true,
      // Render on change only: kind to laptops on battery and to software GL.
      requestRenderMode: true,
      maximumRenderTimeChange: Infinity,
    });
  }
  const scene = viewer.scene;
  scene.globe.enableLighting = false;
  scene.globe.showGroundAtmosphere = true;
  scene.globe.baseColor = Cesium.Color.fromCssColorString("#0b1a2a");
  scene.backgroundColor = Cesium.Color.fromCssColorString("#05080d");
  // A 3D Tiles layer placed at ground level must not hide under the globe when zooming in.
  scene.globe.depthTestAgainstTerrain = false;

  /** The WebGL renderer's name, when the browser tells it (used only to detect software GL). */
  function rendererName() {
    try {
      const gl = scene.context._gl;
      const info = gl.getExtension("WEBGL_debug_renderer_info");
      return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    } catch (_) {
      return "";
    }
  }

  // Without a GPU (a VM, a remote desktop, a CI browser) every frame is drawn by the CPU:
  // trade anti-aliasing and globe detail for a view that stays responsive.
  const renderer = rendererName();
  const softwareGL = /swiftshader|llvmpipe|softpipe|software/i.test(renderer);
  if (softwareGL) {
    scene.msaaSamples = 1;
    scene.globe.maximumScreenSpaceError = 4;
    const badge = $("render-mode");
    badge.hidden = false;
    badge.title = "No GPU acceleration (" + renderer + "): reduced rendering quality";
  }

  const layers = new Map(); // id -> { layer, tileset, status, error, row }
  const byTileset = new Map(); // Cesium3DTileset -> id

  const twin = {
    viewer,
    layers,
    ready: null,
    error: null,
    flying: false,
    zoomTo,
    home(duration) {
      return flyTo({ destination: homeView(), duration: duration === undefined ? 1.5 : duration });
    },
  };
  window.twin = twin;

  // ---------------------------------------------------------------- layer panel

  const list = $("layer-list");
  const message = $("layer-message");
  const count = $("layer-count");

  function showMessage(text, kind) {
    message.textContent = "";
    message.className = "message" + (kind ? " " + kind : "");
    if (!text) {
      message.hidden = true;
      return;
    }
    message.hidden = false;
    if (typeof text === "string") {
      message.textContent = text;
    } else {
      message.append(...text);
    }
  }

  function element(tag, props, ...children) {
    const el = document.createElement(tag);
    Object.assign(el, props || {});
    for (const child of children) {
      if (child !== null && child !== undefined) el.append(child);
    }
    return el;
  }

  function setStatus(entry, status, detail) {
    entry.status = status;
    const badge = entry.row.querySelector(".status");
    badge.className = "status " + status;
    badge.textContent = { loading: "loading…", ready: "", error: "failed", off: "" }[status] || "";
    badge.title = detail || "";
    entry.row.classList.toggle("failed", status === "error");
  }

  function kindLabel(layer) {
    return { tiles3d: "3D Tiles" }[layer.kind] || layer.kind;
  }

  function layerRow(layer) {
    const drawable = layer.kind === "tiles3d" && !!layer.tileset_url;
    const id = "layer-" + layer.id;
    const checkbox = element("input", {
      type: "checkbox",
      id,
      checked: drawable,
      disabled: !drawable,
    });
    checkbox.dataset.layerId = layer.id;
    const meta = [kindLabel(layer)];
    if (layer.version) meta.push("v" + layer.version);
    if (!drawable) meta.push(layer.status === "empty" ? "no data yet" : "not drawable here");
    const label = element(
      "label",
      { htmlFor: id, className: "layer-label" },
      element("span", { className: "layer-name", textContent: layer.name }),
      element("span", { className: "layer-meta", textContent: meta.join(" · ") }),
    );
    const zoom = element("button", {
      type: "button",
      className: "zoom",
      textContent: "Zoom to",
      title: "Fly to " + layer.name,
      disabled: !drawable && !layer.extent_wgs84,
    });
    zoom.setAttribute("aria-label", "Zoom to " + layer.name);
    const row = element(
      "li",
      { className: "layer", title: layer.description || layer.name },
      checkbox,
      label,
      element("span", { className: "status" }),
      zoom,
    );
    row.dataset.layerId = layer.id;
    if (!drawable) row.classList.add("inactive");
    checkbox.addEventListener("change", () => setVisible(layer.id, checkbox.checked));
    zoom.addEventListener("click", () => zoomTo(layer.id));
    return row;
  }

  async function loadTileset(entry) {
    if (entry.loading) return entry.loading;
    setStatus(entry, "loading");
    entry.loading = Cesium.Cesium3DTileset.fromUrl(entry.layer.tileset_url, {
      maximumScreenSpaceError: 16,
    })
      .then((tileset) => {
        tileset.show = entry.wanted !== false;
        scene.primitives.add(tileset);
        entry.tileset = tileset;
        byTileset.set(tileset, entry.layer.id);
        tileset.tileFailed.addEventListener((e) => {
          console.warn("twin: tile failed", e.url, e.message);
        });
        setStatus(entry, "ready");
        scene.requestRender();
        return tileset;
      })
      .catch((err) => {
        entry.error = String((err && err.message) || err);
        console.warn("twin: layer", entry.layer.id, "did not load:", entry.error);
        setStatus(entry, "error", entry.error);
        entry.loading = null; // showing it again tries again
        return null;
      });
    return entry.loading;
  }

  function setVisible(id, visible) {
    const entry = layers.get(id);
    if (!entry) return;
    entry.wanted = visible;
    if (entry.tileset) {
      entry.tileset.show = visible;
      scene.requestRender();
    } else if (visible) {
      loadTileset(entry);
    }
    if (!visible && selected && selected.layerId === id) closeInfo();
  }

  /** The home rectangle, widened westwards by the part of the view that the open layer panel
   * covers, so that the whole metropolis is seen beside the panel. */
  function homeView() {
    const width = scene.canvas.clientWidth;
    const panelBox = panel.getBoundingClientRect();
    const covered =
      panel.classList.contains("collapsed") || width < 800
        ? 0
        : Math.min(0.45, (panelBox.right - scene.canvas.getBoundingClientRect().left) / width);
    if (covered <= 0) return home;
    const span = (home.east - home.west) / (1 - covered);
    return new Cesium.Rectangle(home.east - span, home.south, home.east, home.north);
  }

  function flyTo(options) {
    twin.flying = true;
    return new Promise((resolve) => {
      viewer.camera.flyTo({
        ...options,
        complete: () => resolve(true),
        cancel: () => resolve(false),
      });
    }).finally(() => {
      twin.flying = false;
      scene.requestRender();
    });
  }

  /** Fly to a layer: its tileset when loaded, else its catalogued extent. */
  async function zoomTo(id, options) {
    const entry = layers.get(id);
    if (!entry) return false;
    const duration = options && options.duration !== undefined ? options.duration : 1.5;
    twin.flying = true;
    try {
      let tileset = entry.tileset;
      if (!tileset && entry.layer.kind === "tiles3d" && entry.layer.tileset_url) {
        const box = entry.row.querySelector("input");
        box.checked = true;
        entry.wanted = true;
        tileset = await loadTileset(entry);
      }
      if (tileset) {
        // A little above and back, so the layer is seen in its surroundings.
        const range = Math.max(tileset.boundingSphere.radius * 2.6, 150);
        const offset = new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-35), range);
        return await viewer.flyTo(tileset, { duration, offset });
      }
      const extent = entry.layer.extent_wgs84;
      if (extent) {
        return await flyTo({ destination: Cesium.Rectangle.fromDegrees(...extent), duration });
      }
      return false;
    } finally {
      twin.flying = false;
      scene.requestRender();
    }
  }

  async function fetchLayers() {
    const response = await fetch(api + "/layers", { headers: { Accept: "application/json" } });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        detail = body.detail || body.message || detail;
        if (typeof detail !== "string") detail = JSON.stringify(detail);
      } catch (_) {
        /* not JSON: keep the status text */
      }
      throw new Error(`HTTP ${response.status}${detail ? ": " + detail : ""}`);
    }
    const data = await response.json();
    if (!Array.isArray(data)) throw new Error("unexpected answer (not a list)");
    return data;
  }

  async function loadLayers() {
    showMessage("Loading layers…", "loading");
    count.textContent = "";
    let data;
    try {
      data = await fetchLayers();
    } catch (err) {
      twin.error = String((err && err.message) || err);
      const retry = element("button", { type: "button", className: "retry", textContent: "Retry" });
      retry.addEventListener("click", () => {
        twin.error = null;
        twin.ready = loadLayers();
      });
      showMessage(
        [
          element("strong", { textContent: "Could not load the layer list." }),
          element("span", { className: "detail", textContent: twin.error }),
          retry,
        ],
        "error",
      );
      console.warn("twin: layer list:", twin.error);
      return { layers: 0, error: twin.error };
    }
    list.textContent = "";
    layers.clear();
    count.textContent = data.length ? String(data.length) : "";
    if (!data.length) {
      showMessage(
        [
          element("strong", { textContent: "Empty scene." }),
          element("span", {
            className: "detail",
            textContent: "No layer is published yet. Run `twin demo` or import data.",
          }),
        ],
        "empty",
      );
      return { layers: 0, error: null };
    }
    showMessage(null);
    for (const layer of data) {
      const row = layerRow(layer);
      list.append(row);
      layers.set(layer.id, { layer, tileset: null, status: "off", error: null, row });
    }
    const requested = [];
    for (const entry of layers.values()) {
      if (entry.layer.kind === "tiles3d" && entry.layer.tileset_url) {
        requested.push(loadTileset(entry));
      }
    }
    await Promise.allSettled(requested);
    return { layers: data.length, error: null };
  }

  // ---------------------------------------------------------------- place names

  // The offline base imagery is too coarse to recognise the territory at metropolis scale:
  // the main towns are named so a room knows where it is looking.
  const PLACES = [
    ["Marseille", 5.3698, 43.2965, true],
    ["Aix-en-Provence", 5.4474, 43.5297, true],
    ["Aubagne", 5.5708, 43.2927],
    ["La Ciotat", 5.6047, 43.1748],
    ["Martigues", 5.0531, 43.4045],
    ["Marignane", 5.2145, 43.416],
    ["Vitrolles", 5.2486, 43.46],
    ["Gardanne", 5.4697, 43.4548],
    ["Salon-de-Provence", 5.0975, 43.6403],
    ["Istres", 4.9895, 43.5151],
    ["Pertuis", 5.5017, 43.6942],
  ];
  const places = new Cesium.CustomDataSource("places");
  const nearFar = new Cesium.DistanceDisplayCondition(4000, 600000);
  for (const [name, lon, lat, major] of PLACES) {
    places.entities.add({
      name,
      position: Cesium.Cartesian3.fromDegrees(lon, lat),
      point: {
        pixelSize: major ? 9 : 6,
        color: Cesium.Color.fromCssColorString(major ? "#38bdf8" : "#e0f2fe"),
        outlineColor: Cesium.Color.fromCssColorString("#05080d"),
        outlineWidth: 2,
        distanceDisplayCondition: nearFar,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
      label: {
        text: name,
        font: `${major ? 700 : 500} ${major ? 20 : 16}px system-ui, "Segoe UI", Roboto, sans-serif`,
        fillColor: Cesium.Color.WHITE,
        outlineColor: Cesium.Color.fromCssColorString("#05080d").withAlpha(0.85),
        outlineWidth: 4,
        style: Cesium.LabelStyle.FILL_AND_OUTLINE,
        verticalOrigin: Cesium.VerticalOrigin.BOTTOM,
        pixelOffset: new Cesium.Cartesian2(0, -8),
        distanceDisplayCondition: nearFar,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
    });
  }
  viewer.dataSources.add(places);
  const placesBox = $("places-toggle");
  placesBox.addEventListener("change", () => {
    places.show = placesBox.checked;
    scene.requestRender();
  });

  // ---------------------------------------------------------------- picking

  const infoPanel = $("info-panel");
  const infoBody = $("info-table").tBodies[0];
  let selected = null; // { feature, color, layerId }

  function unhighlight() {
    if (selected && selected.feature && selected.color) {
      try {
        selected.feature.color = selected.color;
      } catch (_) {
        /* the tile was unloaded meanwhile */
      }
    }
    selected = null;
  }

  function closeInfo() {
    unhighlight();
    infoPanel.hidden = true;
    scene.requestRender();
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") {
      return Number.isInteger(value) ? String(value) : value.toPrecision(8).replace(/\.?0+$/, "");
    }
    if (typeof value === "object") {
      try {
        return JSON.stringify(value);
      } catch (_) {
        return String(value);
      }
    }
    return String(value);
  }

  function showFeature(feature) {
    unhighlight();
    const tileset = feature.tileset || (feature.primitive && feature.primitive.tileset);
    const layerId = byTileset.get(tileset);
    const entry = layers.get(layerId);
    $("info-layer").textContent = entry ? entry.layer.name : "";
    const ids = (feature.getPropertyIds && feature.getPropertyIds()) || [];
    infoBody.textContent = "";
    for (const name of ids) {
      infoBody.append(
        element(
          "tr",
          null,
          element("th", { scope: "row", textContent: name }),
          element("td", { textContent: formatValue(feature.getProperty(name)) }),
        ),
      );
    }
    $("info-empty").hidden = ids.length > 0;
    $("info-table").hidden = ids.length === 0;
    try {
      selected = { feature, color: Cesium.Color.clone(feature.color), layerId };
      feature.color = Cesium.Color.fromCssColorString("#facc15");
    } catch (_) {
      selected = { feature, color: null, layerId };
    }
    infoPanel.hidden = false;
    scene.requestRender();
  }

  const handler = new Cesium.ScreenSpaceEventHandler(scene.canvas);
  handler.setInputAction((click) => {
    const picked = scene.pick(click.position);
    if (picked instanceof Cesium.Cesium3DTileFeature) {
      showFeature(picked);
    } else {
      closeInfo();
    }
  }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
  $("info-close").addEventListener("click", closeInfo);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !infoPanel.hidden) closeInfo();
  });

  // ---------------------------------------------------------------- panel collapse

  const panel = $("layer-panel");
  const toggle = $("layers-toggle");
  function setPanelOpen(open) {
    panel.classList.toggle("collapsed", !open);
    toggle.setAttribute("aria-expanded", String(open));
    toggle.classList.toggle("active", open);
  }
  toggle.addEventListener("click", () => setPanelOpen(panel.classList.contains("collapsed")));
  $("layer-panel-close").addEventListener("click", () => setPanelOpen(false));
  // Small screens start with the map, not the panel.
  setPanelOpen(!window.matchMedia("(max-width: 640px)").matches);

  // The home button goes to the same view as the first one.
  viewer.homeButton.viewModel.command.beforeExecute.addEventListener((e) => {
    e.cancel = true;
    twin.home();
  });
  viewer.camera.setView({ destination: homeView() });

  twin.ready = loadLayers();
})();

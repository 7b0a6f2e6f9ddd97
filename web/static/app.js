/* twin viewer: CesiumJS served by the app itself, the layer catalog from /api/v1/layers.
 *
 * Nothing here talks to a host other than the one that served the page: no Cesium ion token,
 * no geocoder, no CDN; the base imagery is the Natural Earth II pyramid shipped with CesiumJS
 * and the terrain is the plain ellipsoid.
 *
 * Tests (and the console) read `window.twin`:
 *   viewer:  the Cesium.Viewer (null when WebGL is unavailable)
 *   layers:  Map(id -> { layer, tileset, status, error, pc, vector }), `layer` as
 *            /api/v1/layers gives it; `pc` (point clouds): colour mode, hidden classes, point
 *            size, the CustomShader; `vector` (buildings): the attribute coloured by, if any
 *   ready:   resolves once the layer list is in and the first tilesets have been requested
 *            (it never rejects: failures are shown in the panel and kept in `twin.error`)
 *   zoomTo(id, {duration}), home(duration): camera flights (promises); `flying` while one runs
 *   onPick(picked, position): set by other modules (sensors.js), asked first on every click;
 *            it answers true when the click was for it
 */
(function () {
  "use strict";

  const { element } = window.TwinDom;

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

  // Models are lit by a light that follows the camera, from its upper left, rather than by the
  // sun of the clock's time: buildings look the same at night and in screenshots.
  const light = new Cesium.DirectionalLight({
    direction: new Cesium.Cartesian3(0, 0, -1),
    intensity: 2.0, // as bright as CesiumJS's sun
  });
  scene.light = light;
  const lightScratch = new Cesium.Cartesian3();
  scene.preRender.addEventListener(() => {
    const { directionWC, rightWC, upWC } = scene.camera;
    const C3 = Cesium.Cartesian3;
    const d = C3.clone(directionWC, light.direction);
    C3.add(d, C3.multiplyByScalar(rightWC, 0.35, lightScratch), d);
    C3.subtract(d, C3.multiplyByScalar(upWC, 0.6, lightScratch), d);
    C3.normalize(d, d);
  });

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
    // The globe is the bare ellipsoid under Natural Earth II (imagery level 5 at most): globe
    // tiles deeper than level 9 (about 40 km) add no detail, only tiles for the CPU to draw,
    // dozens of them in a street-level view of a point cloud. Stop refining there.
    const terrain = scene.terrainProvider;
    const levelError = terrain.getLevelMaximumGeometricError.bind(terrain);
    terrain.getLevelMaximumGeometricError = (level) => (level >= 9 ? 0 : levelError(level));
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
    /** Read the layer list again (after a sign-in or an import); resolves like `ready`. */
    reload() {
      twin.ready = loadLayers();
      return twin.ready;
    },
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

  function setStatus(entry, status, detail) {
    entry.status = status;
    const badge = entry.row.querySelector(".status");
    badge.className = "status " + status;
    badge.textContent = { loading: "loading…", ready: "", error: "failed", off: "" }[status] || "";
    badge.title = detail || "";
    entry.row.classList.toggle("failed", status === "error");
  }

  const KINDS = {
    tiles3d: "3D Tiles",
    pointcloud: "Point cloud",
    vector: "Buildings",
    mesh: "Mesh",
    terrain: "Terrain",
    imagery: "Imagery",
  };
  const isGround = (layer) => window.TwinGround && TwinGround.kinds.has(layer.kind);
  const numberFormat = new Intl.NumberFormat("en-US");

  const DRAPED = { polygon: "Areas on the ground", line: "Lines on the ground", point: "Points" };

  function kindLabel(layer) {
    if (layer.kind === "vector" && layer.draped) return DRAPED[layer.geometry] || "On the ground";
    return KINDS[layer.kind] || layer.kind;
  }

  /** "Point cloud · 60,653 pts · v1", "Buildings · 10,381 · v1", "3D Tiles · v1". */
  function layerMeta(layer, drawable) {
    const meta = [kindLabel(layer)];
    if (layer.point_count) meta.push(numberFormat.format(layer.point_count) + " pts");
    else if (layer.feature_count) meta.push(numberFormat.format(layer.feature_count));
    else if (layer.triangle_count && layer.kind === "mesh") {
      meta.push(numberFormat.format(layer.triangle_count) + " triangles");
    }
    if (layer.version) meta.push("v" + layer.version);
    if (!drawable) meta.push(layer.status === "empty" ? "no data yet" : "not drawable here");
    return meta.join(" · ");
  }

  function layerRow(layer) {
    const drawable = !!layer.tileset_url;
    const id = "layer-" + layer.id;
    const checkbox = element("input", {
      type: "checkbox",
      id,
      checked: drawable,
      disabled: !drawable,
    });
    checkbox.dataset.layerId = layer.id;
    const label = element(
      "label",
      { htmlFor: id, className: "layer-label" },
      element("span", { className: "layer-name", textContent: layer.name }),
      element("span", { className: "layer-meta", textContent: layerMeta(layer, drawable) }),
    );
    const zoom = element("button", {
      type: "button",
      className: "zoom",
      textContent: "Zoom to",
      title: "Fly to " + layer.name,
      disabled: !drawable && !layer.extent_wgs84,
    });
    zoom.setAttribute("aria-label", "Zoom to " + layer.name);
    const styleButton = styleable(layer) && drawable ? styleToggle(layer) : null;
    const row = element(
      "li",
      { className: `layer kind-${layer.kind}`, title: layer.description || layer.name },
      checkbox,
      label,
      element("span", { className: "status" }),
      styleButton || element("span", { className: "style-spacer" }),
      zoom,
    );
    row.dataset.layerId = layer.id;
    row.dataset.kind = layer.kind;
    if (!drawable) row.classList.add("inactive");
    checkbox.addEventListener("change", () => setVisible(layer.id, checkbox.checked));
    zoom.addEventListener("click", () => zoomTo(layer.id));
    return row;
  }

  function styleable(layer) {
    return layer.kind === "pointcloud" || layer.kind === "vector";
  }

  const PALETTE_ICON =
    "M12 3a9 9 0 0 0 0 18c.8 0 1.5-.7 1.5-1.5 0-.4-.2-.7-.4-1-.2-.3-.4-.6-.4-1 0-.8.7-1.5 " +
    "1.5-1.5H16a5 5 0 0 0 5-5c0-4.4-4-8-9-8Zm-5.5 9a1.5 1.5 0 1 1 0-3 1.5 1.5 0 0 1 0 3Zm3-4a1.5 " +
    "1.5 0 1 1 0-3 1.5 1.5 0 0 1 0 3Zm5 0a1.5 1.5 0 1 1 0-3 1.5 1.5 0 0 1 0 3Zm3 4a1.5 1.5 0 1 1 " +
    "0-3 1.5 1.5 0 0 1 0 3Z";

  function styleToggle(layer) {
    const button = element("button", {
      type: "button",
      className: "style-toggle icon-button small",
      title: "Style: colours, filters",
    });
    button.setAttribute("aria-label", "Style " + layer.name);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "style-" + layer.id);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", PALETTE_ICON);
    svg.append(path);
    button.append(svg);
    button.addEventListener("click", () => toggleStylePanel(layer.id));
    return button;
  }

  function toggleStylePanel(id, open) {
    const entry = layers.get(id);
    if (!entry || !entry.stylePanel) return;
    const show = open === undefined ? entry.stylePanel.hidden : open;
    entry.stylePanel.hidden = !show;
    const button = entry.row.querySelector(".style-toggle");
    button.setAttribute("aria-expanded", String(show));
    button.classList.toggle("active", show);
    entry.row.classList.toggle("expanded", show);
  }

  // ---------------------------------------------------------------- point-cloud styling

  const S = window.TwinStyles;

  function hasColour(layer) {
    return (layer.attributes || []).some(
      (a) => a && (a.attribute === "COLOR_0" || /^(color|colour|rgb)$/i.test(a.name || "")),
    );
  }

  function propertyNames(layer) {
    return (layer.attributes || [])
      .filter((a) => a && a.name && a.attribute !== "COLOR_0")
      .map((a) => a.name);
  }

  /** Style state of a point-cloud layer; the shader is made once its tileset is in. */
  function pointCloudState(layer) {
    const properties = propertyNames(layer);
    const colour = hasColour(layer);
    return {
      properties,
      hasColour: colour,
      hasClass: properties.includes("classification"),
      hasIntensity: properties.includes("intensity"),
      mode: colour ? "rgb" : "height",
      size: 3,
      hidden: new Set(),
      shader: null,
      height: null, // { originWC, upWC, min, max, labels: [lo, hi], caption }
      intensity: [0, 4000],
      sampled: false,
    };
  }

  const segmentedModes = [
    ["rgb", "RGB", "The colours captured with the points"],
    ["classification", "Class", "ASPRS / IGN LiDAR HD class of each point"],
    ["height", "Height", "A colour ramp over the layer's heights"],
    ["intensity", "Intensity", "Return pulse strength, dark to bright"],
  ];

  function pointCloudPanel(entry) {
    const { layer, pc } = entry;
    const id = layer.id;
    const panelEl = element("div", { className: "layer-style", id: "style-" + id, hidden: true });

    // Colour mode: a row of radio buttons.
    const modes = element("div", { className: "segmented", role: "radiogroup" });
    modes.setAttribute("aria-label", "Colour points by");
    for (const [value, text, title] of segmentedModes) {
      const offered =
        value === "height" ||
        (value === "rgb" && pc.hasColour) ||
        (value === "classification" && pc.hasClass) ||
        (value === "intensity" && pc.hasIntensity);
      if (value !== "rgb" && !offered) continue; // RGB is kept hidden: a tile may reveal colour
      const inputId = `colour-${id}-${value}`;
      const input = element("input", {
        type: "radio",
        name: "colour-" + id,
        id: inputId,
        value,
        checked: pc.mode === value,
      });
      input.addEventListener("change", () => input.checked && setPointMode(entry, value));
      const option = element(
        "span",
        { className: "segment", title, hidden: !offered },
        input,
        element("label", { htmlFor: inputId, textContent: text }),
      );
      option.dataset.mode = value;
      modes.append(option);
    }
    const legend = element("div", { className: "legend", role: "note" });

    // Point size.
    const sizeId = "size-" + id;
    const size = element("input", { type: "range", id: sizeId, min: 1, max: 8, step: 1 });
    size.value = String(pc.size);
    const sizeOut = element("output", { className: "size-value", textContent: pc.size + " px" });
    size.addEventListener("input", () => {
      pc.size = Number(size.value);
      sizeOut.textContent = pc.size + " px";
      if (entry.tileset) {
        entry.tileset.pointCloudShading.maximumAttenuation = pc.size;
        scene.requestRender();
      }
    });
    const sizeRow = element(
      "div",
      { className: "style-row" },
      element("label", { htmlFor: sizeId, className: "style-label", textContent: "Point size" }),
      size,
      sizeOut,
    );

    panelEl.append(
      element(
        "div",
        { className: "style-row" },
        element("span", { className: "style-label", textContent: "Colour" }),
        modes,
      ),
      legend,
      sizeRow,
    );
    if (pc.hasClass) panelEl.append(classFilter(entry));
    entry.legend = legend;
    updatePointLegend(entry);
    return panelEl;
  }

  function classFilter(entry) {
    const { layer, pc } = entry;
    const box = element("fieldset", { className: "classes" });
    const head = element("legend", null, element("span", { textContent: "Classes shown" }));
    const list = element("ul", { className: "class-list" });
    for (const info of [...S.CLASSES, S.OTHER]) {
      const key = info.code === null ? "other" : String(info.code);
      const inputId = `class-${layer.id}-${key}`;
      const input = element("input", { type: "checkbox", id: inputId, checked: true });
      input.dataset.code = key;
      input.addEventListener("change", () => {
        const code = info.code;
        if (input.checked) pc.hidden.delete(code);
        else pc.hidden.add(code);
        applyClassFilter(entry);
      });
      const swatch = element("span", { className: "swatch" });
      swatch.style.background = info.color;
      list.append(
        element(
          "li",
          { title: `${info.en} (${info.fr})${info.code === null ? "" : " · code " + info.code}` },
          input,
          element(
            "label",
            { htmlFor: inputId },
            swatch,
            element("span", { className: "class-en", textContent: info.en }),
            element("span", { className: "class-fr", textContent: info.fr }),
            element("span", {
              className: "class-code",
              textContent: info.code === null ? "…" : String(info.code),
            }),
          ),
        ),
      );
    }
    const all = (checked) => {
      for (const input of list.querySelectorAll("input")) {
        input.checked = checked;
        const code = input.dataset.code === "other" ? null : Number(input.dataset.code);
        if (checked) pc.hidden.delete(code);
        else pc.hidden.add(code);
      }
      applyClassFilter(entry);
    };
    const link = (text) =>
      element("button", { type: "button", className: "link", textContent: text });
    const allButton = link("all");
    const noneButton = link("none");
    allButton.addEventListener("click", () => all(true));
    noneButton.addEventListener("click", () => all(false));
    head.append(element("span", { className: "class-actions" }, allButton, noneButton));
    box.append(head, list);
    return box;
  }

  function setPointMode(entry, mode) {
    const pc = entry.pc;
    pc.mode = mode;
    if (pc.shader) {
      pc.shader.setUniform("u_mode", S.MODES[mode]);
      if (mode === "height") updateHeightUniforms(entry);
    }
    updatePointLegend(entry);
    if (entry.stylePanel) {
      const input = entry.stylePanel.querySelector(`input[value="${mode}"]`);
      if (input) input.checked = true;
    }
    scene.requestRender();
  }

  function applyClassFilter(entry) {
    const pc = entry.pc;
    if (!pc.shader) return;
    S.showFlags(pc.hidden).forEach((v, k) => pc.shader.setUniform("u_show" + k, v));
    scene.requestRender();
  }

  function formatHeight(v, span) {
    return (span < 30 ? v.toFixed(1) : Math.round(v).toString()) + " m";
  }

  function updatePointLegend(entry) {
    const { pc, legend } = entry;
    if (!legend) return;
    legend.textContent = "";
    legend.dataset.mode = pc.mode;
    if (entry.stylePanel) {
      entry.stylePanel.classList.toggle("by-class", pc.mode === "classification");
    }
    const ramp = (stops, lo, hi, caption) => {
      const bar = element("div", { className: "ramp" });
      bar.style.background = `linear-gradient(90deg, ${stops.join(", ")})`;
      legend.append(
        bar,
        element(
          "div",
          { className: "ramp-labels" },
          element("span", { textContent: lo }),
          element("span", { className: "caption", textContent: caption }),
          element("span", { textContent: hi }),
        ),
      );
    };
    if (pc.mode === "height") {
      const h = pc.height;
      if (h) ramp(S.HEIGHT_RAMP, h.labels[0], h.labels[1], h.caption);
      else ramp(S.HEIGHT_RAMP, "low", "high", "height");
    } else if (pc.mode === "intensity") {
      const [lo, hi] = pc.intensity.map((v) => numberFormat.format(Math.round(v)));
      ramp(S.INTENSITY_RAMP, lo, hi, "intensity");
    } else if (pc.mode === "classification") {
      legend.append(
        element("p", { className: "hint", textContent: "Colours by class: see the list below." }),
      );
    } else {
      legend.append(element("p", { className: "hint", textContent: "Colours as captured (RGB)." }));
    }
  }

  /** Where heights are measured from (the tileset's centre, along the ellipsoid's normal there)
   * and the span of the root bounding volume along it: the ends of the height ramp. */
  function heightFrame(entry) {
    const tileset = entry.tileset;
    const originWC = Cesium.Cartesian3.clone(tileset.boundingSphere.center);
    const upWC = Cesium.Ellipsoid.WGS84.geodeticSurfaceNormal(originWC, new Cesium.Cartesian3());
    let min = -tileset.boundingSphere.radius;
    let max = tileset.boundingSphere.radius;
    const volume = tileset.root && tileset.root.boundingVolume;
    const box = volume && volume.boundingVolume;
    if (box instanceof Cesium.OrientedBoundingBox) {
      const rel = Cesium.Cartesian3.subtract(box.center, originWC, new Cesium.Cartesian3());
      const c = Cesium.Cartesian3.dot(rel, upWC);
      let extent = 0;
      for (let k = 0; k < 3; k++) {
        const axis = Cesium.Matrix3.getColumn(box.halfAxes, k, new Cesium.Cartesian3());
        extent += Math.abs(Cesium.Cartesian3.dot(axis, upWC));
      }
      [min, max] = [c - extent, c + extent];
    }
    const src = entry.layer.extent_source;
    let labels;
    let caption;
    if (Array.isArray(src) && src.length === 6 && src[5] > src[2]) {
      // The source's own heights (e.g. NGF-IGN69 altitudes): what people know their town by.
      labels = [formatHeight(src[2], src[5] - src[2]), formatHeight(src[5], src[5] - src[2])];
      caption = "height (source datum)";
    } else {
      const h0 = Cesium.Cartographic.fromCartesian(originWC).height;
      labels = [formatHeight(h0 + min, max - min), formatHeight(h0 + max, max - min)];
      caption = "height (ellipsoidal)";
    }
    return { originWC, upWC, min, max, labels, caption };
  }

  const scratchEC = new Cesium.Cartesian3();
  function updateHeightUniforms(entry) {
    const { pc, tileset } = entry;
    if (!pc.shader || !pc.height || !tileset) return;
    const view = viewer.camera.viewMatrix;
    pc.shader.setUniform(
      "u_originEC",
      Cesium.Matrix4.multiplyByPoint(view, pc.height.originWC, scratchEC),
    );
    const up = new Cesium.Cartesian3();
    Cesium.Matrix4.multiplyByPointAsVector(view, pc.height.upWC, up);
    pc.shader.setUniform("u_upEC", Cesium.Cartesian3.normalize(up, up));
  }

  // Eye coordinates change with every camera move: the height ramp's frame follows.
  scene.preRender.addEventListener(() => {
    for (const entry of layers.values()) {
      if (entry.pc && entry.pc.mode === "height" && entry.tileset && entry.tileset.show) {
        updateHeightUniforms(entry);
      }
    }
  });

  /** Set up a point-cloud tileset: the shader, attenuated point sizes, the height frame. */
  function stylePointCloud(entry, tileset) {
    const pc = entry.pc;
    tileset.pointCloudShading = new Cesium.PointCloudShading({
      attenuation: true,
      maximumAttenuation: pc.size,
      eyeDomeLighting: true, // depth cues for points that have no normals to be lit by
    });
    pc.shader = S.pointCloudShader(pc.properties);
    pc.height = heightFrame(entry);
    pc.shader.setUniform(
      "u_heightRange",
      new Cesium.Cartesian2(pc.height.min, pc.height.max),
    );
    pc.shader.setUniform("u_intensityRange", new Cesium.Cartesian2(...pc.intensity));
    pc.shader.setUniform("u_mode", S.MODES[pc.mode]);
    S.showFlags(pc.hidden).forEach((v, k) => pc.shader.setUniform("u_show" + k, v));
    tileset.customShader = pc.shader;
    updateHeightUniforms(entry);
    updatePointLegend(entry);
    // The first tile in tells what the layer holds: colour, the range of intensities.
    tileset.tileLoad.addEventListener((tile) => {
      if (pc.sampled || !tile.content || !tile.content.url) return;
      pc.sampled = true;
      pointTile(tile.content.url)
        .then((sets) => learnFromTile(entry, sets))
        .catch((err) => console.warn("twin: could not read", tile.content.url, String(err)));
    });
  }

  function learnFromTile(entry, sets) {
    const pc = entry.pc;
    if (!pc.hasColour && sets.some((s) => s.values.color)) {
      pc.hasColour = true;
      const option = entry.stylePanel && entry.stylePanel.querySelector('[data-mode="rgb"]');
      if (option) option.hidden = false;
    }
    if (pc.hasIntensity) {
      const q = window.TwinGlb.quantiles(sets, "intensity", [0.05, 0.95]);
      if (q && q[1] > q[0]) {
        pc.intensity = q;
        pc.shader.setUniform("u_intensityRange", new Cesium.Cartesian2(q[0], q[1]));
        if (pc.mode === "intensity") scene.requestRender();
      }
    }
    updatePointLegend(entry);
  }

  // Parsed point tiles, for picking (a few: the user clicks around one place).
  const pointTiles = new Map();
  function pointTile(url) {
    if (!pointTiles.has(url)) {
      const promise = window.TwinGlb.load(url).then((glb) => window.TwinGlb.pointSets(glb));
      promise.catch(() => pointTiles.delete(url));
      pointTiles.set(url, promise);
      while (pointTiles.size > 8) pointTiles.delete(pointTiles.keys().next().value);
    }
    return pointTiles.get(url);
  }

  // ---------------------------------------------------------------- building styling

  function vectorState(layer) {
    const attributes = S.numericAttributes(layer);
    return { attributes, attribute: null, breaks: null };
  }

  function vectorPanel(entry) {
    const { layer, vector } = entry;
    const panelEl = element("div", { className: "layer-style", id: "style-" + layer.id });
    panelEl.hidden = true;
    const selectId = "colour-by-" + layer.id;
    const select = element("select", { id: selectId });
    select.append(element("option", { value: "", textContent: "Plain (white)" }));
    for (const a of vector.attributes) {
      select.append(
        element("option", { value: a.name, textContent: a.height ? `${a.name} (height)` : a.name }),
      );
    }
    select.disabled = vector.attributes.length === 0;
    select.addEventListener("change", () => setVectorColour(entry, select.value || null));
    const legend = element("div", { className: "legend" });
    entry.legend = legend;
    panelEl.append(
      element(
        "div",
        { className: "style-row" },
        element("label", { htmlFor: selectId, className: "style-label", textContent: "Colour by" }),
        select,
      ),
      legend,
    );
    updateVectorLegend(entry);
    return panelEl;
  }

  /** The values of one property over the features of the tiles loaded now. */
  function loadedValues(tileset, id) {
    const values = [];
    const visit = (tile) => {
      const content = tile.contentReady ? tile.content : null;
      for (let i = 0; content && i < content.featuresLength; i++) {
        const v = content.getFeature(i).getProperty(id);
        if (typeof v === "number" && Number.isFinite(v)) values.push(v);
      }
      for (const child of tile.children || []) visit(child);
    };
    if (tileset && tileset.root) visit(tileset.root);
    return values;
  }

  function setVectorColour(entry, name) {
    const vector = entry.vector;
    const attribute = vector.attributes.find((a) => a.name === name) || null;
    vector.attribute = attribute;
    vector.breaks = attribute
      ? S.breaksFor(attribute, attribute.height ? null : loadedValues(entry.tileset, attribute.id))
      : null;
    if (selected && selected.layerId === entry.layer.id) closeInfo();
    if (entry.tileset) {
      entry.tileset.style = S.buildingStyle(attribute, vector.breaks, entry.layer.draped);
    }
    updateVectorLegend(entry);
    scene.requestRender();
  }

  function updateVectorLegend(entry) {
    const { vector, legend } = entry;
    if (!legend) return;
    legend.textContent = "";
    if (!vector.attribute) {
      const text = vector.attributes.length
        ? "Click a building to see its attributes."
        : "Click a building to see its attributes (no numeric attribute to colour by).";
      legend.append(element("p", { className: "hint", textContent: text }));
      return;
    }
    const unit = vector.attribute.height ? " m" : "";
    const list = element("ul", { className: "choropleth" });
    for (const item of S.choroplethLegend(vector.breaks, unit)) {
      const swatch = element("span", { className: "swatch" });
      swatch.style.background = item.color;
      list.append(element("li", null, swatch, element("span", { textContent: item.label })));
    }
    list.append(
      element(
        "li",
        null,
        Object.assign(element("span", { className: "swatch" }), { style: "background:#9ca3af" }),
        element("span", { textContent: "no value" }),
      ),
    );
    legend.append(list);
  }

  // ---------------------------------------------------------------- loading and showing

  function tilesetOptions(layer) {
    if (layer.kind === "pointcloud") {
      // A point tile's geometricError is its point spacing: refine once that spacing is more
      // than 2 px on screen, so that points (3 px by default) leave no gaps.
      return { maximumScreenSpaceError: 2 };
    }
    if (layer.kind === "vector" && layer.draped) {
      // Closed volumes around the ground: drawn as classification, so they drape over the
      // globe and over other 3D Tiles instead of standing as walls.
      return { maximumScreenSpaceError: 16, classificationType: Cesium.ClassificationType.BOTH };
    }
    return { maximumScreenSpaceError: 16 };
  }

  async function loadTileset(entry) {
    if (entry.loading) return entry.loading;
    setStatus(entry, "loading");
    // Terrain and imagery are not 3D Tiles: ground.js gives a handle with the same `show`,
    // `boundingSphere` and `destroy()`.
    const loading = isGround(entry.layer)
      ? TwinGround.load(viewer, entry.layer)
      : Cesium.Cesium3DTileset.fromUrl(
          TwinAuth.tileResource(entry.layer, entry.layer.tileset_url),
          tilesetOptions(entry.layer),
        );
    entry.loading = loading
      .then((tileset) => {
        if (layers.get(entry.layer.id) !== entry) {
          // The list was read again meanwhile: this entry is gone.
          tileset.destroy();
          return null;
        }
        tileset.show = entry.wanted !== false;
        entry.tileset = tileset;
        if (isGround(entry.layer)) {
          // Showing one terrain hides the others (one ground at a time): keep boxes in step.
          tileset.onchange = (shown) => {
            entry.row.querySelector(":scope > input").checked = shown;
            entry.wanted = shown;
          };
          setStatus(entry, "ready");
          return tileset;
        }
        if (entry.pc) stylePointCloud(entry, tileset);
        if (entry.vector) {
          tileset.style = S.buildingStyle(
            entry.vector.attribute,
            entry.vector.breaks,
            entry.layer.draped,
          );
        }
        scene.primitives.add(tileset);
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

  /** Pixels of the view's left side that the open layer panel covers (0 when collapsed). */
  function panelInset() {
    const width = scene.canvas.clientWidth;
    if (panel.classList.contains("collapsed") || width < 800) return 0;
    const right = panel.getBoundingClientRect().right - scene.canvas.getBoundingClientRect().left;
    return Math.max(0, Math.min(0.45 * width, right));
  }

  /** The home rectangle, widened westwards by the part of the view that the open layer panel
   * covers, so that the whole metropolis is seen beside the panel. */
  function homeView() {
    const covered = panelInset() / Math.max(1, scene.canvas.clientWidth);
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

  /** Fly to look at a bounding sphere from `offset`, the sphere centred in the part of the view
   * beside the layer panel rather than behind it. */
  function flyToSphere(sphere, offset, duration) {
    const inset = panelInset();
    let center = sphere.center;
    if (inset > 0) {
      const width = scene.canvas.clientWidth;
      const height = Math.max(1, scene.canvas.clientHeight);
      const frustum = viewer.camera.frustum;
      const aspect = width / height;
      const fovx = aspect >= 1 ? frustum.fov : 2 * Math.atan(Math.tan(frustum.fov / 2) * aspect);
      const metresPerPixel = (2 * offset.range * Math.tan(fovx / 2)) / width;
      const enu = Cesium.Transforms.eastNorthUpToFixedFrame(center);
      const east = Cesium.Matrix4.getColumn(enu, 0, new Cesium.Cartesian4());
      const north = Cesium.Matrix4.getColumn(enu, 1, new Cesium.Cartesian4());
      const h = offset.heading;
      const right = new Cesium.Cartesian3(
        east.x * Math.cos(h) - north.x * Math.sin(h),
        east.y * Math.cos(h) - north.y * Math.sin(h),
        east.z * Math.cos(h) - north.z * Math.sin(h),
      );
      const shift = Cesium.Cartesian3.multiplyByScalar(right, (inset / 2) * metresPerPixel, right);
      center = Cesium.Cartesian3.subtract(center, shift, new Cesium.Cartesian3());
    }
    return new Promise((resolve) => {
      viewer.camera.flyToBoundingSphere(new Cesium.BoundingSphere(center, sphere.radius), {
        offset,
        duration,
        complete: () => resolve(true),
        cancel: () => resolve(false),
      });
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
      if (!tileset && entry.layer.tileset_url) {
        const box = entry.row.querySelector(":scope > input");
        box.checked = true;
        entry.wanted = true;
        tileset = await loadTileset(entry);
      }
      if (tileset) {
        if (!tileset.show) {
          entry.row.querySelector(":scope > input").checked = true;
          setVisible(id, true);
        }
        // A little above and back, so the layer is seen in its surroundings; small point
        // clouds and building blocks closer than the samples, to see them point by point.
        const radius = tileset.boundingSphere.radius;
        const close = ["pointcloud", "vector", "mesh", "terrain", "imagery"].includes(
          entry.layer.kind,
        );
        const range = close ? Math.max(radius * 2.8, 60) : Math.max(radius * 2.6, 150);
        const heading = close ? Cesium.Math.toRadians(20) : 0;
        const pitch = Cesium.Math.toRadians(close ? -38 : -35);
        const offset = new Cesium.HeadingPitchRange(heading, pitch, range);
        return await flyToSphere(tileset.boundingSphere, offset, duration);
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
    // Signed-in staff (see staff.js) also see the layers that are not public.
    const auth = window.TwinAuth;
    const headers = auth ? auth.headers() : { Accept: "application/json" };
    let response = await fetch(api + "/layers", { headers });
    if (response.status === 401 && headers.Authorization) {
      // An expired token: the public list is still there.
      response = await fetch(api + "/layers", { headers: { Accept: "application/json" } });
    }
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
    // Read again (after a sign-in, an import): tilesets of unchanged layers are kept as they are
    // shown, the others leave the scene.
    const previous = new Map(layers);
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
      const entry = { layer, tileset: null, status: "off", error: null, row, pc: null };
      entry.vector = null;
      if (layer.tileset_url && layer.kind === "pointcloud") {
        entry.pc = pointCloudState(layer);
        entry.stylePanel = pointCloudPanel(entry);
      } else if (layer.tileset_url && layer.kind === "vector") {
        entry.vector = vectorState(layer);
        entry.stylePanel = vectorPanel(entry);
      }
      if (entry.stylePanel) row.append(entry.stylePanel);
      layers.set(layer.id, entry);
      const old = previous.get(layer.id);
      if (old && old.tileset && old.layer.tileset_url === layer.tileset_url) {
        previous.delete(layer.id);
        byTileset.set(old.tileset, layer.id);
        Object.assign(entry, { tileset: old.tileset, wanted: old.wanted, loading: null });
        entry.loading = Promise.resolve(old.tileset);
        row.querySelector(":scope > input").checked = old.tileset.show;
        if (entry.pc) stylePointCloud(entry, old.tileset);
        if (entry.vector) {
          old.tileset.style = S.buildingStyle(
            entry.vector.attribute,
            entry.vector.breaks,
            entry.layer.draped,
          );
        }
        setStatus(entry, "ready");
      }
    }
    for (const [id, old] of previous) {
      if (selected && selected.layerId === id) closeInfo();
      if (old.tileset) {
        byTileset.delete(old.tileset);
        if (isGround(old.layer)) old.tileset.destroy();
        else scene.primitives.remove(old.tileset); // destroys it
      }
    }
    // One ground at a time: the newest terrain layer is the scene's ground, the others wait.
    const terrains = [...layers.values()].filter((e) => e.layer.kind === "terrain");
    const ground = terrains.reduce((a, b) => (b.layer.id > a.layer.id ? b : a), terrains[0]);
    for (const entry of terrains) {
      if (entry !== ground && entry.wanted === undefined) {
        entry.wanted = false;
        entry.row.querySelector(":scope > input").checked = false;
      }
    }
    const requested = [];
    for (const entry of layers.values()) {
      if (entry.layer.tileset_url && !entry.tileset) requested.push(loadTileset(entry));
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
  let selected = null; // { feature, color, layerId, marker }
  let pickCount = 0; // a later click wins over a point pick still reading its tile

  // The picked point, drawn over everything (a point is too small to be highlighted in place).
  const marker = viewer.entities.add({
    show: false,
    position: Cesium.Cartesian3.ZERO,
    point: {
      pixelSize: 12,
      color: Cesium.Color.fromCssColorString("#facc15"),
      outlineColor: Cesium.Color.fromCssColorString("#05080d"),
      outlineWidth: 2,
      disableDepthTestDistance: Number.POSITIVE_INFINITY,
    },
  });

  function unhighlight() {
    if (selected && selected.feature && selected.color) {
      try {
        selected.feature.color = selected.color;
      } catch (_) {
        /* the tile was unloaded meanwhile */
      }
    }
    marker.show = false;
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

  /** Fill the info panel: a title, the layer's name, and [name, value] rows. */
  function showInfo(title, entry, rows) {
    $("info-title").textContent = title;
    $("info-layer").textContent = entry ? entry.layer.name : "";
    infoBody.textContent = "";
    for (const [name, value] of rows) {
      const row = element(
        "tr",
        null,
        element("th", { scope: "row", textContent: name }),
        element("td", { textContent: value }),
      );
      row.dataset.name = name;
      infoBody.append(row);
    }
    $("info-empty").hidden = rows.length > 0;
    $("info-table").hidden = rows.length === 0;
    infoPanel.hidden = false;
    scene.requestRender();
  }

  function showFeature(feature) {
    unhighlight();
    const tileset = feature.tileset || (feature.primitive && feature.primitive.tileset);
    const layerId = byTileset.get(tileset);
    const entry = layers.get(layerId);
    const ids = (feature.getPropertyIds && feature.getPropertyIds()) || [];
    const title = entry && entry.layer.kind === "vector" ? "Building" : "Feature";
    showInfo(
      title,
      entry,
      ids.map((name) => [name, formatValue(feature.getProperty(name))]),
    );
    try {
      selected = { feature, color: Cesium.Color.clone(feature.color), layerId };
      feature.color = Cesium.Color.fromCssColorString("#facc15");
    } catch (_) {
      selected = { feature, color: null, layerId };
    }
    scene.requestRender();
  }

  /**
   * Point clouds have no per-point features in CesiumJS, and its metadata picking reads property
   * textures only (not the property attributes the point tiles carry). So: the depth buffer
   * gives the clicked position, the tile's .glb (read again, from the browser's cache) the
   * nearest shown point and its attributes.
   */
  async function pickPoint(entry, content, position) {
    const count = ++pickCount;
    const world = scene.pickPositionSupported ? scene.pickPosition(position) : undefined;
    if (!world || !content.url || !content.tile) return false;
    const sets = await pointTile(content.url);
    if (count !== pickCount) return true; // another click came meanwhile
    const hidden = entry.pc.hidden;
    const known = new Set(S.CLASSES.map((c) => c.code));
    const accept = (set, i) => {
      const values = set.values.classification;
      if (!values || hidden.size === 0) return true;
      const code = values[i];
      return !hidden.has(known.has(code) ? code : null);
    };
    const hit = window.TwinGlb.nearestPoint(sets, content.tile.computedTransform, world, accept);
    const pixel = viewer.camera.getPixelSize(
      new Cesium.BoundingSphere(world, 0),
      scene.drawingBufferWidth,
      scene.drawingBufferHeight,
    );
    if (!hit || hit.distance > Math.max(1, 6 * pixel)) return false;
    showPoint(entry, hit);
    return true;
  }

  function showPoint(entry, hit) {
    unhighlight();
    const values = hit.set.values;
    const rows = [];
    const at = (name) => (values[name] ? values[name][hit.index] : undefined);
    for (const [name, array] of Object.entries(values)) {
      const value = array[hit.index];
      if (name === "color" || name === "number_of_returns") continue;
      if (name === "classification") {
        const info = S.classInfo(value);
        rows.push([name, `${value} · ${info.en} (${info.fr})`]);
      } else if (name === "return_number" && at("number_of_returns") !== undefined) {
        rows.push(["return", `${value} of ${at("number_of_returns")}`]);
      } else {
        rows.push([name.replace(/_/g, " "), formatValue(value)]);
      }
    }
    if (values.color) {
      const rgb = [0, 1, 2].map((c) => Math.round(values.color[hit.index * 3 + c] * 255));
      rows.push(["color", `rgb(${rgb.join(", ")})`]);
    }
    const where = Cesium.Cartographic.fromCartesian(hit.world);
    rows.push(["height (ellipsoidal)", `${where.height.toFixed(2)} m`]);
    rows.push([
      "longitude, latitude",
      `${Cesium.Math.toDegrees(where.longitude).toFixed(6)}, ` +
        `${Cesium.Math.toDegrees(where.latitude).toFixed(6)}`,
    ]);
    showInfo("Point", entry, rows);
    marker.position = hit.world;
    marker.show = true;
    selected = { feature: null, color: null, layerId: entry.layer.id, point: hit };
    scene.requestRender();
  }

  async function onClick(position) {
    const picked = scene.pick(position);
    // Another module (sensors.js) may take the click: it answers true for its own entities.
    if (typeof twin.onPick === "function" && twin.onPick(picked, position)) {
      pickCount++;
      closeInfo();
      return;
    }
    if (picked instanceof Cesium.Cesium3DTileFeature) {
      pickCount++;
      showFeature(picked);
      return;
    }
    const entry = picked && picked.content && layers.get(byTileset.get(picked.primitive));
    if (entry && entry.pc) {
      try {
        if (await pickPoint(entry, picked.content, position)) return;
      } catch (err) {
        console.warn("twin: point picking failed:", String((err && err.message) || err));
      }
    }
    closeInfo();
  }

  const handler = new Cesium.ScreenSpaceEventHandler(scene.canvas);
  handler.setInputAction((click) => {
    onClick(Cesium.Cartesian2.clone(click.position));
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

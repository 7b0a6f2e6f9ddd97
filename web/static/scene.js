/* twin scene for the pages beside the viewer (compare, meeting, public link): a CesiumJS viewer
 * with the viewer's ground (Natural Earth II, the plain ellipsoid, imported terrain and imagery
 * through ground.js), its light, and the published layers from /api/v1/layers, without the
 * viewer's panels. Also the staff token these pages share with the viewer (sessionStorage
 * "twin.token", as staff.js keeps it) and a small sign-in for a page opened on its own.
 *
 * Exposed as `window.TwinScene`:
 *   create(container, {layers, headers, controls, only}) -> scene handle:
 *       { viewer, layers: Map(id -> {layer, tileset}), ready (promise), setLayers(ids|null),
 *         tilesetOf(layerId), layerOf(tileset), flyTo(camera, duration), setView(camera),
 *         camera() (the view as the API's Camera), tilesLoaded(), destroy() }
 *       `only`: the layer ids to show (the others are loaded when shown); default all.
 *       `alone: false` when another viewer shares the page.
 *   layersFor(contents, bookmarks): the layer ids variants and bookmarks show or edit
 *   auth: { token, headers(extra), signIn(username, password), signOut(), me() }
 *   cameraOf(viewer), viewOf(camera): the API's Camera {lon, lat, height, heading, pitch, roll}
 *       (degrees, metres) to and from Cesium.
 */
(function () {
  "use strict";

  const api = (window.TWIN_CONFIG && window.TWIN_CONFIG.api) || "/api/v1";
  const KEY = "twin.token";
  Cesium.Ion.defaultAccessToken = "";

  // ---------------------------------------------------------------- staff token

  const auth = {
    // Read each time: the viewer's sign-in (staff.js) keeps it in the same place.
    get token() {
      return sessionStorage.getItem(KEY);
    },
    set token(value) {
      if (value) sessionStorage.setItem(KEY, value);
      else sessionStorage.removeItem(KEY);
    },
    headers(extra) {
      const h = Object.assign({ Accept: "application/json" }, extra || {});
      if (auth.token) h.Authorization = "Bearer " + auth.token;
      return h;
    },
    async signIn(username, password) {
      const response = await fetch(api + "/auth/token", {
        method: "POST",
        headers: { Accept: "application/json" },
        body: new URLSearchParams({ username, password }),
      });
      if (!response.ok) throw new Error(await window.TwinDom.errorText(response));
      auth.token = (await response.json()).access_token;
      return auth.me();
    },
    signOut() {
      auth.token = null;
    },
    async me() {
      if (!auth.token) return null;
      const response = await fetch(api + "/auth/me", { headers: auth.headers() });
      if (response.ok) return response.json();
      if (response.status === 401) auth.signOut();
      return null;
    },
  };

  // ---------------------------------------------------------------- camera

  const D = Cesium.Math.toDegrees;
  const R = Cesium.Math.toRadians;

  // Angles in [0, 360) for the heading and (-180, 180] for the roll: a camera flight turns the
  // short way round (a roll of 360 would otherwise spin the view once on its way).
  const heading360 = (deg) => ((Number(deg) || 0) % 360 + 360) % 360;
  const angle180 = (deg) => {
    const a = heading360(deg);
    return a > 180 ? a - 360 : a;
  };

  function cameraOf(viewer) {
    const camera = viewer.camera;
    const c = camera.positionCartographic;
    const round = (v, k) => Math.round(v * 10 ** k) / 10 ** k;
    return {
      lon: round(D(c.longitude), 7),
      lat: round(D(c.latitude), 7),
      height: round(c.height, 2),
      heading: heading360(round(D(camera.heading), 3)),
      pitch: Math.max(-90, Math.min(90, round(D(camera.pitch), 3))),
      roll: angle180(round(D(camera.roll), 3)),
    };
  }

  function viewOf(camera) {
    return {
      destination: Cesium.Cartesian3.fromDegrees(camera.lon, camera.lat, camera.height),
      orientation: {
        heading: R(heading360(camera.heading)),
        pitch: R(camera.pitch === undefined || camera.pitch === null ? -35 : camera.pitch),
        roll: R(angle180(camera.roll)),
      },
    };
  }

  /** True when two cameras are the same view (to a few centimetres and hundredths of a degree). */
  function sameView(a, b) {
    if (!a || !b) return false;
    const close = (x, y, eps) => Math.abs(x - y) <= eps;
    const turn = (x, y) => Math.abs(angle180(x - y)) <= 0.01;
    return (
      close(a.lon, b.lon, 1e-7) &&
      close(a.lat, b.lat, 1e-7) &&
      close(a.height, b.height, 0.05) &&
      turn(a.heading, b.heading) &&
      close(a.pitch, b.pitch, 0.01) &&
      turn(a.roll, b.roll)
    );
  }

  // ---------------------------------------------------------------- viewer

  function createViewer(container, controls) {
    const viewer = new Cesium.Viewer(container, {
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
      infoBox: false,
      selectionIndicator: false,
      sceneModePicker: false,
      navigationHelpButton: !!controls,
      navigationInstructionsInitiallyVisible: false,
      fullscreenButton: !!controls,
      homeButton: false,
      requestRenderMode: true,
      maximumRenderTimeChange: Infinity,
    });
    const scene = viewer.scene;
    scene.globe.showGroundAtmosphere = true;
    scene.globe.baseColor = Cesium.Color.fromCssColorString("#0b1a2a");
    scene.backgroundColor = Cesium.Color.fromCssColorString("#05080d");
    scene.globe.depthTestAgainstTerrain = false;
    // The viewer's light: from the camera's upper left, so models look the same at any hour.
    const light = new Cesium.DirectionalLight({
      direction: new Cesium.Cartesian3(0, 0, -1),
      intensity: 2.0,
    });
    scene.light = light;
    const scratch = new Cesium.Cartesian3();
    scene.preRender.addEventListener(() => {
      const { directionWC, rightWC, upWC } = scene.camera;
      const C3 = Cesium.Cartesian3;
      const d = C3.clone(directionWC, light.direction);
      C3.add(d, C3.multiplyByScalar(rightWC, 0.35, scratch), d);
      C3.subtract(d, C3.multiplyByScalar(upWC, 0.6, scratch), d);
      C3.normalize(d, d);
    });
    // Software GL: fewer samples and globe tiles, as in the viewer.
    let renderer = "";
    try {
      const gl = scene.context._gl;
      const info = gl.getExtension("WEBGL_debug_renderer_info");
      renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    } catch (_) {
      /* unknown */
    }
    if (/swiftshader|llvmpipe|softpipe|software/i.test(renderer)) {
      scene.msaaSamples = 1;
      scene.globe.maximumScreenSpaceError = 4;
      const terrain = scene.terrainProvider;
      const levelError = terrain.getLevelMaximumGeometricError.bind(terrain);
      terrain.getLevelMaximumGeometricError = (level) => (level >= 9 ? 0 : levelError(level));
    }
    const [w, s, e, n] = (window.TWIN_CONFIG && window.TWIN_CONFIG.home) || [5.0, 43.2, 5.8, 43.7];
    viewer.camera.setView({ destination: Cesium.Rectangle.fromDegrees(w, s, e, n) });
    return viewer;
  }

  function tilesetOptions(layer, alone) {
    const options = { maximumScreenSpaceError: 16 };
    if (layer.kind === "pointcloud") options.maximumScreenSpaceError = 2;
    if (layer.kind === "vector" && layer.draped) {
      options.classificationType = Cesium.ClassificationType.BOTH;
    }
    // Two viewers on one page (compare): CesiumJS's dynamic environment maps (the sky's light
    // on models) are not kept apart per WebGL context, and the first view is then lit
    // wrongly; both views do without them, so that they are lit alike.
    if (!alone) options.environmentMapOptions = { enabled: false };
    return options;
  }

  async function loadOne(viewer, layer, headers, alone) {
    if (window.TwinGround && TwinGround.kinds.has(layer.kind)) {
      return TwinGround.load(viewer, layer);
    }
    // A closed group's tiles are fetched with the bearer token (every tile request inherits
    // the headers of the tileset's resource).
    const auth = headers && headers.Authorization;
    const url = auth
      ? new Cesium.Resource({ url: layer.tileset_url, headers: { Authorization: auth } })
      : layer.tileset_url;
    const tileset = await Cesium.Cesium3DTileset.fromUrl(url, tilesetOptions(layer, alone));
    if (layer.kind === "pointcloud") {
      tileset.pointCloudShading = new Cesium.PointCloudShading({
        attenuation: true,
        maximumAttenuation: 3,
        eyeDomeLighting: true,
      });
    } else if (layer.kind === "vector" && window.TwinStyles) {
      tileset.style = TwinStyles.buildingStyle(null, null, layer.draped);
    }
    viewer.scene.primitives.add(tileset);
    return tileset;
  }

  /**
   * A viewer in `container` with the layers of /api/v1/layers (as `headers` allow: staff see
   * the layers that are not public). `layers`: a list of layer objects already read, to share
   * one request between two viewers.
   */
  function create(container, options) {
    const opts = options || {};
    const viewer = createViewer(container, opts.controls !== false);
    const entries = new Map(); // id -> { layer, tileset, loading }
    let headers = opts.headers || auth.headers();

    /** Load a layer once (a promise of its tileset or ground handle, null when it fails). */
    function load(entry) {
      if (!entry.loading) {
        entry.loading = loadOne(viewer, entry.layer, headers, opts.alone !== false)
          .then((tileset) => {
            entry.tileset = tileset;
            tileset.show = shown(entry.layer.id);
            viewer.scene.requestRender();
            return tileset;
          })
          .catch((err) => {
            console.warn("twin: layer", entry.layer.id, String((err && err.message) || err));
            return null;
          });
      }
      return entry.loading;
    }

    const shown = (id) => !handle.wanted || handle.wanted.has(id);

    const handle = {
      viewer,
      layers: entries,
      // Layers shown: null for all of them, else a Set of ids (the others are not even loaded).
      wanted: opts.only && opts.only.length ? new Set(opts.only.map(Number)) : null,
      tilesetOf(id) {
        const entry = entries.get(Number(id));
        return entry ? entry.tileset : null;
      },
      layerOf(tileset) {
        for (const [id, entry] of entries) if (entry.tileset === tileset) return id;
        return null;
      },
      /** Show these layers (ids; null: all) and hide the others; resolves once loaded. */
      setLayers(ids) {
        handle.wanted = ids ? new Set(ids.map(Number)) : null;
        const loads = [];
        for (const [id, entry] of entries) {
          if (entry.tileset) entry.tileset.show = shown(id);
          else if (shown(id)) loads.push(load(entry));
        }
        viewer.scene.requestRender();
        return Promise.all(loads);
      },
      camera: () => cameraOf(viewer),
      setView(camera) {
        if (camera) viewer.camera.setView(viewOf(camera));
        viewer.scene.requestRender();
      },
      flying: 0, // flights under way
      flyTo(camera, duration) {
        if (!camera) return Promise.resolve(false);
        if (sameView(camera, cameraOf(viewer))) return Promise.resolve(true);
        handle.flying++;
        return new Promise((resolve) => {
          viewer.camera.flyTo({
            ...viewOf(camera),
            duration: duration === undefined ? 1.5 : duration,
            complete: () => resolve(true),
            cancel: () => resolve(false),
          });
        }).finally(() => {
          handle.flying--;
          viewer.scene.requestRender();
        });
      },
      /** True once the globe and the shown tilesets have the tiles of this view. */
      tilesLoaded() {
        if (!viewer.scene.globe.tilesLoaded) return false;
        for (const entry of entries.values()) {
          const t = entry.tileset;
          if (t && t.show && t.tilesLoaded === false) return false;
        }
        return true;
      },
      destroy() {
        viewer.destroy();
      },
    };
    handle.ready = (async () => {
      let list = opts.layers;
      headers = opts.headers || auth.headers();
      if (!list) {
        try {
          const response = await fetch(api + "/layers", { headers });
          list = response.ok ? await response.json() : [];
        } catch (_) {
          list = [];
        }
      }
      // One ground at a time: the newest terrain layer.
      const terrains = list.filter((l) => l.kind === "terrain" && l.tileset_url);
      const ground = terrains.reduce((a, b) => (!a || b.id > a.id ? b : a), null);
      for (const layer of list) {
        if (!layer.tileset_url) continue;
        if (layer.kind === "terrain" && layer !== ground) continue;
        entries.set(layer.id, { layer, tileset: null, loading: null });
      }
      await handle.setLayers(handle.wanted ? [...handle.wanted] : null);
      return entries.size;
    })();
    return handle;
  }

  /** The layers a set of variants (and bookmarks) need: the ones their saved views show and
   * the ones they cut or hide buildings in; null (all layers) when none is named. */
  function layersFor(contents, bookmarks) {
    const ids = new Set();
    for (const c of contents || []) {
      if (!c) continue;
      for (const l of c.layers || []) if (l.visible !== false) ids.add(Number(l.layer_id));
      for (const h of c.hidden || []) ids.add(Number(h.layer_id));
      for (const clip of c.clips || []) ids.add(Number(clip.layer_id));
    }
    for (const b of bookmarks || []) for (const id of b.layers || []) ids.add(Number(id));
    return ids.size ? [...ids] : null;
  }

  /** Fetch JSON from the API with the staff token; throws an Error with the server's detail
   * (and `status`) on a failed answer. */
  async function request(method, path, body, headers) {
    const init = { method, headers: headers || auth.headers() };
    if (body !== undefined) {
      init.headers = Object.assign({}, init.headers, { "Content-Type": "application/json" });
      init.body = JSON.stringify(body);
    }
    const response = await fetch(api + path, init);
    if (!response.ok) {
      let data = null;
      try {
        data = await response.clone().json();
      } catch (_) {
        /* not JSON */
      }
      const err = new Error(await window.TwinDom.errorText(response));
      err.status = response.status;
      err.data = data;
      throw err;
    }
    return response.status === 204 ? null : response.json();
  }

  /** A sign-in form inside `container` (for a page opened on its own); resolves to the user. */
  function signInForm(container, message) {
    const { element } = window.TwinDom;
    return new Promise((resolve) => {
      const user = element("input", { type: "text", autocomplete: "username", required: true });
      const pass = element("input", { type: "password", autocomplete: "current-password", required: true });
      const error = element("p", { className: "form-error", hidden: true });
      error.setAttribute("role", "alert");
      const form = element(
        "form",
        { className: "dialog-form page-sign-in" },
        element("h2", { textContent: "Sign in" }),
        element("p", { className: "muted", textContent: message || "" }),
        element("label", { className: "field" }, element("span", { textContent: "User name" }), user),
        element("label", { className: "field" }, element("span", { textContent: "Password" }), pass),
        error,
        element(
          "div",
          { className: "dialog-actions" },
          element("button", { type: "submit", className: "button primary", textContent: "Sign in" }),
        ),
      );
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        error.hidden = true;
        try {
          const me = await auth.signIn(user.value.trim(), pass.value);
          if (!me) throw new Error("Signed in, but the account could not be read.");
          form.remove();
          resolve(me);
        } catch (err) {
          error.textContent = String((err && err.message) || err);
          error.hidden = false;
        }
      });
      container.append(form);
      user.focus();
    });
  }

  window.TwinScene = { create, layersFor, auth, cameraOf, viewOf, sameView, request, signInForm, api };
})();

/* twin compare page (/compare?project=ID&a=VID&b=VID): two variants of a project in two views
 * side by side over the same layers, cameras moving together, and their indicators in a table
 * with the differences. "Swipe" lays one view over the other with a handle to drag.
 *
 * Tests read `window.twinCompare`: ready (promise: both variants shown), project, variants
 * ([a, b] as the API gives them), scenes ([a, b]: scene.js handles), renderers, rows (the
 * table's [key, a, b, diff]), error, setSwipe(on, fraction), select(a, b), cameras() (both
 * views' cameras, to check they match).
 */
(function () {
  "use strict";

  const { element } = window.TwinDom;
  const { request, auth } = window.TwinScene;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const api = window.TwinScene.api;

  const state = {
    project: null,
    variants: [null, null],
    scenes: [],
    renderers: [],
    rows: [],
    error: null,
    swipe: false,
    setSwipe: (on, fraction) => setSwipe(on, fraction),
    select: (a, b) => select(a, b),
    cameras: () => state.scenes.map((s) => s.camera()),
  };
  window.twinCompare = state;

  function showError(text) {
    state.error = text || null;
    $("compare-error").textContent = text || "";
    $("compare-error").hidden = !text;
  }

  function message(text) {
    document.querySelector(".stage").append(element("div", { className: "page-message", textContent: text }));
  }

  const call = (path) => request("GET", path, undefined, auth.headers());

  // ---------------------------------------------------------------- cameras in step

  let syncing = false;
  function follow(from, to) {
    from.viewer.camera.percentageChanged = 0.0005;
    from.viewer.camera.changed.addEventListener(() => {
      if (syncing || !$("compare-sync").checked) return;
      syncing = true;
      try {
        const c = from.viewer.camera;
        to.viewer.camera.setView({
          destination: Cesium.Cartesian3.clone(c.positionWC),
          orientation: { direction: Cesium.Cartesian3.clone(c.directionWC), up: Cesium.Cartesian3.clone(c.upWC) },
        });
        to.viewer.scene.requestRender();
      } finally {
        syncing = false;
      }
    });
    // `changed` fires only past a threshold: small moves are copied on every frame too.
    from.viewer.scene.postRender.addEventListener(() => {
      if (syncing || !$("compare-sync").checked || !from.active) return;
      syncing = true;
      try {
        const c = from.viewer.camera;
        const d = to.viewer.camera;
        if (!Cesium.Cartesian3.equalsEpsilon(c.positionWC, d.positionWC, 0, 1e-3) ||
            !Cesium.Cartesian3.equalsEpsilon(c.directionWC, d.directionWC, 1e-9)) {
          d.setView({
            destination: Cesium.Cartesian3.clone(c.positionWC),
            orientation: { direction: Cesium.Cartesian3.clone(c.directionWC), up: Cesium.Cartesian3.clone(c.upWC) },
          });
          to.viewer.scene.requestRender();
        }
      } finally {
        syncing = false;
      }
    });
    // The view the pointer is in leads.
    const canvas = from.viewer.scene.canvas;
    for (const type of ["pointerdown", "wheel", "pointerenter"]) {
      canvas.addEventListener(type, () => {
        from.active = true;
        to.active = false;
      }, { passive: true });
    }
  }

  // ---------------------------------------------------------------- swipe

  function setSwipe(on, fraction) {
    state.swipe = !!on;
    $("compare-swipe").checked = state.swipe;
    const views = $("compare-views");
    views.classList.toggle("swipe", state.swipe);
    const bar = $("compare-swipe-bar");
    bar.hidden = !state.swipe;
    const f = fraction === undefined ? 0.5 : Math.max(0, Math.min(1, fraction));
    const b = $("compare-view-b");
    b.style.clipPath = state.swipe ? `inset(0 0 0 ${f * 100}%)` : "";
    bar.style.left = f * 100 + "%";
    $("compare-label-b").style.left = state.swipe ? `calc(${f * 100}% + 0.6rem)` : "";
    if (state.swipe) $("compare-sync").checked = true;
    for (const s of state.scenes) {
      s.viewer.resize();
      s.viewer.scene.requestRender();
    }
  }

  $("compare-swipe").addEventListener("change", (e) => setSwipe(e.target.checked));
  const bar = $("compare-swipe-bar");
  bar.addEventListener("pointerdown", (e) => {
    bar.setPointerCapture(e.pointerId);
    const move = (ev) => {
      const r = $("compare-views").getBoundingClientRect();
      setSwipe(true, (ev.clientX - r.left) / r.width);
    };
    const up = () => {
      bar.removeEventListener("pointermove", move);
      bar.removeEventListener("pointerup", up);
    };
    bar.addEventListener("pointermove", move);
    bar.addEventListener("pointerup", up);
  });

  // ---------------------------------------------------------------- indicators

  const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1, signDisplay: "exceptZero" });

  function renderTable() {
    const [a, b] = state.variants;
    $("compare-head-a").textContent = a ? a.name : "A";
    $("compare-head-b").textContent = b ? b.name : "B";
    const ia = (a && a.indicators) || {};
    const ib = (b && b.indicators) || {};
    const keys = [];
    for (const [k] of window.TwinVariant.indicatorRows({ ...ia, ...ib })) keys.push(k);
    const body = $("compare-table").tBodies[0];
    body.textContent = "";
    state.rows = [];
    for (const key of keys) {
      const va = ia[key];
      const vb = ib[key];
      const numeric = typeof va === "number" || typeof vb === "number";
      const diff = numeric ? (Number(vb) || 0) - (Number(va) || 0) : null;
      const diffCell = element("td", { textContent: diff === null ? "–" : numberFormat.format(diff) });
      if (diff) diffCell.className = diff > 0 ? "up" : "down";
      const row = element(
        "tr",
        null,
        element("th", { scope: "row", textContent: window.TwinVariant.labelOf(key) }),
        element("td", { textContent: window.TwinVariant.format(key, va) }),
        element("td", { textContent: window.TwinVariant.format(key, vb) }),
        diffCell,
      );
      row.dataset.key = key;
      body.append(row);
      state.rows.push([key, va === undefined ? null : va, vb === undefined ? null : vb, diff]);
    }
    if (!keys.length) {
      body.append(element("tr", null, element("td", { colSpan: 4, className: "muted", textContent: "No indicator yet: save the variants." })));
    }
  }

  // ---------------------------------------------------------------- variants

  async function select(aId, bId) {
    const pid = state.project.id;
    const [a, b] = await Promise.all([
      call(`/projects/${pid}/variants/${aId}`),
      call(`/projects/${pid}/variants/${bId}`),
    ]);
    state.variants = [a, b];
    $("compare-a").value = String(a.id);
    $("compare-b").value = String(b.id);
    $("compare-label-a").textContent = a.name;
    $("compare-label-b").textContent = b.name;
    document.title = `${a.name} vs ${b.name} · ${state.project.name} · twin`;
    const only = window.TwinScene.layersFor([a.content, b.content]);
    for (const scene of state.scenes) scene.setLayers(only);
    state.renderers[0].show(a.content || {});
    state.renderers[1].show(b.content || {});
    const next = new URLSearchParams({ project: pid, a: a.id, b: b.id });
    history.replaceState(null, "", "/compare?" + next);
    renderTable();
    return state.variants;
  }

  function startView(a, b) {
    const camera = (a.content && a.content.camera) || (b.content && b.content.camera);
    if (camera) return state.scenes[0].setView(camera);
    const boxes = [window.TwinVariant.bounds(a.content), window.TwinVariant.bounds(b.content)].filter(Boolean);
    if (!boxes.length) return null;
    const w = Math.min(...boxes.map((x) => x[0]));
    const s = Math.min(...boxes.map((x) => x[1]));
    const e = Math.max(...boxes.map((x) => x[2]));
    const n = Math.max(...boxes.map((x) => x[3]));
    const pad = Math.max(0.002, (e - w) * 0.6, (n - s) * 0.6);
    state.scenes[0].viewer.camera.setView({ destination: Cesium.Rectangle.fromDegrees(w - pad, s - pad, e + pad, n + pad) });
    return null;
  }

  async function start() {
    const projectId = Number(params.get("project"));
    if (!projectId) {
      message("No project given: open the comparison from the viewer's Projects panel.");
      return false;
    }
    if (!auth.token || !(await auth.me())) {
      await window.TwinScene.signInForm(document.querySelector(".stage"), "Staff only: sign in to compare variants.");
    }
    try {
      state.project = await call(`/projects/${projectId}`);
    } catch (err) {
      message(err.status === 404 ? "This project does not exist or is not shared with you." : String(err.message || err));
      return false;
    }
    $("compare-title").textContent = state.project.name;
    const variants = state.project.variants || [];
    for (const id of ["compare-a", "compare-b"]) {
      $(id).textContent = "";
      for (const v of variants) $(id).append(element("option", { value: String(v.id), textContent: v.name }));
    }
    const aId = Number(params.get("a")) || (variants[0] && variants[0].id);
    const bId = Number(params.get("b")) || (variants[1] && variants[1].id) || aId;
    if (!aId) {
      message("This project has no variant yet.");
      return false;
    }
    let layers = [];
    try {
      layers = await request("GET", "/layers", undefined, auth.headers());
    } catch (_) {
      layers = [];
    }
    const assetUrl = (assetId) =>
      new Cesium.Resource({
        url: `${api}/projects/${projectId}/assets/${encodeURIComponent(assetId)}`,
        headers: auth.headers(),
      });
    // Only the layers the two variants show or edit are loaded (all when they name none).
    const pair = await Promise.all([
      call(`/projects/${projectId}/variants/${aId}`),
      call(`/projects/${projectId}/variants/${bId}`),
    ]);
    const only = window.TwinScene.layersFor(pair.map((v) => v.content));
    for (const side of ["a", "b"]) {
      const scene = window.TwinScene.create($("cesium-" + side), {
        layers,
        only,
        controls: side === "b",
        alone: false,
      });
      state.scenes.push(scene);
      state.renderers.push(
        window.TwinVariant.renderer(scene.viewer, {
          tilesetOf: (id) => scene.tilesetOf(id),
          assetUrl,
          setLayerVisible: (id, visible) => {
            const t = scene.tilesetOf(id);
            if (t) t.show = visible;
          },
        }),
      );
    }
    follow(state.scenes[0], state.scenes[1]);
    follow(state.scenes[1], state.scenes[0]);
    state.scenes[0].active = true;
    try {
      const [a, b] = await select(aId, bId);
      startView(a, b);
    } catch (err) {
      showError(String((err && err.message) || err));
      return false;
    }
    await Promise.all(state.scenes.map((s) => s.ready));
    state.renderers.forEach((r) => r.refresh());
    for (const s of state.scenes) s.viewer.scene.requestRender();
    return true;
  }

  $("compare-table-toggle").addEventListener("click", (e) => {
    const body = $("compare-table-body");
    body.hidden = !body.hidden;
    e.target.textContent = body.hidden ? "Show" : "Hide";
    e.target.setAttribute("aria-expanded", String(!body.hidden));
  });

  for (const id of ["compare-a", "compare-b"]) {
    $(id).addEventListener("change", () =>
      select($("compare-a").value, $("compare-b").value).catch((err) => showError(String(err.message || err))),
    );
  }

  state.ready = start().catch((err) => {
    showError(String((err && err.message) || err));
    return false;
  });
})();

/* twin viewer, urban projects (issue #9): staff list projects and their variants; planners and
 * admins create them, draw a variant (buildings, trees, paths, models, removed buildings,
 * clipped meshes, a saved view: editor.js), save it as a new version (a conflicting save is
 * refused and kept as a revision: the panel offers the current version), read its indicators
 * and revisions, compare two variants (/compare) and open public meetings (/meeting/<id>).
 *
 * Loaded after app.js, staff.js and routes.js (it chains `twin.onPick`); uses variant.js,
 * editor.js and scene.js (camera helpers, API requests).
 *
 * Tests (and the console) read `window.twin.projects`:
 *   open(), close(), load(); projects, project (with its variants), variant (as saved),
 *   content (being edited), dirty, error, conflict ({detail, current, kept_revision} or null),
 *   selectProject(id), createProject({name, description, group_id}), createVariant(name,
 *   copyFrom), selectVariant(id), save(), loadCurrent(), saveView(), revisions (last listed),
 *   listRevisions(), assets, uploadAsset(file), meetings, createMeeting(title),
 *   compareUrl(a, b), renderer (variant.js), editor (editor.js)
 */
(function () {
  "use strict";

  const { element } = window.TwinDom;
  const twin = window.twin || (window.twin = { viewer: null });
  const viewer = twin.viewer || null;
  const $ = (id) => document.getElementById(id);
  const STAFF = new Set(["admin", "gis", "planner"]);
  const EDITORS = new Set(["admin", "planner"]);
  const api = (window.TWIN_CONFIG && window.TWIN_CONFIG.api) || "/api/v1";

  const panel = $("projects-panel");
  const openButton = $("projects-open");
  if (!panel || !openButton) return;

  const state = {
    projects: [],
    project: null,
    variant: null,
    content: null,
    dirty: false,
    error: null,
    conflict: null,
    get busy() {
      return pending > 0;
    },
    revisions: [],
    assets: [],
    meetings: [],
    groups: [],
    drafts: new Map(), // variant id -> unsaved content (switching variants loses nothing)
    open: () => setOpen(true),
    close: () => setOpen(false),
    load: () => loadProjects(),
    selectProject: (id) => selectProject(id),
    createProject: (fields) => createProject(fields),
    createVariant: (name, copyFrom) => createVariant(name, copyFrom),
    selectVariant: (id) => selectVariant(id),
    save: () => save(),
    loadCurrent: () => loadCurrent(),
    saveView: () => saveView(),
    listRevisions: () => listRevisions(),
    uploadAsset: (file) => uploadAsset(file),
    createMeeting: (title) => createMeeting(title),
    compareUrl: (a, b) => compareUrl(a, b),
  };
  twin.projects = state;

  const user = () => (window.TwinAuth && window.TwinAuth.user) || null;
  const isStaff = () => !!user() && STAFF.has(user().role);
  const canEdit = () => !!user() && EDITORS.has(user().role);
  const headers = () => (window.TwinAuth ? window.TwinAuth.headers() : { Accept: "application/json" });
  const call = (method, path, body) => window.TwinScene.request(method, path, body, headers());

  function showError(text) {
    state.error = text || null;
    const el = $("projects-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  let pending = 0; // requests under way

  async function guarded(action) {
    showError("");
    pending++;
    try {
      return await action();
    } catch (err) {
      showError(String((err && err.message) || err));
      return null;
    } finally {
      pending--;
    }
  }

  // ---------------------------------------------------------------- scene

  function layerEntry(id) {
    return twin.layers ? twin.layers.get(Number(id)) : null;
  }

  function assetUrl(assetId) {
    if (!state.project) return null;
    const known = state.assets.find((a) => String(a.id) === String(assetId));
    const url = (known && known.url) || `${api}/projects/${state.project.id}/assets/${encodeURIComponent(assetId)}`;
    return new Cesium.Resource({ url, headers: headers() });
  }

  const renderer = viewer
    ? window.TwinVariant.renderer(viewer, {
        tilesetOf: (id) => {
          const entry = layerEntry(id);
          return entry ? entry.tileset : null;
        },
        assetUrl,
        setLayerVisible: (id, visible) => {
          const box = $("layer-" + id);
          if (box && !box.disabled && box.checked !== visible) {
            box.checked = visible;
            box.dispatchEvent(new Event("change"));
          }
        },
      })
    : null;
  state.renderer = renderer;

  function layerOfTileset(tileset) {
    if (!twin.layers) return null;
    for (const [id, entry] of twin.layers) if (entry.tileset === tileset) return id;
    return null;
  }

  const editor = viewer
    ? window.TwinEditor.create({
        viewer,
        twin,
        content: () => state.content,
        change: (content) => setContent(content, true),
        layerOfTileset,
        clipLayers: () =>
          [...(twin.layers ? twin.layers.values() : [])]
            .filter((e) => e.layer.tileset_url && ["mesh", "tiles3d", "terrain", "pointcloud"].includes(e.layer.kind))
            .sort((a, b) => (a.layer.kind === "mesh" ? -1 : 0) - (b.layer.kind === "mesh" ? -1 : 0))
            .map((e) => e.layer),
        uploadAsset,
        assets: () => state.assets,
      })
    : null;
  state.editor = editor;

  function setContent(content, dirty) {
    state.content = content || {};
    state.dirty = !!dirty;
    if (state.variant) {
      if (dirty) state.drafts.set(state.variant.id, state.content);
      else state.drafts.delete(state.variant.id);
    }
    if (renderer) renderer.show(state.content);
    renderEditor();
  }

  /** Fly to a variant: its saved view, else what it places. */
  function flyToVariant(content, duration) {
    if (!viewer || !content) return Promise.resolve(false);
    if (content.camera) {
      return new Promise((resolve) =>
        viewer.camera.flyTo({
          ...window.TwinScene.viewOf(content.camera),
          duration: duration === undefined ? 1.5 : duration,
          complete: () => resolve(true),
          cancel: () => resolve(false),
        }),
      );
    }
    const b = window.TwinVariant.bounds(content);
    if (!b) return Promise.resolve(false);
    const pad = Math.max(0.002, (b[2] - b[0]) * 0.6, (b[3] - b[1]) * 0.6);
    return new Promise((resolve) =>
      viewer.camera.flyTo({
        destination: Cesium.Rectangle.fromDegrees(b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad),
        duration: duration === undefined ? 1.5 : duration,
        complete: () => resolve(true),
        cancel: () => resolve(false),
      }),
    );
  }
  state.flyToVariant = () => flyToVariant(state.content, 0);

  // ---------------------------------------------------------------- panel

  function closeOthers() {
    for (const [panelId, closeId] of [
      ["upload-panel", "upload-close"],
      ["info-panel", "info-close"],
      ["sensor-panel", "sensor-close"],
      ["alerts-panel", "alerts-close"],
      ["flood-panel", "flood-close"],
      ["routes-panel", "routes-close"],
    ]) {
      const other = $(panelId);
      const button = $(closeId);
      if (other && !other.hidden && button) button.click();
    }
  }

  function setOpen(open) {
    if (open && !isStaff()) return Promise.resolve(null);
    if (open) closeOthers();
    else if (editor) editor.cancel();
    panel.hidden = !open;
    openButton.setAttribute("aria-expanded", String(open));
    openButton.classList.toggle("active", open);
    return open ? loadProjects() : Promise.resolve(null);
  }

  openButton.addEventListener("click", () => setOpen(panel.hidden));
  $("projects-close").addEventListener("click", () => {
    setOpen(false);
    openButton.focus();
  });
  for (const id of ["upload-panel", "sensor-panel", "alerts-panel", "flood-panel", "routes-panel"]) {
    const other = $(id);
    if (!other) continue;
    new MutationObserver(() => {
      if (!other.hidden && !panel.hidden) setOpen(false);
    }).observe(other, { attributes: true, attributeFilter: ["hidden"] });
  }

  // ---------------------------------------------------------------- projects

  async function loadProjects() {
    const ticket = projectTicket;
    return guarded(async () => {
      state.projects = await call("GET", "/projects");
      renderProjects();
      if (ticket !== projectTicket) return state.projects; // chosen or created meanwhile
      if (state.project) {
        const still = state.projects.find((p) => p.id === state.project.id);
        if (still) await selectProject(still.id, state.variant && state.variant.id);
      } else if (state.projects.length) {
        await selectProject(state.projects[0].id);
      }
      return state.projects;
    });
  }

  function renderProjects() {
    const select = $("projects-select");
    select.textContent = "";
    if (!state.projects.length) {
      select.append(element("option", { value: "", textContent: "No project yet" }));
    }
    for (const p of state.projects) {
      const text = p.group ? `${p.name} · ${p.group}` : p.name;
      select.append(element("option", { value: String(p.id), textContent: text }));
    }
    select.value = state.project ? String(state.project.id) : "";
    $("projects-new").hidden = !canEdit();
  }

  async function loadGroups() {
    try {
      state.groups = await call("GET", "/groups");
    } catch (_) {
      state.groups = [];
    }
    const select = $("projects-new-group");
    select.textContent = "";
    select.append(element("option", { value: "", textContent: "All staff (no group)" }));
    for (const g of state.groups) select.append(element("option", { value: String(g.id), textContent: g.name }));
    $("projects-new-group-field").hidden = state.groups.length === 0;
  }

  async function createProject(fields) {
    return guarded(async () => {
      const body = { name: fields.name, description: fields.description || "" };
      if (fields.group_id) body.group_id = Number(fields.group_id);
      const project = await call("POST", "/projects", body);
      state.projects.push(project);
      $("projects-new-form").hidden = true;
      renderProjects();
      await selectProject(project.id);
      return project;
    });
  }

  $("projects-select").addEventListener("change", (e) => {
    if (e.target.value) selectProject(Number(e.target.value));
  });
  $("projects-new").addEventListener("click", () => {
    const form = $("projects-new-form");
    form.hidden = !form.hidden;
    if (!form.hidden) {
      loadGroups();
      $("projects-new-name").focus();
    }
  });
  $("projects-new-cancel").addEventListener("click", () => {
    $("projects-new-form").hidden = true;
  });
  $("projects-new-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("projects-new-name").value.trim();
    if (!name) {
      showError("Give the project a name.");
      return;
    }
    createProject({
      name,
      description: $("projects-new-description").value.trim(),
      group_id: $("projects-new-group").value || null,
    }).then((p) => p && $("projects-new-form").reset());
  });

  // A later choice wins over an earlier one still loading (a slow list, a quick click).
  let projectTicket = 0;
  let variantTicket = 0;

  async function selectProject(id, variantId) {
    const ticket = ++projectTicket;
    return guarded(async () => {
      const [project, assets, meetings] = await Promise.all([
        call("GET", `/projects/${id}`),
        call("GET", `/projects/${id}/assets`).catch(() => []),
        call("GET", `/projects/${id}/meetings`).catch(() => []),
      ]);
      if (ticket !== projectTicket) return null;
      if (!state.project || state.project.id !== project.id) state.drafts.clear();
      state.project = project;
      $("projects-select").value = String(project.id);
      state.assets = assets;
      state.meetings = meetings;
      renderProject();
      const keep = project.variants.find((v) => v.id === variantId);
      const first = keep || project.variants[0];
      if (first) await selectVariant(first.id, { fly: !keep });
      else {
        state.variant = null;
        setContent({}, false);
      }
      return project;
    });
  }

  function renderProject() {
    const p = state.project;
    $("projects-project").hidden = !p;
    if (!p) return;
    $("projects-description").textContent = p.description || "";
    $("projects-description").hidden = !p.description;
    renderVariants();
    renderAssets();
    renderMeetings();
    const edit = canEdit();
    $("projects-variant-form").hidden = !edit;
    $("projects-meeting-form").hidden = !edit;
  }

  // ---------------------------------------------------------------- variants

  function renderVariants() {
    const list = $("projects-variants");
    list.textContent = "";
    const variants = state.project ? state.project.variants : [];
    const from = $("projects-variant-from");
    from.textContent = "";
    from.append(element("option", { value: "", textContent: "blank" }));
    for (const id of ["projects-compare-a", "projects-compare-b"]) $(id).textContent = "";
    variants.forEach((v, i) => {
      const selected = state.variant && state.variant.id === v.id;
      const button = element(
        "button",
        { type: "button", className: "variant-pick" + (selected ? " active" : "") },
        element("span", { className: "variant-name", textContent: v.name }),
        element("span", { className: "variant-meta", textContent: `v${v.version}` }),
      );
      button.setAttribute("aria-pressed", String(!!selected));
      button.addEventListener("click", () => selectVariant(v.id));
      const li = element("li", null, button);
      li.dataset.variantId = String(v.id);
      list.append(li);
      from.append(element("option", { value: String(v.id), textContent: "copy of " + v.name }));
      $("projects-compare-a").append(element("option", { value: String(v.id), textContent: v.name }));
      $("projects-compare-b").append(element("option", { value: String(v.id), textContent: v.name }));
      if (i === 1) $("projects-compare-b").value = String(v.id);
    });
    $("projects-compare-box").hidden = variants.length < 2;
  }

  async function createVariant(name, copyFrom) {
    const project = state.project;
    if (!project) return null;
    return guarded(async () => {
      const body = { name };
      if (copyFrom) body.copy_from = Number(copyFrom);
      const variant = await call("POST", `/projects/${project.id}/variants`, body);
      if (state.project !== project) return variant;
      project.variants.push(variant);
      renderVariants();
      await selectVariant(variant.id, { fly: false });
      return variant;
    });
  }

  $("projects-variant-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("projects-variant-name").value.trim();
    if (!name) {
      showError("Give the variant a name.");
      return;
    }
    createVariant(name, $("projects-variant-from").value || null).then(
      (v) => v && ($("projects-variant-name").value = ""),
    );
  });

  async function selectVariant(id, options) {
    const opts = options || {};
    const project = state.project;
    if (!project) return null;
    const ticket = ++variantTicket;
    return guarded(async () => {
      if (editor) editor.cancel();
      const variant = await call("GET", `/projects/${project.id}/variants/${id}`);
      if (ticket !== variantTicket || state.project !== project) return null;
      state.variant = variant;
      state.conflict = null;
      state.revisions = [];
      replaceVariant(variant);
      const draft = state.drafts.get(variant.id);
      setContent(draft || structuredClone(variant.content || {}), !!draft);
      renderVariants();
      renderRevisions();
      if (opts.fly !== false) await flyToVariant(state.content);
      return variant;
    });
  }

  function replaceVariant(variant) {
    if (!state.project) return;
    const i = state.project.variants.findIndex((v) => v.id === variant.id);
    if (i >= 0) state.project.variants[i] = variant;
  }

  // ---------------------------------------------------------------- editing

  function saveView() {
    if (!viewer || !state.variant) return null;
    const camera = window.TwinScene.cameraOf(viewer);
    const layers = [];
    for (const [id, entry] of twin.layers || []) {
      if (entry.layer.tileset_url) layers.push({ layer_id: id, visible: !!(entry.tileset && entry.tileset.show) });
    }
    const content = structuredClone(state.content || {});
    content.camera = camera;
    content.layers = layers;
    setContent(content, true);
    return camera;
  }
  $("projects-save-view").addEventListener("click", saveView);

  const KINDS = [
    ["footprints", "Building", (f) => `${f.name || f.use || "building"} · ${f.height} m`],
    ["trees", "Tree", (t) => `${t.height} m`],
    ["paths", "Path", (p) => `${p.line.length} points · ${p.width} m wide`],
    ["models", "Model", (m) => m.name || "model " + m.asset],
    ["hidden", "Removed", (h) => `${h.values.length} building(s) of layer ${layerName(h.layer_id)}`],
    ["clips", "Clip", (c) => `in ${layerName(c.layer_id)}`],
  ];

  function layerName(id) {
    const entry = layerEntry(id);
    return entry ? entry.layer.name : "#" + id;
  }

  function renderItems() {
    const list = $("projects-items");
    list.textContent = "";
    const c = state.content || {};
    for (const [key, label, describe] of KINDS) {
      (c[key] || []).forEach((item, index) => {
        const remove = element("button", {
          type: "button",
          className: "icon-button small",
          textContent: "×",
          title: "Remove",
          hidden: !canEdit(),
        });
        remove.setAttribute("aria-label", `Remove ${label.toLowerCase()} ${index + 1}`);
        remove.addEventListener("click", () => {
          const next = structuredClone(state.content);
          next[key].splice(index, 1);
          setContent(next, true);
        });
        const li = element(
          "li",
          null,
          element("span", { className: "item-kind", textContent: label }),
          element("span", { className: "item-text", textContent: describe(item) }),
          remove,
        );
        li.dataset.kind = key;
        list.append(li);
      });
    }
    if (c.camera) {
      list.append(
        element(
          "li",
          null,
          element("span", { className: "item-kind", textContent: "View" }),
          element("span", { className: "item-text", textContent: "saved camera" }),
        ),
      );
    }
    if (!list.children.length) {
      list.append(element("li", { className: "muted", textContent: "Nothing drawn yet." }));
    }
  }

  function renderIndicators() {
    const body = $("projects-indicators").tBodies[0];
    body.textContent = "";
    const rows = window.TwinVariant.indicatorRows(state.variant ? state.variant.indicators : {});
    for (const [key, label, text] of rows) {
      const cell = element("td", { textContent: text });
      const row = element("tr", null, element("th", { scope: "row", textContent: label }), cell);
      row.dataset.key = key;
      body.append(row);
    }
    $("projects-indicators-note").textContent = state.dirty
      ? "As last saved: save to compute them for your edits."
      : rows.length
        ? ""
        : "None yet.";
  }

  function renderEditor() {
    const v = state.variant;
    $("projects-editor").hidden = !v;
    if (!v) return;
    $("projects-variant-title").textContent = v.name;
    $("projects-variant-version").textContent = `version ${v.version}`;
    $("projects-variant-version").title = v.updated_by ? `saved by ${v.updated_by}` : "";
    $("projects-dirty").hidden = !state.dirty;
    const edit = canEdit();
    $("projects-tools").hidden = !edit;
    $("projects-save").hidden = !edit;
    $("projects-save").disabled = !state.dirty || state.busy;
    renderItems();
    renderIndicators();
    renderConflict();
  }

  async function save() {
    if (!state.project || !state.variant) return null;
    const variant = state.variant;
    $("projects-save").disabled = true;
    $("projects-save-status").textContent = "Saving…";
    state.conflict = null;
    try {
      const saved = await call("PUT", `/projects/${state.project.id}/variants/${variant.id}`, {
        name: variant.name,
        description: variant.description || "",
        content: state.content || {},
        base_version: variant.version,
      });
      state.variant = saved;
      replaceVariant(saved);
      showError("");
      $("projects-save-status").textContent = `Saved: version ${saved.version}.`;
      setContent(structuredClone(saved.content || {}), false);
      renderVariants();
      if (!$("projects-revisions-box").hidden && $("projects-revisions-box").open) listRevisions();
      return saved;
    } catch (err) {
      $("projects-save-status").textContent = "";
      if (err.status === 409 && err.data) {
        state.conflict = {
          detail: String((err && err.message) || "conflict"),
          current: err.data.current || null,
          kept_revision: err.data.kept_revision === undefined ? null : err.data.kept_revision,
        };
        renderConflict();
      } else {
        showError(String((err && err.message) || err));
      }
      renderEditor();
      return null;
    }
  }
  $("projects-save").addEventListener("click", save);

  function renderConflict() {
    const box = $("projects-conflict");
    box.textContent = "";
    const c = state.conflict;
    box.hidden = !c;
    if (!c) return;
    const current = c.current;
    const who = current && current.updated_by ? ` by ${current.updated_by}` : "";
    const version = current ? `version ${current.version}${who}` : "a newer version";
    const load = element("button", { type: "button", className: "button small primary", textContent: "Load the current version" });
    load.id = "projects-load-current";
    load.addEventListener("click", loadCurrent);
    box.append(
      element("strong", { textContent: "Not saved: this variant changed meanwhile." }),
      element("span", {
        textContent:
          ` Someone saved ${version} while you were editing version ${state.variant.version}. ` +
          (c.kept_revision !== null
            ? `Your edit is kept as revision ${c.kept_revision} (see Revisions): nothing is lost.`
            : "Your edit is kept as a revision: nothing is lost."),
      }),
      element("span", { className: "muted", textContent: " " + c.detail }),
      element("div", { className: "dialog-actions" }, load),
    );
  }

  /** After a refused save: show the version that is now current (the refused edit stays a
   * revision on the server). */
  async function loadCurrent() {
    if (!state.variant) return null;
    const current = state.conflict && state.conflict.current;
    state.conflict = null;
    state.drafts.delete(state.variant.id);
    if (current) {
      state.variant = current;
      replaceVariant(current);
      setContent(structuredClone(current.content || {}), false);
      renderVariants();
      return current;
    }
    return selectVariant(state.variant.id, { fly: false });
  }

  // ---------------------------------------------------------------- revisions

  async function listRevisions() {
    if (!state.project || !state.variant) return [];
    const revisions = await guarded(() =>
      call("GET", `/projects/${state.project.id}/variants/${state.variant.id}/revisions`),
    );
    state.revisions = revisions || [];
    renderRevisions();
    return state.revisions;
  }

  function renderRevisions() {
    const list = $("projects-revisions");
    list.textContent = "";
    for (const r of state.revisions) {
      const when = r.created_at ? new Date(r.created_at).toLocaleString() : "";
      const restore = element("button", {
        type: "button",
        className: "button small",
        textContent: "Load",
        title: "Load this revision into the editor (save to make it current)",
        hidden: !canEdit(),
      });
      restore.addEventListener("click", () => restoreRevision(r.id));
      const text = `v${r.version}${r.conflict ? " · refused (conflict)" : ""} · ${r.user || "?"} · ${when}`;
      const li = element("li", { className: r.conflict ? "conflict" : "" }, element("span", { textContent: text }), restore);
      li.dataset.revisionId = String(r.id);
      list.append(li);
    }
    if (!state.revisions.length) list.append(element("li", { className: "muted", textContent: "Open to list them." }));
  }

  async function restoreRevision(id) {
    const r = await guarded(() =>
      call("GET", `/projects/${state.project.id}/variants/${state.variant.id}/revisions/${id}`),
    );
    if (r) setContent(structuredClone(r.content || {}), true);
  }

  $("projects-revisions-box").addEventListener("toggle", (e) => {
    if (e.target.open) listRevisions();
  });

  // ---------------------------------------------------------------- model assets

  function renderAssets() {
    const select = $("projects-model-asset");
    const current = select.value;
    select.textContent = "";
    select.append(element("option", { value: "", textContent: "Choose a model…" }));
    for (const a of state.assets) {
      const size = a.info && a.info.extent_m ? ` · ${a.info.extent_m.map((v) => Math.round(v)).join("×")} m` : "";
      select.append(element("option", { value: String(a.id), textContent: a.name + size }));
    }
    select.value = current;
  }

  async function uploadAsset(file) {
    if (!state.project) return null;
    $("projects-tool-hint").textContent = `Uploading ${file.name}…`;
    return guarded(async () => {
      const data = new FormData();
      data.append("file", file, file.name);
      const response = await fetch(`${api}/projects/${state.project.id}/assets`, {
        method: "POST",
        headers: headers(),
        body: data,
      });
      if (!response.ok) throw new Error(await window.TwinDom.errorText(response));
      const asset = await response.json();
      state.assets.push(asset);
      renderAssets();
      $("projects-model-asset").value = String(asset.id);
      if (editor) editor.modelAsset = String(asset.id);
      $("projects-tool-hint").textContent = `${asset.name} is ready: click where it stands.`;
      return asset;
    });
  }

  // ---------------------------------------------------------------- compare and meetings

  function compareUrl(a, b) {
    if (!state.project) return null;
    return `/compare?${new URLSearchParams({ project: state.project.id, a, b })}`;
  }

  $("projects-compare").addEventListener("click", () => {
    const url = compareUrl($("projects-compare-a").value, $("projects-compare-b").value);
    if (url) window.open(url, "_blank");
  });

  /** Bookmarks for a new meeting: the current view, then each variant's saved view. */
  function bookmarks() {
    const visible = [];
    for (const [id, entry] of twin.layers || []) if (entry.tileset && entry.tileset.show) visible.push(id);
    const marks = [];
    if (viewer) {
      marks.push({
        title: state.project.name,
        camera: window.TwinScene.cameraOf(viewer),
        variant_id: state.variant ? state.variant.id : null,
        layers: visible,
        duration_s: 8,
      });
    }
    for (const v of state.project.variants) {
      const content = v.content || {};
      if (!content.camera) continue;
      const layers = (content.layers || []).filter((l) => l.visible !== false).map((l) => l.layer_id);
      marks.push({ title: v.name, camera: content.camera, variant_id: v.id, layers: layers.length ? layers : visible, duration_s: 8 });
    }
    return marks;
  }

  async function createMeeting(title) {
    if (!state.project) return null;
    return guarded(async () => {
      const meeting = await call("POST", `/projects/${state.project.id}/meetings`, {
        title: title || state.project.name,
        bookmarks: bookmarks(),
      });
      state.meetings.push(meeting);
      renderMeetings();
      return meeting;
    });
  }

  $("projects-meeting-form").addEventListener("submit", (e) => {
    e.preventDefault();
    createMeeting($("projects-meeting-title").value.trim()).then(
      (m) => m && ($("projects-meeting-title").value = ""),
    );
  });

  function renderMeetings() {
    const list = $("projects-meetings");
    list.textContent = "";
    for (const m of state.meetings) {
      const present = element("a", { className: "button small primary", href: `/meeting/${m.id}`, textContent: "Present", target: "_blank" });
      present.rel = "opener"; // the presenter page reads the staff token of this tab
      present.addEventListener("click", (e) => {
        e.preventDefault();
        window.open(`/meeting/${m.id}`, "_blank");
      });
      const link = element("a", { className: "public-link", href: m.public_url, textContent: location.origin + m.public_url, target: "_blank" });
      const counts = m.comment_counts || {};
      const li = element(
        "li",
        null,
        element("span", { className: "meeting-title", textContent: m.title }),
        element("span", {
          className: "muted",
          textContent: `${(m.bookmarks || []).length} bookmark(s) · ${counts.pending || 0} pending comment(s)`,
        }),
        link,
        present,
      );
      li.dataset.meetingId = String(m.id);
      list.append(li);
    }
    if (!state.meetings.length) list.append(element("li", { className: "muted", textContent: "No meeting yet." }));
  }

  // ---------------------------------------------------------------- map clicks, account

  const chained = twin.onPick;
  twin.onPick = (picked, position) => {
    if (editor && editor.tool && !panel.hidden) return editor.click(picked, position);
    return typeof chained === "function" ? chained(picked, position) : false;
  };

  function renderAccount() {
    const staff = isStaff();
    openButton.hidden = !staff;
    if (!staff && !panel.hidden) setOpen(false);
    if (!staff && renderer) {
      state.project = null;
      state.variant = null;
      renderer.clear();
    }
  }

  const account = $("account-name");
  if (account) {
    new MutationObserver(renderAccount).observe(account, { childList: true, characterData: true, subtree: true });
  }
  renderAccount();
  // Layers that load after a variant is shown: its removed buildings and clips apply then.
  if (twin.ready && renderer) twin.ready.then(() => renderer.refresh());
})();

/* twin viewer, staff side: sign in (OAuth2 password flow, token in sessionStorage) and, for GIS
 * staff and admins, "Add layer": upload files, follow the import job, show the new layer.
 *
 * Loaded before app.js, which reads `window.TwinAuth.headers()` for its API calls; this file
 * uses `window.twin` (reload, zoomTo) only once the page runs.
 *
 * Tests read `window.TwinAuth`: user ({username, role} or null), job (the last job seen).
 */
(function () {
  "use strict";

  const { errorText } = window.TwinDom;

  const api = (window.TWIN_CONFIG && window.TWIN_CONFIG.api) || "/api/v1";
  const KEY = "twin.token";
  const STAFF = new Set(["gis", "admin"]);
  const POLL_MS = 500;
  const $ = (id) => document.getElementById(id);

  const auth = {
    token: sessionStorage.getItem(KEY),
    user: null,
    job: null,
    headers(extra) {
      const h = Object.assign({ Accept: "application/json" }, extra || {});
      if (auth.token) h.Authorization = "Bearer " + auth.token;
      return h;
    },
    /** A closed group's tiles answer only to its members: Cesium passes a Resource's headers
     *  on to every tile it derives from it, so the token goes with each tile request. */
    tileResource(layer, url) {
      if (!layer.group_id || !auth.token) return url;
      return new Cesium.Resource({ url, headers: { Authorization: "Bearer " + auth.token } });
    },
  };
  window.TwinAuth = auth;

  function reloadLayers() {
    const twin = window.twin;
    if (twin && typeof twin.reload === "function") return twin.reload();
    return Promise.resolve(null);
  }

  // ---------------------------------------------------------------- sign in / out

  const dialog = $("sign-in-dialog");
  const form = $("sign-in-form");
  const formError = $("sign-in-error");
  const openButton = $("sign-in-open");
  const signOutButton = $("sign-out");
  const addButton = $("add-layer-open");

  function showError(el, text) {
    el.textContent = text || "";
    el.hidden = !text;
  }

  function render() {
    const user = auth.user;
    openButton.hidden = !!user;
    signOutButton.hidden = !user;
    $("account-user").hidden = !user;
    $("account-name").textContent = user ? user.username : "";
    $("account-role").textContent = user ? user.role : "";
    const staff = !!user && STAFF.has(user.role);
    addButton.hidden = !staff;
    if (!staff) setUploadOpen(false);
  }

  async function loadMe() {
    if (!auth.token) return null;
    try {
      const response = await fetch(api + "/auth/me", { headers: auth.headers() });
      if (response.ok) return await response.json();
    } catch (_) {
      /* the server is down: stay signed out in the UI */
    }
    return null;
  }

  function openSignIn() {
    showError(formError, "");
    form.reset();
    dialog.showModal();
    $("sign-in-username").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const submit = $("sign-in-submit");
    submit.disabled = true;
    showError(formError, "");
    try {
      const body = new URLSearchParams({
        username: $("sign-in-username").value.trim(),
        password: $("sign-in-password").value,
      });
      const response = await fetch(api + "/auth/token", {
        method: "POST",
        headers: { Accept: "application/json" },
        body,
      });
      if (!response.ok) {
        showError(formError, await errorText(response));
        $("sign-in-password").select();
        return;
      }
      const token = (await response.json()).access_token;
      auth.token = token;
      const user = await loadMe();
      if (!user) {
        auth.token = null;
        showError(formError, "Signed in, but the account could not be read.");
        return;
      }
      sessionStorage.setItem(KEY, token);
      auth.user = user;
      dialog.close();
      render();
      (STAFF.has(user.role) ? addButton : signOutButton).focus();
      await reloadLayers(); // staff see layers that are not public
    } catch (err) {
      showError(formError, "The server did not answer: " + String((err && err.message) || err));
    } finally {
      submit.disabled = false;
    }
  }

  async function signOut() {
    auth.token = null;
    auth.user = null;
    sessionStorage.removeItem(KEY);
    render();
    openButton.focus();
    await reloadLayers();
  }

  openButton.addEventListener("click", openSignIn);
  $("sign-in-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", signIn);
  signOutButton.addEventListener("click", signOut);
  dialog.addEventListener("close", () => {
    if (!auth.user) openButton.focus();
  });

  // ---------------------------------------------------------------- add a layer

  const uploadPanel = $("upload-panel");
  const uploadForm = $("upload-form");
  const fileInput = $("upload-files");
  const fileList = $("upload-file-list");
  const dropZone = $("drop-zone");
  const uploadError = $("upload-error");
  const card = $("job-card");
  let chosen = []; // File objects
  let polling = null; // the job id being followed

  function setUploadOpen(open) {
    uploadPanel.hidden = !open;
    addButton.setAttribute("aria-expanded", String(open));
    addButton.classList.toggle("active", open);
  }

  addButton.addEventListener("click", () => {
    const open = uploadPanel.hidden;
    setUploadOpen(open);
    if (open) fileInput.focus();
  });
  $("upload-close").addEventListener("click", () => {
    setUploadOpen(false);
    addButton.focus();
  });
  uploadPanel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      setUploadOpen(false);
      addButton.focus();
    }
  });

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function setFiles(files) {
    chosen = Array.from(files || []);
    fileList.textContent = "";
    for (const f of chosen) {
      const li = document.createElement("li");
      li.textContent = f.name;
      const size = document.createElement("span");
      size.className = "muted";
      size.textContent = formatSize(f.size);
      li.append(" ", size);
      fileList.append(li);
    }
    dropZone.classList.toggle("has-files", chosen.length > 0);
    showError(uploadError, "");
  }

  fileInput.addEventListener("change", () => setFiles(fileInput.files));
  for (const type of ["dragenter", "dragover"]) {
    dropZone.addEventListener(type, (e) => {
      e.preventDefault();
      dropZone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropZone.addEventListener(type, () => dropZone.classList.remove("dragging"));
  }
  dropZone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) setFiles(e.dataTransfer.files);
  });

  const STATUS_TEXT = {
    queued: "queued",
    running: "running",
    succeeded: "done",
    failed: "failed",
    cancelled: "cancelled",
    uploading: "uploading",
  };
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);

  function showJob(job, title) {
    auth.job = job;
    card.hidden = false;
    if (title !== undefined) $("job-title").textContent = title;
    const status = $("job-status");
    status.textContent = STATUS_TEXT[job.status] || job.status;
    status.className = "job-status " + job.status;
    card.dataset.status = job.status;
    const bar = $("job-progress");
    if (job.status === "uploading" || job.status === "queued") {
      bar.removeAttribute("value"); // indeterminate
    } else {
      bar.value = job.status === "succeeded" ? 1 : Math.max(0, Math.min(1, job.progress || 0));
    }
    let text = job.message || "";
    if (job.status === "succeeded" && job.result) {
      const n = job.result.count;
      const parts = ["Imported"];
      if (n !== undefined && n !== null) parts.push(new Intl.NumberFormat("en-US").format(n));
      parts.push(n === 1 ? "item" : "items");
      if (job.result.version) parts.push("· version " + job.result.version);
      text = parts.join(" ");
    }
    $("job-message").textContent = text;
    showError($("job-error"), job.status === "failed" ? job.error || "The import failed." : "");
    const cancel = $("job-cancel");
    cancel.hidden = FINAL.has(job.status);
    cancel.disabled = job.status === "uploading" || !!job.cancel_requested;
  }

  async function upload(event) {
    event.preventDefault();
    if (polling) return;
    showError(uploadError, "");
    if (!chosen.length) {
      showError(uploadError, "Choose one or more files first.");
      fileInput.focus();
      return;
    }
    const data = new FormData();
    for (const f of chosen) data.append("files", f, f.name);
    const name = $("upload-name").value.trim();
    const srs = $("upload-srs").value.trim();
    if (name) data.append("name", name);
    if (srs) data.append("srs", srs);
    const title = name || chosen[0].name;
    const submit = $("upload-submit");
    submit.disabled = true;
    showJob({ status: "uploading", progress: 0, message: "Sending the files…" }, title);
    try {
      const response = await fetch(api + "/layers", {
        method: "POST",
        headers: auth.headers(),
        body: data,
      });
      if (!response.ok) {
        const detail = await errorText(response);
        showJob({ status: "failed", progress: 0, message: "", error: detail });
        if (response.status === 401) await signOut();
        return;
      }
      const job = await response.json();
      showJob(job);
      await follow(job.id);
    } catch (err) {
      showJob({
        status: "failed",
        progress: 0,
        message: "",
        error: "The server did not answer: " + String((err && err.message) || err),
      });
    } finally {
      submit.disabled = false;
      polling = null;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function follow(id) {
    polling = id;
    let job = auth.job;
    while (!FINAL.has(job.status)) {
      await sleep(POLL_MS);
      const response = await fetch(api + "/jobs/" + encodeURIComponent(id), {
        headers: auth.headers(),
      });
      if (!response.ok) {
        showJob({ status: "failed", progress: 0, message: "", error: await errorText(response) });
        return;
      }
      job = await response.json();
      showJob(job);
    }
    if (job.status === "succeeded") {
      await reloadLayers();
      const layerId = job.result && job.result.layer_id;
      const twin = window.twin;
      if (layerId !== undefined && twin && twin.zoomTo) await twin.zoomTo(layerId);
      const row = document.querySelector(`#layer-list [data-layer-id="${layerId}"]`);
      if (row) row.scrollIntoView({ block: "nearest" });
      setFiles([]);
      fileInput.value = "";
      $("upload-name").value = "";
    }
  }

  async function cancelJob() {
    const id = polling;
    if (!id) return;
    const cancel = $("job-cancel");
    cancel.disabled = true;
    const response = await fetch(api + "/jobs/" + encodeURIComponent(id), {
      method: "DELETE",
      headers: auth.headers(),
    });
    if (!response.ok) {
      showError($("job-error"), await errorText(response));
      cancel.disabled = false;
    } else {
      $("job-message").textContent = "Cancelling…";
    }
  }

  uploadForm.addEventListener("submit", upload);
  $("job-cancel").addEventListener("click", cancelJob);

  // ---------------------------------------------------------------- start

  auth.ready = loadMe().then((user) => {
    if (!user && auth.token) {
      auth.token = null; // expired or from another server: forget it
      sessionStorage.removeItem(KEY);
    }
    auth.user = user;
    render();
    return user;
  });
  render();
})();

/* twin meeting pages: the presenter's screen (/meeting/<id>, for a projector: large type, high
 * contrast) and the citizens' page (/m/<token>). One scene, the project's variants drawn with
 * variant.js, the approved comments pinned in 3D, and the meeting's live socket
 * (/api/v1/public/meetings/<token>/live) that every screen follows:
 *
 * - presenter: steps through the bookmarks (Right, PageDown, Space: next; Left, PageUp:
 *   previous; what clickers send), an optional tour, switches variants; each step is POSTed to
 *   /meetings/<id>/state and so reaches every follower. Moderates the pending comments.
 * - public: follows the presenter (or looks around on its own), pins a comment by clicking the
 *   view, votes for a variant (a random voter id kept in this browser), sees the approved
 *   comments and the votes as they come. Nothing personal is asked.
 *
 * All text from people is put in the page as text (textContent), never as markup.
 *
 * Tests read `window.twinMeeting`: mode, ready (promise), state, state_version, variantId,
 * bookmark, bookmarks, variants, comments (approved), pending, votes, connected, messages,
 * error, go(i), next(), prev(), showVariant(id), approve(id), reject(id), pin(lon, lat, height),
 * sendComment(text), vote(variantId), tour(on), scene, renderer, pins (entities).
 */
(function () {
  "use strict";

  const { element } = window.TwinDom;
  const { request, auth, api } = window.TwinScene;
  const config = window.TWIN_MEETING || {};
  const PRESENTER = config.mode === "presenter";
  const $ = (id) => document.getElementById(id);

  const m = {
    mode: config.mode,
    meeting: null, // presenter: the Meeting
    token: config.token || null,
    title: "",
    state: {},
    state_version: 0,
    variantId: null,
    bookmark: null,
    bookmarks: [],
    variants: [],
    comments: [],
    pending: [],
    votes: {},
    connected: false,
    messages: 0,
    error: null,
    touring: false,
    scene: null,
    renderer: null,
    pins: null,
    go: (i) => go(i),
    next: () => go(m.bookmark === null ? 0 : m.bookmark + 1),
    prev: () => go(m.bookmark === null ? 0 : m.bookmark - 1),
    showVariant: (id) => switchVariant(id),
    approve: (id) => moderate(id, "approved"),
    reject: (id) => moderate(id, "rejected"),
    pin: (lon, lat, height) => setPin(lon, lat, height),
    sendComment: (text) => sendComment(text),
    vote: (id) => vote(id),
    tour: (on) => tour(on),
  };
  window.twinMeeting = m;

  function showError(text) {
    m.error = text || null;
    const el = $("meeting-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function fatal(text) {
    m.error = text;
    document.querySelector(".stage").append(element("div", { className: "page-message", textContent: text }));
    const side = $("meeting-side");
    if (side) side.hidden = true;
    $("meeting-step").hidden = true;
    setLive(false, "closed");
  }

  const headers = () => (PRESENTER ? auth.headers() : { Accept: "application/json" });
  const call = (method, path, body) => request(method, path, body, headers());

  // ---------------------------------------------------------------- scene and variants

  function variantById(id) {
    return m.variants.find((v) => v.id === Number(id)) || null;
  }

  function showVariantLocally(id) {
    const variant = id === null || id === undefined ? null : variantById(id);
    m.variantId = variant ? variant.id : null;
    if (m.renderer) m.renderer.show(variant ? variant.content || {} : {});
    renderVariants();
  }

  /** Mirror a meeting state: the variant, the bookmark's layers, the camera. */
  function applyState(state, version, options) {
    const opts = options || {};
    if (version !== undefined && version !== null) {
      if (version < m.state_version && !opts.force) return false;
      m.state_version = version;
    }
    m.state = state || {};
    const bookmark = Number.isInteger(m.state.bookmark) ? m.bookmarks[m.state.bookmark] : null;
    m.bookmark = bookmark ? m.state.bookmark : null;
    // Before the presenter's first step (an empty state, as the socket's hello says too):
    // the first variant, rather than the bare scene.
    const first = m.variants.length ? m.variants[0].id : null;
    const variantId = m.state.variant_id !== undefined && m.state.variant_id !== null
      ? m.state.variant_id
      : bookmark ? bookmark.variant_id : first;
    if (variantId !== m.variantId || opts.force) showVariantLocally(variantId);
    if (m.scene) {
      if (bookmark && bookmark.layers && bookmark.layers.length) m.scene.setLayers(bookmark.layers);
      const follow = PRESENTER || !$("meeting-follow") || $("meeting-follow").checked;
      const camera = m.state.camera || (bookmark && bookmark.camera);
      if (camera && follow && !opts.noFly) m.scene.flyTo(camera, opts.duration === undefined ? 1.5 : opts.duration);
    }
    renderStep();
    renderBookmarks();
    return true;
  }

  // ---------------------------------------------------------------- comment pins

  function pinEntity(comment) {
    if (!m.pins || comment.lon === null || comment.lon === undefined) return;
    const id = "comment:" + comment.id;
    if (m.pins.entities.getById(id)) return;
    const text = comment.text.length > 48 ? comment.text.slice(0, 45) + "…" : comment.text;
    const hasHeight = comment.height !== null && comment.height !== undefined;
    m.pins.entities.add({
      id,
      position: Cesium.Cartesian3.fromDegrees(comment.lon, comment.lat, hasHeight ? comment.height : 0),
      point: {
        pixelSize: PRESENTER ? 18 : 14,
        color: Cesium.Color.fromCssColorString("#f472b6"),
        outlineColor: Cesium.Color.WHITE,
        outlineWidth: 3,
        heightReference: hasHeight ? Cesium.HeightReference.NONE : Cesium.HeightReference.CLAMP_TO_GROUND,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
      label: {
        text, // a Cesium label draws text, never markup
        font: `600 ${PRESENTER ? 20 : 15}px system-ui, "Segoe UI", Roboto, sans-serif`,
        fillColor: Cesium.Color.WHITE,
        showBackground: true,
        backgroundColor: Cesium.Color.fromCssColorString("#000000").withAlpha(0.8),
        backgroundPadding: new Cesium.Cartesian2(8, 5),
        verticalOrigin: Cesium.VerticalOrigin.BOTTOM,
        pixelOffset: new Cesium.Cartesian2(0, -14),
        heightReference: hasHeight ? Cesium.HeightReference.NONE : Cesium.HeightReference.CLAMP_TO_GROUND,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
    });
    settle();
  }

  /** A few frames more: a label's glyphs are drawn into their atlas over the next frames, and
   * the view renders on request only. */
  function settle() {
    const scene = m.scene.viewer.scene;
    scene.requestRender();
    for (const ms of [100, 300, 700, 1500]) setTimeout(() => scene.requestRender(), ms);
  }

  function addApproved(comment) {
    if (m.comments.some((c) => c.id === comment.id)) return;
    m.comments.push(comment);
    m.pending = m.pending.filter((c) => c.id !== comment.id);
    pinEntity(comment);
    renderComments();
    renderPending();
  }

  function commentItem(comment) {
    const li = element("li", null, element("span", { className: "comment-text", textContent: comment.text }));
    li.dataset.commentId = String(comment.id);
    const variant = comment.variant_id ? variantById(comment.variant_id) : null;
    if (variant) li.append(element("div", { className: "muted", textContent: "on " + variant.name }));
    return li;
  }

  function renderComments() {
    const list = $("meeting-comments");
    list.textContent = "";
    for (const c of m.comments.slice().reverse()) list.append(commentItem(c));
    if (!m.comments.length) list.append(element("li", { className: "muted", textContent: "No comment yet." }));
    $("meeting-approved-count").textContent = m.comments.length ? String(m.comments.length) : "";
  }

  // ---------------------------------------------------------------- votes

  const VOTER_KEY = "twin.voter";
  function voterId() {
    let id = localStorage.getItem(VOTER_KEY);
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem(VOTER_KEY, id);
    }
    return id;
  }

  function renderVotes() {
    const list = $("meeting-votes");
    if (!list) return;
    list.textContent = "";
    const mine = m.token ? localStorage.getItem("twin.vote." + m.token) : null;
    for (const v of m.variants) {
      const count = m.votes[String(v.id)] || 0;
      const li = element("li", null, element("span", { textContent: v.name }));
      if (!PRESENTER) {
        const button = element("button", {
          type: "button",
          className: "button small" + (mine === String(v.id) ? " primary" : ""),
          textContent: mine === String(v.id) ? "Your vote" : "Vote",
        });
        button.setAttribute("aria-label", "Vote for " + v.name);
        button.addEventListener("click", () => vote(v.id));
        li.append(button);
      }
      const n = element("span", { className: "vote-count", textContent: String(count) });
      n.dataset.variantId = String(v.id);
      li.append(n);
      li.dataset.variantId = String(v.id);
      list.append(li);
    }
  }

  async function vote(variantId) {
    try {
      const answer = await call("POST", `/public/meetings/${encodeURIComponent(m.token)}/votes`, {
        variant_id: Number(variantId),
        voter: voterId(),
      });
      m.votes = answer.votes || {};
      localStorage.setItem("twin.vote." + m.token, String(variantId));
      renderVotes();
      return m.votes;
    } catch (err) {
      showError(String((err && err.message) || err));
      return null;
    }
  }

  // ---------------------------------------------------------------- step bar, variants

  function renderStep() {
    const text = $("meeting-step-text");
    const bm = m.bookmark !== null ? m.bookmarks[m.bookmark] : null;
    const variant = variantById(m.variantId);
    const parts = [];
    if (bm) parts.push(`${m.bookmark + 1} / ${m.bookmarks.length}  ${bm.title || ""}`.trim());
    if (variant && (!bm || bm.title !== variant.name)) parts.push(variant.name);
    text.textContent = parts.join(" · ") || m.title;
    if (PRESENTER) {
      $("meeting-prev").disabled = !m.bookmarks.length || m.bookmark === 0;
      $("meeting-next").disabled = !m.bookmarks.length || m.bookmark === m.bookmarks.length - 1;
    }
  }

  function renderVariants() {
    const box = $("meeting-variants");
    if (!box) return;
    box.textContent = "";
    for (const v of m.variants) {
      const button = element("button", {
        type: "button",
        className: "button" + (v.id === m.variantId ? " active" : ""),
        textContent: v.name,
      });
      button.setAttribute("aria-pressed", String(v.id === m.variantId));
      button.dataset.variantId = String(v.id);
      button.addEventListener("click", () => switchVariant(v.id));
      box.append(button);
    }
  }

  function renderBookmarks() {
    const list = $("meeting-bookmarks");
    if (!list) return;
    list.textContent = "";
    m.bookmarks.forEach((bm, i) => {
      const button = element("button", {
        type: "button",
        className: "link",
        textContent: `${i + 1}. ${bm.title || "Bookmark"}`,
      });
      button.addEventListener("click", () => go(i));
      const li = element("li", { className: i === m.bookmark ? "active" : "" }, button);
      if (i === m.bookmark) li.setAttribute("aria-current", "step");
      list.append(li);
    });
    if (!m.bookmarks.length) list.append(element("li", { className: "muted", textContent: "No bookmark: add views from the Projects panel." }));
  }

  // ---------------------------------------------------------------- presenter

  async function postState(state) {
    if (!PRESENTER) return null;
    const answer = await call("POST", `/meetings/${m.meeting.id}/state`, state);
    if (answer.state_version >= m.state_version) {
      m.state_version = answer.state_version;
      m.state = answer.state;
    }
    return answer;
  }

  async function go(i) {
    if (!PRESENTER || !m.bookmarks.length) return null;
    const index = Math.max(0, Math.min(m.bookmarks.length - 1, i));
    const bm = m.bookmarks[index];
    const state = {
      bookmark: index,
      variant_id: bm.variant_id !== undefined && bm.variant_id !== null ? bm.variant_id : m.variantId,
      compare_variant_id: null,
      camera: bm.camera || null,
      moved: null,
    };
    applyState(state, null);
    try {
      return await postState(state);
    } catch (err) {
      showError(String((err && err.message) || err));
      return null;
    }
  }

  async function switchVariant(id) {
    if (!PRESENTER) return null;
    const state = {
      bookmark: m.bookmark,
      variant_id: Number(id),
      compare_variant_id: null,
      camera: m.scene ? m.scene.camera() : null,
      moved: null,
    };
    applyState(state, null, { noFly: true });
    try {
      return await postState(state);
    } catch (err) {
      showError(String((err && err.message) || err));
      return null;
    }
  }

  let tourTimer = null;
  function tour(on) {
    m.touring = on === undefined ? !m.touring : !!on;
    clearTimeout(tourTimer);
    const button = $("meeting-tour");
    if (button) {
      button.textContent = m.touring ? "Stop tour" : "Play tour";
      button.setAttribute("aria-pressed", String(m.touring));
    }
    if (!m.touring) return;
    const step = () => {
      if (!m.touring) return;
      const nextIndex = m.bookmark === null ? 0 : m.bookmark + 1;
      if (nextIndex >= m.bookmarks.length) {
        tour(false);
        return;
      }
      go(nextIndex);
      const bm = m.bookmarks[nextIndex];
      tourTimer = setTimeout(step, 1000 * ((bm && bm.duration_s) || 8));
    };
    step();
  }

  async function moderate(id, status) {
    try {
      const comment = await call("POST", `/meetings/${m.meeting.id}/comments/${id}/moderate`, { status });
      m.pending = m.pending.filter((c) => c.id !== comment.id);
      if (comment.status === "approved") addApproved(comment);
      renderPending();
      return comment;
    } catch (err) {
      showError(String((err && err.message) || err));
      return null;
    }
  }

  async function loadPending() {
    if (!PRESENTER) return;
    try {
      m.pending = await call("GET", `/meetings/${m.meeting.id}/comments?status=pending`);
    } catch (err) {
      showError(String((err && err.message) || err));
    }
    renderPending();
  }

  function renderPending() {
    const list = $("meeting-pending");
    if (!list) return;
    list.textContent = "";
    for (const c of m.pending) {
      const li = commentItem(c);
      const approve = element("button", { type: "button", className: "button small primary", textContent: "Approve" });
      const reject = element("button", { type: "button", className: "button small", textContent: "Reject" });
      approve.addEventListener("click", () => moderate(c.id, "approved"));
      reject.addEventListener("click", () => moderate(c.id, "rejected"));
      li.append(element("div", { className: "comment-actions" }, approve, reject));
      list.append(li);
    }
    if (!m.pending.length) list.append(element("li", { className: "muted", textContent: "Nothing waiting." }));
    $("meeting-pending-count").textContent = m.pending.length ? String(m.pending.length) : "";
  }

  function wirePresenter() {
    $("meeting-prev").addEventListener("click", () => m.prev());
    $("meeting-next").addEventListener("click", () => m.next());
    $("meeting-tour").addEventListener("click", () => tour());
    $("meeting-fullscreen").addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(() => {});
    });
    document.addEventListener("keydown", (e) => {
      if (e.target.closest && e.target.closest("input, textarea, select")) return;
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const next = ["ArrowRight", "PageDown", " ", "Spacebar"].includes(e.key);
      const prev = ["ArrowLeft", "PageUp"].includes(e.key);
      if (next || prev) {
        e.preventDefault();
        if (m.touring) tour(false);
        if (next) m.next();
        else m.prev();
      } else if (e.key === "f" || e.key === "F") {
        $("meeting-fullscreen").click();
      }
    });
    // "Share my view": the presenter's own moves are followed too.
    let shareTimer = null;
    m.scene.viewer.camera.moveEnd.addEventListener(() => {
      if (!$("meeting-share-view").checked) return;
      clearTimeout(shareTimer);
      shareTimer = setTimeout(() => {
        postState({ ...m.state, camera: m.scene.camera() }).catch((err) => showError(String(err.message || err)));
      }, 400);
    });
  }

  // ---------------------------------------------------------------- public: comments

  let pinned = null; // {lon, lat, height}
  let pinEntityMine = null;

  function setPin(lon, lat, height) {
    pinned = lon === null || lon === undefined ? null : { lon, lat, height: height === undefined ? null : height };
    if (m.pins) {
      if (pinEntityMine) m.pins.entities.remove(pinEntityMine);
      pinEntityMine = null;
      if (pinned) {
        pinEntityMine = m.pins.entities.add({
          position: Cesium.Cartesian3.fromDegrees(pinned.lon, pinned.lat, pinned.height || 0),
          point: {
            pixelSize: 16,
            color: Cesium.Color.fromCssColorString("#facc15"),
            outlineColor: Cesium.Color.BLACK,
            outlineWidth: 3,
            heightReference: pinned.height === null ? Cesium.HeightReference.CLAMP_TO_GROUND : Cesium.HeightReference.NONE,
            disableDepthTestDistance: Number.POSITIVE_INFINITY,
          },
        });
      }
      m.scene.viewer.scene.requestRender();
    }
    $("comment-where").textContent = pinned
      ? `Pinned at ${pinned.lon.toFixed(5)}, ${pinned.lat.toFixed(5)}.`
      : "Click the 3D view where your comment applies (optional).";
    $("comment-clear-pin").hidden = !pinned;
    return pinned;
  }

  function pointAt(position) {
    const scene = m.scene.viewer.scene;
    let world;
    if (scene.pickPositionSupported) {
      try {
        world = scene.pickPosition(position);
      } catch (_) {
        world = undefined;
      }
    }
    if (!world) {
      const ray = m.scene.viewer.camera.getPickRay(position);
      world = ray && scene.globe.pick(ray, scene);
    }
    if (!world) return null;
    const c = Cesium.Cartographic.fromCartesian(world);
    return c ? [Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude), c.height] : null;
  }

  async function sendComment(text) {
    const body = {
      text: text === undefined ? $("comment-text").value : text,
      variant_id: m.variantId,
      website: $("comment-website").value,
    };
    if (pinned) {
      body.lon = Math.round(pinned.lon * 1e7) / 1e7;
      body.lat = Math.round(pinned.lat * 1e7) / 1e7;
      if (pinned.height !== null && Number.isFinite(pinned.height)) {
        body.height = Math.max(-500, Math.min(10000, Math.round(pinned.height * 100) / 100));
      }
    }
    const sent = $("comment-sent");
    sent.hidden = true;
    showError("");
    if (!body.text.trim()) {
      showError("Write your comment first.");
      return null;
    }
    $("comment-send").disabled = true;
    try {
      const response = await fetch(`${api}/public/meetings/${encodeURIComponent(m.token)}/comments`, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.status === 429) {
        const wait = response.headers.get("Retry-After");
        throw new Error(`Too many messages from here: try again in ${wait || "a few"} seconds.`);
      }
      if (!response.ok) throw new Error(await window.TwinDom.errorText(response));
      const answer = await response.json();
      sent.textContent = "Sent. Your comment will appear after moderation.";
      sent.hidden = false;
      $("comment-text").value = "";
      updateCounter();
      setPin(null);
      return answer;
    } catch (err) {
      showError(String((err && err.message) || err));
      return null;
    } finally {
      $("comment-send").disabled = false;
    }
  }

  function updateCounter() {
    const n = $("comment-text").value.length;
    const counter = $("comment-counter");
    counter.textContent = `${n} / 1000`;
    counter.classList.toggle("warn", n > 900);
  }

  function wirePublic() {
    $("comment-text").addEventListener("input", updateCounter);
    $("comment-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sendComment();
    });
    $("comment-clear-pin").addEventListener("click", () => setPin(null));
    const handler = new Cesium.ScreenSpaceEventHandler(m.scene.viewer.scene.canvas);
    handler.setInputAction((click) => {
      const at = pointAt(click.position);
      if (at) setPin(at[0], at[1], at[2]);
    }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
    $("meeting-follow").addEventListener("change", (e) => {
      if (e.target.checked) applyState(m.state, null, { force: true });
    });
  }

  // ---------------------------------------------------------------- live socket

  function setLive(on, text) {
    m.connected = on;
    const el = $("meeting-live");
    el.textContent = text || (on ? "live" : "reconnecting…");
    el.classList.toggle("on", on);
  }

  let socket = null;
  let retry = 1000;
  let closed = false;
  function connect() {
    if (closed || !m.token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = (m.meeting && m.meeting.live_url) || `${api}/public/meetings/${encodeURIComponent(m.token)}/live`;
    socket = new WebSocket(`${scheme}//${location.host}${path}`);
    socket.addEventListener("open", () => {
      retry = 1000;
      setLive(true);
    });
    socket.addEventListener("message", (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      m.messages++;
      onMessage(msg);
    });
    socket.addEventListener("close", (e) => {
      setLive(false);
      if (e.code === 4404) {
        closed = true;
        fatal("This meeting link is not valid or has expired.");
        return;
      }
      setTimeout(connect, retry);
      retry = Math.min(15000, retry * 2);
    });
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "hello":
      case "state":
        // The presenter's own steps are already on its screen; a follower mirrors them.
        if (PRESENTER && msg.state_version <= m.state_version) break;
        applyState(msg.state, msg.state_version, { duration: msg.type === "hello" ? 0 : 1.5 });
        break;
      case "variant": {
        const v = msg.variant;
        const i = m.variants.findIndex((x) => x.id === v.id);
        if (i >= 0) m.variants[i] = v;
        else m.variants.push(v);
        if (v.id === m.variantId) showVariantLocally(v.id);
        renderVotes();
        break;
      }
      case "comment":
        addApproved(msg.comment);
        break;
      case "votes":
        m.votes = msg.votes || {};
        renderVotes();
        break;
      case "pending":
        loadPending();
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- start

  async function loadPresenter() {
    if (!auth.token || !(await auth.me())) {
      await window.TwinScene.signInForm(document.querySelector(".stage"), "Presenters sign in with their staff account.");
    }
    try {
      m.meeting = await call("GET", `/meetings/${config.id}`);
    } catch (err) {
      fatal(err.status === 404 ? "This meeting does not exist or is not shared with you." : String(err.message || err));
      return false;
    }
    m.token = m.meeting.token;
    const [project, approved, pub] = await Promise.all([
      call("GET", `/projects/${m.meeting.project_id}`),
      call("GET", `/meetings/${m.meeting.id}/comments?status=approved`),
      call("GET", `/public/meetings/${encodeURIComponent(m.token)}`).catch(() => null),
    ]);
    m.title = m.meeting.title;
    m.variants = project.variants || [];
    m.bookmarks = m.meeting.bookmarks || [];
    m.votes = (pub && pub.votes) || {};
    m.comments = approved;
    const link = $("meeting-link");
    link.href = m.meeting.public_url;
    link.textContent = location.origin + m.meeting.public_url;
    return { state: m.meeting.state, version: m.meeting.state_version, projectId: project.id };
  }

  async function loadPublic() {
    let data;
    try {
      data = await call("GET", `/public/meetings/${encodeURIComponent(m.token)}`);
    } catch (err) {
      fatal(
        err.status === 404
          ? "This meeting link is not valid or has expired."
          : err.status === 429
            ? "Too many visits from here: wait a minute and reload the page."
            : String(err.message || err),
      );
      return false;
    }
    m.title = data.title;
    m.variants = data.variants || [];
    m.bookmarks = data.bookmarks || [];
    m.votes = data.votes || {};
    m.comments = data.comments || [];
    const project = $("meeting-project");
    project.textContent = [data.project.name, data.project.description].filter(Boolean).join(" — ");
    if (!data.comments_open) {
      $("comment-form").hidden = true;
      project.append(element("span", { textContent: " Comments are closed." }));
    }
    return { state: data.state, version: data.state_version, projectId: null };
  }

  async function start() {
    const loaded = PRESENTER ? await loadPresenter() : await loadPublic();
    if (!loaded) return false;
    $("meeting-title").textContent = m.title;
    document.title = `${m.title} · twin`;
    const assetUrl = PRESENTER
      ? (assetId) =>
          new Cesium.Resource({
            url: `${api}/projects/${loaded.projectId}/assets/${encodeURIComponent(assetId)}`,
            headers: auth.headers(),
          })
      : (assetId) => `${api}/public/meetings/${encodeURIComponent(m.token)}/assets/${encodeURIComponent(assetId)}`;
    const only = window.TwinScene.layersFor(m.variants.map((v) => v.content), m.bookmarks);
    m.scene = window.TwinScene.create("cesium", { headers: headers(), controls: PRESENTER, only });
    m.renderer = window.TwinVariant.renderer(m.scene.viewer, {
      tilesetOf: (id) => m.scene.tilesetOf(id),
      assetUrl,
      setLayerVisible: (id, visible) => {
        const t = m.scene.tilesetOf(id);
        if (t) t.show = visible;
      },
    });
    m.pins = new Cesium.CustomDataSource("comments");
    m.scene.viewer.dataSources.add(m.pins);
    for (const c of m.comments) pinEntity(c);
    renderComments();
    renderVotes();
    renderVariants();
    if (PRESENTER) {
      wirePresenter();
      renderPending();
      loadPending();
    } else {
      wirePublic();
    }
    applyState(loaded.state, loaded.version, { force: true, duration: 0 });
    if (!m.state.camera && m.bookmark === null && m.bookmarks.length) {
      m.scene.setView(m.bookmarks[0].camera); // before the first step: where it will start
    }
    connect();
    await m.scene.ready;
    m.renderer.refresh();
    // The bookmark's layers, now that they are loaded.
    const bm = m.bookmark !== null ? m.bookmarks[m.bookmark] : null;
    if (bm && bm.layers && bm.layers.length) m.scene.setLayers(bm.layers);
    return true;
  }

  m.ready = start().catch((err) => {
    fatal(String((err && err.message) || err));
    return false;
  });
})();

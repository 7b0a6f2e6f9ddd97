/* twin page helpers shared by every script of the viewer and the dashboard (loaded first). */
(function () {
  "use strict";

  /** An element with properties and children (null/undefined children skipped). */
  function element(tag, props, ...children) {
    const el = document.createElement(tag);
    Object.assign(el, props || {});
    for (const child of children) {
      if (child !== null && child !== undefined) el.append(child);
    }
    return el;
  }

  /** The server's {"detail": ...} of a failed response as one line of text. */
  async function errorText(response) {
    let detail = "";
    try {
      const body = await response.json();
      detail = body.detail !== undefined ? body.detail : body.message;
      if (Array.isArray(detail)) {
        detail = detail.map((d) => (d && d.msg) || JSON.stringify(d)).join("; ");
      } else if (detail && typeof detail !== "string") {
        detail = JSON.stringify(detail);
      }
    } catch (_) {
      /* not JSON */
    }
    return detail || `HTTP ${response.status} ${response.statusText}`.trim();
  }

  window.TwinDom = { element, errorText };
})();

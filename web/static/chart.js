/* twin charts: small SVG charts drawn here (no chart library, nothing fetched), shared by the
 * viewer's sensor panel and the dashboard, with the sensor vocabulary both pages use: type names
 * and colours, quantity labels, the value colour ramp, number and local-time formatting.
 * Exposed as `window.TwinChart`:
 *
 *   timeSeries(container, { height, zoom, onZoom(start, end), onReset(), legend })
 *     -> chart: update({ series, domain, unit, message }), count (points drawn), domain
 *        series: [{ name, colour, points: [{ t: ms, v, min?, max? }] }]; points with min/max
 *        get a band (aggregated data); a gap much longer than the usual step breaks the line.
 *        With `zoom`, dragging across the plot calls onZoom(start, end) (ms) and shows that
 *        range at once; a double-click calls onReset().
 *   bars(container, { height }) -> chart: update({ bins: [{ label, value, colour, title }],
 *        unit, message })
 *
 * Both redraw when their container changes width (a panel opening, a window resized).
 */
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";

  // ---------------------------------------------------------------- vocabulary

  /** Smart Data Models types: what people call them, and one colour each (maps, legends). */
  const TYPES = {
    NoiseLevelObserved: { label: "Noise", colour: "#f472b6" },
    WasteContainer: { label: "Waste bins", colour: "#a3e635" },
    WaterObserved: { label: "River level", colour: "#38bdf8" },
    WaterQualityObserved: { label: "Water quality", colour: "#2dd4bf" },
    TrafficFlowObserved: { label: "Bike counters", colour: "#fb923c" },
    CrowdFlowObserved: { label: "Pedestrian counters", colour: "#facc15" },
    Streetlight: { label: "Street lights", colour: "#fde68a" },
    StreetlightControlCabinet: { label: "Lighting cabinets", colour: "#c084fc" },
    AirQualityObserved: { label: "Air quality", colour: "#f87171" },
    WeatherObserved: { label: "Weather", colour: "#818cf8" },
  };
  const OTHER_TYPE = { label: "Other", colour: "#94a3b8" };

  function typeInfo(type) {
    return TYPES[type] || { ...OTHER_TYPE, label: type || OTHER_TYPE.label };
  }

  /** Readable names of the quantities, and fixed colour ranges where the quantity has a
   * natural scale (a percentage, a regulatory limit): colours then mean the same thing from
   * one day to the next. The others are coloured over the range of the values shown. */
  const QUANTITIES = {
    LAeq: { label: "Noise LAeq", range: [40, 80] },
    LAmax: { label: "Noise peak LAmax", range: [50, 100] },
    fillingLevel: { label: "Fill level", range: [0, 100] },
    height: { label: "Water height" },
    flow: { label: "River flow" },
    NO2: { label: "NO₂", range: [0, 200] },
    PM10: { label: "PM10", range: [0, 50] },
    "PM2.5": { label: "PM2.5", range: [0, 25] },
    O3: { label: "O₃", range: [0, 180] },
    temperature: { label: "Temperature" },
    relativeHumidity: { label: "Humidity", range: [0, 100] },
    precipitation: { label: "Precipitation" },
    intensity: { label: "Passages" },
    power: { label: "Power" },
    O2: { label: "Dissolved O₂" },
    conductivity: { label: "Conductivity" },
    turbidity: { label: "Turbidity" },
  };

  function quantityInfo(name) {
    return QUANTITIES[name] || { label: name };
  }

  // Blue (low) to red (high), the ramp the point clouds' height mode uses too.
  const RAMP = ["#2b83ba", "#abdda4", "#ffffbf", "#fdae61", "#d7191c"];
  const RAMP_RGB = RAMP.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));

  /** The ramp's colour at t in [0, 1], as "#rrggbb". */
  function rampColour(t) {
    const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
    const i = Math.min(Math.floor(x), RAMP.length - 2);
    const f = x - i;
    const rgb = RAMP_RGB[i].map((a, k) => Math.round(a + (RAMP_RGB[i + 1][k] - a) * f));
    return "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
  }

  function rampCss() {
    return `linear-gradient(90deg, ${RAMP.join(", ")})`;
  }

  // ---------------------------------------------------------------- formatting

  const numberFormats = new Map();
  /** A reading as people read it: 3 significant digits or so, grouped thousands. */
  function formatNumber(value) {
    if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
    const v = Number(value);
    const a = Math.abs(v);
    const digits = a >= 100 || Number.isInteger(v) ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
    if (!numberFormats.has(digits)) {
      numberFormats.set(digits, new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }));
    }
    return numberFormats.get(digits).format(v);
  }

  const timeFormats = {
    time: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }),
    day: new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" }),
    weekday: new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" }),
    full: new Intl.DateTimeFormat(undefined, {
      weekday: "short",
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
    }),
    date: new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" }),
  };

  /** Local time: "14:05" today, "24 Nov, 14:05" another day; `style` picks a fixed format. */
  function formatTime(time, style) {
    const d = time instanceof Date ? time : new Date(time);
    if (Number.isNaN(d.getTime())) return "—";
    if (style) return timeFormats[style].format(d);
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return timeFormats.time.format(d);
    return timeFormats.day.format(d) + ", " + timeFormats.time.format(d);
  }

  /** "3 min ago", "2 h ago", "5 d ago" (or "in 2 min" for a clock running ahead). */
  function formatAge(time, now) {
    const ms = (now || Date.now()) - new Date(time).getTime();
    if (!Number.isFinite(ms)) return "";
    const a = Math.abs(ms);
    const text =
      a < 60_000
        ? "just now"
        : a < 3_600_000
          ? Math.round(a / 60_000) + " min"
          : a < 172_800_000
            ? Math.round(a / 3_600_000) + " h"
            : Math.round(a / 86_400_000) + " d";
    if (text === "just now") return text;
    return ms >= 0 ? text + " ago" : "in " + text;
  }

  const ISO_TIME = /\b\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)\b/g;

  /** A server message with its ISO 8601 instants in local time ("… at 14:05: above …"). */
  function formatMessage(text) {
    return String(text || "").replace(ISO_TIME, (iso) => formatTime(iso));
  }

  // ---------------------------------------------------------------- svg helpers

  function svgEl(tag, attrs, parent) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    }
    if (parent) parent.append(el);
    return el;
  }

  function htmlEl(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  /** About `count` round ticks over [lo, hi]. */
  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return ticks;
  }

  const MIN = 60_000;
  const HOUR = 60 * MIN;
  const DAY = 24 * HOUR;
  // prettier-ignore
  const TIME_STEPS = [
    MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
    HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
    DAY, 2 * DAY, 7 * DAY, 14 * DAY,
  ];

  /** Ticks on round local times (midnight, whole hours...) over [t0, t1], about `count`. */
  function timeTicks(t0, t1, count) {
    const span = t1 - t0;
    const step = TIME_STEPS.find((s) => span / s <= count) || 30 * DAY;
    const ticks = [];
    if (step < HOUR) {
      for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push({ t, step });
      return ticks;
    }
    // Whole hours or days counted from local midnight (so DST days stay on round hours).
    const d = new Date(t0);
    d.setHours(0, 0, 0, 0);
    if (step >= 7 * DAY) {
      d.setDate(d.getDate() - ((d.getDay() + 6) % 7)); // Mondays
    }
    const hours = step < DAY ? step / HOUR : 0;
    const days = step >= DAY ? step / DAY : 0;
    for (let guard = 0; guard < 2000 && d.getTime() <= t1; guard++) {
      if (d.getTime() >= t0) ticks.push({ t: d.getTime(), step });
      if (hours) d.setHours(d.getHours() + hours);
      else d.setDate(d.getDate() + days);
    }
    return ticks;
  }

  function tickLabel(tick) {
    const d = new Date(tick.t);
    const midnight = d.getHours() === 0 && d.getMinutes() === 0;
    if (tick.step >= DAY) {
      return tick.step >= 7 * DAY ? timeFormats.day.format(d) : timeFormats.weekday.format(d);
    }
    return midnight ? timeFormats.day.format(d) : timeFormats.time.format(d);
  }

  /** Split a series where a gap is much longer than its usual step (a sensor that was off). */
  function segments(points) {
    if (points.length < 3) return [points];
    const steps = [];
    for (let i = 1; i < points.length; i++) steps.push(points[i].t - points[i - 1].t);
    const sorted = steps.slice().sort((a, b) => a - b);
    const typical = sorted[Math.floor(sorted.length / 2)] || 1;
    const out = [[points[0]]];
    for (let i = 1; i < points.length; i++) {
      if (steps[i - 1] > Math.max(typical * 4, 2 * MIN)) out.push([]);
      out[out.length - 1].push(points[i]);
    }
    return out;
  }

  /** Redraw `draw` whenever the container's width changes (and once it has one). */
  function onWidth(container, draw) {
    let width = 0;
    const observer = new ResizeObserver(() => {
      const w = Math.round(container.clientWidth);
      if (w > 0 && w !== width) {
        width = w;
        draw();
      }
    });
    observer.observe(container);
    return observer;
  }

  // ---------------------------------------------------------------- time series

  function timeSeries(container, options) {
    const opts = Object.assign({ height: 200, zoom: false, legend: false }, options || {});
    container.classList.add("chart");
    const holder = htmlEl("div", "chart-plot");
    const tip = htmlEl("div", "chart-tip");
    tip.hidden = true;
    holder.append(tip);
    const legend = htmlEl("ul", "chart-legend");
    legend.hidden = !opts.legend;
    container.append(holder, legend);

    const chart = {
      series: [],
      unit: "",
      domain: null, // [t0, t1] shown (ms)
      message: "",
      count: 0,
      svg: null,
      update,
      redraw: draw,
    };
    let frame = null; // { x(t), y(v), left, right, top, bottom, t0, t1 }

    function update(data) {
      Object.assign(chart, {
        series: (data && data.series) || [],
        unit: (data && data.unit) || "",
        domain: (data && data.domain) || null,
        message: (data && data.message) || "",
      });
      draw();
      drawLegend();
    }

    function drawLegend() {
      legend.textContent = "";
      if (!opts.legend) return;
      for (const s of chart.series) {
        const item = htmlEl("li");
        const swatch = htmlEl("span", "swatch");
        swatch.style.background = s.colour;
        item.append(swatch, htmlEl("span", null, s.name));
        legend.append(item);
      }
    }

    function extent() {
      let t0 = Infinity;
      let t1 = -Infinity;
      let lo = Infinity;
      let hi = -Infinity;
      for (const s of chart.series) {
        for (const p of s.points) {
          t0 = Math.min(t0, p.t);
          t1 = Math.max(t1, p.t);
          for (const v of [p.v, p.min, p.max]) {
            if (Number.isFinite(v)) {
              lo = Math.min(lo, v);
              hi = Math.max(hi, v);
            }
          }
        }
      }
      if (chart.domain) [t0, t1] = chart.domain;
      return { t0, t1, lo, hi };
    }

    function draw() {
      const width = Math.round(holder.clientWidth);
      if (!width) return; // hidden: drawn when it gets a width
      const height = opts.height;
      if (chart.svg) chart.svg.remove();
      const svg = svgEl("svg", {
        class: "chart-svg",
        width,
        height,
        viewBox: `0 0 ${width} ${height}`,
        role: "img",
      });
      chart.svg = svg;
      holder.prepend(svg);
      // Every point given is drawn (clipped to the plot): a bucket that starts just before the
      // domain still belongs to it.
      const shown = chart.series;
      chart.count = shown.reduce((n, s) => n + s.points.length, 0);
      svg.dataset.count = String(chart.count);
      let { t0, t1, lo, hi } = extent();
      const left = 46;
      const right = width - 10;
      const top = chart.unit ? 22 : 10; // room for the unit above the axis
      const bottom = height - 24;
      if (!Number.isFinite(lo) || !Number.isFinite(t0) || chart.count === 0 || chart.message) {
        frame = null;
        const text = chart.message || "No readings in this period.";
        svgEl("text", { x: width / 2, y: height / 2, class: "chart-empty" }, svg).textContent =
          text;
        svg.setAttribute("aria-label", text);
        return;
      }
      if (t1 <= t0) {
        t0 -= HOUR;
        t1 += HOUR;
      }
      if (hi - lo < 1e-9) {
        const pad = Math.max(Math.abs(hi) * 0.05, 1);
        lo -= pad;
        hi += pad;
      }
      const yTicks = niceTicks(lo, hi, Math.max(2, Math.floor((bottom - top) / 36)));
      lo = Math.min(lo, yTicks[0]);
      hi = Math.max(hi, yTicks[yTicks.length - 1]);
      const x = (t) => left + ((t - t0) / (t1 - t0)) * (right - left);
      const y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
      frame = { x, y, left, right, top, bottom, t0, t1 };
      svg.setAttribute(
        "aria-label",
        `${chart.series.map((s) => s.name).join(", ")}: ${chart.count} points, ` +
          `${formatTime(t0)} to ${formatTime(t1)}`,
      );

      // Axes and grid.
      const grid = svgEl("g", { class: "chart-grid" }, svg);
      for (const v of yTicks) {
        const py = y(v);
        svgEl("line", { x1: left, x2: right, y1: py, y2: py }, grid);
        svgEl("text", { x: left - 6, y: py, class: "chart-ylabel" }, grid).textContent =
          formatNumber(v);
      }
      const xTicks = timeTicks(t0, t1, Math.max(2, Math.floor((right - left) / 80)));
      for (const tick of xTicks) {
        const px = x(tick.t);
        svgEl("line", { x1: px, x2: px, y1: top, y2: bottom, class: "chart-vgrid" }, grid);
        svgEl("text", { x: px, y: bottom + 16, class: "chart-xlabel" }, grid).textContent =
          tickLabel(tick);
      }
      if (chart.unit) {
        svgEl("text", { x: 4, y: 11, class: "chart-unit" }, grid).textContent = chart.unit;
      }
      svgEl("line", { x1: left, x2: right, y1: bottom, y2: bottom, class: "chart-axis" }, grid);

      // Data: band (min/max) under the line, then the line, then dots when they are few.
      const clip = "clip-" + Math.random().toString(36).slice(2);
      const defs = svgEl("defs", null, svg);
      const clipPath = svgEl("clipPath", { id: clip }, defs);
      svgEl("rect", { x: left, y: top - 2, width: right - left, height: bottom - top + 4 }, clipPath);
      const plot = svgEl("g", { "clip-path": `url(#${clip})` }, svg);
      for (const s of shown) {
        const group = svgEl("g", { class: "chart-series" }, plot);
        group.dataset.name = s.name;
        group.dataset.count = String(s.points.length);
        for (const seg of segments(s.points)) {
          const banded = seg.filter((p) => Number.isFinite(p.min) && Number.isFinite(p.max));
          if (banded.length > 1) {
            const upper = banded.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`);
            const lower = banded
              .slice()
              .reverse()
              .map((p) => `${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`);
            svgEl(
              "path",
              { d: `M${upper.join("L")}L${lower.join("L")}Z`, fill: s.colour, class: "chart-band" },
              group,
            );
          }
          const line = seg.filter((p) => Number.isFinite(p.v));
          if (line.length > 1) {
            const d = line.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
            svgEl("path", { d: d.join(""), stroke: s.colour, class: "chart-line" }, group);
          }
          // Dots where they help: a lone reading, or a few readings of one series.
          if (line.length === 1 || (shown.length === 1 && s.points.length <= 48)) {
            for (const p of line) {
              svgEl("circle", { cx: x(p.t), cy: y(p.v), r: 2.5, fill: s.colour }, group);
            }
          }
        }
      }

      // Interaction layer: hover read-out, drag to zoom, double-click to reset.
      const overlay = svgEl(
        "rect",
        { x: left, y: top, width: right - left, height: bottom - top, class: "chart-overlay" },
        svg,
      );
      const cursor = svgEl("line", { y1: top, y2: bottom, class: "chart-cursor" }, svg);
      cursor.style.display = "none";
      const selection = svgEl("rect", { y: top, height: bottom - top, class: "chart-selection" }, svg);
      selection.style.display = "none";
      if (opts.zoom) overlay.classList.add("zoomable");
      let dragFrom = null;
      const localX = (event) => {
        const box = svg.getBoundingClientRect();
        return Math.max(left, Math.min(right, event.clientX - box.left));
      };
      const timeAt = (px) => t0 + ((px - left) / (right - left)) * (t1 - t0);
      overlay.addEventListener("pointerdown", (event) => {
        if (!opts.zoom || event.button !== 0) return;
        dragFrom = localX(event);
        overlay.setPointerCapture(event.pointerId);
      });
      overlay.addEventListener("pointermove", (event) => {
        const px = localX(event);
        if (dragFrom !== null) {
          selection.style.display = "";
          selection.setAttribute("x", String(Math.min(dragFrom, px)));
          selection.setAttribute("width", String(Math.abs(px - dragFrom)));
        }
        showTip(px, shown);
        cursor.setAttribute("x1", String(px));
        cursor.setAttribute("x2", String(px));
        cursor.style.display = "";
      });
      overlay.addEventListener("pointerleave", () => {
        if (dragFrom !== null) return;
        tip.hidden = true;
        cursor.style.display = "none";
      });
      overlay.addEventListener("pointerup", (event) => {
        if (dragFrom === null) return;
        const px = localX(event);
        const from = dragFrom;
        dragFrom = null;
        selection.style.display = "none";
        if (Math.abs(px - from) < 6) return; // a click, not a drag
        const range = [timeAt(Math.min(from, px)), timeAt(Math.max(from, px))].map(Math.round);
        chart.domain = range;
        tip.hidden = true;
        draw();
        if (opts.onZoom) opts.onZoom(range[0], range[1]);
      });
      overlay.addEventListener("pointercancel", () => {
        dragFrom = null;
        selection.style.display = "none";
      });
      overlay.addEventListener("dblclick", (event) => {
        event.preventDefault();
        if (opts.onReset) opts.onReset();
      });
    }

    function showTip(px, shown) {
      if (!frame) return;
      const t = frame.t0 + ((px - frame.left) / (frame.right - frame.left)) * (frame.t1 - frame.t0);
      tip.textContent = "";
      let when = null;
      for (const s of shown) {
        let best = null;
        for (const p of s.points) {
          if (!best || Math.abs(p.t - t) < Math.abs(best.t - t)) best = p;
        }
        if (!best) continue;
        when = when === null ? best.t : when;
        const row = htmlEl("div", "chart-tip-row");
        const swatch = htmlEl("span", "swatch");
        swatch.style.background = s.colour;
        let text = formatNumber(best.v) + (chart.unit ? " " + chart.unit : "");
        if (Number.isFinite(best.min) && Number.isFinite(best.max) && best.min !== best.max) {
          text += ` (${formatNumber(best.min)}–${formatNumber(best.max)})`;
        }
        row.append(swatch, htmlEl("span", null, (shown.length > 1 ? s.name + ": " : "") + text));
        tip.append(row);
      }
      if (when === null) {
        tip.hidden = true;
        return;
      }
      tip.prepend(htmlEl("div", "chart-tip-time", formatTime(when, "full")));
      tip.hidden = false;
      const width = holder.clientWidth;
      const flip = px > width / 2;
      tip.style.left = flip ? "" : px + 10 + "px";
      tip.style.right = flip ? width - px + 10 + "px" : "";
    }

    onWidth(holder, draw);
    return chart;
  }

  // ---------------------------------------------------------------- bars

  function bars(container, options) {
    const opts = Object.assign({ height: 180 }, options || {});
    container.classList.add("chart");
    const holder = htmlEl("div", "chart-plot");
    container.append(holder);
    const chart = { bins: [], unit: "", message: "", svg: null, update, redraw: draw };

    function update(data) {
      Object.assign(chart, {
        bins: (data && data.bins) || [],
        unit: (data && data.unit) || "",
        message: (data && data.message) || "",
      });
      draw();
    }

    function draw() {
      const width = Math.round(holder.clientWidth);
      if (!width) return;
      const height = opts.height;
      if (chart.svg) chart.svg.remove();
      const svg = svgEl("svg", { class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}` });
      chart.svg = svg;
      holder.append(svg);
      const total = chart.bins.reduce((n, b) => n + (b.value || 0), 0);
      svg.dataset.total = String(total);
      if (!chart.bins.length || chart.message) {
        svgEl("text", { x: width / 2, y: height / 2, class: "chart-empty" }, svg).textContent =
          chart.message || "No data.";
        return;
      }
      const left = 36;
      const right = width - 6;
      const top = 16;
      const bottom = height - 22;
      const max = Math.max(1, ...chart.bins.map((b) => b.value || 0));
      const ticks = niceTicks(0, max, 3);
      const hi = Math.max(max, ticks[ticks.length - 1]);
      const y = (v) => bottom - (v / hi) * (bottom - top);
      const grid = svgEl("g", { class: "chart-grid" }, svg);
      for (const v of ticks) {
        svgEl("line", { x1: left, x2: right, y1: y(v), y2: y(v) }, grid);
        svgEl("text", { x: left - 6, y: y(v), class: "chart-ylabel" }, grid).textContent =
          formatNumber(v);
      }
      const slot = (right - left) / chart.bins.length;
      const barWidth = Math.max(2, slot * 0.78);
      const every = Math.ceil(chart.bins.length / Math.max(1, Math.floor((right - left) / 42)));
      chart.bins.forEach((b, i) => {
        const bx = left + i * slot + (slot - barWidth) / 2;
        const rect = svgEl(
          "rect",
          {
            x: bx,
            y: y(b.value || 0),
            width: barWidth,
            height: Math.max(0, bottom - y(b.value || 0)),
            rx: 2,
            fill: b.colour || "#38bdf8",
            class: "chart-bar",
          },
          svg,
        );
        rect.dataset.value = String(b.value || 0);
        svgEl("title", null, rect).textContent = b.title || `${b.label}: ${b.value}`;
        if (b.value) {
          svgEl("text", { x: bx + barWidth / 2, y: y(b.value) - 4, class: "chart-barvalue" }, svg)
            .textContent = formatNumber(b.value);
        }
        if (i % every === 0) {
          svgEl("text", { x: left + i * slot + slot / 2, y: bottom + 15, class: "chart-xlabel" }, svg)
            .textContent = b.label;
        }
      });
      svgEl("line", { x1: left, x2: right, y1: bottom, y2: bottom, class: "chart-axis" }, svg);
    }

    onWidth(holder, draw);
    return chart;
  }

  window.TwinChart = {
    TYPES,
    typeInfo,
    QUANTITIES,
    quantityInfo,
    RAMP,
    rampColour,
    rampCss,
    formatNumber,
    formatTime,
    formatAge,
    formatMessage,
    niceTicks,
    timeTicks,
    timeSeries,
    bars,
  };
})();

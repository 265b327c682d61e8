// The compare page: parallel coordinates and a scatter drawn on SVG from the page's
// <script type="application/json" id="compare-data"> block (no inline scripts: the CSP
// says script-src 'self'), a hover that picks one run out everywhere, and the
// "show only differences" toggle without a reload (the URL keeps the state).
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const MAX_AXES = 24;
  const MAX_CATEGORY_LABELS = 12;
  const LOG_SPAN = 1000;
  const MIN_METRIC_AXES = 8;

  function svg(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, label, cls, anchor) {
    const node = svg("text", { x, y, class: cls || "tick", "text-anchor": anchor || "middle" }, parent);
    node.textContent = label;
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "—";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return String(+v.toPrecision(4));
  }

  function clip(label, chars) {
    return label.length <= chars ? label : label.slice(0, Math.max(1, chars - 1)) + "…";
  }

  // An axis' coordinate -> [0, 1] (1 = top), and its tick labels.
  function scaleOf(axis) {
    const present = axis.coords.filter((v) => v !== null);
    if (!axis.numeric) {
      const n = axis.categories.length;
      const f = n <= 1 ? () => 0.5 : (v) => v / (n - 1);
      const step = Math.max(1, Math.ceil(n / MAX_CATEGORY_LABELS));
      const ticks = axis.categories
        .map((c, i) => [f(i), c])
        .filter((_, i) => i % step === 0 || i === n - 1);
      return { f, ticks, lo: 0, hi: Math.max(0, n - 1) };
    }
    if (!present.length) return { f: () => 0.5, ticks: [], lo: 0, hi: 0 };
    const lo = Math.min(...present);
    const hi = Math.max(...present);
    if (!(hi > lo)) return { f: () => 0.5, ticks: [[0.5, fmt(lo)]], lo, hi };
    if (lo > 0 && hi / lo >= LOG_SPAN) {
      // Positive values over three or more decades (learning rates): a log axis.
      const a = Math.log10(lo);
      const b = Math.log10(hi);
      const f = (v) => (Math.log10(v) - a) / (b - a);
      const ticks = [];
      for (let e = Math.ceil(a); e <= Math.floor(b); e++) ticks.push([f(10 ** e), fmt(10 ** e)]);
      return { f, ticks, lo, hi, log: true };
    }
    const f = (v) => (v - lo) / (hi - lo);
    return { f, ticks: niceTicks(lo, hi, 5).map((t) => [f(t), fmt(t)]), lo, hi };
  }

  function niceTicks(lo, hi, count) {
    const span = hi - lo;
    const raw = span / Math.max(1, count - 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
      if (ticks.length > 20) break;
    }
    return ticks;
  }

  // ---- hover: one run picked out in every plot and in the legend -----------------
  let tip = null;
  function showTip(event, lines) {
    if (!tip) return;
    tip.replaceChildren(...lines.map((line, i) => {
      const div = document.createElement("div");
      if (i === 0) div.className = "tip-title";
      div.textContent = line;
      return div;
    }));
    tip.hidden = false;
    const pad = 14;
    const box = tip.getBoundingClientRect();
    let x = event.clientX + pad;
    let y = event.clientY + pad;
    if (x + box.width > window.innerWidth - 4) x = event.clientX - box.width - pad;
    if (y + box.height > window.innerHeight - 4) y = event.clientY - box.height - pad;
    tip.style.left = `${x}px`;
    tip.style.top = `${y}px`;
  }
  function hideTip() { if (tip) tip.hidden = true; }

  function focusRun(runId) {
    document.body.classList.toggle("run-focus", runId !== null);
    document.querySelectorAll("[data-run].focused").forEach((n) => n.classList.remove("focused"));
    document.querySelectorAll("svg g.overlay").forEach((g) => g.replaceChildren());
    if (runId === null) return;
    document.querySelectorAll(`[data-run="${CSS.escape(runId)}"]`).forEach((n) => {
      n.classList.add("focused");
      // Drawn again on top (without its hit area), so a line under others shows whole.
      const overlay = n.namespaceURI === SVG ? n.ownerSVGElement.querySelector("g.overlay") : null;
      if (overlay) overlay.appendChild(n.cloneNode(true));
    });
  }

  function hoverable(node, runId, lines) {
    node.addEventListener("pointerenter", () => focusRun(runId));
    node.addEventListener("pointermove", (e) => showTip(e, lines()));
    node.addEventListener("pointerleave", () => { focusRun(null); hideTip(); });
  }

  // ---- parallel coordinates -------------------------------------------------------
  // The differing params, then the differing metrics; past MAX_AXES the metrics keep at
  // least MIN_METRIC_AXES places (many params never push every metric out).
  function parallelAxes(data) {
    const differing = data.axes.filter((a) => !a.same && a.coords.some((v) => v !== null));
    const chosen = differing.length ? differing : data.axes.filter((a) => a.section === "metric");
    const params = chosen.filter((a) => a.section === "param");
    const metrics = chosen.filter((a) => a.section === "metric");
    const metricCount = Math.min(metrics.length, Math.max(MIN_METRIC_AXES, MAX_AXES - params.length));
    const paramCount = Math.min(params.length, MAX_AXES - metricCount);
    return { axes: [...params.slice(0, paramCount), ...metrics.slice(0, metricCount)], of: chosen.length };
  }

  function drawParallel(host, data) {
    const { axes, of } = parallelAxes(data);
    host.replaceChildren();
    if (!axes.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "Nothing to plot: no param or metric differs between these runs.";
      host.appendChild(p);
      return;
    }
    const width = Math.max(host.clientWidth - 18, 112 + axes.length * 84);  // else it scrolls
    const height = 380;
    const m = { top: 44, right: 56, bottom: 22, left: 56 };
    const plotH = height - m.top - m.bottom;
    const gap = axes.length > 1 ? (width - m.left - m.right) / (axes.length - 1) : 0;
    const xs = axes.map((_, i) => (axes.length > 1 ? m.left + i * gap : width / 2));
    const scales = axes.map(scaleOf);
    const yOf = (s, v) => m.top + (1 - s.f(v)) * plotH;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "pc" }, host);

    const chars = Math.max(4, Math.floor((axes.length > 1 ? gap : width) / 7));
    axes.forEach((axis, i) => {
      const g = svg("g", { class: `axis axis-${axis.section}`, "data-axis": `${axis.section}:${axis.key}` }, root);
      svg("line", { x1: xs[i], x2: xs[i], y1: m.top, y2: m.top + plotH, class: "axis-line" }, g);
      const label = text(g, xs[i], 16, clip(axis.key, chars), "axis-label");
      svg("title", {}, label).textContent = `${axis.section}: ${axis.key}`;
      text(g, xs[i], 30, `${axis.section}${scales[i].log ? " · log" : ""}`, "axis-kind");
      for (const [pos, tick] of scales[i].ticks) {
        const y = m.top + (1 - pos) * plotH;
        svg("line", { x1: xs[i] - 3, x2: xs[i] + 3, y1: y, y2: y, class: "tick-mark" }, g);
      }
    });
    // Tick labels go on top of the lines (with a halo), so many runs never hide them.
    const tickLabels = () => {
      const g = svg("g", { class: "tick-labels" }, root);
      axes.forEach((axis, i) => {
        for (const [pos, tick] of scales[i].ticks) {
          text(g, xs[i] - 6, m.top + (1 - pos) * plotH + 4, clip(String(tick), 14), "tick", "end");
        }
      });
    };

    const lines = svg("g", { class: "lines" }, root);
    data.runs.forEach((run, r) => {
      // Solid between neighbouring axes; dashed across an axis the run has no value on.
      let solid = "";
      let dashed = "";
      let prev = null;
      const dots = [];
      axes.forEach((axis, i) => {
        const v = axis.coords[r];
        if (v === null || v === undefined) return;
        const pt = `${xs[i].toFixed(1)} ${yOf(scales[i], v).toFixed(1)}`;
        if (prev) {
          if (prev.i === i - 1) solid += `M${prev.pt}L${pt}`; else dashed += `M${prev.pt}L${pt}`;
        }
        prev = { i, pt };
        dots.push([xs[i], yOf(scales[i], v)]);
      });
      const g = svg("g", { class: "run-mark", "data-run": run.id }, lines);
      if (solid) svg("path", { d: solid, stroke: run.color, class: "pc-line" }, g);
      if (dashed) svg("path", { d: dashed, stroke: run.color, class: "pc-line pc-gap" }, g);
      for (const [x, y] of dots) svg("circle", { cx: x, cy: y, r: 2.5, fill: run.color, class: "pc-dot" }, g);
      if (solid || dashed) svg("path", { d: solid + dashed, class: "hit" }, g);
      hoverable(g, run.id, () => [run.name, ...axes.map((a) => `${a.key}: ${valueText(a, a.coords[r])}`)].slice(0, 14));
    });
    svg("g", { class: "overlay" }, root);
    tickLabels();
    if (of > axes.length) {
      const note = document.createElement("p");
      note.className = "muted plot-note";
      note.textContent = `${axes.length} of the ${of} params and metrics that differ are shown.`;
      host.appendChild(note);
    }
  }

  function valueText(axis, v) {
    if (v === null || v === undefined) return "—";
    return axis.numeric ? fmt(v) : axis.categories[v];
  }

  // ---- scatter ----------------------------------------------------------------------
  function axisById(data, id) {
    const cut = id.indexOf(":");
    const section = id.slice(0, cut);
    const key = id.slice(cut + 1);
    return data.axes.find((a) => a.section === section && a.key === key) || null;
  }

  function drawScatter(host, data, xId, yId) {
    host.replaceChildren();
    const ax = axisById(data, xId);
    const ay = axisById(data, yId);
    const points = data.runs
      .map((run, r) => ({ run, x: ax ? ax.coords[r] : null, y: ay ? ay.coords[r] : null }))
      .filter((p) => p.x !== null && p.x !== undefined && p.y !== null && p.y !== undefined);
    if (!ax || !ay || !points.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No run has both values: pick other axes.";
      host.appendChild(p);
      return;
    }
    const width = Math.max(320, host.clientWidth - 18);
    const height = 360;
    const m = { top: 16, right: 24, bottom: 48, left: 72 };
    const sx = scaleOf(ax);
    const sy = scaleOf(ay);
    const inset = 0.04; // keep points off the frame
    const px = (v) => m.left + (inset + (1 - 2 * inset) * sx.f(v)) * (width - m.left - m.right);
    const py = (v) => m.top + (1 - inset - (1 - 2 * inset) * sy.f(v)) * (height - m.top - m.bottom);
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "scatter" }, host);
    svg("rect", { x: m.left, y: m.top, width: width - m.left - m.right, height: height - m.top - m.bottom, class: "frame" }, root);
    const gx = svg("g", { class: "axis" }, root);
    for (const [pos, label] of sx.ticks) {
      const x = m.left + (inset + (1 - 2 * inset) * pos) * (width - m.left - m.right);
      svg("line", { x1: x, x2: x, y1: m.top, y2: height - m.bottom, class: "grid" }, gx);
      text(gx, x, height - m.bottom + 16, clip(String(label), 16), "tick");
    }
    for (const [pos, label] of sy.ticks) {
      const y = m.top + (1 - inset - (1 - 2 * inset) * pos) * (height - m.top - m.bottom);
      svg("line", { x1: m.left, x2: width - m.right, y1: y, y2: y, class: "grid" }, gx);
      text(gx, m.left - 6, y + 4, clip(String(label), 12), "tick", "end");
    }
    const logNote = (scale) => (scale.log ? " (log)" : "");
    text(gx, (m.left + width - m.right) / 2, height - 10, `${ax.section}: ${ax.key}${logNote(sx)}`, "axis-label");
    const ylabel = text(gx, 0, 0, `${ay.key}${logNote(sy)}`, "axis-label");
    ylabel.setAttribute("transform", `translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)`);
    const dots = svg("g", { class: "dots" }, root);
    for (const p of points) {
      const r = data.runs.indexOf(p.run);
      const dot = svg("circle", { cx: px(p.x), cy: py(p.y), r: 6, fill: p.run.color, class: "run-mark scatter-dot", "data-run": p.run.id }, dots);
      hoverable(dot, p.run.id, () => [p.run.name, `${ax.key}: ${valueText(ax, ax.coords[r])}`, `${ay.key}: ${valueText(ay, ay.coords[r])}`]);
    }
    svg("g", { class: "overlay" }, root);
  }

  // ---- URL state --------------------------------------------------------------------
  function setQuery(name, value) {
    const url = new URL(window.location.href);
    if (value === null) url.searchParams.delete(name); else url.searchParams.set(name, value);
    window.history.replaceState(null, "", url.toString());
    document.querySelectorAll(`form[action="/compare"]`).forEach((form) => {
      if (form.id === "diff-form" && name === "diff") return;
      let input = form.querySelector(`input[type=hidden][name="${name}"]`);
      if (value === null) { if (input) input.remove(); return; }
      if (form.querySelector(`select[name="${name}"]`)) return;
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        form.appendChild(input);
      }
      input.value = value;
    });
  }

  function initDiffToggle() {
    const box = document.getElementById("diff-toggle");
    const table = document.getElementById("compare-table");
    if (!box || !table) return;
    box.addEventListener("change", () => {
      const only = box.checked;
      table.classList.toggle("only-diff", only);
      table.querySelectorAll("tbody tr.same").forEach((row) => { row.hidden = only; });
      setQuery("diff", only ? "1" : null);
    });
  }

  function initLegend() {
    // Dropping runs: untick, then the button (off until something is unticked).
    const form = document.getElementById("runs-form");
    const update = document.getElementById("runs-update");
    if (form && update) {
      const boxes = Array.from(form.querySelectorAll("input[type=checkbox][name=run]"));
      const sync = () => { update.disabled = boxes.every((box) => box.checked); };
      form.addEventListener("change", sync);
      sync();
    }
    document.querySelectorAll("#compare-runs tr[data-run]").forEach((row) => {
      const id = row.getAttribute("data-run");
      row.addEventListener("pointerenter", () => focusRun(id));
      row.addEventListener("pointerleave", () => focusRun(null));
      row.addEventListener("focus", () => focusRun(id));
      row.addEventListener("blur", () => focusRun(null));
    });
  }

  function init() {
    const block = document.getElementById("compare-data");
    if (!block) return;
    const started = window.performance ? performance.now() : 0;
    let data;
    try { data = JSON.parse(block.textContent); } catch (e) { return; }
    tip = document.getElementById("plot-tip");
    initDiffToggle();
    initLegend();
    const parallel = document.getElementById("parallel-plot");
    const scatter = document.getElementById("scatter-plot");
    const selX = document.getElementById("scatter-x");
    const selY = document.getElementById("scatter-y");
    const draw = () => {
      if (parallel && data.axes.length) drawParallel(parallel, data);
      if (scatter && selX && selY && selY.value) drawScatter(scatter, data, selX.value, selY.value);
    };
    draw();
    for (const sel of [selX, selY]) {
      if (!sel) continue;
      sel.addEventListener("change", () => {
        setQuery(sel.name, sel.value);
        if (scatter) drawScatter(scatter, data, selX.value, selY.value);
      });
    }
    let pending = 0;
    window.addEventListener("resize", () => {
      window.clearTimeout(pending);
      pending = window.setTimeout(draw, 150);
    });
    document.body.setAttribute("data-compare-ready", "1");
    if (window.performance && performance.measure) {
      performance.measure("kiln:compare-plots", { start: started, end: performance.now() });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// Kiln's metric charts: every <div class="kiln-chart"> on a page, drawn with uPlot.
//
//   <div class="kiln-chart" data-key="rmse" data-runs='["id1","id2"]' data-x="step"
//        data-title="rmse" data-height="260" data-href="/runs/id1?tab=charts&key=rmse"
//        data-colors='["#3b82f6", "#f97316"]' data-log="1" data-smooth="0.6" data-sync-url></div>
//
// data-colors (optional): a #rrggbb per run, in data-runs' order (else a fixed palette).
// data-log, data-smooth: the initial log scale and smoothing. data-sync-url: keep the
// chart's controls in the page URL (one chart per page should say so).
//
// The server buckets each series to about the chart's pixel width and sends, per bucket,
// the last value and the min and max (GET /ui/data/series, see /work/notes/issue14.md):
// the line goes through `last` and a band fills min..max, so a one-step spike in 100,000
// points stays visible. Dragging across the chart asks again for the selected range only
// (re-bucketed; raw points once it holds few enough), double-click goes back. Log scale and
// smoothing (an EMA over `last`, debiased as TensorBoard does) are drawn here; the x mode
// (step, time, relative time) asks the server again.
//
// Mounted on DOMContentLoaded and htmx:afterSettle; window.KilnCharts = {mountAll, mount, plot}.
// A chart says how it is doing in data-state: "loading", "drawn", "empty" or "error", and
// fires "kiln:chart-drawn" on its element once drawn.
"use strict";

(function () {
  const SERIES_URL = "/ui/data/series";
  const MAX_BUCKETS = 4000;
  const DEFAULT_HEIGHT = 260;
  const Y_AXIS_SIZE = 56;
  // Mid-tone colours that read on both the light and the dark background.
  const PALETTE = ["#3b82f6", "#f97316", "#10b981", "#e11d48", "#8b5cf6",
    "#eab308", "#06b6d4", "#db2777", "#84cc16", "#64748b"];
  const X_LABELS = { step: "step", time: "time", relative: "relative time" };
  const charts = new WeakMap();
  const live = new Set();

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // Timings for benches and tests: fetch asked, data parsed, chart drawn.
  function mark(name) {
    if (window.performance && performance.mark) performance.mark(name);
  }

  function make(tag, className, parent, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function parseList(raw) {
    try {
      const list = JSON.parse(raw || "[]");
      return Array.isArray(list) ? list.map(String) : [];
    } catch (e) {
      return [];
    }
  }

  function colorOf(state, i) {
    const given = state.colors[i];
    return given && /^#[0-9a-fA-F]{6}$/.test(given) ? given : PALETTE[i % PALETTE.length];
  }

  function fmtNum(v) {
    if (v == null) return "–";
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(3);
    return String(Number(v.toPrecision(6)));
  }

  function fmtDuration(ms) {
    if (ms == null) return "–";
    const sign = ms < 0 ? "-" : "";
    let s = Math.abs(ms) / 1000;
    if (s < 1) return sign + Math.round(s * 1000) + "ms";
    if (s < 60) return sign + Number(s.toPrecision(3)) + "s";
    const m = Math.floor(s / 60);
    s = Math.round(s - m * 60);
    if (m < 60) return sign + m + "m" + (s ? String(s).padStart(2, "0") + "s" : "");
    const h = Math.floor(m / 60);
    const mm = m - h * 60;
    return sign + h + "h" + (mm ? String(mm).padStart(2, "0") + "m" : "");
  }

  function fmtX(mode, v) {
    if (v == null) return "–";
    if (mode === "time") return new Date(v).toLocaleString();
    if (mode === "relative") return fmtDuration(v);
    return String(Math.round(v));
  }

  // Exponential moving average over the finite values, debiased for the first points.
  function ema(values, weight) {
    const out = new Array(values.length);
    let acc = 0;
    let n = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v == null || !isFinite(v)) { out[i] = v; continue; }
      acc = acc * weight + (1 - weight) * v;
      n++;
      out[i] = acc / (1 - Math.pow(weight, n));
    }
    return out;
  }

  // On a log scale a value <= 0 has no place: leave a gap.
  function forScale(values, log) {
    if (!log) return values;
    return values.map((v) => (v == null || v <= 0 ? null : v));
  }

  function mount(el) {
    if (charts.has(el)) return charts.get(el);
    const state = {
      el: el,
      key: el.dataset.key || "",
      runs: parseList(el.dataset.runs),
      colors: parseList(el.dataset.colors),
      x: X_LABELS[el.dataset.x] ? el.dataset.x : "step",
      height: parseInt(el.dataset.height || "", 10) || DEFAULT_HEIGHT,
      lo: null, hi: null,
      log: el.dataset.log === "1",
      smooth: Math.min(0.99, Math.max(0, parseFloat(el.dataset.smooth || "0") || 0)),
      syncUrl: el.hasAttribute("data-sync-url"),
      body: null, plot: null, seq: 0, width: 0, started: false,
    };
    charts.set(el, state);
    live.add(state);
    shell(state);
    const box = el.getBoundingClientRect();
    const near = box.top < window.innerHeight + 300 && box.bottom > -300;
    if (near || !("IntersectionObserver" in window)) {
      start(state); // on screen: ask now, not a frame later
    } else {
      const seen = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) { seen.disconnect(); start(state); }
      }, { rootMargin: "300px" });
      seen.observe(el);
    }
    return state;
  }

  function start(state) {
    if (state.started) return;
    state.started = true;
    load(state);
    if ("ResizeObserver" in window) {
      let timer = null;
      new ResizeObserver(() => {
        clearTimeout(timer);
        timer = setTimeout(() => resized(state), 150);
      }).observe(state.plotBox);
    }
  }

  function shell(state) {
    const el = state.el;
    el.textContent = "";
    el.classList.add("kc");
    const head = make("div", "kc-head", el);
    const title = el.dataset.title || state.key;
    if (el.dataset.href) {
      const link = make("a", "kc-title", head, title);
      link.href = el.dataset.href;
    } else {
      make("span", "kc-title", head, title);
    }
    state.info = make("span", "kc-info", head);
    const controls = make("span", "kc-controls", head);

    state.reset = make("button", "link kc-reset", controls, "reset zoom");
    state.reset.type = "button";
    state.reset.hidden = true;
    state.reset.addEventListener("click", () => unzoom(state));

    const xSelect = make("select", "kc-x", controls);
    xSelect.setAttribute("aria-label", "x axis");
    for (const mode of Object.keys(X_LABELS)) {
      const option = make("option", null, xSelect, X_LABELS[mode]);
      option.value = mode;
      option.selected = mode === state.x;
    }
    xSelect.addEventListener("change", () => {
      state.x = xSelect.value;
      state.lo = state.hi = null;
      remember(state);
      load(state);
    });

    const logLabel = make("label", "kc-log", controls);
    const log = make("input", null, logLabel);
    log.type = "checkbox";
    log.checked = state.log;
    logLabel.appendChild(document.createTextNode(" log"));
    log.addEventListener("change", () => { state.log = log.checked; remember(state); draw(state); });

    const smoothLabel = make("label", "kc-smooth", controls, "smooth ");
    const smooth = make("input", null, smoothLabel);
    smooth.type = "range";
    smooth.min = "0";
    smooth.max = "0.99";
    smooth.step = "0.01";
    smooth.value = String(state.smooth);
    smooth.setAttribute("aria-label", "smoothing");
    const shown = make("output", null, smoothLabel, state.smooth ? state.smooth.toFixed(2) : "0");
    let frame = 0;
    smooth.addEventListener("input", () => {
      state.smooth = parseFloat(smooth.value) || 0;
      shown.textContent = state.smooth.toFixed(2);
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => draw(state));
    });
    smooth.addEventListener("change", () => remember(state));

    state.plotBox = make("div", "kc-plot", el);
    state.plotBox.style.height = state.height + "px";
    state.plotBox.setAttribute("role", "img");
    state.plotBox.setAttribute("aria-label", "chart of " + title);
    state.legend = make("div", "kc-legend", el);
    el.dataset.state = "idle";
  }

  // A chart with data-sync-url keeps its x mode, log scale and smoothing in the page's
  // URL (x=, log=1, smooth=), so the view can be shared by link and survives a reload.
  function remember(state) {
    if (!state.syncUrl || !window.history || !history.replaceState) return;
    const url = new URL(window.location.href);
    const set = (name, value) => (value ? url.searchParams.set(name, value) : url.searchParams.delete(name));
    set("x", state.x === "step" ? "" : state.x);
    set("log", state.log ? "1" : "");
    set("smooth", state.smooth ? state.smooth.toFixed(2) : "");
    history.replaceState(history.state, "", url.toString());
  }

  function plotWidth(state) {
    return Math.max(120, Math.floor(state.plotBox.clientWidth || state.el.clientWidth || 600));
  }

  async function load(state) {
    const width = plotWidth(state);
    state.width = width;
    const query = new URLSearchParams();
    query.set("key", state.key);
    state.runs.forEach((r) => query.append("run", r));
    query.set("x", state.x);
    // One bucket per pixel of the plotting area (the chart less its y axis).
    const area = state.plot ? state.plot.over.clientWidth : width - Y_AXIS_SIZE - 16;
    query.set("n", String(Math.max(1, Math.min(MAX_BUCKETS, Math.round(area)))));
    if (state.lo != null) query.set("lo", String(state.lo));
    if (state.hi != null) query.set("hi", String(state.hi));
    const seq = ++state.seq;
    mark("kiln-chart-fetch");
    state.el.dataset.state = "loading";
    state.el.classList.add("kc-loading");
    try {
      const answer = await fetch(SERIES_URL + "?" + query.toString(), {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (!answer.ok) throw new Error(await problem(answer));
      const body = await answer.json();
      if (seq !== state.seq) return;
      mark("kiln-chart-data");
      state.body = body;
      draw(state);
    } catch (err) {
      if (seq === state.seq) message(state, "error", "Could not load this chart: " + err.message);
    } finally {
      if (seq === state.seq) state.el.classList.remove("kc-loading");
    }
  }

  async function problem(answer) {
    try {
      const body = await answer.json();
      return body.message || body.error || answer.status + " " + answer.statusText;
    } catch (e) {
      return answer.status + " " + answer.statusText;
    }
  }

  function message(state, kind, text) {
    if (state.plot) { state.plot.destroy(); state.plot = null; }
    state.plotBox.textContent = "";
    make("div", "kc-message kc-" + kind, state.plotBox, text);
    state.legend.textContent = "";
    state.info.textContent = "";
    state.el.dataset.state = kind;
  }

  function theme() {
    return {
      fg: cssVar("--fg-soft", "#5c6670"),
      grid: cssVar("--border", "#dde1e6"),
      font: "11px " + (cssVar("--sans", "system-ui") || "system-ui"),
    };
  }

  // The uPlot data and series for the answer: per run a line through `last`, a min/max
  // pair filled as a band when the answer was bucketed, and the smoothed line.
  function layout(state) {
    const series = state.body.series || [];
    const tables = [];
    const useries = [];
    const bands = [];
    const mains = [];
    const hidden = [];
    let col = 1;
    series.forEach((s, i) => {
      const color = colorOf(state, i);
      const last = forScale(s.last || [], state.log);
      const table = [s.xs || [], last];
      const smoothing = state.smooth > 0;
      const name = s.name || String(s.run).slice(0, 8);
      useries.push({
        label: name, stroke: smoothing ? color + "59" : color, width: smoothing ? 1 : 1.5,
        spanGaps: false,
      });
      const main = col++;
      if (!s.raw) {
        table.push(forScale(s.max || [], state.log), forScale(s.min || [], state.log));
        // The band's edges are drawn too: a one-bucket spike is a 1px-wide band, which
        // only its edge line makes visible.
        const edge = { stroke: color + "b0", width: 1, points: { show: false }, spanGaps: false };
        useries.push(
          Object.assign({ label: name + " max" }, edge),
          Object.assign({ label: name + " min" }, edge),
        );
        bands.push({ series: [col, col + 1], fill: color + "38" });
        hidden.push(col, col + 1);
        col += 2;
      }
      let line = main;
      if (smoothing) {
        table.push(ema(last, state.smooth));
        useries.push({ label: name + " smoothed", stroke: color, width: 2, points: { show: false } });
        hidden.push(main);
        line = col++;
      }
      tables.push(table);
      mains.push({ run: s, color: color, name: name, main: main, line: line });
    });
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    return { data: data, series: useries, bands: bands, mains: mains, hidden: new Set(hidden) };
  }

  function draw(state) {
    const body = state.body;
    if (!body) return;
    const series = body.series || [];
    const total = series.reduce((sum, s) => sum + (s.points || 0), 0);
    if (!series.length || !series.some((s) => (s.xs || []).length)) {
      message(state, "empty", state.lo != null ? "No points in this range (double-click to go back)." : "No points logged.");
      state.reset.hidden = state.lo == null;
      return;
    }
    const shape = layout(state);
    const colors = theme();
    const mode = state.x;
    const zoomed = state.lo != null;
    const axis = {
      stroke: colors.fg, font: colors.font,
      grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 },
    };
    const xAxis = Object.assign({}, axis, mode === "relative" ? {
      values: (u, splits) => splits.map(fmtDuration),
    } : {});
    const opts = {
      width: plotWidth(state),
      height: state.height,
      ms: 1, // timestamps are milliseconds
      legend: { show: false },
      padding: [8, 12, 0, 4], // with the y axis: 16px besides the plotting area
      scales: {
        x: {
          time: mode === "time",
          range: zoomed ? () => [state.lo, state.hi] : undefined,
        },
        y: state.log ? { distr: 3, log: 10 } : {},
      },
      axes: [xAxis, Object.assign({ size: Y_AXIS_SIZE }, axis)],
      series: [{ label: X_LABELS[mode] }].concat(shape.series),
      bands: shape.bands,
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: {
          show: (u, si) => (shape.hidden.has(si) ? false : document.createElement("div")),
        },
      },
      hooks: {
        setSelect: [(u) => zoomTo(state, u)],
        setCursor: [(u) => legend(state, shape, u.cursor.idx)],
      },
    };
    if (state.plot) state.plot.destroy();
    state.plotBox.textContent = "";
    state.plot = new uPlot(opts, shape.data, state.plotBox);
    state.plot.over.addEventListener("dblclick", () => unzoom(state));
    state.shape = shape;
    state.reset.hidden = !zoomed;
    const bucketed = series.some((s) => !s.raw);
    state.info.textContent = total.toLocaleString() + (total === 1 ? " point" : " points") +
      (bucketed ? " · min–max band" : "") + (zoomed ? " · zoomed" : "");
    legend(state, shape, null);
    state.el.dataset.state = "drawn";
    mark("kiln-chart-drawn");
    state.el.dispatchEvent(new CustomEvent("kiln:chart-drawn", { bubbles: true }));
  }

  function legend(state, shape, idx) {
    const box = state.legend;
    const data = shape.data;
    if (!box.firstChild || box.childElementCount !== shape.mains.length + 1) {
      box.textContent = "";
      make("span", "kc-legend-x", box);
      shape.mains.forEach((m) => {
        const item = make("span", "kc-legend-item", box);
        const swatch = make("i", "kc-swatch", item);
        swatch.style.background = m.color;
        make("span", "kc-legend-name", item, m.name);
        make("span", "kc-legend-value", item);
      });
    }
    const items = box.children;
    items[0].textContent = idx == null ? "" : X_LABELS[state.x] + " " + fmtX(state.x, data[0][idx]);
    shape.mains.forEach((m, i) => {
      // This run's point at or before the cursor (with several runs, the x values are
      // the union of theirs, so a run may have none exactly there).
      const line = data[m.line];
      let at = idx == null ? line.length - 1 : idx;
      while (at >= 0 && line[at] === undefined) at--;
      const value = at >= 0 ? line[at] : null;
      let text = fmtNum(value);
      if (idx != null && at >= 0 && !m.run.raw) {
        const hi = data[m.main + 1][at];
        const lo = data[m.main + 2][at];
        if (hi != null && lo != null && hi !== lo) text += " (" + fmtNum(lo) + "…" + fmtNum(hi) + ")";
      }
      items[i + 1].lastChild.textContent = text;
    });
  }

  function zoomTo(state, u) {
    const sel = u.select;
    if (!sel || sel.width < 4) return;
    const lo = u.posToVal(sel.left, "x");
    const hi = u.posToVal(sel.left + sel.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (!(hi > lo)) return;
    state.lo = Math.floor(lo);
    state.hi = Math.ceil(hi);
    load(state);
  }

  function unzoom(state) {
    if (state.lo == null) return;
    state.lo = state.hi = null;
    load(state);
  }

  function resized(state) {
    const width = plotWidth(state);
    if (!state.plot || width === state.plot.width) return;
    if (Math.abs(width - state.width) > state.width * 0.25) {
      load(state); // enough wider or narrower to want other buckets
    } else {
      state.plot.setSize({ width: width, height: state.height });
    }
  }

  function mountAll(root) {
    const scope = root && root.querySelectorAll ? root : document;
    const found = [];
    if (scope.matches && scope.matches(".kiln-chart")) found.push(mount(scope));
    scope.querySelectorAll(".kiln-chart").forEach((el) => found.push(mount(el)));
    return found;
  }

  // Follow the system's light/dark switch.
  if (window.matchMedia) {
    const dark = window.matchMedia("(prefers-color-scheme: dark)");
    const redraw = () => live.forEach((s) => {
      if (!s.el.isConnected) { live.delete(s); return; }
      if (s.plot) draw(s);
    });
    if (dark.addEventListener) dark.addEventListener("change", redraw);
  }

  // plot(el): the uPlot instance drawn in a mounted chart (null before the first draw), for
  // tests and for pages that want to read what is shown.
  function plot(el) {
    const state = charts.get(el);
    return state ? state.plot : null;
  }

  window.KilnCharts = { mountAll: mountAll, mount: mount, plot: plot };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => mountAll(document));
  } else {
    mountAll(document);
  }
  document.addEventListener("htmx:afterSettle", (event) => mountAll(event.target));
})();

// Kiln's page script: MLflow's links, keyboard-friendly tables, confirmations.
// No inline scripts anywhere (the CSP says script-src 'self'); pages pass data in
// data- attributes or <script type="application/json"> blocks.
"use strict";

// The mlflow client prints http://host/#/experiments/<id>/runs/<run>; MLflow's UI routes
// live in the fragment, which never reaches the server, so the landing happens here.
const KILN_HASH_ROUTES = [
  [/^#\/experiments\/([^/]+)\/runs\/([^/?]+)/, (m) => `/runs/${m[2]}`],
  [/^#\/experiments\/([^/?]+)/, (m) => `/experiments/${m[1]}`],
  [/^#\/experiments\/?$/, () => "/experiments"],
  [/^#\/models\/([^/]+)\/versions\/([^/?]+)/, (m) => `/models/${m[1]}/versions/${m[2]}`],
  [/^#\/models\/([^/?]+)/, (m) => `/models/${m[1]}`],
  [/^#\/models\/?$/, () => "/models"],
  [/^#\/compare-runs\?(.*)$/, (m) => kilnCompareFromMlflow(m[1])],
];

function kilnCompareFromMlflow(query) {
  // MLflow: ?runs=["a","b"]&experiments=["1"]
  const params = new URLSearchParams(query);
  let runs = [];
  try { runs = JSON.parse(params.get("runs") || "[]"); } catch (e) { runs = []; }
  const out = new URLSearchParams();
  runs.forEach((r) => out.append("run", r));
  return `/compare?${out.toString()}`;
}

// MLflow 3 adds the run's workspace to the links it prints: #/experiments/1/runs/x?workspace=w.
// The page then offers to switch there when the session is in another one.
function kilnWithWorkspace(target, hash) {
  const at = hash.indexOf("?");
  const workspace = at < 0 ? null : new URLSearchParams(hash.slice(at + 1)).get("workspace");
  if (!workspace) return target;
  return target + (target.includes("?") ? "&" : "?") + "workspace=" + encodeURIComponent(workspace);
}

function kilnLandHash() {
  const hash = window.location.hash;
  if (!hash || !hash.startsWith("#/")) return false;
  for (const [pattern, target] of KILN_HASH_ROUTES) {
    const m = hash.match(pattern);
    if (m) {
      window.location.replace(kilnWithWorkspace(target(m), hash));
      return true;
    }
  }
  return false;
}
kilnLandHash();

// Tables: j/k or arrows move between rows, Enter opens the row's first link, x toggles its
// checkbox. A table opts in with class "keyboard".
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) {
    if (event.key === "Escape") target.blur();
    return;
  }
  if (event.key === "/") {
    const search = document.querySelector("input.search");
    if (search) { event.preventDefault(); search.focus(); }
    return;
  }
  const table = document.querySelector("table.keyboard");
  if (!table) return;
  const rows = Array.from(table.querySelectorAll("tbody tr[tabindex]"));
  if (!rows.length) return;
  const current = rows.indexOf(document.activeElement);
  if (event.key === "j" || event.key === "ArrowDown") {
    event.preventDefault();
    rows[Math.min(rows.length - 1, current + 1)].focus();
  } else if (event.key === "k" || event.key === "ArrowUp") {
    event.preventDefault();
    rows[Math.max(0, current - 1)].focus();
  } else if (event.key === "Enter" && current >= 0) {
    const link = rows[current].querySelector("a[href]");
    if (link) link.click();
  } else if (event.key === "x" && current >= 0) {
    const box = rows[current].querySelector("input[type=checkbox]");
    if (box) box.click();
  }
});

// Forms and buttons with data-confirm ask first. A refusal also stops the event here
// (document, capture phase): htmx's own submit listener on an hx-post form does not
// look at defaultPrevented and would send the request anyway.
function kilnConfirmText(el) {
  return el && el.getAttribute ? el.getAttribute("data-confirm") : null;
}
document.addEventListener("submit", (event) => {
  const message = kilnConfirmText(event.submitter) || kilnConfirmText(event.target);
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
// An htmx element with data-confirm that a click (not a submit, asked above) fires:
// htmx asks only for hx-confirm, so ask here and send only on a yes.
document.addEventListener("htmx:confirm", (event) => {
  const detail = event.detail;
  const trigger = detail.triggeringEvent;
  const message = kilnConfirmText(detail.elt);
  if (!message || detail.question || (trigger && trigger.type === "submit")) return;
  event.preventDefault();
  if (window.confirm(message)) detail.issueRequest(true);
});

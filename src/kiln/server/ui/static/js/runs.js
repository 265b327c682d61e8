// The experiments list and the runs table: selection (Compare / Delete / Restore need
// runs ticked), select-all, selects that apply at once, and folding children rows back.
// The rest is htmx in the markup; every view change is a URL (hx-push-url).
"use strict";

function kilnRunsSelection() {
  const scope = document.getElementById("runs-select");
  if (!scope) return;
  const boxes = Array.from(scope.querySelectorAll("tbody input[type=checkbox][name=run]"));
  const ticked = boxes.filter((box) => box.checked);
  const count = scope.querySelector("[data-selected-count]");
  if (count) count.textContent = `${ticked.length} selected`;
  scope.querySelectorAll("[data-needs]").forEach((button) => {
    button.disabled = ticked.length < Number(button.getAttribute("data-needs"));
  });
  boxes.forEach((box) => {
    const row = box.closest("tr");
    if (row) row.classList.toggle("selected", box.checked);
  });
  const all = scope.querySelector("[data-select-all]");
  if (all) {
    all.checked = boxes.length > 0 && ticked.length === boxes.length;
    all.indeterminate = ticked.length > 0 && ticked.length < boxes.length;
  }
}

document.addEventListener("change", (event) => {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return;
  if (target.matches("[data-select-all]")) {
    const form = target.closest("form");
    if (form) {
      form.querySelectorAll("tbody input[type=checkbox][name=run]").forEach((box) => {
        box.checked = target.checked;
      });
    }
    kilnRunsSelection();
  } else if (target.matches("input[type=checkbox][name=run]")) {
    kilnRunsSelection();
  } else if (target.matches("select.autosubmit")) {
    const form = target.closest("form");
    if (form) form.requestSubmit();
  }
});

// A parent's "N children" toggles: the first click lets htmx fetch the rows (after the
// parent's row), the next removes them again.
document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("a.kids") : null;
  if (!target) return;
  const parent = target.getAttribute("data-parent");
  if (target.getAttribute("aria-expanded") === "true") {
    event.preventDefault();
    event.stopPropagation();
    document.querySelectorAll(`tr[data-parent="${CSS.escape(parent)}"]`).forEach((row) => row.remove());
    target.setAttribute("aria-expanded", "false");
    kilnRunsSelection();
  } else {
    target.setAttribute("aria-expanded", "true");
  }
}, true);

document.addEventListener("DOMContentLoaded", () => kilnRunsSelection());
document.addEventListener("htmx:afterSettle", () => kilnRunsSelection());

// A toolbar form sends only what differs from the defaults, so a shared URL stays short.
document.addEventListener("htmx:configRequest", (event) => {
  const elt = event.detail.elt;
  if (!(elt instanceof Element) || !elt.matches("form.toolbar") || event.detail.verb !== "get") return;
  const params = event.detail.parameters;
  const defaults = { view: "active", size: "50", filter: "", q: "" };
  Object.entries(defaults).forEach(([name, value]) => {
    if (params[name] === value) delete params[name];
  });
});

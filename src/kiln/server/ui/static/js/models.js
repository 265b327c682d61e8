// The registry pages: a refused alias form (403 for a protected alias, 400, 404) shows its
// message next to the form instead of htmx dropping it. Forms opt in by sitting inside an
// element with data-inline-errors.
"use strict";

document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = event.detail;
  const status = detail.xhr ? detail.xhr.status : 0;
  const inside = detail.elt && detail.elt.closest && detail.elt.closest("[data-inline-errors]");
  if (inside && status >= 400 && status < 500) {
    detail.shouldSwap = true;
    detail.isError = false;
  }
});

// The run page: "Copy" buttons next to the commands that run it again.
// <button class="copy" data-copy="ID"> copies the text of the element with that id.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.textContent;
  const done = (label) => {
    const before = button.dataset.label || button.textContent;
    button.dataset.label = before;
    button.textContent = label;
    setTimeout(() => { button.textContent = before; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => done("Copied"), () => selectText(source));
  } else {
    selectText(source); // no clipboard here (plain http to a remote host): select it for Ctrl+C
    done("Selected");
  }
});

function selectText(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// A refused description (400 too long, 403 stale CSRF, 404) shows its message in the
// form instead of htmx dropping it; the text typed stays.
document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = event.detail;
  const status = detail.xhr ? detail.xhr.status : 0;
  // detail.elt is the swap's target: the description's section.
  const section = detail.elt && detail.elt.id === "run-description" ? detail.elt : null;
  if (!section || status < 400 || status >= 500) return;
  const slot = section.querySelector("form .form-error");
  if (!slot) return;
  detail.shouldSwap = true;
  detail.isError = false;
  detail.target = slot;
  detail.swapOverride = "innerHTML";
});

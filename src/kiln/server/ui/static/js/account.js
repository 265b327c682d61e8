// The workspace switcher in the top bar: choosing a workspace submits its form, so
// its button is hidden (it stays for browsers without script).
"use strict";
document.querySelectorAll("form.workspace-switch").forEach((form) => {
  const select = form.querySelector("select");
  const button = form.querySelector("button[type=submit]");
  if (!select) return;
  select.addEventListener("change", () => form.requestSubmit());
  if (button) button.style.display = "none";
});

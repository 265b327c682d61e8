// The workspace switcher in the top bar: choosing a workspace submits its form (the
// button stays for keyboards and browsers without script).
"use strict";
document.querySelectorAll("form.workspace-switch select").forEach((select) => {
  select.addEventListener("change", () => select.form.requestSubmit());
});

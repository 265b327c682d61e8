// The login page: an MLflow link (/#/experiments/1/runs/x) arrives here with its
// fragment, which a form post does not send; keep it in the hidden "hash" field so
// the server can send the browser on to it after signing in.
"use strict";
(function () {
  const field = document.getElementById("login-hash");
  const hash = window.location.hash;
  if (field && hash && hash.startsWith("#/")) field.value = hash;
})();

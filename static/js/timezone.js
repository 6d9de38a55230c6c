// Enhancement only: pre-select the browser's time zone on a fresh form. Without
// JavaScript the field keeps its server-side default (UTC) and still works.
(function () {
  "use strict";
  var select = document.getElementById("id_timezone");
  // Only a fresh signup form: after an error, keep exactly what the visitor chose.
  if (!select || select.value !== "UTC" || document.querySelector(".error-summary")) {
    return;
  }
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
})();

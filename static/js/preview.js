// Live preview: as the reader types (or ticks a ♡), POST the form to its preview URL and
// show the papers this profile would get today. Without JavaScript the form's "Preview my
// digest" button does the same as a page.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview-url]");
  if (!form || !window.fetch || !window.FormData) return;
  var target = document.getElementById(form.getAttribute("data-preview-target"));
  if (!target) return;
  Array.prototype.forEach.call(document.querySelectorAll(".js-hide"), function (el) {
    el.hidden = true;
  });
  var timer = null;
  var sent = 0;

  function update() {
    var data = new FormData(form); // includes the ♡ checkboxes (form="..." attribute)
    if (!String(data.get("interests") || "").trim() && !data.getAll("liked").length) {
      target.hidden = true;
      return;
    }
    var mine = ++sent;
    target.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Preview": "1" },
    })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (mine !== sent) return; // an older answer arriving late
        target.removeAttribute("aria-busy");
        if (!html) return;
        target.innerHTML = html;
        target.hidden = false;
      })
      .catch(function () { target.removeAttribute("aria-busy"); });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 350);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  // The ♡ checkboxes sit outside the form element (they belong to it by their form= attribute).
  Array.prototype.forEach.call(
    document.querySelectorAll('input[name="liked"][form="' + form.id + '"]'),
    function (box) { box.addEventListener("change", later); }
  );
  if (String(new FormData(form).get("interests") || "").trim()) update();
})();

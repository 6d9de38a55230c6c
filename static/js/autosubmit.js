// Presses the one button of a scanner-safe page (confirmation, "more/less like this") for a
// person: the GET of an emailed link changes nothing, and a mail scanner runs no script.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (!form || sessionStorage.getItem("autosubmitted:" + location.pathname)) return;
  // Once per page: going Back to this page must not submit it again.
  sessionStorage.setItem("autosubmitted:" + location.pathname, "1");
  var button = form.querySelector("button");
  if (button) button.disabled = true;
  form.submit();
})();

// smoke-gate dashboard: reload pages that ask for it (data-refresh, seconds) while they are
// visible and nobody is typing in a form. Everything works without this script.
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh"));
  if (!seconds || seconds < 1) {
    return;
  }
  function busy() {
    var active = document.activeElement;
    return active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }
  window.setInterval(function () {
    if (document.visibilityState === "visible" && !busy()) {
      window.location.reload();
    }
  }, seconds * 1000);
})();

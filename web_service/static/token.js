// The token inspector's countdown to exp. The only script of the console: served as a
// file, so the Content-Security-Policy can forbid every inline script.
(function () {
  "use strict";
  var el = document.getElementById("countdown");
  if (!el) { return; }
  var exp = Number(el.dataset.exp);
  var skew = Date.now() / 1000 - Number(el.dataset.now);
  function tick() {
    var left = Math.round(exp - (Date.now() / 1000 - skew));
    el.textContent = left > 0 ? left + " s" : "expired (reload: the console refreshes it)";
    if (left > 0) { window.setTimeout(tick, 1000); }
  }
  tick();
})();

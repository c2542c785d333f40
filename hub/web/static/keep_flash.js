// Pages that redraw themselves (a send finished, the state changed) keep the notice they showed:
// 「承認しました」 must not vanish two seconds after the click because the page reloaded. And they
// never redraw while the officer's own click is leaving the page: a reload then would cancel the
// form's navigation, and with it the answer that says whether 承認 or 取消 was taken.
(function () {
  "use strict";
  var leaving = false;
  function leave() {
    leaving = true;
    // Still here 10 s later (a download, an answer that never came): redraw again as before.
    setTimeout(function () { leaving = false; }, 10000);
  }
  document.addEventListener("submit", function (event) { if (!event.defaultPrevented) leave(); });
  window.addEventListener("beforeunload", leave);
  var key = "hub.flash:" + location.pathname;
  var main = document.getElementById("main");
  try {
    var kept = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
    if (kept && main && !main.querySelector(".flash")) main.insertAdjacentHTML("afterbegin", kept);
  } catch (e) { /* no session storage: the page reloads without the notice */ }

  window.hubReload = function () {
    if (leaving) { setTimeout(window.hubReload, 1000); return; }
    try {
      var shown = Array.prototype.map.call(document.querySelectorAll("#main > .flash"),
                                           function (el) { return el.outerHTML; });
      if (shown.length) sessionStorage.setItem(key, shown.join(""));
    } catch (e) { /* as above */ }
    location.reload();
  };
})();

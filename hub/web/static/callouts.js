// Keeps a call-out's live tally current without reloading the page: every few seconds the same
// page is fetched and its #tally-live part swapped in, until the call-out is no longer active.
(function () {
  "use strict";
  var live = document.getElementById("tally-live");
  if (!live || !live.dataset.poll) return;
  var every = Math.max(2, parseInt(live.dataset.poll, 10) || 5) * 1000;

  function poll() {
    fetch(location.pathname, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("tally-live");
        if (!fresh) throw new Error("no tally");
        live.replaceWith(fresh);
        live = fresh;
        if (fresh.dataset.poll) setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();

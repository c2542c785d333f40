// Keeps the per-channel counts on the status page current until every delivery is final.
(function () {
  "use strict";
  var table = document.getElementById("counts");
  if (!table) return;
  var updated = document.getElementById("counts-updated");
  var keys = ["sent", "delivered", "failed", "skipped", "unknown", "pending"];
  var busyStates = ["queued", "scheduled", "awaiting_approval"];

  function apply(data) {
    Object.keys(data.channels).forEach(function (ch) {
      var row = table.querySelector('tr[data-channel="' + ch + '"]');
      if (!row) return;
      var c = data.channels[ch], total = 0;
      keys.forEach(function (k) {
        total += c[k];
        var cell = row.querySelector('td[data-key="' + k + '"]');
        if (cell) cell.textContent = c[k];
      });
      var bar = row.querySelector("progress");
      if (bar) { bar.max = total || 1; bar.value = total - c.pending; }
    });
    // When the counts were made: a large send's counts are made once for everyone, every few seconds.
    var counted = data.counted_at || new Date().toISOString();
    updated.dateTime = counted;
    updated.textContent = new Date(counted).toLocaleTimeString("ja-JP", {timeZone: "Asia/Tokyo", hour12: false});
    var pending = Object.keys(data.channels).some(function (ch) { return data.channels[ch].pending > 0; });
    return pending || busyStates.indexOf(data.state) >= 0;
  }

  function poll() {
    fetch(table.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        // A new state (approved, finished) changes more than the counts: show the whole page again.
        if (data.state !== table.dataset.state) { window.hubReload(); return; }
        if (apply(data)) setTimeout(poll, 3000);
      })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, 2000);
})();

// Keeps the survey's counts on the message page current while it takes answers.
(function () {
  "use strict";
  var section = document.getElementById("survey");
  if (!section || section.dataset.open !== "yes") return;
  var updated = document.getElementById("survey-updated");

  function setAll(root, selector, value) {
    var node = root.querySelector(selector);
    if (node) node.textContent = value;
  }

  function applyGroups(tableId, groups) {
    var table = document.getElementById(tableId);
    if (!table) return true;
    if (table.tBodies[0].rows.length !== groups.length) return false;  // a new area: show the page again
    groups.forEach(function (g) {
      var row = table.querySelector('tr[data-group="' + (g.code || "") + '"]');
      if (!row) return;
      ["reached", "answered", "unanswered"].forEach(function (k) { setAll(row, 'td[data-key="' + k + '"]', g[k]); });
      Object.keys(g.counts).forEach(function (key) { setAll(row, 'td[data-choice="' + key + '"]', g.counts[key]); });
    });
    return true;
  }

  function apply(data) {
    var totals = document.getElementById("survey-totals");
    ["reached", "answered", "unanswered"].forEach(function (k) { setAll(totals, 'span[data-key="' + k + '"]', data[k]); });
    var choices = document.getElementById("survey-choices");
    data.choices.forEach(function (c) { setAll(choices, 'td[data-choice="' + c.key + '"]', c.count); });
    if (!applyGroups("survey-areas", data.areas) || !applyGroups("survey-categories", data.categories)) {
      window.hubReload();
      return false;
    }
    var counted = data.counted_at || new Date().toISOString();
    updated.dateTime = counted;
    updated.textContent = new Date(counted).toLocaleTimeString("ja-JP", {timeZone: "Asia/Tokyo", hour12: false});
    return data.open;
  }

  function poll() {
    fetch(section.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { if (apply(data)) setTimeout(poll, 5000); })
      .catch(function () { setTimeout(poll, 15000); });
  }
  setTimeout(poll, 5000);
})();

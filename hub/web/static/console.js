// The console: countdowns of held automatic alerts and live progress of sends in progress.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "ja";
  var words = lang === "en"
    ? {left: function (m, s) { return m + " min " + s + " s until it goes out"; }, due: "Going out now"}
    : {left: function (m, s) { return "送信まであと " + m + "分" + s + "秒"; }, due: "まもなく送信されます"};

  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll(".countdown[data-deadline]"), function (el) {
      var left = Math.max(0, Math.floor((Date.parse(el.dataset.deadline) - now) / 1000));
      el.textContent = left > 0 ? words.left(Math.floor(left / 60), left % 60) : words.due;
      el.dataset.seconds = String(left);
    });
  }
  if (document.querySelector(".countdown")) { tick(); setInterval(tick, 1000); }

  // Sends in progress: the same JSON the API gives, with the session; the list is drawn again when done.
  function poll(item) {
    fetch(item.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        var busy = false;
        Array.prototype.forEach.call(item.querySelectorAll(".chan[data-channel]"), function (span) {
          var c = data.channels[span.dataset.channel];
          if (!c) return;
          var total = 0;
          Object.keys(c).forEach(function (k) { total += c[k]; });
          if (c.pending > 0) busy = true;
          span.querySelector(".done").textContent = String(total - c.pending);
          span.querySelector(".total").textContent = String(total);
        });
        if (!busy && data.state !== "queued") { window.hubReload(); return; }
        setTimeout(function () { poll(item); }, 3000);
      })
      .catch(function () { setTimeout(function () { poll(item); }, 10000); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("li.live[data-url]"), function (item) {
    setTimeout(function () { poll(item); }, 2000);
  });
})();

// Live preview for the composer: asks /api/v1/messages/preview and shows each channel as it will be sent.
// Everything is written with textContent: the officer's text is never parsed as HTML.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("composer-config").textContent);
  var L = config.labels;
  var form = document.getElementById("composer");
  var previews = document.getElementById("previews");
  var problemsBox = document.getElementById("preview-problems");
  var audienceSize = document.getElementById("audience-size");
  var sendsAt = document.getElementById("sends-at");
  var bodyCount = document.getElementById("body-count");
  var timer = null;
  var seq = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function payload() {
    var data = new FormData(form);
    var overrides = {};
    ["sms", "voice", "email", "line", "x", "rss"].forEach(function (ch) {
      var v = data.get("override_" + ch);
      if (v) overrides[ch] = v;
    });
    return {
      title: data.get("title") || "", body: data.get("body") || "", channels: data.getAll("channels"),
      audience: data.get("audience") || "all", mode: data.get("mode") || "",
      msg_type: data.get("msg_type") || "alert", category: data.get("category") || null,
      department: data.get("department") || null, references: data.get("references") || null,
      scheduled_at: data.get("scheduled_at") || null, overrides: overrides, question: question(data)
    };
  }

  function question(data) {
    var text = data.get("question_text") || "";
    var choices = (data.get("question_choices") || "").split("\n").map(function (l) { return l.trim(); })
      .filter(function (l) { return l; });
    return text.trim() || choices.length ? {text: text, choices: choices} : null;
  }

  function metaLine(ch, item) {
    var parts = [];
    if (ch === "sms" && item.meta.segments !== undefined) {
      parts.push(item.meta.chars + " " + L.chars + " / " + item.meta.segments + " " + L.segments +
                 " (" + item.meta.encoding + ")");
    } else if (ch === "x" && item.meta.weighted_length !== undefined) {
      parts.push(L.weighted + " " + item.meta.weighted_length + " / 280");
    } else {
      parts.push(item.text.length + " " + L.chars);
    }
    parts.push(L.recipients + " " + item.recipients);
    if (ch === "sms" || ch === "voice") parts.push(L.units_total + " " + item.units_total);
    return parts.join(" ・ ");
  }

  function renderProblems(problems) {
    problemsBox.textContent = "";
    var keys = Object.keys(problems || {});
    if (!keys.length) return;
    var box = el("div", "problems");
    box.appendChild(el("strong", null, L.fix));
    var ul = el("ul");
    keys.forEach(function (key) {
      problems[key].forEach(function (p) {
        var name = config.channel_names[key] || (key === "*" ? "" : key);
        ul.appendChild(el("li", null, (name ? name + "：" : "") + p));
      });
    });
    box.appendChild(ul);
    problemsBox.appendChild(box);
  }

  function render(result) {
    previews.textContent = "";
    Object.keys(result.channels).forEach(function (ch) {
      var item = result.channels[ch];
      var card = el("article", "preview" + (item.errors.length ? " has-error" : ""));
      var h = el("h3");
      h.appendChild(el("span", null, config.channel_names[ch] || ch));
      card.appendChild(h);
      if (item.subject) card.appendChild(el("p", "meta", L.subject + "：" + item.subject));
      card.appendChild(el("pre", null, item.text));
      if (item.meta.speech) {  // what the caller hears: the opening, the message and its repeat
        card.appendChild(el("p", "meta", L.spoken));
        card.appendChild(el("pre", "speech", item.meta.speech));
      }
      card.appendChild(el("p", "meta", metaLine(ch, item)));
      item.warnings.forEach(function (w) { card.appendChild(el("p", "warn", w)); });
      item.errors.forEach(function (e) { card.appendChild(el("p", "err", e)); });
      previews.appendChild(card);
    });
    var size = result.audience.label + "：" + result.audience.size + " " + L.people;
    if (result.mode !== "actual") size += "（" + L.exercise_only + "）";
    audienceSize.textContent = size;
    // A notice inside its department's quiet hours: when it will really go, before anyone sends it.
    sendsAt.textContent = result.sends_at ? result.sends_at.text : "";
    sendsAt.hidden = !result.sends_at;
    renderProblems(result.problems);
  }

  function refresh() {
    var mine = ++seq;
    var p = payload();
    document.body.dataset.mode = p.mode;
    bodyCount.textContent = p.body.length + " " + L.chars;
    fetch(config.preview_url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": config.csrf},
      body: JSON.stringify(p)
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (result) {
      if (mine === seq) render(result);
    }).catch(function () {
      if (mine === seq) problemsBox.textContent = L.failed;
    });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 350);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", function (event) {
    // The banner follows the mode switch at once, not after the preview round trip.
    if (event.target.name === "mode") document.body.dataset.mode = event.target.value;
    schedule();
  });
  // A blank composer gets no list of problems before the officer has typed anything.
  if (form.elements.title.value || form.elements.body.value || form.elements.references.value) refresh();
})();

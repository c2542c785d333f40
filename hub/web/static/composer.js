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
      scheduled_at: data.get("scheduled_at") || null, overrides: overrides, question: question(data),
      texts: texts(data)
    };
  }

  // The 「翻訳」 section's texts, so the preview shows each language as every channel renders it.
  function texts(data) {
    var out = {};
    data.getAll("text_langs").forEach(function (code) {
      var title = data.get("text_" + code + "_title") || "", body = data.get("text_" + code + "_body") || "";
      if (!title && !body) return;
      // An edit makes it the operator's at once (the input handler below), the preview says so too.
      var section = form.querySelector('.translation[data-language="' + code + '"]');
      var origin = (section && section.dataset.origin) || data.get("text_" + code + "_origin") || "operator";
      out[code] = {title: title, body: body, origin: origin};
      // The survey's question in this language, when the section shows its fields.
      var asked = question(data, "text_" + code + "_question", "text_" + code + "_choices");
      if (asked) out[code].question = asked;
    });
    return out;
  }

  function card(ch, item, lang) {
    var node = el("article", "preview" + (item.errors.length ? " has-error" : ""));
    if (lang) node.lang = lang === "ja-easy" ? "ja" : lang;
    var h = el("h3");
    h.appendChild(el("span", null, config.channel_names[ch] || ch));
    node.appendChild(h);
    if (item.subject) node.appendChild(el("p", "meta", L.subject + "：" + item.subject));
    node.appendChild(el("pre", null, item.text));
    if (item.meta.speech) {  // what the caller hears: the opening, the message and its repeat
      node.appendChild(el("p", "meta", L.spoken));
      node.appendChild(el("pre", "speech", item.meta.speech));
    }
    if (item.recipients !== undefined) node.appendChild(el("p", "meta", metaLine(ch, item)));
    else if (ch === "sms" && item.meta.segments !== undefined) {
      node.appendChild(el("p", "meta", item.meta.segments + " " + L.segments + " (" + item.meta.encoding + ")"));
    }
    item.warnings.forEach(function (w) { node.appendChild(el("p", "warn", w)); });
    item.errors.forEach(function (e) { node.appendChild(el("p", "err", e + L.sends_japanese)); });
    return node;
  }

  function question(data, textField, choicesField) {
    var text = data.get(textField || "question_text") || "";
    var choices = (data.get(choicesField || "question_choices") || "").split("\n").map(function (l) { return l.trim(); })
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
      var node = card(ch, {recipients: item.recipients, units_total: item.units_total, subject: item.subject,
                           text: item.text, meta: item.meta, warnings: item.warnings, errors: []});
      item.errors.forEach(function (e) { node.appendChild(el("p", "err", e)); });
      previews.appendChild(node);
    });
    Object.keys(result.languages || {}).forEach(function (code) {
      var lang = result.languages[code];
      var heading = el("h3", "language", (config.language_names[code] || code) + " — " +
                       (config.origin_labels[lang.origin] || lang.origin));
      heading.dataset.language = code;
      previews.appendChild(heading);
      if (lang.findings && lang.findings.length) {
        var hard = el("ul", "easy-findings");
        hard.setAttribute("aria-label", L.easy_findings);
        lang.findings.forEach(function (f) { hard.appendChild(el("li", "warn", "「" + f.text + "」" + f.message)); });
        previews.appendChild(hard);
      }
      Object.keys(lang.channels).forEach(function (ch) { previews.appendChild(card(ch, lang.channels[ch], code)); });
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
  // An edited translation is the operator's: say so at once (the server decides it again on sending).
  form.addEventListener("input", function (event) {
    var section = event.target.closest && event.target.closest(".translation");
    if (!section || section.dataset.origin === "operator" || section.dataset.origin === "reviewed") return;
    section.dataset.origin = "operator";
    var badge = section.querySelector(".badge-origin");
    if (badge) {
      badge.className = "badge badge-origin badge-origin-operator";
      badge.textContent = config.origin_labels.operator;
    }
  });
  form.addEventListener("change", function (event) {
    // The banner follows the mode switch at once, not after the preview round trip.
    if (event.target.name === "mode") document.body.dataset.mode = event.target.value;
    schedule();
  });
  // A blank composer gets no list of problems before the officer has typed anything.
  if (form.elements.title.value || form.elements.body.value || form.elements.references.value) refresh();
})();

/* The review page's markup (docs/review.md): the page skeleton, a card, the key bar. Pure
   functions from the card data and what has been decided to HTML; review.js puts it in place. */
var MriseqDraw = (function () {
  "use strict";

  var UNCERTAIN = "uncertain";
  var HELP = [
    ["1 … 0, q … p", "the focused task's classes, in the order of the bar below"],
    ["Enter or Space", "accept: every undecided task takes the proposal (the reference where " +
     "there is one, else the prediction), then the next volume"],
    ["← → (h l)", "focus the previous / next task"], ["↑ ↓ (k j)", "previous / next volume"],
    ["n", "next volume left to review"], ["z, u, Backspace, Ctrl+Z", "undo"],
    ["x, Delete", "clear the volume's decisions"], ["v", "enlarge the slices"], ["?", "this help"],
  ];

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function pct(p) { return p === null || p === undefined ? "" : p.toFixed(2); }

  function hints(card) {
    var h = card.h, parts = [];
    parts.push(h.desc ? "<q>" + esc(h.desc) + "</q>" : "<i>no description</i>");
    if (h.te !== null) parts.push("TE " + esc(h.te) + " ms");
    if (h.tr !== null) parts.push("TR " + esc(h.tr) + " ms");
    if (h.b) parts.push("b " + esc(h.b));
    if (h.agent) parts.push("contrast agent in header");
    if (h.plane) parts.push("header plane " + esc(h.plane));
    if (h.itype) parts.push("<span class=itype>" + esc(h.itype) + "</span>");
    if (h.tp !== null) parts.push("phase " + esc(h.tp));
    return parts.join(" · ");
  }

  // view: {mine: the card's decisions, corrected(task): differs from the proposal}
  function taskRow(meta, card, task, view) {
    var pred = card.pred[task];
    var has = Object.prototype.hasOwnProperty.call(view.mine, task);
    var chosen = has ? view.mine[task] : null;
    var classes = ["task"];
    if (has) classes.push(chosen === "" ? "none" : view.corrected(task) ? "corrected" : "accepted");
    var call;
    if (!pred[1]) call = "<i>no prediction</i>";
    else if (pred[0] === UNCERTAIN) {
      call = "<span class='badge unc'>uncertain</span> " + esc(pred[1]) + " <span class=p>" +
        pct(pred[2]) + "</span>";
    } else call = "<b>" + esc(pred[1]) + "</b> <span class=p>" + pct(pred[2]) + "</span>";
    var runner = pred[3] ? esc(pred[3]) + " <span class=p>" + pct(pred[4]) + "</span>" : "";
    var ref = "";
    if (meta.labelled) {
      var r = card.ref[task];
      ref = "<td class='ref" + ((card.err || []).indexOf(task) >= 0 ? " wrong" : "") + "'>" +
        (r ? "ref " + esc(r) : "<i>no ref</i>") + "</td>";
    }
    var options = "<option value='?'>–</option><option value=''" + (chosen === "" ? " selected" : "") +
      ">(unlabelled)</option>";
    meta.classes[task].forEach(function (c) {
      options += "<option" + (chosen === c ? " selected" : "") + ">" + esc(c) + "</option>";
    });
    return "<tr class='" + classes.join(" ") + "' data-task='" + esc(task) + "'><th>" + esc(task) +
      "</th><td class=pred>" + call + "</td><td class=runner>" + runner + "</td>" + ref +
      "<td class=decision><select aria-label='" + esc(task) + "'>" + options + "</select></td></tr>";
  }

  function cardHtml(meta, card, view) {
    var size = meta.size || 128;
    var strip = card.t > 0
      ? "<img loading='lazy' decoding='async' alt='slices of " + esc(card.k) + "' src='" +
        esc(meta.thumbs) + "/" + esc(card.k) + ".png' width='" + (card.t * size + (card.t - 1) * meta.gap) +
        "' height='" + size + "'>"
      : "<div class=noimg>no image: the volume has no tensor rows</div>";
    var badges = "";
    if (card.err && card.err.length) badges += "<span class='badge err'>error: " + esc(card.err.join(", ")) + "</span>";
    if (card.unc.length) badges += "<span class='badge unc'>uncertain: " + esc(card.unc.join(", ")) + "</span>";
    if (card.why.length) badges += "<span class='badge why'>header disagrees: " + esc(card.why.join(", ")) + "</span>";
    var title = "<span class=key title='volume key'>" + esc(card.k) + "</span>" +
      (card.n > 1 ? " <span class=vol>volume " + card.i + " of " + card.n +
        (card.h.split ? " (" + esc(card.h.split) + ")" : "") + "</span>" : "");
    var head = "<tr><th></th><th>prediction</th><th>runner-up</th>" +
      (meta.labelled ? "<th>reference</th>" : "") + "<th>decision</th></tr>";
    return "<div class=strip>" + strip + "</div><div class=body><div class=title>" + title + " " +
      badges + "</div><table class=tasks>" + head +
      meta.tasks.map(function (task) { return taskRow(meta, card, task, view); }).join("") +
      "</table><div class=hints>" + hints(card) + "</div><div class=keys>patient " + esc(card.p) +
      " · study " + esc(card.st) + " · series " + esc(card.s) + "</div><div class=actions>" +
      "<button type=button data-act=accept>Accept &amp; next</button> " +
      "<button type=button data-act=clear>Clear</button></div></div>";
  }

  function keybar(meta, task, keys) {
    var chips = meta.classes[task].map(function (c, j) {
      return "<button type=button class=chip data-class='" + esc(c) + "'>" +
        (j < keys.length ? "<kbd>" + keys[j] + "</kbd> " : "") + esc(c) + "</button>";
    }).join("");
    return "<span class=focus-task>" + esc(task) + "</span>" + chips +
      "<span class=help-hint><kbd>Enter</kbd> accept &amp; next · <kbd>←</kbd><kbd>→</kbd> task · " +
      "<kbd>↑</kbd><kbd>↓</kbd> volume · <kbd>z</kbd> undo · <kbd>?</kbd> all keys</span>";
  }

  function select(id, options) {
    return "<select id=" + id + ">" + options.map(function (o) {
      return "<option value='" + esc(o[0]) + "'>" + esc(o[1]) + "</option>";
    }).join("") + "</select>";
  }

  function page(meta) {
    var flags = [["all", "all volumes"], ["todo", "left to review"], ["uncertain", "uncertain"],
                 ["disagreement", "header disagrees"]];
    if (meta.labelled) flags.push(["error", "prediction ≠ reference"]);
    flags.push(["corrected", "corrected"], ["done", "reviewed"]);
    var classes = "<select id=f-class><option value=''>any predicted class</option>" +
      meta.tasks.map(function (task) {
        return "<optgroup label='" + esc(task) + "'>" + meta.classes[task].map(function (c) {
          return "<option value='" + esc(task + "|" + c) + "'>" + esc(task) + ": " + esc(c) + "</option>";
        }).join("") + "</optgroup>";
      }).join("") + "</select>";
    var warning = meta.trained_on === "synthetic"
      ? "<p class='notice warn'>The models were trained on the synthetic cohort only: check every call.</p>" : "";
    var about = (meta.labelled
      ? "labelled dataset (" + esc(meta.role) + "): reference beside prediction, errors first"
      : "unlabelled archive (predict mode)") + " · model " + esc(meta.model) +
      (meta.trained_on ? " trained on " + esc(meta.trained_on) : "") + " · uncertain below " +
      meta.tasks.map(function (t) { return esc(t) + " " + meta.thresholds[t]; }).join(", ");
    return "<header><h1>Review · " + esc(meta.dataset) + "</h1><p class=meta>" + about + "</p>" +
      warning + "<div class=toolbar>" +
      "<label>Task " + select("f-task", [["", "all tasks"]].concat(meta.tasks.map(function (t) {
        return [t, t];
      }))) + "</label><label>Class " + classes + "</label>" +
      "<label>Show " + select("f-flag", flags) + "</label>" +
      "<label>Order " + select("f-sort", [["review", "review order"], ["probability", "lowest probability"],
                                          ["exam", "by examination"]]) + "</label>" +
      "<span id=count></span><span class=buttons>" +
      "<button type=button id=b-undo title='z'>Undo</button>" +
      "<button type=button id=b-accept-all>Accept all shown…</button>" +
      "<button type=button id=b-export>Export labels sheet</button>" +
      "<label class=button>Import…<input type=file id=b-import accept='.csv,text/csv'></label>" +
      "</span></div><p id=notice class=notice></p></header>" +
      "<main id=cards></main><p id=empty hidden>No volume matches the filters.</p><div id=sentinel></div>" +
      "<div id=help hidden><h2>Keys</h2><table>" + HELP.map(function (r) {
        return "<tr><th>" + esc(r[0]) + "</th><td>" + esc(r[1]) + "</td></tr>";
      }).join("") + "</table><p>Decisions stay in this browser (local storage, per dataset). Export " +
      "the labels sheet to train on it; import it here to go on elsewhere.</p></div><footer id=keybar></footer>";
  }

  return { esc: esc, card: cardHtml, keybar: keybar, page: page };
})();

/* mriseq review page (docs/review.md): cards of a dataset's volumes, relabelled with the keyboard
   or the mouse, decisions kept in localStorage, exported as a labels sheet of the generic layout.
   Plain JavaScript in classic scripts inlined in the page (sheet.js, draw.js, then this one), no
   modules and no network: the page works from file://. This file holds the page's state. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("review-data").textContent);
  var META = DATA.meta;
  var CARDS = DATA.cards;
  var TASKS = META.tasks; // the configured tasks, in order
  var COLUMNS = META.columns; // every task column of a labels sheet
  var CLASS_KEYS = "1234567890qwertyiop".split("");
  var BATCH = 60;
  var MAX_UNDO = 2000;
  var TASK_REASONS = { sequence: "b_value", orientation: "orientation", contrast: "contrast" };

  var byKey = {};
  var bySeries = {};
  CARDS.forEach(function (card, rank) {
    card.rank = rank;
    byKey[card.k] = card;
    (bySeries[card.s] = bySeries[card.s] || []).push(card);
  });

  var state = {
    decisions: {}, // volume_key -> {task: class}; "" = left unlabelled; absent task = undecided
    undo: [],
    list: [],
    shown: 0,
    focus: 0,
    task: TASKS[0],
    filters: { task: "", cls: "", flag: "all", sort: "review" },
    nodes: {},
  };
  var el = {};

  // ---- decisions ------------------------------------------------------------------------------

  function proposal(card, task) {
    var reference = card.ref ? card.ref[task] : null;
    return reference || card.pred[task][1] || "";
  }

  function decided(card) {
    return state.decisions[card.k] || {};
  }

  function isDone(card, task) {
    var mine = decided(card);
    if (task) return Object.prototype.hasOwnProperty.call(mine, task);
    return TASKS.every(function (t) { return Object.prototype.hasOwnProperty.call(mine, t); });
  }

  function corrected(card, task) {
    var value = decided(card)[task];
    return !!value && value !== proposal(card, task);
  }

  function load() {
    try {
      var raw = window.localStorage.getItem(META.storage);
      var saved = raw ? JSON.parse(raw) : null;
      state.decisions = (saved && saved.decisions) || {};
      state.saved = true;
    } catch (error) {
      state.saved = false;
      notice("This browser keeps nothing for this page (" + error.name + "): export the " +
             "labels sheet before closing it.", true);
    }
  }

  function save() {
    try {
      window.localStorage.setItem(META.storage, JSON.stringify({ version: 1, decisions: state.decisions }));
      state.saved = true;
    } catch (error) {
      state.saved = false;
      notice("The browser did not keep the last decisions (" + error.name + "): export the " +
             "labels sheet now, and import it to go on.", true);
    }
  }

  // One undoable step: updates = [[volume_key, decisions or null]].
  function commit(updates, focusKey) {
    var changes = [];
    updates.forEach(function (update) {
      var key = update[0];
      var value = update[1];
      var before = state.decisions[key] ? Object.assign({}, state.decisions[key]) : null;
      if (value && Object.keys(value).length) state.decisions[key] = value;
      else delete state.decisions[key];
      changes.push([key, before]);
    });
    if (!changes.length) return;
    state.undo.push({ changes: changes, focus: focusKey });
    if (state.undo.length > MAX_UNDO) state.undo.shift();
    save();
    changes.forEach(function (change) { redraw(change[0]); });
    counts();
  }

  function undo() {
    var entry = state.undo.pop();
    if (!entry) { notice("Nothing to undo."); return; }
    entry.changes.slice().reverse().forEach(function (change) {
      if (change[1]) state.decisions[change[0]] = change[1];
      else delete state.decisions[change[0]];
      redraw(change[0]);
    });
    save();
    counts();
    if (entry.focus) focusKey(entry.focus);
  }

  function label(card, task, value) {
    var mine = Object.assign({}, decided(card));
    if (value === null) delete mine[task];
    else mine[task] = value;
    commit([[card.k, mine]], card.k);
  }

  function accepted(card) {
    var mine = Object.assign({}, decided(card));
    TASKS.forEach(function (task) {
      if (!Object.prototype.hasOwnProperty.call(mine, task)) mine[task] = proposal(card, task);
    });
    return mine;
  }

  function acceptAndNext() {
    var card = focused();
    if (!card) return;
    commit([[card.k, accepted(card)]], card.k);
    move(1);
  }

  function acceptShown() {
    var open = state.list.filter(function (card) { return !isDone(card); });
    if (!open.length) { notice("Every volume shown is decided."); return; }
    if (!window.confirm("Accept what the page proposes for every undecided task of the " +
                        open.length + " volumes shown?")) return;
    commit(open.map(function (card) { return [card.k, accepted(card)]; }), (focused() || {}).k);
  }

  function clearCard() {
    var card = focused();
    if (card && state.decisions[card.k]) commit([[card.k, null]], card.k);
  }

  // ---- the labels sheet (sheet.js, mriseq.review.sheet) -------------------------------------

  function exportSheet() {
    return MriseqSheet.text(bySeries, state.decisions, TASKS, COLUMNS, corrected);
  }

  function download() {
    var text = exportSheet();
    var blob = new Blob([text], { type: "text/csv" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = META.dataset + "_labels.csv";
    document.body.appendChild(link);
    link.click();
    window.setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    notice("Exported " + (text.split("\n").length - 2) + " rows as " + link.download + ".");
  }

  function importSheet(text) {
    var result = MriseqSheet.decisions(text, bySeries, TASKS, META.classes);
    var updates = Object.keys(result.decisions).map(function (key) {
      return [key, Object.assign({}, decided(byKey[key]), result.decisions[key])];
    });
    commit(updates, (focused() || {}).k);
    var n = result.notes;
    var message = "Imported " + n.rows + " rows onto " + Object.keys(result.decisions).length +
      " volumes.";
    if (n.not_on_page) message += " " + n.not_on_page + " rows name a series not on this page.";
    if (n.no_series_key) message += " " + n.no_series_key + " rows have no SeriesKey (the page " +
      "holds pseudonymised keys only: import a sheet this page exported).";
    if (n.unknown_class) message += " " + n.unknown_class + " cells name an unknown class.";
    notice(message, n.not_on_page + n.no_series_key + n.unknown_class > 0);
    return result.notes;
  }

  function readFile(file) {
    var reader = new FileReader();
    reader.onload = function () { importSheet(String(reader.result)); };
    reader.readAsText(file);
  }

  // ---- filters and order ----------------------------------------------------------------------

  function flagged(card, flag, task) {
    var tasks = task ? [task] : TASKS;
    switch (flag) {
      case "todo": return !isDone(card, task);
      case "done": return isDone(card, task);
      case "uncertain": return tasks.some(function (t) { return card.unc.indexOf(t) >= 0; });
      case "disagreement":
        return task ? card.why.indexOf(TASK_REASONS[task]) >= 0 : card.why.length > 0;
      case "error": return tasks.some(function (t) { return (card.err || []).indexOf(t) >= 0; });
      case "corrected": return tasks.some(function (t) { return corrected(card, t); });
      default: return true;
    }
  }

  function lowest(card, task) {
    var tasks = task ? [task] : TASKS;
    var p = tasks.map(function (t) { return card.pred[t][2]; }).filter(function (v) { return v !== null; });
    return p.length ? Math.min.apply(null, p) : 2;
  }

  function byExamination(a, b) {
    var keys = [[a.p || "", b.p || ""], [a.st || "", b.st || ""], [a.s, b.s]];
    for (var j = 0; j < keys.length; j++) {
      if (keys[j][0] !== keys[j][1]) return keys[j][0] < keys[j][1] ? -1 : 1;
    }
    return a.i - b.i;
  }

  function applyFilters(keepFocus) {
    var f = state.filters;
    var current = keepFocus ? focused() : null;
    var cls = f.cls ? f.cls.split("|") : null;
    state.list = CARDS.filter(function (card) {
      if (cls && card.pred[cls[0]][1] !== cls[1]) return false;
      return flagged(card, f.flag, f.task);
    });
    if (f.sort === "exam") state.list.sort(byExamination);
    else if (f.sort === "probability") {
      state.list.sort(function (a, b) { return lowest(a, f.task) - lowest(b, f.task) || a.rank - b.rank; });
    }
    el.cards.textContent = "";
    state.nodes = {};
    state.shown = 0;
    state.focus = Math.max(0, current ? state.list.indexOf(current) : 0);
    renderMore(BATCH);
    setFocus(state.focus, false);
    counts();
  }

  function counts() {
    var task = state.filters.task;
    var left = CARDS.filter(function (card) { return !isDone(card, task); }).length;
    var shownLeft = state.list.filter(function (card) { return !isDone(card, task); }).length;
    el.count.innerHTML = "<b>" + left + "</b> of " + CARDS.length + " volumes left to review" +
      (task ? " for " + MriseqDraw.esc(task) : "") + " · shown " + state.list.length +
      (state.list.length !== CARDS.length ? " (" + shownLeft + " left)" : "");
  }

  // ---- drawing --------------------------------------------------------------------------------

  function cardNode(card) {
    var node = document.createElement("article");
    node.className = "card" + (isDone(card) ? " done" : "");
    node.dataset.key = card.k;
    node.innerHTML = MriseqDraw.card(META, card, {
      mine: decided(card),
      corrected: function (task) { return corrected(card, task); },
    });
    return node;
  }

  function renderMore(n) {
    var end = Math.min(state.list.length, state.shown + n);
    var fragment = document.createDocumentFragment();
    for (var j = state.shown; j < end; j++) {
      var node = cardNode(state.list[j]);
      state.nodes[state.list[j].k] = node;
      fragment.appendChild(node);
    }
    el.cards.appendChild(fragment);
    state.shown = end;
    el.empty.hidden = state.list.length > 0;
  }

  function redraw(key) {
    var old = state.nodes[key];
    if (!old) return;
    var node = cardNode(byKey[key]);
    if (old.classList.contains("focus")) node.classList.add("focus");
    if (old.classList.contains("big")) node.classList.add("big");
    old.replaceWith(node);
    state.nodes[key] = node;
    if (node.classList.contains("focus")) markTask(node);
  }

  function focused() { return state.list[state.focus] || null; }

  function markTask(node) {
    node.querySelectorAll("tr.task").forEach(function (row) {
      row.classList.toggle("current", row.dataset.task === state.task);
    });
  }

  function setFocus(index, scroll) {
    if (!state.list.length) { keybar(); return; }
    index = Math.max(0, Math.min(state.list.length - 1, index));
    if (index >= state.shown) renderMore(index - state.shown + BATCH);
    var before = focused();
    var old = before ? state.nodes[before.k] : null;
    if (old) {
      old.classList.remove("focus");
      old.querySelectorAll("tr.current").forEach(function (row) { row.classList.remove("current"); });
    }
    state.focus = index;
    var node = state.nodes[focused().k];
    node.classList.add("focus");
    markTask(node);
    if (scroll !== false) node.scrollIntoView({ block: "nearest" });
    keybar();
  }

  function focusKey(key) {
    var index = state.list.indexOf(byKey[key]);
    if (index >= 0) setFocus(index);
  }

  function move(step) { setFocus(state.focus + step); }

  function nextOpen() {
    for (var j = 1; j <= state.list.length; j++) {
      var index = (state.focus + j) % state.list.length;
      if (!isDone(state.list[index], state.filters.task)) { setFocus(index); return; }
    }
    notice("Every volume shown is decided.");
  }

  function switchTask(step) {
    var j = TASKS.indexOf(state.task);
    state.task = TASKS[(j + step + TASKS.length) % TASKS.length];
    var card = focused();
    if (card && state.nodes[card.k]) markTask(state.nodes[card.k]);
    keybar();
  }

  function keybar() {
    el.keybar.innerHTML = MriseqDraw.keybar(META, state.task, CLASS_KEYS);
  }

  function notice(text, warn) {
    if (!el.notice) { state.pending = [text, warn]; return; }
    el.notice.textContent = text;
    el.notice.className = warn ? "notice warn" : "notice";
  }

  // ---- page and events ------------------------------------------------------------------------

  function build() {
    document.getElementById("app").innerHTML = MriseqDraw.page(META);
    ["cards", "count", "notice", "keybar", "empty", "help"].forEach(function (id) {
      el[id] = document.getElementById(id);
    });
    if (state.pending) notice(state.pending[0], state.pending[1]);
    bind();
  }

  function bind() {
    var controls = { "f-task": "task", "f-class": "cls", "f-flag": "flag", "f-sort": "sort" };
    Object.keys(controls).forEach(function (id) {
      document.getElementById(id).addEventListener("change", function (event) {
        state.filters[controls[id]] = event.target.value;
        if (id === "f-task" && event.target.value) state.task = event.target.value;
        event.target.blur();
        applyFilters(false);
      });
    });
    document.getElementById("b-undo").addEventListener("click", undo);
    document.getElementById("b-accept-all").addEventListener("click", acceptShown);
    document.getElementById("b-export").addEventListener("click", download);
    document.getElementById("b-import").addEventListener("change", function (event) {
      if (event.target.files.length) readFile(event.target.files[0]);
      event.target.value = "";
      event.target.blur(); // the keys go back to the volumes
    });
    el.cards.addEventListener("click", function (event) {
      var node = event.target.closest(".card");
      if (!node) return;
      var index = state.list.indexOf(byKey[node.dataset.key]);
      var row = event.target.closest("tr.task");
      if (row) state.task = row.dataset.task;
      if (index !== state.focus || row) setFocus(index, false);
      var act = event.target.dataset.act;
      if (act === "accept") acceptAndNext();
      else if (act === "clear") clearCard();
      else if (event.target.tagName === "IMG") node.classList.toggle("big");
    });
    el.cards.addEventListener("change", function (event) {
      var row = event.target.closest("tr.task");
      var node = event.target.closest(".card");
      if (!row || !node) return;
      var value = event.target.value;
      event.target.blur();
      label(byKey[node.dataset.key], row.dataset.task, value === "?" ? null : value);
    });
    el.keybar.addEventListener("click", function (event) {
      var chip = event.target.closest(".chip");
      if (chip && focused()) label(focused(), state.task, chip.dataset.class);
    });
    document.addEventListener("keydown", keydown);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        if (entries[0].isIntersecting && state.shown < state.list.length) renderMore(BATCH);
      }, { rootMargin: "800px" }).observe(document.getElementById("sentinel"));
    } else renderMore(CARDS.length);
  }

  function keydown(event) {
    var tag = event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (tag === "BUTTON") event.target.blur(); // keys act on the focused volume, not the button
    var key = event.key;
    var card = focused();
    var handled = true;
    switch (key) {
      case "ArrowDown": case "j": move(1); break;
      case "ArrowUp": case "k": move(-1); break;
      case "ArrowRight": case "l": switchTask(1); break;
      case "ArrowLeft": case "h": switchTask(-1); break;
      case "Enter": case " ": acceptAndNext(); break;
      case "z": case "u": case "Backspace": undo(); break;
      case "x": case "Delete": clearCard(); break;
      case "n": nextOpen(); break;
      case "v": if (card) { state.nodes[card.k].classList.toggle("big"); setFocus(state.focus); } break;
      case "?": el.help.hidden = !el.help.hidden; break;
      case "Escape": el.help.hidden = true; break;
      default: {
        var j = CLASS_KEYS.indexOf(key.toLowerCase());
        var classes = META.classes[state.task];
        if (card && j >= 0 && j < classes.length) label(card, state.task, classes[j]);
        else handled = false;
      }
    }
    if (handled) event.preventDefault();
  }

  load();
  build();
  applyFilters(false);
  window.mriseqReview = {
    exportSheet: exportSheet,
    importSheet: importSheet,
    decisions: function () { return JSON.parse(JSON.stringify(state.decisions)); },
    saved: function () { return state.saved; },
    focused: function () { var card = focused(); return card ? { key: card.k, task: state.task } : null; },
    order: function () { return state.list.map(function (card) { return card.k; }); },
  };
})();

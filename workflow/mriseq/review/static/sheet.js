/* The labels sheet of the review page (docs/review.md): the sheet mriseq.review.sheet states in
   Python, written and read here. Pure functions over the cards and the decisions; review.js holds
   the page's state. Keep the two sides in step (tests/workflow/test_review_browser.py compares). */
var MriseqSheet = (function () {
  "use strict";

  var KEY = "SeriesKey";
  var INDEX = "VolumeIndex";
  var CORRECTED = "Corrected";

  function csvField(value) {
    value = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
  }

  function header(columns) {
    return [KEY, INDEX].concat(columns, [CORRECTED]);
  }

  function row(series, index, tasks, columns, labels, fixed) {
    var out = {};
    out[KEY] = series;
    out[INDEX] = index;
    out[CORRECTED] = fixed.join(";");
    columns.forEach(function (task) { out[task] = ""; });
    tasks.forEach(function (task, i) { out[task] = labels[i]; });
    return out;
  }

  // The rows: a series whose volumes are all on the page and decided alike is one row without
  // VolumeIndex; any other volume with a decided class a row of its own. ``corrected(card, task)``
  // says whether the card's class for the task differs from what the page proposed.
  function rows(bySeries, decisions, tasks, columns, corrected) {
    var out = [];
    Object.keys(bySeries).forEach(function (series) {
      var members = bySeries[series].slice().sort(function (a, b) { return a.i - b.i; });
      var cells = members.map(function (card) {
        var mine = decisions[card.k] || {};
        return tasks.map(function (task) { return mine[task] || ""; });
      });
      var fixes = members.map(function (card) {
        return tasks.filter(function (task) { return corrected(card, task); });
      });
      var alike = cells.every(function (c) { return c.join("\u0000") === cells[0].join("\u0000"); });
      var filled = function (c) { return c.some(function (v) { return v; }); };
      if (members.length >= members[0].n && alike) {
        if (filled(cells[0])) {
          var fixed = tasks.filter(function (task) {
            return fixes.some(function (f) { return f.indexOf(task) >= 0; });
          });
          out.push(row(series, "", tasks, columns, cells[0], fixed));
        }
        return;
      }
      members.forEach(function (card, i) {
        if (filled(cells[i])) out.push(row(series, String(card.i), tasks, columns, cells[i], fixes[i]));
      });
    });
    out.sort(function (a, b) {
      if (a[KEY] !== b[KEY]) return a[KEY] < b[KEY] ? -1 : 1;
      return (parseInt(a[INDEX], 10) || 0) - (parseInt(b[INDEX], 10) || 0);
    });
    return out;
  }

  function text(bySeries, decisions, tasks, columns, corrected) {
    var names = header(columns);
    var lines = [names.join(",")];
    rows(bySeries, decisions, tasks, columns, corrected).forEach(function (r) {
      lines.push(names.map(function (name) { return csvField(r[name]); }).join(","));
    });
    return lines.join("\n") + "\n";
  }

  function parse(source) {
    var out = [], current = [], field = "", quoted = false, i = 0;
    if (source.charCodeAt(0) === 0xfeff) i = 1;
    for (; i < source.length; i++) {
      var ch = source[i];
      if (quoted) {
        if (ch === '"' && source[i + 1] === '"') { field += '"'; i++; }
        else if (ch === '"') quoted = false;
        else field += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") { current.push(field); field = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && source[i + 1] === "\n") i++;
        current.push(field); out.push(current); current = []; field = "";
      } else field += ch;
    }
    if (field || current.length) { current.push(field); out.push(current); }
    return out.filter(function (r) { return r.some(function (v) { return v.trim(); }); });
  }

  // The decisions a sheet with SeriesKey gives the page's cards, and what could not be used.
  function decisionsOf(source, bySeries, tasks, classes) {
    var table = parse(source);
    var names = (table.shift() || []).map(function (name) { return name.trim(); });
    var notes = { rows: 0, volumes: 0, not_on_page: 0, no_series_key: 0, unknown_class: 0 };
    var found = {};
    table.forEach(function (cells) {
      var cell = function (name) {
        var j = names.indexOf(name);
        return j < 0 ? "" : (cells[j] || "").trim();
      };
      notes.rows += 1;
      var series = cell(KEY).toLowerCase();
      if (!series) { notes.no_series_key += 1; return; }
      var index = cell(INDEX);
      var members = (bySeries[series] || []).filter(function (card) {
        return !index || card.i === Math.trunc(parseFloat(index));
      });
      if (!members.length) { notes.not_on_page += 1; return; }
      members.forEach(function (card) {
        var mine = found[card.k] = found[card.k] || {};
        tasks.forEach(function (task) {
          var value = cell(task);
          if (!value) return;
          if (classes[task].indexOf(value) < 0) { notes.unknown_class += 1; return; }
          mine[task] = value;
        });
      });
      notes.volumes += members.length;
    });
    return { decisions: found, notes: notes };
  }

  return { csvField: csvField, rows: rows, text: text, parse: parse, decisions: decisionsOf };
})();

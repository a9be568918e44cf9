"""The labels sheet the review page exports and imports, stated in Python.

The page's JavaScript (``static/sheet.js``, called by ``static/review.js``) writes and reads
the same sheet; ``tests/workflow/test_review_browser.py`` checks that the two agree, and
``tests/unit/test_review.py`` that the sheet joins onto the files it came from.

Decisions are ``volume_key -> {task: class}``; a task missing from a volume's dict is undecided,
an empty class means "left unlabelled". The sheet is the generic layout's
(:mod:`mriseq.scan.layouts.generic`) with ``SeriesKey``, the pseudonymised series key, in place of
the raw SeriesInstanceUID the page never holds:

* columns ``SeriesKey, VolumeIndex, sequence, orientation, contrast, Corrected``;
* a series whose volumes are all on the page and decided alike is one row with an empty
  ``VolumeIndex`` (a series of one volume always is): it labels the whole series; any other
  volume is a row of its own, ``VolumeIndex`` its number in the series (``volumes.parquet``);
* a task's cell is the decided class, empty where undecided or left unlabelled; a volume with
  no class decided has no row;
* ``Corrected`` names the tasks (``;``-joined) whose class differs from what the page proposed
  (the prediction; in a labelled dataset the reference label): ignored by the layout, read back
  by nobody, there for the person who trains on the sheet;
* rows sorted by ``SeriesKey``, then ``VolumeIndex`` (series rows first).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import pandas as pd

from mriseq.review.cards import proposal
from mriseq.taxonomy import TASKS

KEY_COLUMN = "SeriesKey"
INDEX_COLUMN = "VolumeIndex"
CORRECTED_COLUMN = "Corrected"
SHEET_COLUMNS = [KEY_COLUMN, INDEX_COLUMN, *TASKS, CORRECTED_COLUMN]


def labels_sheet(cards: Sequence[Mapping], decisions: Mapping[str, Mapping[str, str]],
                 tasks: Sequence[str]) -> pd.DataFrame:
    """The sheet of ``decisions`` on the page's ``cards`` (module doc), every cell text."""
    by_series: dict[str, list[Mapping]] = {}
    for card in cards:
        by_series.setdefault(card["s"], []).append(card)
    rows = []
    for series, members in by_series.items():
        members = sorted(members, key=lambda card: card["i"])
        cells = [tuple((decisions.get(card["k"]) or {}).get(t) or "" for t in tasks)
                 for card in members]
        corrected = [_corrected(card, decisions.get(card["k"]) or {}, tasks)
                     for card in members]
        whole = len(members) >= members[0]["n"] and len(set(cells)) == 1
        if whole:
            if any(cells[0]):
                fixed = [t for t in tasks if any(t in c for c in corrected)]
                rows.append(_row(series, "", tasks, cells[0], fixed))
            continue
        for card, labels, fixed in zip(members, cells, corrected, strict=True):
            if any(labels):
                rows.append(_row(series, str(card["i"]), tasks, labels, fixed))
    rows.sort(key=lambda row: (row[KEY_COLUMN], int(row[INDEX_COLUMN] or 0)))
    return pd.DataFrame(rows, columns=SHEET_COLUMNS, dtype=str)


def _corrected(card: Mapping, decided: Mapping[str, str], tasks: Sequence[str]) -> list[str]:
    return [t for t in tasks if decided.get(t) and decided[t] != proposal(card, t)]


def _row(series: str, index: str, tasks: Sequence[str], labels: Sequence[str],
         corrected: Sequence[str]) -> dict[str, str]:
    row = {column: "" for column in SHEET_COLUMNS}
    row.update({KEY_COLUMN: series, INDEX_COLUMN: index, CORRECTED_COLUMN: ";".join(corrected)})
    row.update(dict(zip(tasks, labels, strict=True)))
    return row


def sheet_text(sheet: pd.DataFrame) -> str:
    """The CSV text of a sheet as the page downloads it (``\\n`` line ends, minimal quoting)."""
    buffer = io.StringIO()
    sheet.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def sheet_decisions(sheet: pd.DataFrame, cards: Sequence[Mapping],
                    classes: Mapping[str, Sequence[str]], tasks: Sequence[str]
                    ) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    """The decisions an earlier export (or any sheet with ``SeriesKey``) gives the page's cards,
    and counts of what could not be used: rows whose series is not on the page, rows without a
    ``SeriesKey`` (a raw UID cannot be matched: the page holds pseudonyms only), cells naming a
    class the taxonomy lacks."""
    by_series: dict[str, list[Mapping]] = {}
    for card in cards:
        by_series.setdefault(card["s"], []).append(card)
    decisions: dict[str, dict[str, str]] = {}
    notes = {"rows": 0, "volumes": 0, "not_on_page": 0, "no_series_key": 0, "unknown_class": 0}
    for record in sheet.fillna("").astype(str).to_dict("records"):
        notes["rows"] += 1
        series = record.get(KEY_COLUMN, "").strip().lower()
        if not series:
            notes["no_series_key"] += 1
            continue
        index = record.get(INDEX_COLUMN, "").strip()
        members = [card for card in by_series.get(series, [])
                   if not index or card["i"] == int(float(index))]
        if not members:
            notes["not_on_page"] += 1
            continue
        for card in members:
            decided = decisions.setdefault(card["k"], {})
            for task in tasks:
                value = record.get(task, "").strip()
                if not value:
                    continue
                if value not in classes[task]:
                    notes["unknown_class"] += 1
                    continue
                decided[task] = value
        notes["volumes"] += len(members)
    return decisions, notes

"""The review page of a dataset: ``results/<dataset>/review/index.html`` and its thumbnails.

One HTML file holds the card data (JSON) and the page's scripts and style (the package files
``static/*.js`` and ``static/review.css``, inlined): it loads nothing from the network and
runs from ``file://`` in current Chromium and Firefox, so the review folder (with ``thumbs/``
beside the page, loaded lazily) can be copied to a laptop. What a reader decides is kept in the
browser's local storage under ``mriseq-review/<dataset>`` and exported as a labels sheet
(:mod:`mriseq.review.sheet`). The page shows pseudonymised keys only (docs/review.md).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq.io import write_text
from mriseq.review.cards import build_cards, labelled_table, volume_timing
from mriseq.review.thumbs import GAP, write_thumbnails
from mriseq.taxonomy import TASKS

log = logging.getLogger("mriseq.review.page")

STATIC = Path(__file__).resolve().parent / "static"
# Classic scripts, inlined in this order: the labels sheet and the markup, then the page's state.
SCRIPTS = ("sheet.js", "draw.js", "review.js")
THUMBS = "thumbs"  # the thumbnails' folder, beside the page
STORAGE_PREFIX = "mriseq-review/"


def page_meta(dataset: str, role: str, tasks: Sequence[str],
              taxonomy: Mapping[str, Sequence[str]], model: str, trained_on: str | None,
              abstain_below: Mapping[str, float], size: int | None) -> dict:
    """What the page's script needs beside the cards."""
    return {
        "dataset": dataset, "role": role, "labelled": role != "predict",
        "tasks": list(tasks), "columns": list(TASKS),
        "classes": {task: list(taxonomy[task]) for task in tasks},
        "model": model, "trained_on": trained_on,
        "thresholds": {task: float(abstain_below.get(task, 0.0)) for task in tasks},
        "size": size, "gap": GAP, "thumbs": THUMBS, "storage": STORAGE_PREFIX + dataset,
    }


def _json(value) -> str:
    # "<" never appears raw, so no "</script>" can end the data block early.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


def page_html(meta: Mapping, cards: Sequence[Mapping]) -> str:
    """The page: card data as JSON, the package's scripts and style inlined."""
    style = (STATIC / "review.css").read_text(encoding="utf-8")
    script = "".join((STATIC / name).read_text(encoding="utf-8") for name in SCRIPTS)
    title = html.escape(f"Review · {meta['dataset']} · mriseq")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{title}</title>\n<style>\n{style}</style>\n</head>\n<body>\n"
        "<noscript>The review page needs JavaScript.</noscript>\n<div id=\"app\"></div>\n"
        "<script type=\"application/json\" id=\"review-data\">"
        f"{_json({'meta': meta, 'cards': cards})}</script>\n"
        f"<script>\n{script}</script>\n</body>\n</html>\n"
    )


def write_page(out_html: str | Path, meta: Mapping, cards: Sequence[Mapping]) -> None:
    write_text(page_html(meta, cards), out_html)


def tensor_size(tensor_paths: Sequence[str]) -> int | None:
    """The side of the tensors' slices (``preprocess.size``), None without a non-empty shard."""
    for path in tensor_paths:
        array = np.load(path, mmap_mode="r")
        if array.ndim == 3 and array.shape[0]:
            return int(array.shape[1])
    return None


def write_review(out_html: str, thumbs_dir: str, *, dataset: str, role: str,
                 tasks: Sequence[str], taxonomy: Mapping[str, Sequence[str]],
                 index_path: str, tensor_paths: Sequence[str], files_path: str, slices: int,
                 model: str, trained_on: str | None = None,
                 abstain_below: Mapping[str, float] | None = None,
                 series_path: str | None = None, predictions: Mapping[str, str] | None = None,
                 volumes_path: str | None = None) -> int:
    """Build the page of one dataset. A predict-mode dataset reads its predict-mode table
    (``series_path``: ``predictions/series.parquet``); a labelled one the primary family's slice
    predictions (``predictions``: task -> path) and the volumes table with the reference labels.
    Returns the number of cards."""
    abstain_below = dict(abstain_below or {})
    labelled = role != "predict"
    if labelled:
        if predictions is None or volumes_path is None:
            raise ValueError("a labelled dataset's page needs its predictions and volumes table")
        table = labelled_table(predictions, taxonomy, volumes_path, files_path, abstain_below)
    else:
        if series_path is None:
            raise ValueError("a predict-mode dataset's page needs its series table")
        table = pd.read_parquet(series_path)
        if trained_on is None and "models_trained_on" in table and len(table):
            trained_on = str(table["models_trained_on"].iloc[0])
    drawn = write_thumbnails(index_path, tensor_paths, table["volume_key"].astype(str),
                             thumbs_dir, slices)
    cards = build_cards(table, tasks, drawn, volume_timing(files_path), labelled=labelled)
    meta = page_meta(dataset, role, tasks, taxonomy, model, trained_on, abstain_below,
                     tensor_size(tensor_paths))
    write_page(out_html, meta, cards)
    log.info("%s: %d volumes to review (%d uncertain, %d with header disagreement%s), page %s",
             dataset, len(cards), sum(1 for c in cards if c["unc"]),
             sum(1 for c in cards if c["why"]),
             f", {sum(1 for c in cards if c.get('err'))} errors" if labelled else "", out_html)
    return len(cards)

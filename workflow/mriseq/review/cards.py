"""Per-volume card data of the review page, and the order a reader goes through them.

A card holds what a reader needs to decide a volume's classes: per task the called class (or
``uncertain``), the voted class, its calibrated probability and the runner-up with its probability
(the predict-mode table's columns, :mod:`mriseq.predict.series`), the header hints
(SeriesDescription, TE/TR, b-values, contrast agent, the plane from ImageOrientationPatient,
ImageType) and the reasons the header disagrees with the pixels; in a labelled dataset also the
reference label. Cards carry pseudonymised keys only: no path, no raw identifier.

Review order (:func:`review_order`): in a labelled dataset the errors first (a reference label the
prediction contradicts), then volumes with an uncertain task, then those whose header contradicts
the pixel prediction, then by the lowest probability of any task; volumes without a prediction
(no tensor row: nothing to show) last. A reader who stops part-way has spent the time where
corrections are likeliest; the confident, agreeing tail can be accepted quickly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow.parquet as pq

from mriseq.evaluation.confidence import UNCERTAIN
from mriseq.predict.series import series_predictions
from mriseq.scan.volumes import with_volume_key

# Card field -> the predict-mode table column it shows (header hints beside the prediction).
HEADER_FIELDS = {"desc": "series_description", "te": "echo_time", "tr": "repetition_time",
                 "b": "header_b_values", "agent": "header_contrast_agent",
                 "plane": "header_orientation", "itype": "image_type", "tp": "temporal_position",
                 "split": "volume_split"}
TIMING_COLUMNS = ("echo_time", "repetition_time")


def labelled_table(predictions: Mapping[str, str], taxonomy: Mapping[str, Sequence[str]],
                   volumes_path: str, files_path: str,
                   abstain_below: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The predict-mode table of a labelled dataset (the same vote, probabilities, runner-up and
    disagreements as predict mode, from the primary family's slice predictions ``predictions``,
    task -> path) with the reference ``label_<task>`` columns, for the volumes that were predicted
    (the train dataset: its held-out test volumes)."""
    table = series_predictions(dict(predictions), dict(taxonomy), volumes_path, files_path,
                               dict(abstain_below or {}))
    volumes = with_volume_key(pd.read_parquet(volumes_path))
    labels = [f"label_{task}" for task in taxonomy if f"label_{task}" in volumes]
    table = table.merge(volumes[["volume_key", *labels]], on="volume_key", how="left")
    called = [f"{task}_best" for task in predictions if f"{task}_best" in table]
    predicted = table[called].notna().any(axis=1) if called else pd.Series(False, table.index)
    return table[predicted].reset_index(drop=True)


def volume_timing(files_path: str) -> pd.DataFrame:
    """Per volume the median echo and repetition time of its files (ms; NaN where missing)."""
    names = set(pq.read_schema(files_path).names)
    columns = [c for c in ("volume_key", "series_key", *TIMING_COLUMNS) if c in names]
    files = with_volume_key(pd.read_parquet(files_path, columns=columns))
    present = [c for c in TIMING_COLUMNS if c in files]
    if not present:
        return pd.DataFrame(columns=["volume_key", *TIMING_COLUMNS])
    timing = files.groupby("volume_key")[present].median()
    return timing.reindex(columns=list(TIMING_COLUMNS)).reset_index()


def _value(value):
    """A JSON-ready cell: None for NaN/NA, plain Python numbers, floats to 4 significant places."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item"):  # NumPy scalars
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return float(f"{value:.4g}")
    if isinstance(value, str):
        return value
    return value


def _text(value) -> str | None:
    value = _value(value)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def build_cards(table: pd.DataFrame, tasks: Sequence[str], thumbs: Mapping[str, int],
                timing: pd.DataFrame | None = None, labelled: bool = False) -> list[dict]:
    """One card per row of ``table`` (the predict-mode table, or :func:`labelled_table`'s), in
    review order. ``thumbs``: volume_key -> slices drawn in its thumbnail strip (absent: none);
    ``timing``: :func:`volume_timing`'s table, for TE/TR."""
    if timing is not None and len(timing):
        extra = [c for c in TIMING_COLUMNS if c in timing]
        table = table.drop(columns=[c for c in extra if c in table]).merge(
            timing[["volume_key", *extra]], on="volume_key", how="left")
    cards = []
    for row in table.to_dict("records"):
        key = str(row["volume_key"])
        header = {field: _value(row.get(column)) for field, column in HEADER_FIELDS.items()}
        header["agent"] = bool(header["agent"]) if header["agent"] is not None else None
        for field in ("desc", "b", "itype", "split", "plane"):
            header[field] = _text(row.get(HEADER_FIELDS[field]))
        card = {
            "k": key,
            "s": _text(row.get("series_key")) or key,
            "i": int(_value(row.get("volume_index")) or 1),
            "n": int(_value(row.get("volumes_in_series")) or 1),
            "p": _text(row.get("patient_key")),
            "st": _text(row.get("study_key")),
            "t": int(thumbs.get(key, 0)),
            "h": header,
            "why": [r for r in str(_text(row.get("disagreement_reasons")) or "").split(";") if r],
            "pred": {task: [_text(row.get(task)), _text(row.get(f"{task}_best")),
                            _value(row.get(f"{task}_probability")),
                            _text(row.get(f"{task}_runner_up")),
                            _value(row.get(f"{task}_runner_up_probability"))]
                     for task in tasks},
        }
        card["unc"] = [t for t in tasks if card["pred"][t][0] == UNCERTAIN]
        if labelled:
            card["ref"] = {t: _text(row.get(f"label_{t}")) for t in tasks}
            card["err"] = [t for t in tasks if card["ref"][t] and card["pred"][t][1]
                           and card["ref"][t] != card["pred"][t][1]]
        cards.append(card)
    return review_order(cards, tasks)


def review_key(card: Mapping, tasks: Sequence[str]) -> tuple:
    """Sort key of the review order (module doc): errors, uncertain, header disagreement, lowest
    probability; then by examination, series and volume number so that ties stay together."""
    predictions = [card["pred"][t] for t in tasks]
    probabilities = [p[2] for p in predictions if p[2] is not None]
    unpredicted = all(p[1] is None for p in predictions)
    return (unpredicted, not card.get("err"), not card.get("unc"), not card.get("why"),
            min(probabilities) if probabilities else 1.0, card.get("p") or "",
            card.get("st") or "", card["s"], card["i"])


def review_order(cards: Sequence[dict], tasks: Sequence[str]) -> list[dict]:
    """``cards`` in review order (:func:`review_key`)."""
    return sorted(cards, key=lambda card: review_key(card, tasks))


def proposal(card: Mapping, task: str) -> str | None:
    """What accepting a card takes for ``task``: the reference label where a labelled dataset
    has one, else the voted class (an uncertain volume's too: the reader has looked at it)."""
    reference = (card.get("ref") or {}).get(task)
    return reference or card["pred"][task][1]

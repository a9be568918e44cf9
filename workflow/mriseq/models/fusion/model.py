"""The fusion family: one model that reads the header and the pixels together.

Design (stacking): a random forest per ``{task}×{fold}`` on

* the slice's header features (``features/header.parquet``, :mod:`mriseq.features.header`), and
* the calibrated probabilities of the pixel models it stacks (``fusion.stacks``, by default the
  CNN): the slice's own (``s_<family>_<class>``) and its volume's mean (``v_<family>_<class>``).

Training fold *k* reads the base family's *out-of-fold* predictions: each CV slice's
probabilities come from the fold model that held it out (every fold job writes
``val_predictions.parquet``), so the forest learns how far to trust the CNN on slices the CNN never
trained on. Prediction with fold *k* reads the fold-*k* base model's predictions of the dataset,
so a fold of the fusion family is the same training split throughout.

Header fields go wrong in archives: descriptions are empty or name another sequence, anonymisers
strip tags. The training rows are corrupted at random, per volume, at the rates of
``fusion.header_corruption`` (a volume's slices share one header, so they are corrupted alike):

* ``empty_description``: the description terms are cleared, as an empty SeriesDescription and
  ProtocolName give (``tok_desc_none``);
* ``misleading_description``: the description terms are those of another training volume;
* ``missing_field``: each other header field (one numeric value, or one coded attribute's terms,
  e.g. every ``tok_scanning_*``; the three slice-normal components count as one) is absent, NaN
  or no terms, independently.

The model never sees a label-derived field: header features come from the DICOM files only, the
stacked columns from the base models' probabilities.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mriseq import io
from mriseq.features.tables import feature_columns
from mriseq.models.calibration import calibrate_table, read_temperatures
from mriseq.models.fold_job import (
    check_classes,
    cpu_device,
    fold_metadata,
    require_training_rows,
    score_fold,
)
from mriseq.models.forest.model import align_features, fit_forest, probabilities
from mriseq.models.predictions import combine_tables, prediction_table, rows_to_predict
from mriseq.models.training_data import encode_labels, fold_positions
from mriseq.provenance import config_hash, derive_seed
from mriseq.result_paths import fold_of
from mriseq.scan.volumes import with_volume_key

log = logging.getLogger("mriseq.models.fusion.model")

KEYS = ["shard", "row"]
DESCRIPTION_PREFIX = "tok_desc_"
EMPTY_DESCRIPTION = "tok_desc_none"


def stacked_columns(stacks: Sequence[str], classes: Sequence[str]) -> list[str]:
    return [f"{level}_{base}_{c}" for base in stacks for level in ("s", "v") for c in classes]


def stacked_features(index: pd.DataFrame, predictions: Mapping[str, pd.DataFrame],
                     classes: Sequence[str]) -> pd.DataFrame:
    """Per index row, each base family's slice probabilities and its volume's mean (NaN where the
    base family has no prediction of the slice). ``predictions`` hold one row per slice."""
    keyed = with_volume_key(index)[KEYS + ["volume_key"]].reset_index(drop=True)
    probs = [f"p_{c}" for c in classes]
    out = pd.DataFrame(index=keyed.index)
    for base, table in predictions.items():
        table = table.drop_duplicates(KEYS)
        joined = keyed.merge(table[KEYS + probs], on=KEYS, how="left")
        slice_p = joined[probs].to_numpy(dtype=np.float64)
        volume_p = joined.groupby(keyed["volume_key"])[probs].transform("mean").to_numpy()
        for j, c in enumerate(classes):
            out[f"s_{base}_{c}"] = slice_p[:, j]
            out[f"v_{base}_{c}"] = volume_p[:, j]
    return out


def read_calibrated(paths: Sequence[str], calibrations: Sequence[str],
                    classes: Sequence[str]) -> pd.DataFrame:
    """Prediction tables (one per fold, or one of all folds) calibrated with their folds'
    temperatures."""
    temperatures = read_temperatures(list(calibrations))
    tables = [calibrate_table(pd.read_parquet(p), classes, temperatures) for p in paths]
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=KEYS + ["fold", *[f"p_{c}" for c in classes]])


def field_groups(columns: Sequence[str]) -> dict[str, list[str]]:
    """Header columns by the field they come from (the description apart): ``tok_<attr>_*``
    share an attribute, ``num_normal_*`` the orientation, every other ``num_*`` is its own."""
    groups: dict[str, list[str]] = {}
    for column in columns:
        if column.startswith(DESCRIPTION_PREFIX):
            continue
        if column.startswith("tok_"):
            key = "_".join(column.split("_")[:2])
        elif column.startswith("num_normal_"):
            key = "num_normal"
        else:
            key = column
        groups.setdefault(key, []).append(column)
    return groups


def corrupt_headers(x: pd.DataFrame, volumes: np.ndarray, rates: Mapping[str, float],
                    rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, int]]:
    """A copy of the header features ``x`` with whole volumes' fields cleared or swapped at
    ``rates`` (module doc); returns it and how many volumes each corruption touched (for
    ``missing_field``: how many volume × field pairs)."""
    x = x.copy()
    codes, uniques = pd.factorize(pd.Series(volumes))
    n = len(uniques)
    desc = [c for c in x.columns if c.startswith(DESCRIPTION_PREFIX)]
    roll = rng.random(n)
    empty_rate = float(rates.get("empty_description", 0.0))
    mislead_rate = float(rates.get("misleading_description", 0.0))
    empty = roll < empty_rate
    mislead = (roll >= empty_rate) & (roll < empty_rate + mislead_rate)
    counts = {"empty_description": int(empty.sum()), "misleading_description": int(mislead.sum()),
              "missing_field": 0}
    if desc and n and (empty.any() or mislead.any()):
        values = x[desc].to_numpy()
        first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
        donor = rng.integers(0, n, size=n)  # another volume's description for each volume
        per_volume = values[first]
        new = values.copy()
        rows_mislead = mislead[codes]
        new[rows_mislead] = per_volume[donor[codes[rows_mislead]]]
        rows_empty = empty[codes]
        new[rows_empty] = 0.0
        if EMPTY_DESCRIPTION in desc:
            new[rows_empty, desc.index(EMPTY_DESCRIPTION)] = 1.0
        x[desc] = new
    missing_rate = float(rates.get("missing_field", 0.0))
    if missing_rate > 0:
        for columns in field_groups(list(x.columns)).values():
            lost = rng.random(n) < missing_rate
            if not lost.any():
                continue
            counts["missing_field"] += int(lost.sum())  # (volume, field) pairs
            gone = lost[codes]
            fill = np.nan if columns[0].startswith("num_") else 0.0
            x.loc[gone, columns] = fill
    return x, counts


def design_matrix(header: pd.DataFrame, header_columns: Sequence[str],
                  stacked: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The forest's input: header columns in the model's order (an unseen token is 0, as in the
    header forest), then the stacked probabilities."""
    h = header.reindex(columns=list(header_columns), fill_value=0.0).to_numpy(dtype=np.float32)
    s = stacked.reindex(columns=list(columns)).to_numpy(dtype=np.float32)
    return np.hstack([h, s])


def train_fusion(inputs: Mapping[str, Any], outputs: Mapping[str, str], *, task: str, fold: int,
                 classes: list[str], seed: int, settings: Mapping[str, Any],
                 stacks: Sequence[str], threads: int = 1) -> dict[str, Any]:
    """Fit fold ``fold``'s fusion forest; write model, validation metrics and predictions,
    metadata (module doc)."""
    import joblib

    index = pd.read_parquet(inputs["index"]).reset_index(drop=True)
    header = align_features(pd.read_parquet(inputs["features"]), index)
    header_columns = feature_columns(header)
    splits = pd.read_parquet(inputs["splits"])
    labels = encode_labels(index, task, classes)
    positions = fold_positions(index, splits, fold, labels)
    require_training_rows(positions, fold, [task], inputs["index"])
    out_of_fold = {base: read_calibrated(list(inputs[f"{base}_val_predictions"]),
                                         list(inputs[f"{base}_calibration"]), classes)
                   for base in stacks}
    stacked = stacked_features(index, out_of_fold, classes)
    columns = stacked_columns(stacks, classes)
    job_seed = derive_seed(seed, f"fusion/{task}", fold)
    rng = np.random.default_rng(job_seed)
    train = positions["train"]
    volumes = with_volume_key(index)["volume_key"].to_numpy()
    rates = dict(settings["header_corruption"])
    corrupted, counts = corrupt_headers(header.iloc[train][header_columns].reset_index(drop=True),
                                        volumes[train], rates, rng)
    x_train = design_matrix(corrupted, header_columns,
                            stacked.iloc[train].reset_index(drop=True), columns)
    started = time.perf_counter()
    forest, class_weight = fit_forest(x_train, labels[train], len(classes), seed=job_seed,
                                      baselines=dict(settings["forest"]),
                                      class_weighting=settings["class_weighting"],
                                      max_class_weight=settings["max_class_weight"],
                                      threads=threads)
    seconds = time.perf_counter() - started
    bundle = {"model": forest, "feature_columns": header_columns, "stacked_columns": columns,
              "stacks": list(stacks), "classes": list(classes), "task": task, "fold": int(fold),
              "model_name": "fusion"}
    val = positions["val"]
    x_val = design_matrix(header.iloc[val], header_columns, stacked.iloc[val], columns)
    val_probabilities = probabilities(bundle, x_val)
    predicted = val_probabilities.argmax(axis=1)
    io.write_parquet(prediction_table(index, val, fold, task, classes, val_probabilities),
                     outputs["val_predictions"])
    metrics = score_fold("fusion", task, fold, classes, train_labels=labels[train],
                         val_labels=labels[val], predicted=predicted)
    io.write_json(metrics, outputs["val_metrics"])
    with io.atomic_path(outputs["model"], suffix=".joblib") as tmp:
        joblib.dump(bundle, tmp, compress=3)
    meta = fold_metadata(
        "fusion", task, fold, classes, seed=seed, job_seed=job_seed,
        config_hash=config_hash("fusion", task, classes, seed, dict(settings)),
        device=cpu_device(threads), train_slices=len(train), val_slices=len(val),
        settings={"fusion_config": dict(settings), "stacks": list(stacks),
                  "class_weights": None if class_weight is None else
                  {classes[c]: w for c, w in class_weight.items()},
                  "n_header_features": len(header_columns), "n_stacked_features": len(columns),
                  "corrupted_volumes": counts},
    )
    io.write_json(meta, outputs["metadata"])
    log.info("fusion %s fold %d: %d header + %d stacked features, %d train slices (corrupted "
             "volumes %s) fitted in %.1f s, val accuracy %s, macro-F1 %s", task, fold,
             len(header_columns), len(columns), len(train), counts, seconds, metrics["accuracy"],
             metrics["macro_f1"])
    return {**meta, "training_seconds": round(seconds, 3)}


def predict_fusion(inputs: Mapping[str, Any], out_path: str | None, *, task: str,
                   classes: list[str], stacks: Sequence[str], threads: int = 1) -> pd.DataFrame:
    """Every fold's fusion forest over the dataset, each reading its own fold's base
    predictions (calibrated, as the prediction jobs store them)."""
    import joblib

    index = pd.read_parquet(inputs["index"]).reset_index(drop=True)
    header = align_features(pd.read_parquet(inputs["features"]), index)
    positions = rows_to_predict(index, inputs.get("splits") or None)
    base = {name: pd.read_parquet(inputs[f"{name}_predictions"]) for name in stacks}
    tables = []
    for path in sorted(inputs["models"], key=fold_of):
        bundle = joblib.load(path)
        fold = fold_of(path)
        check_classes(bundle["classes"], classes, path, task)
        bundle["model"].n_jobs = max(1, int(threads))
        stacked = stacked_features(index.iloc[positions],
                                   {n: t[t["fold"] == fold] for n, t in base.items()}, classes)
        x = design_matrix(header.iloc[positions], bundle["feature_columns"], stacked,
                          bundle["stacked_columns"])
        tables.append(prediction_table(index, positions, fold, task, classes,
                                       probabilities(bundle, x)))
        log.info("fusion %s fold %d: %d slices predicted", task, fold, len(positions))
    table = combine_tables(tables, classes)
    if out_path:
        io.write_parquet(table, out_path)
    return table

"""The two random-forest baselines, trained on the same folds as the CNN.

``hist_rf`` reads ``features/histogram.parquet`` and ``header_rf`` reads ``features/header.parquet``
(``mriseq.features.tables``); both fit a ``RandomForestClassifier`` on every labelled training
slice of the fold and write ``model.joblib`` (the forest, its feature columns and the class list),
``val_metrics.json``, ``val_predictions.parquet`` and ``metadata.json`` under
``results/models/{model}/{task}/fold{fold}/``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from mriseq import io
from mriseq.features.tables import feature_columns
from mriseq.models.balance import balanced_class_weights
from mriseq.models.fold_job import (
    check_classes,
    cpu_device,
    fold_metadata,
    require_training_rows,
    score_fold,
)
from mriseq.models.predictions import combine_tables, prediction_table, rows_to_predict
from mriseq.models.training_data import TrainingDataError, encode_labels, fold_positions
from mriseq.provenance import config_hash, derive_seed
from mriseq.result_paths import fold_of

log = logging.getLogger("mriseq.models.forest.model")


def align_features(features: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Feature rows in the order of ``index`` (joined on shard/row)."""
    aligned = index[["shard", "row"]].merge(features, on=["shard", "row"], how="left")
    if len(aligned) != len(index):
        raise TrainingDataError("Feature table has duplicate (shard, row) keys.")
    return aligned


def feature_matrix(features: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The model's columns in its order; columns unseen in this table (a header token another
    dataset never writes) are 0, like an absent token."""
    return features.reindex(columns=columns, fill_value=0.0).to_numpy(dtype=np.float32)


def probabilities(bundle: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """``(n, n_classes)`` probabilities in the order of ``bundle['classes']`` (a forest only knows
    the classes it saw; the others get probability 0)."""
    forest = bundle["model"]
    out = np.zeros((len(x), len(bundle["classes"])), dtype=np.float32)
    if len(x):
        out[:, forest.classes_.astype(np.int64)] = forest.predict_proba(x)
    return out


def fit_forest(x: np.ndarray, labels: np.ndarray, n_classes: int, *, seed: int,
               baselines: dict[str, Any], class_weighting: str, max_class_weight: float,
               threads: int = 1):
    """The fitted random forest of a baseline family and its class weights (None: unweighted)."""
    from sklearn.ensemble import RandomForestClassifier

    class_weight = None
    if class_weighting == "balanced":
        # A forest is fitted on every training slice, so its weights come from those (the CNN's
        # from its per-epoch draw), bounded the same way.
        weights = balanced_class_weights(labels, n_classes, max_class_weight)
        class_weight = {int(c): float(weights[c]) for c in np.unique(labels)}
    forest = RandomForestClassifier(
        n_estimators=int(baselines["n_estimators"]),
        max_depth=int(baselines["max_depth"]) or None,
        class_weight=class_weight,
        n_jobs=max(1, int(threads)),
        random_state=seed,
    )
    forest.fit(x, labels)
    return forest, class_weight


def train_baseline(
    features_path: str,
    index_path: str,
    splits_path: str,
    *,
    model_name: str,
    task: str,
    classes: list[str],
    fold: int,
    seed: int,
    baselines: dict[str, Any],
    class_weighting: str,
    max_class_weight: float,
    out_model: str,
    out_val_metrics: str,
    out_metadata: str,
    out_val_predictions: str | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Fit the fold's random forest and write model, validation metrics (and predictions) and
    metadata."""
    import joblib

    index = pd.read_parquet(index_path).reset_index(drop=True)
    features = align_features(pd.read_parquet(features_path), index)
    columns = feature_columns(features)
    splits = pd.read_parquet(splits_path)
    labels = encode_labels(index, task, classes)
    positions = fold_positions(index, splits, fold, labels)
    require_training_rows(positions, fold, [task], index_path)
    x = feature_matrix(features, columns)
    job_seed = derive_seed(seed, f"{model_name}/{task}", fold)
    train_labels = labels[positions["train"]]
    started = time.perf_counter()
    forest, class_weight = fit_forest(x[positions["train"]], train_labels, len(classes),
                                      seed=job_seed, baselines=baselines,
                                      class_weighting=class_weighting,
                                      max_class_weight=max_class_weight, threads=threads)
    seconds = time.perf_counter() - started
    bundle = {"model": forest, "feature_columns": columns, "classes": list(classes),
              "task": task, "fold": int(fold), "model_name": model_name}

    val = positions["val"]
    val_probabilities = probabilities(bundle, x[val])
    predicted = val_probabilities.argmax(axis=1)
    if out_val_predictions:
        io.write_parquet(prediction_table(index, val, fold, task, classes, val_probabilities),
                         out_val_predictions)
    metrics = score_fold(model_name, task, fold, classes, train_labels=train_labels,
                         val_labels=labels[val], predicted=predicted)
    io.write_json(metrics, out_val_metrics)
    with io.atomic_path(out_model, suffix=".joblib") as tmp:
        joblib.dump(bundle, tmp, compress=3)
    meta = fold_metadata(
        model_name, task, fold, classes, seed=seed, job_seed=job_seed,
        config_hash=config_hash(model_name, task, classes, seed, baselines, class_weighting,
                                max_class_weight),
        device=cpu_device(threads), train_slices=len(positions["train"]), val_slices=len(val),
        settings={"baselines_config": baselines, "class_weighting": class_weighting,
                  "class_weights": None if class_weight is None else
                  {classes[c]: w for c, w in class_weight.items()},
                  "n_features": len(columns)},
    )
    io.write_json(meta, out_metadata)  # no timings: same config, same bytes (they are logged)
    log.info("%s %s fold %d: %d features, %d train slices fitted in %.1f s, val accuracy %s, "
             "macro-F1 %s", model_name, task, fold, len(columns), len(positions["train"]), seconds,
             metrics["accuracy"], metrics["macro_f1"])
    return {**meta, "training_seconds": round(seconds, 3)}


def predict_baseline(features_path: str, index_path: str, model_paths: list[str], *, task: str,
                     classes: list[str], out_path: str | None, splits_path: str | None = None,
                     threads: int = 1) -> pd.DataFrame:
    """Run every fold's ``model.joblib`` forest over the dataset's feature rows."""
    import joblib

    index = pd.read_parquet(index_path).reset_index(drop=True)
    features = align_features(pd.read_parquet(features_path), index)
    positions = rows_to_predict(index, splits_path)
    tables = []
    for path in sorted(model_paths, key=fold_of):
        bundle = joblib.load(path)
        check_classes(bundle["classes"], classes, path, task)
        bundle["model"].n_jobs = max(1, int(threads))
        x = feature_matrix(features.iloc[positions], bundle["feature_columns"])
        tables.append(prediction_table(index, positions, fold_of(path), task, classes,
                                       probabilities(bundle, x)))
        log.info("%s %s fold %d: %d slices predicted", bundle["model_name"], task,
                 fold_of(path), len(positions))
    table = combine_tables(tables, classes)
    if out_path:
        io.write_parquet(table, out_path)
    return table

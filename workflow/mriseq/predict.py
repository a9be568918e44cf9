"""Slice-level predictions of every fold model on a dataset (CONTRACTS.md, Predictions).

``results/{dataset}/predictions/{model}/{task}.parquet``: one row per (tensor row, fold) with
``shard``, ``row``, ``volume_key``, ``series_key``, ``patient_key``, ``slice_index``, ``fold``,
``y_true`` (class name or null), ``y_pred`` and ``p_<class>`` for every class. On the train dataset
only the held-out test volumes are predicted (the CV slices were seen in training); on other
datasets every slice. One job loops over the folds so TensorFlow starts once per dataset × task,
or once per dataset for the multi-task CNN, whose one pass per slice serves every task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mriseq import io
from mriseq.paths import fold_of
from mriseq.tfdata import encode_labels, fold_positions, inference_dataset, open_tensors
from mriseq.volumes import with_volume_key

log = logging.getLogger("mriseq.predict")

KEY_COLUMNS = ["shard", "row", "volume_key", "series_key", "patient_key", "slice_index"]


def rows_to_predict(index: pd.DataFrame, splits_path: str | None) -> np.ndarray:
    """Positions of ``index`` to predict: the test set with a splits table, else everything."""
    if not splits_path:
        return np.arange(len(index))
    splits = pd.read_parquet(splits_path)
    return fold_positions(index, splits, -1, np.zeros(len(index), np.int64))["test"]


def prediction_table(index: pd.DataFrame, positions: np.ndarray, fold: int, task: str,
                     classes: list[str], probabilities: np.ndarray) -> pd.DataFrame:
    keys = with_volume_key(index.iloc[positions])
    table = pd.DataFrame({c: keys[c].to_numpy() if c in keys else None for c in KEY_COLUMNS})
    table["fold"] = np.int64(fold)
    labels = encode_labels(index, task, classes)[positions]
    table["y_true"] = pd.Series(
        [classes[i] if i >= 0 else None for i in labels], dtype="string"
    ).to_numpy()
    table["y_pred"] = [classes[i] for i in probabilities.argmax(axis=1)] if len(table) else []
    for i, name in enumerate(classes):
        table[f"p_{name}"] = probabilities[:, i].astype(np.float32)
    return table


def _empty_table(classes: list[str]) -> pd.DataFrame:
    columns: dict[str, Any] = {
        "shard": pd.Series(dtype="string"), "row": pd.Series(dtype="int64"),
        "volume_key": pd.Series(dtype="string"), "series_key": pd.Series(dtype="string"),
        "patient_key": pd.Series(dtype="string"),
        "slice_index": pd.Series(dtype="int64"), "fold": pd.Series(dtype="int64"),
        "y_true": pd.Series(dtype="string"), "y_pred": pd.Series(dtype="string"),
    }
    columns.update({f"p_{c}": pd.Series(dtype="float32") for c in classes})
    return pd.DataFrame(columns)


def combine_tables(tables: list[pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    tables = [t for t in tables if len(t)]
    if not tables:
        return _empty_table(classes)
    return pd.concat(tables, ignore_index=True)


def predict_cnn(tensor_paths: list[str], index_path: str, model_paths: list[str], *,
                tasks: Mapping[str, list[str]], splits_path: str | None = None,
                batch_size: int = 128, threads: int = 1,
                fold_graph: bool = True) -> dict[str, pd.DataFrame]:
    """Run every fold's ``model.keras`` over the dataset's slices: task -> its predictions.

    ``tasks`` (task -> classes) are the heads of the models: every task with multi-task
    networks (one pass per slice serves all), one task with single-task ones. ``fold_graph``
    False runs the folds one after another, as before they shared a graph (kept for make
    bench-predict's comparison)."""
    from mriseq.cnn import configure_runtime

    configure_runtime(threads, 0)
    import keras

    tensors = open_tensors(tensor_paths, index_path)
    positions = rows_to_predict(tensors.index, splits_path)
    paths = sorted(model_paths, key=fold_of)
    folds = [fold_of(path) for path in paths]
    models = [keras.models.load_model(path) for path in paths]
    heads = len(tasks)
    if len(positions) and models and (not fold_graph or len(models) == 1):
        outputs = [model.predict(inference_dataset(tensors, positions, batch_size), verbose=0)
                   for model in models]
    elif len(positions) and models:
        # Every fold model in one graph: each batch is read from the memory maps once and
        # passes through all folds in one call (make bench-predict compares it with the loop).
        for fold, model in zip(folds, models, strict=True):
            model.name = f"fold{fold}"  # names are unique within a graph
        inputs = keras.Input(shape=tuple(models[0].inputs[0].shape[1:]))
        together = keras.Model(inputs, [model(inputs) for model in models])
        outputs = together.predict(inference_dataset(tensors, positions, batch_size), verbose=0)
    else:
        empty = [np.zeros((0, len(classes)), np.float32) for classes in tasks.values()]
        outputs = [empty if heads > 1 else empty[0] for _ in models]
    # Per fold model: one array per head, in the order of ``tasks``.
    outputs = [list(output) if heads > 1 else [output] for output in outputs]
    tables = {}
    for head, (task, classes) in enumerate(tasks.items()):
        tables[task] = combine_tables(
            [prediction_table(tensors.index, positions, fold, task, classes, output[head])
             for fold, output in zip(folds, outputs, strict=True)], classes)
    log.info("cnn %s: %d slices predicted by folds %s (batches of %d)", ", ".join(tasks),
             len(positions), folds, batch_size)
    keras.backend.clear_session()
    return tables


def predict_baseline(features_path: str, index_path: str, model_paths: list[str], *, task: str,
                     classes: list[str], out_path: str | None, splits_path: str | None = None,
                     threads: int = 1) -> pd.DataFrame:
    """Run every fold's ``model.joblib`` forest over the dataset's feature rows."""
    import joblib

    from mriseq.baselines import align_features, feature_matrix, probabilities

    index = pd.read_parquet(index_path).reset_index(drop=True)
    features = align_features(pd.read_parquet(features_path), index)
    positions = rows_to_predict(index, splits_path)
    tables = []
    for path in sorted(model_paths, key=fold_of):
        bundle = joblib.load(path)
        if bundle["classes"] != list(classes):
            raise ValueError(
                f"Model {path!r} was trained on classes {bundle['classes']}, the config's "
                f"taxonomy.{task} is {list(classes)}; retrain it."
            )
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

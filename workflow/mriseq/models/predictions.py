"""The prediction-table contract every family writes (docs/contracts.md, Predictions).

``results/{dataset}/predictions/{model}/{task}.parquet``: one row per (tensor row, fold) with
``shard``, ``row``, ``volume_key``, ``series_key``, ``patient_key``, ``slice_index``, ``fold``,
``y_true`` (class name or null), ``y_pred`` and ``p_<class>`` for every class. On the train dataset
only the held-out test volumes are predicted (the CV slices were seen in training); on other
datasets every slice.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from mriseq.models.training_data import encode_labels, fold_positions
from mriseq.scan.volumes import with_volume_key

log = logging.getLogger("mriseq.models.predictions")

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



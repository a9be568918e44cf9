"""Stored slice predictions as the evaluation and predict mode read them: the contract check,
the fold ensemble, the volume vote and the score of one set of calls.

A leaf of :mod:`mriseq.evaluation`: the tables, the confidence analysis and predict mode all
build on these, and none of them is imported here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mriseq import metrics as m
from mriseq.models.calibration import RAW_PREFIX, prob_columns
from mriseq.scan.volumes import with_volume_key

ENSEMBLE = "ensemble"
SLICE_KEY = ["shard", "row"]


class PredictionsError(ValueError):
    """A predictions table does not follow the contract (named in one sentence)."""


def load_predictions(path: str | os.PathLike, classes: Sequence[str]) -> pd.DataFrame:
    """Read a predictions table and check the contract columns are there."""
    df = pd.read_parquet(path)
    required = [*SLICE_KEY, "series_key", "patient_key", "fold", "y_true", *prob_columns(classes)]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise PredictionsError(f"{path}: missing column(s) {', '.join(missing)}.")
    return with_volume_key(df)


def ensemble_slices(df: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Mean softmax over folds per slice; ``y_pred`` is the argmax in taxonomy order.

    With calibrated tables (``raw_p_<class>`` beside ``p_<class>``) the call is the argmax of the
    mean *uncalibrated* probability and ``p_<class>`` the mean calibrated one: each fold model has
    its own temperature, and a sharp fold would otherwise outvote the others in the mean, so
    calibration changes the confidence of the ensemble, never its call."""
    probs = prob_columns(classes)
    raws = prob_columns(classes, RAW_PREFIX)
    calls = raws if set(raws) <= set(df.columns) else probs
    meta = ["volume_key", "series_key", "patient_key", "slice_index", "y_true"]
    meta = [c for c in meta if c in df.columns]
    grouped = df.groupby(SLICE_KEY, sort=True, dropna=False)
    out = grouped[meta].first().join(grouped[probs].mean()).reset_index()
    out["n_folds"] = grouped.size().to_numpy()
    called = grouped[calls].mean().to_numpy() if calls is raws else out[probs].to_numpy()
    out["y_pred"] = np.asarray(classes)[called.argmax(axis=1)]
    return out


def fold_slices(df: pd.DataFrame, classes: Sequence[str], fold: int) -> pd.DataFrame:
    """One fold's slice predictions, ``y_pred`` recomputed from its probabilities."""
    out = df[df["fold"] == fold].reset_index(drop=True)
    out["y_pred"] = np.asarray(classes)[out[prob_columns(classes)].to_numpy().argmax(axis=1)]
    return out


def vote_volumes(slices: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Volume-level predictions from slice predictions (:mod:`mriseq.scan.volumes`: one row per
    volume, with its series; slices without a volume key vote per series).

    ``y_pred_vote``: majority vote; among tied classes the one with the highest mean probability
    (remaining ties: taxonomy order). ``y_pred_mean_prob``: argmax of the mean probability.
    ``vote_share`` is the fraction of slices voting for ``y_pred_vote``, ``mean_prob`` its mean
    probability.
    """
    probs = prob_columns(classes)
    classes = list(classes)
    slices = with_volume_key(slices)
    volume_codes, volumes = pd.factorize(slices["volume_key"], sort=True)
    pred_idx = m.class_indices(slices["y_pred"], classes)
    n_volumes, n_classes = len(volumes), len(classes)
    votes = np.zeros((n_volumes, n_classes))
    np.add.at(votes, (volume_codes, pred_idx), 1)
    sums = np.zeros((n_volumes, n_classes))
    np.add.at(sums, volume_codes, slices[probs].to_numpy(dtype=float))
    n_slices = votes.sum(axis=1)
    mean_p = sums / n_slices[:, None]
    # Vote counts are integers and mean probabilities lie in [0, 1]: half the mean probability
    # can reorder tied counts but never overturn a difference of one vote.
    vote_idx = np.argmax(votes + 0.5 * mean_p, axis=1)
    mean_idx = np.argmax(mean_p, axis=1)
    rows = np.arange(n_volumes)
    first = slices.groupby(volume_codes, sort=True)
    out = pd.DataFrame(
        {
            "volume_key": volumes.astype(str),
            "series_key": first["series_key"].first().to_numpy(),
            "patient_key": first["patient_key"].first().to_numpy(),
            "y_true": first["y_true"].first().to_numpy(),
            "n_slices": n_slices.astype(int),
            "y_pred_vote": np.asarray(classes)[vote_idx],
            "y_pred_mean_prob": np.asarray(classes)[mean_idx],
            "vote_share": votes[rows, vote_idx] / n_slices,
            "mean_prob": mean_p[rows, vote_idx],
        }
    )
    for j, col in enumerate(probs):
        out[col] = mean_p[:, j]
    return out


def score(
    y_true, y_pred, groups, classes, n_boot: int, confidence: float, seed: int
) -> tuple[dict, np.ndarray, dict]:
    """Metrics, confusion counts and patient-level bootstrap intervals of one set of calls."""
    t = m.class_indices(y_true, classes)
    p = m.class_indices(y_pred, classes)
    cm = m.confusion_counts(t, p, len(classes))
    values = m.metrics_from_confusion(cm)
    cis = m.bootstrap_intervals(t, p, groups, len(classes), n_boot, confidence, seed)
    return values, cm, cis

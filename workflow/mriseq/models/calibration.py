"""Calibrated confidence: temperature scaling of every model family, and how it is measured.

A fold model's probabilities are *calibrated* when, of the volumes it calls with confidence 0.8,
about 80 % are right. Each fold job writes its validation fold's slice predictions
(``val_predictions.parquet``, uncalibrated); :func:`calibrate_fold` fits one temperature ``T`` on
them and stores it with the model (``calibration.json``); every prediction job applies it
(:func:`calibrate_table`): ``p = softmax(log(p_raw) / T)``.

One method for all families, temperature scaling, because:

* it has one parameter per fold model, so the ~100 validation volumes of a fold fit it without
  overfitting, where isotonic regression would fit a step function per class (12 sequence
  classes) on a handful of examples each;
* it never changes which class a slice calls (it is monotone in every probability at once), so
  calibration changes confidence and abstention, never accuracy or F1 of a single model;
* it needs only probabilities, so the CNN's softmax and a forest's vote shares are treated alike
  (a forest's zero vote shares are clipped to ``EPSILON`` first).

The temperature is fitted where the confidence is used (``calibration.level``): ``volume`` (the
default) fits the volume's probability, the mean of its slices' calibrated probabilities, which
is what abstention thresholds and the predict-mode table read; ``slice`` fits each slice.

The expected calibration error (ECE) is the top-label ECE over equal-width confidence bins:
``sum_b n_b / N * |accuracy_b - confidence_b|``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq import io
from mriseq.result_paths import fold_of

log = logging.getLogger("mriseq.models.calibration")

EPSILON = 1e-4  # a forest's zero vote share: a tiny probability, so that its logarithm is finite
BINS = 10  # reliability-diagram and ECE bins over [0, 1]
LEVELS = ("slice", "volume")
RAW_PREFIX = "raw_p_"  # uncalibrated probabilities, kept beside p_<class> in prediction tables
T_RANGE = (0.05, 20.0)


def prob_columns(classes: Sequence[str], prefix: str = "p_") -> list[str]:
    return [f"{prefix}{c}" for c in classes]


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)`` row by row (float64)."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, None))
    logits = logits / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def volume_means(probabilities: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean probability per group, the group codes in order of first sorted key)."""
    codes, uniques = pd.factorize(pd.Series(groups), sort=True)
    sums = np.zeros((len(uniques), probabilities.shape[1]))
    np.add.at(sums, codes, probabilities)
    counts = np.bincount(codes, minlength=len(uniques))
    return sums / counts[:, None], codes


def _per_volume(labels: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    out[codes] = labels
    return out


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None)
    return float(-np.log(picked).mean())


def level_probabilities(probabilities: np.ndarray, labels: np.ndarray,
                        groups: np.ndarray | None, level: str) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities and labels at ``level``: slices as given, or volume means."""
    if level == "slice" or groups is None:
        return probabilities, labels
    means, codes = volume_means(probabilities, groups)
    return means, _per_volume(labels, codes, len(means))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray,
                    groups: np.ndarray | None = None, level: str = "volume") -> float:
    """The temperature minimising the negative log-likelihood of ``labels`` at ``level`` (1.0
    when there is nothing to fit: no labelled row, or one class only)."""
    from scipy.optimize import minimize_scalar

    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    if keep.sum() < 2 or len(np.unique(labels[keep])) < 2:
        return 1.0
    probabilities, labels = probabilities[keep], labels[keep]
    groups = None if groups is None else np.asarray(groups)[keep]

    def loss(log_t: float) -> float:
        p, y = level_probabilities(scaled(probabilities, np.exp(log_t)), labels, groups, level)
        return negative_log_likelihood(p, y)

    result = minimize_scalar(loss, bounds=np.log(T_RANGE), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """Per confidence bin: its range, the number of predictions, their mean confidence and
    accuracy (NaN in an empty bin)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, confidence, minlength=bins) / count
        accuracy = np.bincount(which, correct, minlength=bins) / count
    return pd.DataFrame({"bin": np.arange(bins), "low": edges[:-1], "high": edges[1:],
                         "n": count, "confidence": mean_conf, "accuracy": accuracy})


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               bins: int = BINS) -> float:
    table = reliability(confidence, correct, bins)
    filled = table[table["n"] > 0]
    if not len(filled):
        return float("nan")
    gaps = (filled["accuracy"] - filled["confidence"]).abs()
    return float((filled["n"] * gaps).sum() / filled["n"].sum())


def top_label(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confidence of the called class, whether it is right)."""
    called = probabilities.argmax(axis=1)
    return probabilities.max(axis=1), called == labels


def calibration_summary(raw: np.ndarray, labels: np.ndarray, groups: np.ndarray | None,
                        temperature: float, level: str) -> dict[str, float]:
    """ECE and NLL before and after scaling, at ``level``, on labelled rows."""
    keep = np.asarray(labels) >= 0
    out: dict[str, float] = {"n": int(keep.sum())}
    if not keep.any():
        return out
    groups = None if groups is None else np.asarray(groups)[keep]
    for stage, probs in (("before", raw[keep]), ("after", scaled(raw[keep], temperature))):
        p, y = level_probabilities(probs, np.asarray(labels)[keep], groups, level)
        out[f"ece_{stage}"] = expected_calibration_error(*top_label(p, y))
        out[f"nll_{stage}"] = negative_log_likelihood(p, y)
    return out


def calibrate_fold(val_predictions_path: str, out_path: str, classes: Sequence[str],
                   level: str = "volume") -> dict:
    """Fit the fold model's temperature on its validation predictions; write calibration.json."""
    if not Path(val_predictions_path).is_file():
        raise FileNotFoundError(
            f"{val_predictions_path} is missing: every model family's fold job writes its "
            "validation fold's predictions there (outputs['val_predictions'], mriseq.models).")
    table = pd.read_parquet(val_predictions_path)
    raw = table[prob_columns(classes)].to_numpy(dtype=np.float64)
    lookup = {c: i for i, c in enumerate(classes)}
    labels = np.array([lookup.get(v, -1) if isinstance(v, str) else -1
                       for v in table["y_true"].astype(object)], dtype=np.int64)
    groups = table["volume_key"].astype(str).to_numpy() if len(table) else None
    temperature = fit_temperature(raw, labels, groups, level) if len(table) else 1.0
    record = {"method": "temperature", "level": level, "temperature": round(temperature, 6),
              "validation": calibration_summary(raw, labels, groups, temperature, level)}
    io.write_json(record, out_path)
    log.info("temperature %.3f fitted on %d validation slices at %s level: %s", temperature,
             len(table), level, record["validation"])
    return record


def read_temperatures(paths: Sequence[str]) -> dict[int, float]:
    """fold -> temperature of each ``…/fold<k>/calibration.json``."""
    return {fold_of(path): float(json.loads(Path(path).read_text())["temperature"])
            for path in paths}


def calibrate_table(table: pd.DataFrame, classes: Sequence[str],
                    temperatures: Mapping[int, float]) -> pd.DataFrame:
    """``p_<class>`` scaled by each fold's temperature; the uncalibrated values move to
    ``raw_p_<class>`` (a table already calibrated is returned as it is)."""
    probs, raws = prob_columns(classes), prob_columns(classes, RAW_PREFIX)
    if set(raws) <= set(table.columns):
        return table
    out = table.copy()
    raw = out[probs].to_numpy(dtype=np.float64)
    calibrated = raw.copy()
    for fold, temperature in temperatures.items():
        rows = (out["fold"] == fold).to_numpy()
        if rows.any():
            calibrated[rows] = scaled(raw[rows], temperature)
    for j, (p, r) in enumerate(zip(probs, raws, strict=True)):
        out[r] = raw[:, j].astype(np.float32)
        out[p] = calibrated[:, j].astype(np.float32)
    if len(out):
        out["y_pred"] = np.asarray(classes)[calibrated.argmax(axis=1)]
    return out

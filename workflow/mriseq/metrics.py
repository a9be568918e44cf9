"""Classification metrics computed from confusion matrices, with patient-level bootstrap CIs.

Every metric is a function of the confusion matrix, so a bootstrap replicate costs one weighted sum
of per-patient confusion matrices instead of a pass over the predictions: 1000 replicates over a few
thousand patients take well under a second. The definitions follow scikit-learn with
``zero_division=0``; macro averages run over the classes that occur in the reference or in the
predictions (scikit-learn's default label set), so a taxonomy class absent from a dataset (DLDS has
no T2 fat-sat) neither crashes nor counts as a zero. Balanced accuracy is the mean recall over
classes with support. ``tests/unit/test_metrics.py`` checks every number against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METRICS = (
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "kappa",
)


def class_indices(values: Sequence, classes: Sequence[str]) -> np.ndarray:
    """Map class names to their taxonomy index; anything else (null, unknown) becomes -1."""
    lookup = {name: i for i, name in enumerate(classes)}
    return np.array([lookup.get(v, -1) if isinstance(v, str) else -1 for v in values], dtype=int)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix (rows = reference, columns = prediction) of index arrays; pairs with a
    negative index (no reference label) are left out."""
    keep = (y_true >= 0) & (y_pred >= 0)
    flat = y_true[keep] * n_classes + y_pred[keep]
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def metrics_from_confusion(cm: np.ndarray) -> dict[str, np.ndarray]:
    """All of ``METRICS`` (plus ``n``) from a confusion matrix ``(C, C)`` or a stack ``(B, C, C)``.

    Returns floats for a single matrix and arrays of length B for a stack; NaN where undefined
    (no labelled samples, or kappa when chance agreement is 1).
    """
    cms = np.asarray(cm, dtype=float)
    single = cms.ndim == 2
    if single:
        cms = cms[None]
    tp = np.diagonal(cms, axis1=1, axis2=2)
    support = cms.sum(axis=2)
    predicted = cms.sum(axis=1)
    n = support.sum(axis=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    present = (support > 0) | (predicted > 0)
    n_present = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "accuracy": tp.sum(axis=1) / n,
            "balanced_accuracy": (recall * (support > 0)).sum(axis=1) / (support > 0).sum(axis=1),
            "macro_precision": (precision * present).sum(axis=1) / n_present,
            "macro_recall": (recall * present).sum(axis=1) / n_present,
            "macro_f1": (f1 * present).sum(axis=1) / n_present,
            "weighted_precision": (precision * support).sum(axis=1) / n,
            "weighted_recall": (recall * support).sum(axis=1) / n,
            "weighted_f1": (f1 * support).sum(axis=1) / n,
        }
        observed = tp.sum(axis=1) / n
        chance = (support * predicted).sum(axis=1) / (n * n)
        out["kappa"] = np.where(chance < 1, (observed - chance) / (1 - chance), np.nan)
    out["n"] = n
    if single:
        return {key: float(value[0]) for key, value in out.items()}
    return out


def balanced_accuracy_of(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Balanced accuracy of index arrays (mean recall over the classes with support)."""
    cm = confusion_counts(np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int), n_classes)
    return metrics_from_confusion(cm)["balanced_accuracy"]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                           classes: Sequence[str]) -> dict:
    """A fold model's validation metrics for ``val_metrics.json``: every metric of ``METRICS``,
    ``n``, the class list and per-class recall and support (classes with support only). Index
    arrays; None for every metric when there is nothing to score."""
    classes = list(classes)
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    out: dict = {"n": int(len(y_true)), "classes": classes}
    if len(y_true) == 0:
        out.update({metric: None for metric in METRICS}, per_class={})
        return out
    cm = confusion_counts(y_true, y_pred, len(classes))
    values = metrics_from_confusion(cm)
    out.update({metric: None if np.isnan(values[metric]) else float(values[metric])
                for metric in METRICS})
    support = cm.sum(axis=1)
    recall = _safe_divide(np.diag(cm).astype(float), support.astype(float))
    out["per_class"] = {classes[c]: {"recall": float(recall[c]), "support": int(support[c])}
                        for c in np.flatnonzero(support)}
    return out


def per_class_table(cm: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support in taxonomy order (zero support kept as a row,
    its recall and F1 NaN, so an absent class is visible rather than silently dropped)."""
    cm = np.asarray(cm, dtype=float)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    no_support = support == 0
    return pd.DataFrame(
        {
            "class": list(classes),
            "precision": np.where((predicted == 0) & no_support, np.nan, precision),
            "recall": np.where(no_support, np.nan, recall),
            "f1": np.where(no_support, np.nan, f1),
            "support": support.astype(int),
            "predicted": predicted.astype(int),
        }
    )


def normalise_rows(cm: np.ndarray) -> np.ndarray:
    """Row-normalised confusion matrix (each reference class sums to 1; empty rows stay 0)."""
    cm = np.asarray(cm, dtype=float)
    return _safe_divide(cm, cm.sum(axis=1, keepdims=True))


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: Sequence,
    n_classes: int,
    n_samples: int,
    confidence: float,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every metric, resampling ``groups`` (patients) with
    replacement so slices and series of one patient stay together.

    Returns ``{metric: (low, high)}``; NaN bounds when ``n_samples`` is 0 or nothing is labelled.
    """
    nan = {metric: (float("nan"), float("nan")) for metric in METRICS}
    keep = (y_true >= 0) & (y_pred >= 0)
    if n_samples <= 0 or not keep.any():
        return nan
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object)[keep]))
    n_groups = len(uniques)
    per_group = np.zeros((n_groups, n_classes * n_classes))
    np.add.at(per_group, (codes, y_true[keep] * n_classes + y_pred[keep]), 1)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_samples)
    stacks = (weights @ per_group).reshape(n_samples, n_classes, n_classes)
    replicates = metrics_from_confusion(stacks)
    alpha = (1.0 - confidence) / 2.0
    out = {}
    for metric in METRICS:
        values = replicates[metric]
        values = values[~np.isnan(values)]
        if values.size == 0:
            out[metric] = (float("nan"), float("nan"))
        else:
            low, high = np.quantile(values, [alpha, 1.0 - alpha])
            out[metric] = (float(low), float(high))
    return out

"""How far each model's confidence can be trusted, from its stored predictions (no model runs).

* **Calibration** (``calibration`` and ``reliability`` tables): the expected calibration error
  and the reliability curve of the fold ensemble, at slice and volume level, *before* (the
  ``raw_p_<class>`` columns: what the models output) and *after* (``p_<class>``: each fold model's
  temperature applied, :mod:`mriseq.models.calibration`). A slice's confidence is its largest
  probability; a volume's is the mean probability of its voted class, the number predict mode
  reports and abstention thresholds.
* **Abstention** (``coverage`` table): a volume whose confidence is below a threshold is called
  ``uncertain``. For thresholds 0, 0.01, …, 1: the fraction of volumes still called (coverage)
  and their accuracy and macro-F1; the row at the configured threshold is marked.
* **Subsets** (``subsets`` table): volume-level metrics on the groups a labels sheet names (its
  optional ``Subset`` column, e.g. the volumes whose SeriesDescription is empty or misleading), so
  that a model's trust in the header is measured where the header is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mriseq import metrics as m
from mriseq.evaluation.predictions import ensemble_slices, score, vote_volumes
from mriseq.models.calibration import (
    RAW_PREFIX,
    expected_calibration_error,
    negative_log_likelihood,
    prob_columns,
    reliability,
)

THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)
UNCERTAIN = "uncertain"
TABLES = ("calibration", "reliability", "coverage", "subsets")


def with_stage(df: pd.DataFrame, classes: Sequence[str], stage: str) -> pd.DataFrame:
    """The predictions with ``p_<class>`` as the models gave them (``before``; the raw columns,
    when the table has them) or calibrated (``after``)."""
    raws = prob_columns(classes, RAW_PREFIX)
    if stage == "after" or not set(raws) <= set(df.columns):
        return df
    out = df.copy()
    out[prob_columns(classes)] = out[raws].to_numpy()
    return out


def _level_confidence(slices: pd.DataFrame, volumes: pd.DataFrame, classes: Sequence[str]):
    probs = prob_columns(classes)
    lookup = {c: i for i, c in enumerate(classes)}
    p = slices[probs].to_numpy(dtype=np.float64)
    truth = np.array([lookup[c] for c in slices["y_true"]])
    yield "slice", p.max(axis=1), p.argmax(axis=1) == truth, negative_log_likelihood(p, truth)
    vp = volumes[probs].to_numpy(dtype=np.float64)
    vtruth = np.array([lookup[c] for c in volumes["y_true"]])
    correct = (volumes["y_pred_vote"] == volumes["y_true"]).to_numpy()
    yield ("volume", volumes["mean_prob"].to_numpy(dtype=np.float64), correct,
           negative_log_likelihood(vp, vtruth))


def calibration_tables(df: pd.DataFrame, classes: Sequence[str]
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ECE/NLL per level and stage, reliability bins per level and stage) of one model's
    labelled predictions (fold ensemble)."""
    labelled = df[df["y_true"].notna()]
    rows, bins = [], []
    for stage in ("before", "after"):
        if not len(labelled):
            break
        slices = ensemble_slices(with_stage(labelled, classes, stage), classes)
        volumes = vote_volumes(slices, classes)
        for level, confidence, correct, nll in _level_confidence(slices, volumes, classes):
            rows.append({"level": level, "stage": stage, "n": int(len(confidence)),
                         "ece": expected_calibration_error(confidence, correct), "nll": nll,
                         "mean_confidence": float(np.mean(confidence)),
                         "accuracy": float(np.mean(correct))})
            bins.append(reliability(confidence, correct).assign(level=level, stage=stage))
    calibration = pd.DataFrame(rows, columns=["level", "stage", "n", "ece", "nll",
                                              "mean_confidence", "accuracy"])
    table = pd.concat(bins, ignore_index=True) if bins else pd.DataFrame()
    return calibration, table


def coverage_table(volumes: pd.DataFrame, classes: Sequence[str],
                   threshold: float) -> pd.DataFrame:
    """Coverage, accuracy and macro-F1 of the called volumes for every threshold of
    :data:`THRESHOLDS` and the configured one (``configured`` marks it)."""
    confidence = volumes["mean_prob"].to_numpy(dtype=np.float64)
    truth = m.class_indices(volumes["y_true"], classes)
    pred = m.class_indices(volumes["y_pred_vote"], classes)
    rows = []
    grid = sorted({*THRESHOLDS.tolist(), round(float(threshold), 6)})
    for t in grid:
        called = confidence >= t - 1e-12
        n = int(called.sum())
        values = (m.metrics_from_confusion(m.confusion_counts(truth[called], pred[called],
                                                              len(classes))) if n else {})
        rows.append({"threshold": t, "configured": bool(np.isclose(t, threshold)),
                     "coverage": n / len(confidence) if len(confidence) else np.nan,
                     "n_called": n, "n": int(len(confidence)),
                     "accuracy": values.get("accuracy", np.nan),
                     "macro_f1": values.get("macro_f1", np.nan)})
    return pd.DataFrame(rows)


def subset_table(volumes: pd.DataFrame, subsets: pd.DataFrame | None, classes: Sequence[str],
                 n_boot: int, confidence: float, seed: int) -> pd.DataFrame:
    """Volume-level metrics (majority vote) of one model on each named subset and on all
    volumes; ``subsets`` maps ``volume_key`` to ``subset`` (semicolon-separated names)."""
    columns = ["subset", "n", "n_patients", "accuracy", "macro_f1", "macro_f1_ci_low",
               "macro_f1_ci_high", "balanced_accuracy"]

    if subsets is None or not len(volumes):
        return pd.DataFrame(columns=columns)
    named = volumes.merge(subsets[["volume_key", "subset"]], on="volume_key", how="left")
    groups = {"all": np.ones(len(named), bool)}
    tags = named["subset"].fillna("").astype(str).str.split(";")
    for name in sorted({t for ts in tags for t in ts if t}):
        groups[name] = tags.apply(lambda ts, name=name: name in ts).to_numpy()
    rows = []
    for name, rows_in in groups.items():
        part = named[rows_in]
        if not len(part):
            continue
        values, _, cis = score(part["y_true"], part["y_pred_vote"], part["patient_key"],
                                classes, n_boot, confidence, seed)
        rows.append({"subset": name, "n": int(len(part)),
                     "n_patients": int(part["patient_key"].nunique()),
                     "accuracy": values["accuracy"], "macro_f1": values["macro_f1"],
                     "macro_f1_ci_low": cis["macro_f1"][0], "macro_f1_ci_high": cis["macro_f1"][1],
                     "balanced_accuracy": values["balanced_accuracy"]})
    return pd.DataFrame(rows, columns=columns)


def abstain(probabilities: np.ndarray, classes: Sequence[str], called: np.ndarray,
            threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per volume: the class or ``uncertain`` (confidence of the called class below
    ``threshold``), the called class's probability, the runner-up class and its probability."""
    classes = np.asarray(list(classes))
    lookup = {c: i for i, c in enumerate(classes)}
    called_idx = np.array([lookup[c] for c in called], dtype=np.int64)
    rows = np.arange(len(called_idx))
    p_called = probabilities[rows, called_idx]
    others = probabilities.copy()
    others[rows, called_idx] = -np.inf
    runner = others.argmax(axis=1) if probabilities.shape[1] > 1 else called_idx
    p_runner = others[rows, runner] if probabilities.shape[1] > 1 else np.zeros(len(rows))
    label = np.where(p_called < threshold, UNCERTAIN, classes[called_idx]).astype(object)
    return label, p_called, classes[runner], p_runner


def summary_entries(calibration: pd.DataFrame, coverage: pd.DataFrame) -> dict:
    """summary.json's ``calibration`` (ECE before/after per level) and ``abstention`` (at the
    configured threshold) of one model."""
    ece = {f"{row.level}_{row.stage}": float(row.ece) for row in calibration.itertuples()}
    chosen = coverage[coverage["configured"]]
    abstention = {} if not len(chosen) else {
        key: float(chosen[key].iloc[0]) for key in ("threshold", "coverage", "accuracy",
                                                    "macro_f1")}
    return {"calibration": ece, "abstention": abstention}

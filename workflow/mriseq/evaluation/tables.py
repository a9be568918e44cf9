"""Evaluation of stored slice predictions: fold ensemble, volume vote, metrics, CIs and tables.

Inputs are the prediction tables of docs/contracts.md (one row per tensor row and fold,
``p_<class>`` for every class). Nothing here trains or loads a model: every table is rebuilt from
the stored predictions, so reviewers regenerate them without retraining.

Terms: the *fold ensemble* averages the softmax of the fold models per slice; a fold evaluated
*alone* uses that fold's rows. A *volume* is a series: its class is the majority vote of its slice
predictions, ties broken by the highest mean probability among the tied classes (``vote``); the
argmax of the mean probability (``mean_prob``) is reported beside it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq import metrics as m
from mriseq import result_paths as paths
from mriseq.evaluation import confidence as c
from mriseq.evaluation.predictions import (
    ENSEMBLE,
    PredictionsError,
    ensemble_slices,
    fold_slices,
    load_predictions,
    score,
    vote_volumes,
)
from mriseq.io import write_csv, write_json, write_parquet
from mriseq.models.calibration import prob_columns
from mriseq.scan.volumes import with_volume_key

log = logging.getLogger("mriseq.evaluation.tables")

LEVELS = paths.EVAL_LEVELS
# (level, aggregation) pairs evaluated; the first volume aggregation is the primary one.
VIEWS = (("slice", "none"), ("volume", "vote"), ("volume", "mean_prob"))


def _views(slices: pd.DataFrame, volumes: pd.DataFrame):
    """(level, aggregation, y_true, y_pred, patient groups) for each evaluated view."""
    yield "slice", "none", slices["y_true"], slices["y_pred"], slices["patient_key"]
    yield "volume", "vote", volumes["y_true"], volumes["y_pred_vote"], volumes["patient_key"]
    yield "volume", "mean_prob", volumes["y_true"], volumes["y_pred_mean_prob"], \
        volumes["patient_key"]


def evaluate_model(
    df: pd.DataFrame, classes: Sequence[str], n_boot: int, confidence: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict, pd.DataFrame]:
    """Metrics of one model's predictions: the fold ensemble (with bootstrap CIs) and every fold
    alone (point estimates, for the CV summary).

    Returns (metrics rows, per-class rows, confusion matrices by (level, aggregation), volumes).
    """
    labelled = df[df["y_true"].notna()]
    metric_rows, class_rows, confusions = [], [], {}
    variants = [(ENSEMBLE, ensemble_slices(labelled, classes))]
    variants += [
        (str(fold), fold_slices(labelled, classes, fold))
        for fold in sorted(labelled["fold"].dropna().unique())
    ]
    volume_tables = []
    for fold, slices in variants:
        volumes = vote_volumes(slices, classes) if len(slices) else _empty_volumes(classes)
        volume_tables.append(volumes.assign(fold=fold))
        is_ensemble = fold == ENSEMBLE
        for level, aggregation, y_true, y_pred, groups in _views(slices, volumes):
            values, cm, cis = score(
                y_true, y_pred, groups, classes, n_boot if is_ensemble else 0, confidence, seed
            )
            row = {"fold": fold, "level": level, "aggregation": aggregation,
                   "n": int(values.pop("n")),
                   "n_patients": int(pd.Series(groups).nunique())}
            for metric in m.METRICS:
                row[metric] = values[metric]
                row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = cis[metric]
            metric_rows.append(row)
            if is_ensemble:
                confusions[(level, aggregation)] = cm
                table = m.per_class_table(cm, classes)
                class_rows.append(table.assign(level=level, aggregation=aggregation))
    return (
        pd.DataFrame(metric_rows),
        pd.concat(class_rows, ignore_index=True),
        confusions,
        pd.concat(volume_tables, ignore_index=True),
    )


def _empty_volumes(classes: Sequence[str]) -> pd.DataFrame:
    cols = ["volume_key", "series_key", "patient_key", "y_true", "n_slices", "y_pred_vote",
            "y_pred_mean_prob", "vote_share", "mean_prob", *prob_columns(classes)]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


def cv_summary(metrics: pd.DataFrame, validation: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean ± sd over folds: each fold model on this dataset (``source = test``) and, when given,
    the fold models' own validation metrics (``source = validation``)."""
    folds = metrics[metrics["fold"] != ENSEMBLE]
    long = folds.melt(
        id_vars=["model", "fold", "level", "aggregation"], value_vars=list(m.METRICS),
        var_name="metric",
    )
    long["source"] = "test"
    if validation is not None and len(validation):
        long = pd.concat([long, validation], ignore_index=True)
    summary = (
        long.groupby(["source", "model", "level", "aggregation", "metric"], sort=False)["value"]
        .agg(mean="mean", sd="std", n_folds="count")
        .reset_index()
    )
    summary["mean_sd"] = [
        f"{mean:.3f} ± {sd:.3f}" if not np.isnan(sd) else f"{mean:.3f}"
        for mean, sd in zip(summary["mean"], summary["sd"], strict=True)
    ]
    return summary


def read_validation_metrics(paths: dict[str, Sequence[str]]) -> pd.DataFrame:
    """Numeric scalars of each fold model's ``val_metrics.json`` in long form.

    ``paths`` maps model name to its fold files in fold order. The file's ``level`` (if any) is
    kept; a metric without one is counted as slice level.
    """
    rows = []
    for model, files in paths.items():
        for fold, path in enumerate(files):
            data = json.loads(Path(path).read_text())
            for key in m.METRICS:
                value = data.get(key)
                # n, fold and best_epoch are numbers too, not metrics to average over folds.
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                rows.append({"model": model, "fold": str(fold), "level": "slice",
                             "aggregation": "none", "metric": key, "value": float(value),
                             "source": "validation"})
    return pd.DataFrame(rows)


def comparison_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Every model family side by side, fold ensemble, slice and volume (vote) level, with CIs."""
    keep = (metrics["fold"] == ENSEMBLE) & (metrics["aggregation"] != "mean_prob")
    cols = ["model", "level", "n", "n_patients"]
    for metric in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "kappa"):
        cols += [metric, f"{metric}_ci_low", f"{metric}_ci_high"]
    return metrics.loc[keep, cols].reset_index(drop=True)


def confusion_frame(cm: np.ndarray, classes: Sequence[str], normalise: bool) -> pd.DataFrame:
    """A confusion matrix as a table: first column ``true``, one column per predicted class."""
    values = m.normalise_rows(cm) if normalise else np.asarray(cm, dtype=int)
    frame = pd.DataFrame(values, columns=list(classes))
    frame.insert(0, "true", list(classes))
    return frame


def evaluate_task(
    predictions: dict[str, str],
    classes: Sequence[str],
    out_dir: str | os.PathLike,
    n_boot: int,
    confidence: float,
    seed: int,
    validation_metrics: dict[str, Sequence[str]] | None = None,
    abstain_below: float = 0.0,
    volumes_manifest: str | None = None,
) -> dict:
    """Evaluate every model of one ``{dataset}×{task}`` and write the tables under ``out_dir``.

    Writes ``metrics``, ``per_class``, ``volumes``, ``cv_summary``, ``comparison`` and the
    confidence tables of :mod:`mriseq.evaluation.confidence` (``calibration``, ``reliability``,
    ``coverage`` at the abstention threshold ``abstain_below``, ``subsets`` from the scan's
    ``volumes_manifest``) as Parquet and CSV, ``confusion/<model>_<level>_{counts,normalised}.csv``
    and ``summary.json``. Returns the summary.
    """
    out = Path(out_dir)
    classes = list(classes)
    all_metrics, all_classes, all_volumes, summary = [], [], [], {}
    trust: dict[str, list[pd.DataFrame]] = {name: [] for name in c.TABLES}
    subsets = _subsets(volumes_manifest)
    for model, path in predictions.items():
        df = load_predictions(path, classes)
        log.info("%s: %d prediction rows, %d labelled", model, len(df), df["y_true"].notna().sum())
        unknown = sorted(set(df["y_true"].dropna()) - set(classes))
        if unknown:
            raise PredictionsError(
                f"{path}: y_true holds class(es) {', '.join(unknown)} not in the taxonomy."
            )
        metrics, per_class, confusions, volumes = evaluate_model(
            df, classes, n_boot, confidence, seed
        )
        all_metrics.append(metrics.assign(model=model))
        all_classes.append(per_class.assign(model=model))
        all_volumes.append(volumes.assign(model=model))
        ensemble = volumes[volumes["fold"] == ENSEMBLE]
        calibration, bins = c.calibration_tables(df, classes)
        coverage = c.coverage_table(ensemble, classes, abstain_below)
        trust["calibration"].append(calibration.assign(model=model))
        trust["reliability"].append(bins.assign(model=model))
        trust["coverage"].append(coverage.assign(model=model))
        trust["subsets"].append(c.subset_table(ensemble, subsets, classes, n_boot, confidence,
                                               seed).assign(model=model))
        for level in LEVELS:
            aggregation = "none" if level == "slice" else "vote"
            cm = confusions[(level, aggregation)]
            for kind, normalise in (("counts", False), ("normalised", True)):
                write_csv(
                    confusion_frame(cm, classes, normalise),
                    out / f"{paths.confusion_name(model, level, kind)}.csv",
                )
        ens = metrics[metrics["fold"] == ENSEMBLE].set_index(["level", "aggregation"])
        summary[model] = {
            f"{level}_{agg}" if level == "volume" else level: {
                metric: {
                    "value": ens.loc[(level, agg), metric],
                    "ci": [ens.loc[(level, agg), f"{metric}_ci_low"],
                           ens.loc[(level, agg), f"{metric}_ci_high"]],
                }
                for metric in m.METRICS
            } | {"n": int(ens.loc[(level, agg), "n"])}
            for level, agg in VIEWS
        } | c.summary_entries(calibration, coverage)
    metrics = _front(pd.concat(all_metrics, ignore_index=True), ["model"])
    per_class = _front(pd.concat(all_classes, ignore_index=True), ["model", "level", "aggregation"])
    volumes = _front(pd.concat(all_volumes, ignore_index=True), ["model", "fold"])
    validation = read_validation_metrics(validation_metrics) if validation_metrics else None
    tables = {
        "metrics": metrics,
        "per_class": per_class,
        "volumes": volumes,
        "cv_summary": cv_summary(metrics, validation),
        "comparison": comparison_table(metrics),
        **{name: _front(pd.concat(parts, ignore_index=True), ["model"])
           for name, parts in trust.items()},
    }
    for name, table in tables.items():
        write_parquet(table, out / f"{name}.parquet")
        write_csv(table, out / f"{name}.csv")
    summary = {"classes": classes, "bootstrap_samples": n_boot, "confidence_level": confidence,
               "abstain_below": abstain_below, "models": summary}
    write_json(_finite(summary), out / "summary.json")
    return summary


def _subsets(volumes_manifest: str | None) -> pd.DataFrame | None:
    """volume_key -> subset of a scan's volumes.parquet (None without a ``subset`` column)."""
    if not volumes_manifest:
        return None
    table = with_volume_key(pd.read_parquet(volumes_manifest))
    return table[["volume_key", "subset"]] if "subset" in table else None


def _front(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return df[cols + [c for c in df.columns if c not in cols]]


def _finite(obj):
    """JSON has no NaN: undefined numbers become null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float | np.floating) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def generalisation_gap(
    internal: dict[str, str], external: dict[str, str], internal_name: str, external_name: str
) -> pd.DataFrame:
    """Internal test vs external metrics side by side, per task, model and level.

    ``internal`` / ``external`` map task name to that dataset's ``metrics.parquet``.
    """
    rows = []
    for task in internal:
        a = pd.read_parquet(internal[task])
        b = pd.read_parquet(external[task])
        keys = ["model", "level", "aggregation"]
        a = a[a["fold"] == ENSEMBLE].set_index(keys)
        b = b[b["fold"] == ENSEMBLE].set_index(keys)
        for key in a.index.intersection(b.index):
            row = dict(zip(keys, key, strict=True)) | {"task": task}
            for metric in ("accuracy", "balanced_accuracy", "macro_f1", "kappa"):
                for name, side in ((internal_name, a), (external_name, b)):
                    row[f"{metric}_{name}"] = side.loc[key, metric]
                    row[f"{metric}_{name}_ci"] = _ci_text(side.loc[key], metric)
                # Positive gap: the model does worse on the external dataset.
                row[f"{metric}_gap"] = a.loc[key, metric] - b.loc[key, metric]
            row[f"n_{internal_name}"] = int(a.loc[key, "n"])
            row[f"n_{external_name}"] = int(b.loc[key, "n"])
            rows.append(row)
    out = pd.DataFrame(rows)
    return _front(out, ["task", "model", "level", "aggregation"]) if len(out) else out


def _ci_text(row: pd.Series, metric: str) -> str:
    low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    if np.isnan(low) or np.isnan(high):
        return ""
    return f"{low:.3f}–{high:.3f}"


def write_generalisation_gap(
    internal: dict[str, str], external: dict[str, str], internal_name: str, external_name: str,
    out_parquet: str, out_csv: str,
) -> pd.DataFrame:
    table = generalisation_gap(internal, external, internal_name, external_name)
    write_parquet(table, out_parquet)
    write_csv(table, out_csv)
    return table

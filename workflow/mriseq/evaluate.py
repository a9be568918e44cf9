"""Evaluation of stored slice predictions: fold ensemble, volume vote, metrics, CIs and tables.

Inputs are the prediction tables of CONTRACTS.md (one row per tensor row and fold, ``p_<class>``
for every class). Nothing here trains or loads a model: every table is rebuilt from the stored
predictions, so reviewers regenerate them without retraining.

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
from mriseq import paths
from mriseq.calibration import RAW_PREFIX, prob_columns
from mriseq.io import write_csv, write_json, write_parquet
from mriseq.volumes import with_volume_key

log = logging.getLogger("mriseq.evaluate")

ENSEMBLE = "ensemble"
LEVELS = paths.EVAL_LEVELS
# (level, aggregation) pairs evaluated; the first volume aggregation is the primary one.
VIEWS = (("slice", "none"), ("volume", "vote"), ("volume", "mean_prob"))
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
    """Volume-level predictions from slice predictions (:mod:`mriseq.volumes`: one row per
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


def _score(
    y_true, y_pred, groups, classes, n_boot: int, confidence: float, seed: int
) -> tuple[dict, np.ndarray, dict]:
    t = m.class_indices(y_true, classes)
    p = m.class_indices(y_pred, classes)
    cm = m.confusion_counts(t, p, len(classes))
    values = m.metrics_from_confusion(cm)
    cis = m.bootstrap_intervals(t, p, groups, len(classes), n_boot, confidence, seed)
    return values, cm, cis


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
            values, cm, cis = _score(
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
    confidence tables of :mod:`mriseq.confidence` (``calibration``, ``reliability``,
    ``coverage`` at the abstention threshold ``abstain_below``, ``subsets`` from the scan's
    ``volumes_manifest``) as Parquet and CSV, ``confusion/<model>_<level>_{counts,normalised}.csv``
    and ``summary.json``. Returns the summary.
    """
    from mriseq import confidence as c

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

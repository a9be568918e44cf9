"""Where every evaluation, training-summary and report input lives under ``results/``.

The rules (their outputs and target lists), the evaluation that writes these files and the report
that reads them all build the paths here, so a renamed table or figure is renamed in one place.
Every argument may be a Snakemake wildcard (``"{dataset}"``), so the rules get patterns and the
code gets concrete paths from the same function. Cheap to import: the rules use it at parse time.
"""

from __future__ import annotations

import re

RESULTS = "results"
# What the evaluation writes per dataset × task.
EVAL_LEVELS = ("slice", "volume")
CONFUSION_KINDS = ("counts", "normalised")
EVAL_TABLES = ("metrics", "per_class", "volumes", "cv_summary", "comparison", "calibration",
               "reliability", "coverage", "subsets")


def evaluation_dir(dataset: str, task: str, results: str = RESULTS) -> str:
    return f"{results}/{dataset}/evaluation/{task}"


def evaluation_table(dataset: str, task: str, name: str, ext: str = "csv",
                     results: str = RESULTS) -> str:
    """One of EVAL_TABLES (``ext`` csv or parquet) or ``summary`` (json)."""
    return f"{evaluation_dir(dataset, task, results)}/{name}.{ext}"


def confusion_name(model: str, level: str, kind: str) -> str:
    return f"confusion_{model}_{level}_{kind}"


def confusion_table(dataset: str, task: str, model: str, level: str, kind: str,
                    results: str = RESULTS) -> str:
    return f"{evaluation_dir(dataset, task, results)}/{confusion_name(model, level, kind)}.csv"


def confusion_figure(dataset: str, task: str, model: str, level: str, kind: str, ext: str,
                     results: str = RESULTS) -> str:
    name = confusion_name(model, level, kind)
    return f"{evaluation_dir(dataset, task, results)}/figures/{name}.{ext}"


def gradcam_figure(dataset: str, task: str, results: str = RESULTS) -> str:
    return f"{evaluation_dir(dataset, task, results)}/figures/gradcam.png"


def comparison_figure(dataset: str, ext: str, results: str = RESULTS) -> str:
    return f"{results}/{dataset}/evaluation/figures/model_comparison.{ext}"


def confidence_figure(dataset: str, kind: str, ext: str, results: str = RESULTS) -> str:
    """``kind`` reliability (calibration) or coverage (abstention), all tasks of a dataset."""
    return f"{results}/{dataset}/evaluation/figures/{kind}.{ext}"


def generalisation_gap(dataset: str, results: str = RESULTS) -> str:
    return f"{results}/{dataset}/evaluation/generalisation_gap.csv"


def series_predictions(dataset: str, results: str = RESULTS) -> str:
    """The predict-mode table, one row per series."""
    return f"{results}/{dataset}/predictions/series.csv"


def learning_curves(model: str, task: str, ext: str, results: str = RESULTS) -> str:
    """The learning-curve figure of a family that offers one (all folds of one task)."""
    return f"{results}/models/{model}/{task}/learning_curves.{ext}"


def training_health(results: str = RESULTS) -> str:
    return f"{results}/models/training_health.csv"


def qc_summary(dataset: str, stage: str, results: str = RESULTS) -> str:
    """``stage`` manifests (scan QC) or tensors (preprocessing QC)."""
    return f"{results}/{dataset}/{stage}/qc_summary.csv"


def split_table(dataset: str, name: str, results: str = RESULTS) -> str:
    """``name`` splits.parquet, class_counts.csv or warnings.csv."""
    return f"{results}/{dataset}/splits/{name}"


def fold_of(path: str) -> int:
    """The fold number of ``.../fold{k}/<file>`` (a fold model, its calibration)."""
    match = re.search(r"fold(\d+)", str(path))
    if match is None:
        raise ValueError(f"Model path {path!r} does not name its fold (…/fold<k>/…).")
    return int(match.group(1))

"""The reviewer's report: one self-contained HTML page built from stored tables and figures.

``results/report/index.html`` embeds every PNG as a base64 data URI and every table as HTML, so
the single file can be mailed or opened offline. It is assembled from files on disk only (no model
is loaded, no TensorFlow); the paths follow docs/contracts.md and ``workflow/rules/evaluate.smk``.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mriseq import result_paths as paths
from mriseq.io import write_text
from mriseq.provenance import synthetic_only_warning

log = logging.getLogger("mriseq.report.html")

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;color:#222;line-height:1.4;padding:0 1em}
h1{border-bottom:2px solid #345}h2{margin-top:2em;border-bottom:1px solid #aaa}
h3{margin-top:1.5em}table{border-collapse:collapse;font-size:12px;margin:0.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eef}
td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}
.figs{display:flex;flex-wrap:wrap;gap:1em}.figs figure{margin:0;max-width:48%}
figcaption{font-size:12px;color:#555}nav a{margin-right:1em}details{margin:0.5em 0}
.note{font-size:13px;color:#555}.warn{background:#fff3cd;border:1px solid #e0c36b;padding:.5em}
"""


def _img(path: str | os.PathLike, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _figure(path: str | os.PathLike, caption: str) -> str:
    if not Path(path).is_file():
        return f'<p class="note">missing figure: {html.escape(str(path))}</p>'
    return f"<figure>{_img(path, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _table(path: str | os.PathLike, columns: Sequence[str] | None = None, query=None,
           max_rows: int = 200) -> str:
    path = Path(path)
    if not path.is_file():
        return f'<p class="note">missing table: {html.escape(str(path))}</p>'
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if query is not None:
        df = query(df)
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    note = ""
    if len(df) > max_rows:
        note = f'<p class="note">first {max_rows} of {len(df)} rows; full table: {path}</p>'
        df = df.head(max_rows)
    return df.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="–",
                      border=0) + note


def _class_counts_by_split(df: pd.DataFrame) -> pd.DataFrame:
    """One row per task × class, one column per split (test, cv, fold k train/val): a reviewer
    reads the balance of a class across splits along a row."""
    cells = df.assign(cell=[f"{sl} ({vo})" for sl, vo in zip(df["slices"], df["volumes"],
                                                             strict=True)])
    table = cells.pivot_table(index=["task", "class"], columns="split", values="cell",
                              aggfunc="first", sort=False)
    table = table[list(dict.fromkeys(df["split"]))]
    table.columns.name = None
    return table.reset_index()


def _with_ci(df: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Merge ``<m>``, ``<m>_ci_low``, ``<m>_ci_high`` into one readable column per metric."""
    out = df.copy()
    for metric in metrics:
        if f"{metric}_ci_low" in out:
            out[metric] = [
                f"{v:.3f}" if pd.isna(lo) else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
                for v, lo, hi in zip(out[metric], out[f"{metric}_ci_low"],
                                     out[f"{metric}_ci_high"], strict=True)
            ]
            out = out.drop(columns=[f"{metric}_ci_low", f"{metric}_ci_high"])
    return out


def build_report(out_html: str | os.PathLike, datasets: dict[str, str], tasks: Sequence[str],
                 models: Sequence[str], train_dataset: str, results: str = "results",
                 montages: dict[str, str] | None = None, confidence: float = 0.95,
                 training_data: str = "unknown", learning_curves: dict[str, str] | None = None,
                 gradcam: bool = False) -> None:
    """Write the report. ``datasets`` maps dataset name to role (train/external/predict);
    ``training_data`` is where the models' training data came from (``synthetic`` or the
    labelled dataset's name). ``learning_curves`` maps each family that draws them to its title;
    ``gradcam``: a family explains the train dataset's test slices with Grad-CAM."""
    ci = f"{int(round(confidence * 100))} % CI"
    labelled = [d for d, role in datasets.items() if role != "predict"]
    external = [d for d, role in datasets.items() if role == "external"]
    predict = [d for d, role in datasets.items() if role == "predict"]
    # No generation time or host: the same results give the same page, byte for byte.
    parts = [f"<h1>mriseq report</h1><p class='note'>Built from the stored predictions "
             f"and tables under <code>{results}/</code>. Metrics of the fold ensemble with "
             f"bootstrap {ci} (patients resampled). Volume level = majority vote of slice "
             f"predictions.</p>"]
    nav = ["<nav>", "<a href='#data'>Data & QC</a>"]
    nav += [f"<a href='#eval-{d}'>{html.escape(d)}</a>" for d in labelled]
    nav += ["<a href='#gap'>Generalisation gap</a>"] if external else []
    nav += [f"<a href='#predict-{d}'>{html.escape(d)} (predictions)</a>" for d in predict]
    nav += ["<a href='#training'>Training</a>", "</nav>"]
    parts.append(" ".join(nav))
    warning = synthetic_only_warning([training_data])
    parts.append(f"<p class='warn'><strong>Demo models.</strong> {html.escape(warning)}</p>"
                 if warning else f"<p class='note'>Models trained on the labelled dataset "
                 f"<code>{html.escape(training_data)}</code>.</p>")
    parts.append(_health_banner(Path(paths.training_health(results))))

    parts.append("<h2 id='data'>Datasets and quality control</h2>")
    for dataset, role in datasets.items():
        parts.append(f"<h3>{html.escape(dataset)} ({role})</h3>")
        if montages and dataset in montages:
            parts.append(f"<div class='figs'>{_figure(montages[dataset], 'synthetic cohort')}"
                         "</div>")
        parts.append("<p>Scan QC (files accepted / rejected by reason)</p>")
        parts.append(_table(paths.qc_summary(dataset, "manifests", results)))
        parts.append("<p>Preprocessing QC</p>")
        parts.append(_table(paths.qc_summary(dataset, "tensors", results)))
        if dataset == train_dataset:
            parts.append("<p>Split class counts: slices (volumes) per split</p>")
            parts.append(_table(paths.split_table(dataset, "class_counts.csv", results),
                                query=_class_counts_by_split))
            parts.append("<p>Split warnings: classes too rare for the folds, or absent from "
                         "the test set (none listed: every class can be validated and tested)"
                         "</p>")
            parts.append(_table(paths.split_table(dataset, "warnings.csv", results)))

    for dataset in labelled:
        parts.append(_dataset_section(results, dataset, tasks, models,
                                      gradcam=gradcam and dataset == train_dataset))

    if external:
        parts.append("<h2 id='gap'>Generalisation gap: internal test vs external</h2>")
        for dataset in external:
            parts.append(f"<h3>{html.escape(train_dataset)} → {html.escape(dataset)}</h3>")
            parts.append(_table(paths.generalisation_gap(dataset, results),
                                query=lambda d: d[d["aggregation"] != "mean_prob"]
                                .drop(columns=["aggregation"])))

    for dataset in predict:
        path = paths.series_predictions(dataset, results)
        parts.append(f"<h2 id='predict-{dataset}'>Predictions: {html.escape(dataset)}</h2>")
        parts.append(f"<p>One row per volume (a series of one kind is one volume); full "
                     f"table <code>{path}</code>.</p>")
        parts.append(_table(path, columns=[
            "volume_key", "series_key", "volume_split", "series_dir", "series_description",
            "sequence", "sequence_probability", "sequence_runner_up",
            "sequence_runner_up_probability", "sequence_vote_share",
            "orientation", "header_orientation", "contrast", "header_contrast_agent",
            "header_b_values", "header_disagreement", "disagreement_reasons",
            "models_trained_on"]))

    parts.append("<h2 id='training'>Training: learning curves and cross-validation</h2>")
    parts.append("<p id='health'>Training health: fold models at or below a baseline that needs "
                 "no learning (majority class, chance, the histogram forest), with a first-epoch "
                 "loss far above a uniform guess, or whose validation fold lacks classes (none "
                 "listed: no flag)</p>")
    parts.append(_table(paths.training_health(results)))
    for task in tasks:
        parts.append(f"<h3>{task}</h3><div class='figs'>")
        for model, title in (learning_curves or {}).items():
            parts.append(_figure(paths.learning_curves(model, task, "png", results),
                                 f"{title} learning curves, {task}, every fold"))
        parts.append("</div>")
        parts.append("<p>CV summary (mean ± sd over folds; validation = each fold model on its "
                     "own validation fold)</p>")
        parts.append(_table(
            paths.evaluation_table(train_dataset, task, "cv_summary", results=results),
            columns=["source", "model", "level", "aggregation", "metric", "mean_sd", "n_folds"],
            query=lambda d: d[d["metric"].isin(["accuracy", "macro_f1", "balanced_accuracy",
                                                "kappa"])]))
    body = "\n".join(parts)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>mriseq report"
            f"</title><style>{STYLE}</style></head><body>{body}</body></html>\n")
    write_text(page, out_html)
    log.info("report written to %s (%.1f MB)", out_html, len(page) / 1e6)


def _health_banner(path: Path) -> str:
    """A warning at the top of the page when any fold model raised a training-health flag: a
    model that learnt nothing must not hide below its metrics."""
    if not path.is_file():
        return ""
    flags = pd.read_csv(path)
    if flags.empty:
        return "<p class='note'>Training health: no flag on any fold model.</p>"
    counts = flags.groupby("model").size()
    listed = ", ".join(f"{model} {n}" for model, n in counts.items())
    return (f"<p class='warn'><strong>Training health: {len(flags)} flag(s)</strong> ({listed}); "
            "see <a href='#health'>the table</a>.</p>")


def _dataset_section(results: str, dataset: str, tasks: Sequence[str], models: Sequence[str],
                     gradcam: bool) -> str:
    primary = models[0]  # the primary model family's matrices lead; the others fold away
    parts = [f"<h2 id='eval-{dataset}'>Evaluation: {html.escape(dataset)}</h2>"]
    comparison = _figure(paths.comparison_figure(dataset, "png", results),
                         "macro F1 by model and task")
    confidence = "".join(
        _figure(paths.confidence_figure(dataset, kind, "png", results), caption)
        for kind, caption in (("reliability", "reliability before/after calibration"),
                              ("coverage", "coverage vs accuracy under abstention")))
    parts.append(f"<div class='figs'>{comparison}{confidence}</div>")
    for task in tasks:
        def table(name, task=task):
            return paths.evaluation_table(dataset, task, name, results=results)

        parts.append(f"<h3>{html.escape(dataset)} · {task}</h3>")
        parts.append("<p>Model comparison (fold ensemble; volume = majority vote)</p>")
        parts.append(_table(table("comparison"), query=lambda d: _with_ci(
            d, ["accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "kappa"])))
        parts.append("<div class='figs'>")
        for level in paths.EVAL_LEVELS:
            for kind in paths.CONFUSION_KINDS:
                parts.append(_figure(
                    paths.confusion_figure(dataset, task, primary, level, kind, "png", results),
                    f"{primary} ensemble, {level} level, {kind}"))
        parts.append("</div>")
        others = [m for m in models if m != primary]
        if others:
            parts.append("<details><summary>Other families' confusion matrices</summary>"
                         "<div class='figs'>")
            for model in others:
                for level in paths.EVAL_LEVELS:
                    parts.append(_figure(
                        paths.confusion_figure(dataset, task, model, level, "counts", "png",
                                               results), f"{model}, {level} level, counts"))
            parts.append("</div></details>")
        parts.append("<p>Calibration (fold ensemble; ECE = expected calibration error, NLL = "
                     "negative log-likelihood; before / after each fold model's temperature)"
                     "</p>")
        parts.append(_table(table("calibration")))
        parts.append("<p>Abstention at the configured threshold: volumes below it are called "
                     "uncertain (coverage = fraction still called; accuracy and macro-F1 of "
                     "those)</p>")
        parts.append(_table(table("coverage"), query=lambda d: d[d["configured"].astype(bool)]))
        parts.append("<p>Subsets named by the labels sheet (volume level; none listed: the "
                     "sheet names none)</p>")
        parts.append(_table(table("subsets"), query=lambda d: _with_ci(d, ["macro_f1"])))
        parts.append("<details><summary>All metrics (ensemble and each fold)</summary>")
        parts.append(_table(table("metrics"), query=lambda d: _with_ci(
            d, ["accuracy", "balanced_accuracy", "macro_f1", "kappa"]), columns=[
            "model", "fold", "level", "aggregation", "n", "n_patients", "accuracy",
            "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1",
            "weighted_precision", "weighted_recall", "weighted_f1", "kappa"]))
        parts.append("</details>")
        parts.append("<details><summary>Per-class precision / recall / F1 / support</summary>")
        parts.append(_table(table("per_class"),
                            query=lambda d: d[d["aggregation"] != "mean_prob"]))
        parts.append("</details>")
        if gradcam:
            parts.append("<div class='figs'>")
            parts.append(_figure(paths.gradcam_figure(dataset, task, results),
                                 f"Grad-CAM, {task}: test slices per class (true / predicted)"))
            parts.append("</div>")
    return "\n".join(parts)

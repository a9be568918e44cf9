"""Figures and the self-contained HTML report, built from fabricated stored tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from evaluate_fixtures import write_model_predictions
from mriseq.evaluation import plots
from mriseq.evaluation import tables as ev
from mriseq.models import get_family
from mriseq.report.html import build_report

TASKS = {"orientation": ["axial", "coronal", "sagittal", "oblique"], "contrast": ["pre", "post"]}


def test_readable_labels():
    assert plots.readable("t1_arterial") == "T1 arterial"
    assert plots.readable("t2_fs") == "T2 FS"
    assert plots.readable("adc") == "ADC"


def test_confusion_figure_in_every_format(tmp_path):
    classes = TASKS["orientation"]
    table = ev.confusion_frame(np.array([[5, 1, 0, 0], [0, 4, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0]]),
                               classes, normalise=True)
    csv = tmp_path / "confusion_cnn_volume_normalised.csv"
    table.to_csv(csv, index=False)
    outs = [str(tmp_path / "f.png"), str(tmp_path / "f.svg")]
    plots.plot_confusion(csv, outs, title="t", dpi=40)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    svg = (tmp_path / "f.svg").read_text()
    assert "<svg" in svg and "coronal" in svg and "0.83" in svg  # label and a row fraction


def _results_tree(root):
    """A results/ tree as the workflow leaves it: evaluation tables, figures, learning curves."""
    results = root / "results"
    for dataset, skill in (("internal", 0.9), ("dlds", 0.6)):
        for task, classes in TASKS.items():
            paths = write_model_predictions(root, dataset, task, classes, skill=skill, folds=2)
            out = results / dataset / "evaluation" / task
            ev.evaluate_task(paths, classes, out, 20, 0.95, 0)
            tables = sorted(str(p) for p in out.glob("confusion_*.csv"))
            figures = [str(out / "figures" / (p.rsplit("/", 1)[1][:-4] + ".png")) for p in tables]
            plots.plot_confusion_tables(tables, figures, ["png"], label=f"{dataset} {task}",
                                        dpi=30)
        plots.plot_comparison(
            {t: results / dataset / "evaluation" / t / "comparison.csv" for t in TASKS},
            [str(results / dataset / "evaluation" / "figures" / "model_comparison.png")],
            title="cmp", dpi=30)
    for task in TASKS:
        histories = []
        for fold in range(2):
            path = results / "models" / "cnn" / task / f"fold{fold}" / "history.csv"
            path.parent.mkdir(parents=True)
            # Epochs numbered from 1, as the training job writes them.
            pd.DataFrame({"epoch": range(1, 4), "loss": [1.0, 0.6, 0.4],
                          "accuracy": [0.5, 0.7, 0.8], "val_loss": [1.1, 0.8, 0.7],
                          "val_accuracy": [0.4, 0.6, 0.7]}).to_csv(path, index=False)
            histories.append(path)
        get_family("cnn").learning_curves(
            histories, [str(path.parents[1] / "learning_curves.png")], title=task, dpi=30)
    ev.write_generalisation_gap(
        {t: str(results / "internal" / "evaluation" / t / "metrics.parquet") for t in TASKS},
        {t: str(results / "dlds" / "evaluation" / t / "metrics.parquet") for t in TASKS},
        "internal", "dlds", str(results / "dlds" / "evaluation" / "generalisation_gap.parquet"),
        str(results / "dlds" / "evaluation" / "generalisation_gap.csv"))
    return results


def test_report_is_self_contained_and_complete(tmp_path):
    results = _results_tree(tmp_path)
    out = results / "report" / "index.html"
    build_report(out, {"internal": "train", "dlds": "external"}, list(TASKS),
                 ["cnn", "hist_rf", "header_rf"], "internal", results=str(results),
                 learning_curves={"cnn": "CNN"}, gradcam=True)
    page = out.read_text()
    # Every image is embedded; nothing points outside the file.
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    # 2 datasets x 2 tasks x 4 CNN confusion + 4 baseline, 2 comparison plots, 2 learning curves.
    assert len(sources) == 2 * 2 * 8 + 2 + 2
    for text in ("Generalisation gap", "accuracy_gap", "Model comparison", "hist_rf",
                 "CV summary", "Per-class", "Learning curves".lower()):
        assert text.lower() in page.lower(), text
    # Files the run has not produced (QC tables, Grad-CAM) are named, not fatal.
    assert "missing table" in page and "qc_summary.csv" in page
    assert "missing figure" in page and "gradcam.png" in page


def test_report_shows_only_what_the_families_offer(tmp_path):
    """Learning curves and Grad-CAM appear where a family offers them, never by family name."""
    results = _results_tree(tmp_path)
    out = results / "report" / "index.html"
    build_report(out, {"internal": "train", "dlds": "external"}, list(TASKS),
                 ["cnn", "hist_rf", "header_rf"], "internal", results=str(results))
    page = out.read_text()
    assert len(re.findall(r'src="([^"]*)"', page)) == 2 * 2 * 8 + 2
    assert "CNN learning curves" not in page
    assert "gradcam.png" not in page


@pytest.mark.parametrize("metric", ["macro_f1", "accuracy"])
def test_comparison_plot(tmp_path, metric):
    results = tmp_path / "results"
    paths = write_model_predictions(tmp_path, "internal", "contrast", TASKS["contrast"], folds=2)
    ev.evaluate_task(paths, TASKS["contrast"], results, 10, 0.9, 0)
    out = tmp_path / "cmp.png"
    plots.plot_comparison({"contrast": results / "comparison.csv"}, [str(out)], "t",
                          metric=metric, dpi=30)
    assert out.stat().st_size > 1000

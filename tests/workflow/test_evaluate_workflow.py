"""Integration: the evaluation, figures, report and predict mode on the tiny config
(config/test.yaml), run end to end once for the session (``tiny_run`` in tests/conftest.py);
then reruns are checked with dry-runs.

Checks that figures regenerate from stored predictions (deleting a figure reruns only its
plotting job; a plotting option reruns only plotting jobs) and predict mode.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile

import pandas as pd
import pytest
import yaml
from conftest import TEST_CONFIG, case_config, copy_workdir, run_snakemake

pytestmark = pytest.mark.slow

TASKS = ("sequence", "orientation", "contrast")
# Jobs allowed to rerun when only figures or plot options change: drawing and the report.
PLOTTING = {"plot_confusion", "plot_comparison", "plot_confidence", "plot_learning_curves",
            "gradcam", "report_html", "figures"}
UPSTREAM = ("train_", "predict_", "evaluate_predictions", "scan_", "preprocess_", "split")


def planned_jobs(workdir, *args, configfile=TEST_CONFIG) -> dict[str, int]:
    """Rule -> job count of a dry-run (empty when nothing is to be done)."""
    # --quiet takes several values: it goes last so it cannot swallow a target.
    proc = run_snakemake(workdir, "-n", *args, "--quiet", "rules", configfile=configfile)
    text = proc.stdout + proc.stderr
    if "Job stats" not in text:
        assert "Nothing to be done" in text, text[-3000:]
        return {}
    table = text.split("Job stats:", 1)[1]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)
            if name != "total"}


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory):
    """A copy of the session's finished tiny run (``tiny_run``: the ``figures`` target built from
    the tiny cohorts); the tests below rebuild, delete and rerun in it, in order."""
    workdir = copy_workdir(tiny_run, tmp_path_factory.mktemp("evaluated"))
    run_snakemake(workdir, "--cores", "2", "figures")
    return workdir


def test_figures_target_builds_tables_figures_and_report(evaluated):
    results = evaluated / "results"
    for dataset in ("internal", "dlds"):
        for task in TASKS:
            base = results / dataset / "evaluation" / task
            metrics = pd.read_parquet(base / "metrics.parquet")
            assert set(metrics["model"]) == {"fusion", "cnn", "hist_rf", "header_rf"}
            ens = metrics[metrics["fold"] == "ensemble"]
            assert ens["accuracy"].between(0, 1).all()
            assert (base / "figures" / "confusion_cnn_volume_normalised.png").is_file()
            # Calibration before/after for every family, abstention at the configured threshold.
            calibration = pd.read_csv(base / "calibration.csv")
            assert set(calibration["model"]) == set(metrics["model"])
            assert set(calibration["stage"]) == {"before", "after"}
            assert calibration["ece"].between(0, 1).all()
            coverage = pd.read_csv(base / "coverage.csv")
            assert coverage.groupby("model")["configured"].sum().eq(1).all()
        for kind in ("reliability", "coverage"):
            assert (results / dataset / "evaluation" / "figures" / f"{kind}.png").is_file()
    # Every fold model stores the temperature fitted on its validation fold, and the prediction
    # tables keep the uncalibrated probabilities beside the calibrated ones.
    for family in ("fusion", "cnn", "hist_rf", "header_rf"):
        stored = json.loads((results / "models" / family / "sequence" / "fold0" /
                             "calibration.json").read_text())
        assert stored["method"] == "temperature" and stored["temperature"] > 0
        table = pd.read_parquet(results / "dlds" / "predictions" / family / "sequence.parquet")
        assert {"p_t2", "raw_p_t2"} <= set(table.columns)
    # The internal cohort's labels sheet names its untrustworthy descriptions: scored apart.
    subsets = pd.read_csv(results / "internal" / "evaluation" / "sequence" / "subsets.csv")
    assert {"all", "misleading_description", "empty_description"} <= set(subsets["subset"])
    assert (results / "internal" / "evaluation" / "sequence" / "figures" / "gradcam.png").is_file()
    gap = pd.read_csv(results / "dlds" / "evaluation" / "generalisation_gap.csv")
    assert set(gap["task"]) == set(TASKS)
    # DLDS has no t2_fs: its row is there with support 0.
    per_class = pd.read_csv(results / "dlds" / "evaluation" / "sequence" / "per_class.csv")
    assert per_class.query("`class` == 't2_fs' and model == 'cnn'")["support"].eq(0).all()
    page = (results / "report" / "index.html").read_text()
    assert "data:image/png;base64," in page
    assert page.index("Demo models.") < page.index("<h2")  # at the top: synthetic-only models
    assert "missing figure" not in page and "missing table" not in page
    # Training health: known flags only, every model × fold named, the report says so on top.
    health = pd.read_csv(results / "models" / "training_health.csv")
    assert list(health.columns) == ["task", "model", "fold", "flag", "detail"]
    assert set(health["flag"]) <= {"below_majority", "at_chance", "first_epoch_loss_high",
                                   "val_missing_classes", "below_hist_rf"}
    banner = "Training health: no flag" if health.empty else f"{len(health)} flag(s)"
    assert banner in page
    warnings = pd.read_csv(results / "internal" / "splits" / "warnings.csv")
    assert list(warnings.columns) == ["task", "class", "patients", "needed", "issue"]
    assert "Split warnings" in page
    summary = (results / "report" / "summary.md").read_text()
    assert "Macro-F1" in summary and "| sequence, volume |" in summary
    assert "Expected calibration error" in summary and "misleading_description" in summary


def test_report_and_summary_are_byte_identical_when_rebuilt(evaluated):
    report = evaluated / "results" / "report"
    before = {name: (report / name).read_bytes() for name in ("index.html", "summary.md")}
    for name in before:
        (report / name).unlink()
    run_snakemake(evaluated, "--cores", "1", "figures")
    assert {name: (report / name).read_bytes() for name in before} == before


def test_snakemake_report_zip(evaluated):
    run_snakemake(evaluated, "--report", "report.zip")
    names = zipfile.ZipFile(evaluated / "report.zip").namelist()
    assert any(n.endswith("confusion_cnn_volume_counts.png") for n in names)
    assert any(n.endswith("gradcam.png") for n in names)


def test_deleting_a_figure_reruns_only_its_plot(evaluated):
    figure = (evaluated / "results" / "internal" / "evaluation" / "contrast" / "figures"
              / "confusion_cnn_slice_counts.png")
    figure.unlink()
    jobs = planned_jobs(evaluated, "figures")
    assert jobs == {"plot_confusion": 1, "report_html": 1, "figures": 1}
    run_snakemake(evaluated, "--cores", "2", "figures")
    assert figure.is_file()


def _reversed_keys(value):
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(value)}
    return value


def test_reordered_config_keys_rerun_nothing(evaluated):
    """Params are compared by repr: the workflow sorts settings' keys, so a reformatted config
    file (every section's keys in another order, every value the same) plans no job. The order of
    the datasets themselves is kept: it is the report's display order."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    reordered = {key: value if key == "datasets" else _reversed_keys(value)
                 for key, value in config.items()}
    variant = case_config("reordered_keys")
    # The case file is that reordering of config/test.yaml, to the order of every key.
    assert json.dumps(yaml.safe_load(variant.read_text())) == json.dumps(reordered)
    assert planned_jobs(evaluated, "figures", configfile=variant) == {}


def test_plot_option_reruns_only_plotting_jobs(evaluated):
    # A config variant (--config cannot type nested values): new resolution and colour map
    # (.test/config_plots_variant).
    jobs = planned_jobs(evaluated, "figures", configfile=case_config("plots_variant"))
    assert jobs, "changing plots.dpi and plots.cmap must redraw figures"
    assert set(jobs) <= PLOTTING, jobs
    assert "plot_confusion" in jobs
    assert not [j for j in jobs if j.startswith(UPSTREAM)]


def test_predict_mode_series_table(evaluated, tmp_path):
    workdir = copy_workdir(evaluated, tmp_path / "predict")
    # An unlabelled archive: a copy of the internal cohort's DICOM tree, no labels sheet.
    shutil.copytree(evaluated / "resources" / "synthetic" / "internal" / "dicom",
                    workdir / "archive")
    # config/test.yaml plus the archive as a predict dataset, and sorted links.
    configfile = case_config("predict_archive")
    config = yaml.safe_load(configfile.read_text())
    target = "results/archive/predictions/series.csv"
    jobs = planned_jobs(workdir, target, configfile=configfile)
    assert not [j for j in jobs if j.startswith("train_")], jobs
    # Predict mode runs the primary family and what it stacks, not every family.
    assert {"predict_fusion", "predict_cnn"} <= set(jobs), jobs
    assert not {"predict_hist_rf", "predict_header_rf", "histogram_features"} & set(jobs), jobs
    run_snakemake(workdir, "--cores", "2", target, "results/archive/predictions/sorted",
                  configfile=configfile)
    table = pd.read_parquet(workdir / "results" / "archive" / "predictions" / "series.parquet")
    manifests = workdir / "results" / "archive" / "manifests"
    # At most predict.max_slices_per_volume files of a volume are decoded; the rest are counted.
    qc = pd.read_csv(workdir / "results" / "archive" / "tensors" / "qc_summary.csv")
    qc = qc.set_index("reason")["count"]
    index = pd.read_parquet(workdir / "results" / "archive" / "tensors" / "index.parquet")
    assert qc["files_not_sampled"] > 0
    cap = config["predict"]["max_slices_per_volume"]
    assert index.groupby("volume_key")["path"].nunique().max() <= cap
    volumes = pd.read_parquet(manifests / "volumes.parquet")
    series = pd.read_parquet(manifests / "series.parquet")
    # One row per volume: the cohort stores some volumes together, and the table splits them.
    assert len(table) == len(volumes) > len(series) and table["volume_key"].is_unique
    assert set(table["series_key"]) == set(series["series_key"])
    split = table[table["volumes_in_series"] > 1]
    assert len(split) and split["volume_split"].str.len().gt(0).all()
    predicted = table[table["sequence"].notna()]
    assert len(predicted) > 0
    for task in TASKS:
        assert predicted[task].isin([*config["taxonomy"][task], "uncertain"]).all()
        assert predicted[f"{task}_best"].isin(config["taxonomy"][task]).all()
        assert predicted[f"{task}_vote_share"].between(0, 1).all()
        # Uncertain exactly where the calibrated probability is below the task's threshold.
        below = predicted[f"{task}_probability"] < config["evaluate"]["abstain_below"][task]
        assert ((predicted[task] == "uncertain") == below).all()
        # The runner-up is another class (more probable than the voted one where a volume's
        # vote and its mean probability disagree, as a weak tiny model's often do).
        assert (predicted[f"{task}_runner_up"] != predicted[f"{task}_best"]).all()
    for column in ("header_orientation", "header_contrast_agent", "header_b_values",
                   "series_description", "header_disagreement"):
        assert column in table
    # Demo models say so: every row, the job log and the report's top.
    assert table["models_trained_on"].eq("synthetic").all()
    series_log = (workdir / "logs" / "archive" / "predictions" / "series.log").read_text()
    assert series_log.count("trained on the synthetic cohort only") == 1
    links = list((workdir / "results" / "archive" / "predictions" / "sorted").glob("*/*/*"))
    assert len(links) == len(predicted)
    # A whole series is one link; a volume of a split series a folder of links to its files.
    assert all(link.is_symlink() or (link.is_dir() and all(f.is_symlink() for f in link.iterdir()))
               for link in links)
    assert any(link.is_dir() and not link.is_symlink() for link in links)

"""Integration: the train, baseline and predict rules on the tiny config (config/test.yaml).

The session's tiny run (``tiny_run`` in tests/conftest.py) runs the real upstream stages once,
trains the CNN (one network per fold, a head per task), the contrast header forest and fusion
forest (on the CNN's out-of-fold predictions) on both folds and predicts the held-out test set;
these tests check its models and predictions, then retrain one fold and check that the same seed
gives the identical validation metrics and history on the CPU.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import copy_workdir, run_snakemake

pytestmark = pytest.mark.slow

TARGETS = ["results/internal/predictions/cnn/contrast.parquet",
           "results/internal/predictions/header_rf/contrast.parquet",
           "results/internal/predictions/fusion/contrast.parquet"]
FOLD0 = "results/models/cnn/contrast/fold0"


@pytest.fixture(scope="module")
def trained(tiny_run, tmp_path_factory):
    """A copy of the session's finished tiny run (``tiny_run``), in which the targets below are
    up to date: the models and predictions are the ones that run trained."""
    workdir = copy_workdir(tiny_run, tmp_path_factory.mktemp("trained"))
    run_snakemake(workdir, "--cores", "2", *TARGETS)
    return workdir


def test_models_and_predictions_follow_the_contract(trained):
    common = ["val_metrics.json", "val_predictions.parquet", "calibration.json", "metadata.json"]
    for fold in (0, 1):  # the multi-task CNN: one model per fold, every task's files
        assert (trained / f"results/models/cnn/fold{fold}/model.keras").is_file()
        for task in ("sequence", "orientation"):
            assert (trained / f"results/models/cnn/{task}/fold{fold}/calibration.json").is_file()
    for model, files in {"cnn": ["history.csv", "learning_curve.png", *common],
                         "header_rf": ["model.joblib", *common],
                         "fusion": ["model.joblib", *common]}.items():
        for fold in (0, 1):
            base = trained / f"results/models/{model}/contrast/fold{fold}"
            assert all((base / name).is_file() for name in files), base
            meta = json.loads((base / "metadata.json").read_text())
            assert meta["classes"] == ["pre", "post"] and meta["seed"] == 7
            assert meta["config_hash"] and meta["packages"]["numpy"]
            assert meta["training_data"] == "synthetic"  # the tiny cohort is generated
    meta = json.loads((trained / FOLD0 / "metadata.json").read_text())
    assert meta["device"]["type"] == "CPU" and "host" not in meta
    assert "images_per_second" not in meta and "training_seconds" not in meta  # in the log
    assert meta["tasks_of_network"] == ["sequence", "orientation", "contrast"]
    fold_log = (trained / "logs/models/cnn/fold0.log").read_text()
    assert fold_log.count("done in") == 1 and "images/s" in fold_log
    assert (trained / "benchmarks/models/cnn/fold0.tsv").is_file()

    splits = pd.read_parquet(trained / "results/internal/splits/splits.parquet")
    test_series = set(splits.loc[splits["set"] == "test", "series_key"])
    for model in ("cnn", "header_rf", "fusion"):
        table = pd.read_parquet(trained / f"results/internal/predictions/{model}/contrast.parquet")
        assert list(table.columns) == ["shard", "row", "volume_key", "series_key", "patient_key",
                                       "slice_index", "fold", "y_true", "y_pred", "p_pre",
                                       "p_post", "raw_p_pre", "raw_p_post"]
        assert set(table["series_key"]) == test_series
        assert sorted(table["fold"].unique()) == [0, 1]
        assert table["y_true"].notna().all()
        assert ((table["p_pre"] + table["p_post"] - 1).abs() < 1e-5).all()


def test_same_seed_gives_identical_validation_metrics(trained):
    before = (trained / FOLD0 / "val_metrics.json").read_text()
    history = (trained / FOLD0 / "history.csv").read_text()
    metadata = (trained / FOLD0 / "metadata.json").read_bytes()
    run_snakemake(trained, "--cores", "1", "--force", f"{FOLD0}/val_metrics.json")
    assert (trained / FOLD0 / "val_metrics.json").read_text() == before
    assert (trained / FOLD0 / "history.csv").read_text() == history
    assert (trained / FOLD0 / "metadata.json").read_bytes() == metadata

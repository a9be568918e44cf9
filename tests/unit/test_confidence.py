"""Confidence tables (mriseq.evaluation.confidence) written by the evaluation: calibration before
and after, coverage under abstention, metrics on the labels sheet's subsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluate_fixtures import make_predictions
from mriseq.evaluation.confidence import abstain, calibration_tables, coverage_table, subset_table
from mriseq.evaluation.predictions import ensemble_slices, vote_volumes
from mriseq.evaluation.tables import evaluate_task
from mriseq.models.calibration import calibrate_table, fit_temperature

CLASSES = ["t2", "dwi", "adc", "t1_pre"]


def _overconfident_predictions(n=3000, seed=1):
    """One fold's slice predictions whose labels are drawn from calibrated probabilities, then
    sharpened at T = 0.3; returns them with the calibrated probabilities as ``raw``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, len(CLASSES)))
    calibrated = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = [CLASSES[rng.choice(len(CLASSES), p=row)] for row in calibrated]
    df = pd.DataFrame({"shard": "s000", "row": np.arange(n), "volume_key": np.arange(n).astype(str),
                       "series_key": np.arange(n).astype(str), "patient_key": "p",
                       "slice_index": 0, "fold": 0, "y_true": labels, "y_pred": "t2"})
    for j, c in enumerate(CLASSES):
        df[f"p_{c}"] = calibrated[:, j]
    return calibrate_table(df, CLASSES, {0: 0.3}).drop(columns=[f"raw_p_{c}" for c in CLASSES])


def test_calibration_tables_compare_raw_and_scaled_probabilities():
    sharp = _overconfident_predictions()
    labels = np.array([CLASSES.index(c) for c in sharp["y_true"]])
    fitted = fit_temperature(sharp[[f"p_{c}" for c in CLASSES]].to_numpy(), labels,
                             level="slice")
    assert fitted == pytest.approx(1 / 0.3, rel=0.15)
    table, bins = calibration_tables(calibrate_table(sharp, CLASSES, {0: fitted}), CLASSES)
    assert set(table["stage"]) == {"before", "after"} and set(table["level"]) == {"slice",
                                                                                  "volume"}
    ece = table.set_index(["level", "stage"])["ece"]
    assert ece[("slice", "after")] < ece[("slice", "before")] / 2
    # Calibration changes no call: same accuracy before and after.
    acc = table.set_index(["level", "stage"])["accuracy"]
    assert acc[("slice", "after")] == pytest.approx(acc[("slice", "before")])
    per_stage = bins.groupby(["level", "stage"])["n"].sum()
    assert (per_stage.loc["slice"] == len(sharp)).all()


def test_coverage_falls_and_accuracy_rises_with_the_threshold():
    df = make_predictions(CLASSES, patients=20, skill=0.6, seed=2)
    volumes = vote_volumes(ensemble_slices(df, CLASSES), CLASSES)
    table = coverage_table(volumes, CLASSES, 0.37)
    assert table.loc[table["threshold"] == 0, "coverage"].item() == 1.0
    assert table["coverage"].is_monotonic_decreasing
    assert table.loc[table["configured"], "threshold"].tolist() == [0.37]
    called = table[table["n_called"] > 0]
    assert called["accuracy"].iloc[-1] >= called["accuracy"].iloc[0]
    chosen = table[table["configured"]].iloc[0]
    assert chosen["n_called"] == (volumes["mean_prob"] >= 0.37).sum()


def test_subsets_are_scored_apart():
    df = make_predictions(CLASSES, patients=12, seed=3)
    volumes = vote_volumes(ensemble_slices(df, CLASSES), CLASSES)
    keys = sorted(volumes["volume_key"])
    subsets = pd.DataFrame({"volume_key": keys,
                            "subset": ["misleading_description" if i % 4 == 0 else
                                       ("empty_description" if i % 4 == 1 else None)
                                       for i in range(len(keys))]})
    table = subset_table(volumes, subsets, CLASSES, 50, 0.95, 0).set_index("subset")
    assert table.loc["all", "n"] == len(volumes)
    assert table.loc["misleading_description", "n"] == len(keys[::4])
    assert table.loc["empty_description", "n"] == len(keys[1::4])
    assert subset_table(volumes, None, CLASSES, 0, 0.95, 0).empty


def test_abstain_names_the_runner_up():
    p = np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]])
    label, best, runner, p_runner = abstain(p, ["a", "b", "c"], np.array(["a", "a"]), 0.6)
    assert list(label) == ["uncertain", "a"] and list(runner) == ["b", "b"]
    np.testing.assert_allclose(best, [0.5, 0.9])
    np.testing.assert_allclose(p_runner, [0.3, 0.05])


def test_evaluate_task_writes_the_confidence_tables(tmp_path):
    df = calibrate_table(make_predictions(CLASSES, patients=8, seed=4), CLASSES,
                         {0: 2.0, 1: 1.0, 2: 0.5})
    df.to_parquet(tmp_path / "m.parquet")
    summary = evaluate_task({"m": str(tmp_path / "m.parquet")}, CLASSES, tmp_path / "out", 20,
                            0.95, 0, abstain_below=0.5)
    for name in ("calibration", "reliability", "coverage", "subsets"):
        assert (tmp_path / "out" / f"{name}.csv").is_file()
    entry = summary["models"]["m"]
    assert {"volume_before", "volume_after", "slice_before", "slice_after"} <= set(
        entry["calibration"])
    assert entry["abstention"]["threshold"] == 0.5 and 0 <= entry["abstention"]["coverage"] <= 1

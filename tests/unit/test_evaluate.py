"""Evaluation of stored predictions: ensemble, volume vote, tables (fabricated predictions)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from evaluate_fixtures import make_predictions, write_model_predictions
from mriseq.evaluation import tables as ev

SEQ = ["t1_inphase", "t1_opposed", "t2", "t2_fs", "dwi", "adc"]


def test_ensemble_is_mean_softmax_over_folds():
    df = make_predictions(SEQ, patients=2, folds=3)
    ens = ev.ensemble_slices(df, SEQ)
    assert len(ens) == df[["shard", "row"]].drop_duplicates().shape[0]
    assert (ens["n_folds"] == 3).all()
    first = df[(df["shard"] == ens["shard"][0]) & (df["row"] == ens["row"][0])]
    assert ens.loc[0, "p_t2"] == pytest.approx(first["p_t2"].mean())
    probs = ens[[f"p_{c}" for c in SEQ]].to_numpy()
    assert list(ens["y_pred"]) == [SEQ[i] for i in probs.argmax(axis=1)]


def _slices(preds, probs):
    rows = []
    for i, (pred, p) in enumerate(zip(preds, probs, strict=True)):
        row = {"series_key": "s1", "patient_key": "p1", "y_true": "a", "y_pred": pred}
        row |= {"p_a": p[0], "p_b": p[1], "p_c": p[2]}
        rows.append(row | {"slice_index": i})
    return pd.DataFrame(rows)


def test_majority_vote_wins_over_mean_probability():
    # Two votes for b, one very confident vote for a: the vote says b, mean probability says a.
    slices = _slices(["b", "b", "a"], [(0.3, 0.4, 0.3), (0.3, 0.4, 0.3), (1.0, 0.0, 0.0)])
    vol = ev.vote_volumes(slices, ["a", "b", "c"]).iloc[0]
    assert vol["y_pred_vote"] == "b"
    assert vol["y_pred_mean_prob"] == "a"
    assert vol["vote_share"] == pytest.approx(2 / 3)
    assert vol["n_slices"] == 3


def test_vote_tie_broken_by_highest_mean_probability():
    slices = _slices(["a", "c", "a", "c"],
                     [(0.5, 0.1, 0.4), (0.1, 0.1, 0.8), (0.6, 0.0, 0.4), (0.2, 0.1, 0.7)])
    vol = ev.vote_volumes(slices, ["a", "b", "c"]).iloc[0]
    # 2 votes each for a and c; mean p(a) = 0.35 < mean p(c) = 0.575.
    assert vol["y_pred_vote"] == "c"
    assert vol["mean_prob"] == pytest.approx(0.575)
    assert vol["vote_share"] == pytest.approx(0.5)


def test_evaluate_task_writes_every_table(tmp_path):
    paths = write_model_predictions(tmp_path, "internal", "sequence", SEQ, absent=("t2_fs",))
    out = tmp_path / "eval"
    summary = ev.evaluate_task(paths, SEQ, out, n_boot=50, confidence=0.95, seed=1)
    for name in ("metrics", "per_class", "volumes", "cv_summary", "comparison"):
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    metrics = pd.read_parquet(out / "metrics.parquet")
    # 3 models x (ensemble + 3 folds) x 3 views.
    assert len(metrics) == 3 * 4 * 3
    ens = metrics[(metrics["fold"] == "ensemble")].set_index(["model", "level", "aggregation"])
    # The fabricated CNN is more skilled than the header RF; majority vote beats single slices.
    assert ens.loc[("cnn", "slice", "none"), "accuracy"] > ens.loc[
        ("header_rf", "slice", "none"), "accuracy"]
    assert ens.loc[("hist_rf", "volume", "vote"), "accuracy"] >= ens.loc[
        ("hist_rf", "slice", "none"), "accuracy"]
    row = ens.loc[("cnn", "slice", "none")]
    assert row["accuracy_ci_low"] <= row["accuracy"] <= row["accuracy_ci_high"]
    assert row["n"] == 12 * 3 * 5 and row["n_patients"] == 12
    per_fold = metrics[metrics["fold"] != "ensemble"]
    assert per_fold["accuracy_ci_low"].isna().all()
    # Absent class: zero support, no crash; per-class rows in taxonomy order.
    per_class = pd.read_parquet(out / "per_class.parquet")
    cnn_slice = per_class[(per_class["model"] == "cnn") & (per_class["level"] == "slice")]
    assert list(cnn_slice["class"]) == SEQ
    assert cnn_slice.set_index("class").loc["t2_fs", "support"] == 0
    # Confusion tables: rows and columns in taxonomy order, counts sum to the evaluated slices.
    counts = pd.read_csv(out / "confusion_cnn_slice_counts.csv")
    assert list(counts["true"]) == SEQ and list(counts.columns[1:]) == SEQ
    assert counts[SEQ].to_numpy().sum() == row["n"]
    norm = pd.read_csv(out / "confusion_cnn_volume_normalised.csv").set_index("true")
    assert norm.loc["t2"].sum() == pytest.approx(1.0) and norm.loc["t2_fs"].sum() == 0
    # CV summary over the 3 folds; comparison has 3 models x 2 levels.
    cv = pd.read_parquet(out / "cv_summary.parquet")
    acc = cv[(cv["model"] == "cnn") & (cv["level"] == "slice") & (cv["metric"] == "accuracy")]
    assert int(acc["n_folds"].iloc[0]) == 3
    assert len(pd.read_parquet(out / "comparison.parquet")) == 6
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["models"]["cnn"]["slice"]["accuracy"]["value"] == pytest.approx(
        summary["models"]["cnn"]["slice"]["accuracy"]["value"])


def test_validation_metrics_enter_cv_summary(tmp_path):
    paths = write_model_predictions(tmp_path, "internal", "contrast", ["pre", "post"], folds=2)
    files = []
    for fold, acc in enumerate((0.8, 0.9)):
        f = tmp_path / f"val{fold}.json"
        f.write_text(json.dumps({"accuracy": acc, "macro_f1": acc - 0.1, "classes": ["pre"]}))
        files.append(str(f))
    ev.evaluate_task(paths, ["pre", "post"], tmp_path / "eval", 0, 0.95, 0,
                     validation_metrics={"cnn": files})
    cv = pd.read_csv(tmp_path / "eval" / "cv_summary.csv")
    val = cv[(cv["source"] == "validation") & (cv["metric"] == "accuracy")].iloc[0]
    assert val["mean"] == pytest.approx(0.85) and val["n_folds"] == 2
    assert val["sd"] == pytest.approx(np.std([0.8, 0.9], ddof=1))


def test_missing_column_is_one_sentence(tmp_path):
    df = make_predictions(["pre", "post"], patients=1).drop(columns=["p_post"])
    path = tmp_path / "cnn.parquet"
    df.to_parquet(path)
    with pytest.raises(ev.PredictionsError, match="missing column.*p_post"):
        ev.evaluate_task({"cnn": str(path)}, ["pre", "post"], tmp_path / "o", 0, 0.95, 0)


def test_generalisation_gap_side_by_side(tmp_path):
    internal, external = {}, {}
    for name, store, skill in (("internal", internal, 0.9), ("dlds", external, 0.4)):
        paths = write_model_predictions(tmp_path, name, "contrast", ["pre", "post"], skill=skill)
        out = tmp_path / name / "eval"
        ev.evaluate_task(paths, ["pre", "post"], out, 20, 0.95, 0)
        store["contrast"] = str(out / "metrics.parquet")
    gap = ev.write_generalisation_gap(internal, external, "internal", "dlds",
                                      str(tmp_path / "gap.parquet"), str(tmp_path / "gap.csv"))
    assert len(gap) == 3 * 3  # models x views
    row = gap[(gap["model"] == "cnn") & (gap["level"] == "slice")].iloc[0]
    assert row["accuracy_gap"] == pytest.approx(row["accuracy_internal"] - row["accuracy_dlds"])
    assert row["accuracy_gap"] > 0

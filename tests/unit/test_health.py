"""Training health checks: a fold model that learnt nothing is flagged, a sound one is not."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from mriseq.models.health import fold_health, health_table, split_warnings

CLASSES = ["t2", "dwi", "mrcp", "adc"]


def _flags(health):
    return {f["flag"] for f in health["flags"]}


def test_sound_model_has_no_flag():
    train = np.array([0] * 50 + [1] * 30 + [2] * 20)
    val = np.array([0, 0, 0, 1, 1, 2])
    health = fold_health(train, val, val.copy(), CLASSES, first_epoch_loss=0.9)
    assert health["flags"] == []
    assert health["majority_class"] == "t2"
    assert health["uniform_guess_loss"] == math.log(3)


def test_collapsed_model_is_flagged():
    train = np.array([0] * 50 + [1] * 30 + [2] * 20)
    val = np.array([0, 0, 0, 0, 1, 1])  # no mrcp in this fold
    predicted = np.full(len(val), 2)  # predicts the rare class everywhere
    health = fold_health(train, val, predicted, CLASSES, first_epoch_loss=10.7)
    assert _flags(health) == {"below_majority", "at_chance", "first_epoch_loss_high",
                              "val_missing_classes"}
    detail = {f["flag"]: f["detail"] for f in health["flags"]}
    assert "mrcp" in detail["val_missing_classes"]
    assert "10.700" in detail["first_epoch_loss_high"]


def _write(tmp_path, model, fold, accuracy, balanced, flags=()):
    path = tmp_path / f"{model}{fold}.json"
    path.write_text(json.dumps({"accuracy": accuracy, "balanced_accuracy": balanced,
                                "health": {"flags": list(flags)}}))
    return str(path)


def test_health_table_compares_with_the_histogram_forest(tmp_path):
    paths = {
        "cnn": [_write(tmp_path, "cnn", 0, 0.9, 0.9), _write(tmp_path, "cnn", 1, 0.5, 0.4,
                [{"flag": "at_chance", "detail": "x"}])],
        "hist_rf": [_write(tmp_path, "hist_rf", 0, 0.8, 0.8),
                    _write(tmp_path, "hist_rf", 1, 0.7, 0.6)],
    }
    table = health_table(paths, "sequence")
    assert set(zip(table["model"], table["fold"], table["flag"], strict=True)) == {
        ("cnn", 1, "at_chance"), ("cnn", 1, "below_hist_rf")}
    assert len(table[table["flag"] == "below_hist_rf"]) == 2  # accuracy and balanced accuracy


def test_a_difference_within_the_noise_margin_is_no_flag(tmp_path):
    from mriseq.models.health import NOISE_MARGIN

    just_below = 0.8 - NOISE_MARGIN / 2
    clearly_below = 0.8 - 2 * NOISE_MARGIN
    paths = {
        "cnn": [_write(tmp_path, "cnn", 0, just_below, just_below),
                _write(tmp_path, "cnn", 1, clearly_below, 0.8)],
        "hist_rf": [_write(tmp_path, "hist_rf", 0, 0.8, 0.8),
                    _write(tmp_path, "hist_rf", 1, 0.8, 0.8)],
    }
    table = health_table(paths, "sequence")
    assert list(zip(table["fold"], table["detail"].str.split().str[1], strict=True)) == [
        (1, "accuracy")]
    # The same margin against the majority class (300 of 400 validation slices, accuracy 0.75).
    train = np.array([0, 0, 0, 1])
    val = np.array([0] * 300 + [1] * 100)
    within = np.array([1] * 2 + [0] * 398)  # 0.745: within the margin, no flag
    assert "below_majority" not in _flags(fold_health(train, val, within, ["a", "b"]))
    below = np.array([1] * 20 + [0] * 380)  # 0.70: flagged
    assert "below_majority" in _flags(fold_health(train, val, below, ["a", "b"]))


def test_split_warnings_name_rare_classes_and_those_the_test_set_lacks():
    rows = []
    for p in range(8):
        rows.append({"patient_key": f"p{p}", "label_sequence": "t2",
                     "set": "test" if p < 2 else "cv"})
        rows.append({"patient_key": f"p{p}", "label_sequence": "dwi",
                     "set": "test" if p < 2 else "cv"})
    rows.append({"patient_key": "p5", "label_sequence": "mrcp", "set": "cv"})
    rows.append({"patient_key": "p6", "label_sequence": "mrcp", "set": "cv"})
    table = split_warnings(pd.DataFrame(rows), 3, {"sequence": "label_sequence"})
    assert set(table["class"]) == {"mrcp"}
    issues = " ".join(table["issue"])
    assert "fewer patients than folds + 1" in issues and "absent from the test set" in issues
    assert table["patients"].tolist() == [2, 2]

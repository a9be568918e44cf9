"""Temperature scaling (mriseq.models.calibration): the fit recovers a known temperature, lowers the
calibration error, keeps every call, and is applied per fold to stored predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mriseq.models.calibration import (
    calibrate_fold,
    calibrate_table,
    expected_calibration_error,
    fit_temperature,
    read_temperatures,
    reliability,
    scaled,
    top_label,
)


def _sharpened(n=4000, classes=5, temperature=0.4, seed=0):
    """Calibrated logits (labels drawn from their softmax), then made overconfident by dividing
    by ``temperature``: the fit must find ``temperature`` again."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, classes))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(classes, p=row) for row in p])
    return scaled(p, temperature), labels


def test_fit_recovers_the_temperature_and_lowers_the_error():
    overconfident, labels = _sharpened()
    t = fit_temperature(overconfident, labels, level="slice")
    assert t == pytest.approx(1 / 0.4, rel=0.1)
    before = expected_calibration_error(*top_label(overconfident, labels))
    after = expected_calibration_error(*top_label(scaled(overconfident, t), labels))
    assert after < before / 3 and after < 0.03
    # One parameter for all classes: no call changes.
    np.testing.assert_array_equal(scaled(overconfident, t).argmax(1), overconfident.argmax(1))


def test_volume_level_fits_the_mean_of_the_slices():
    """Slices of a volume that agree: each slice is as sure as it is right, but the volume's
    mean is right more often than a slice; the volume-level fit sharpens (T < 1)."""
    rng = np.random.default_rng(1)
    rows, labels, groups = [], [], []
    for v in range(300):
        label = v % 3
        for _ in range(8):
            p = np.full(3, 0.2)
            p[label if rng.random() < 0.6 else (label + 1) % 3] = 0.6
            rows.append(p)
            labels.append(label)
            groups.append(f"v{v:03d}")
    p, y, g = np.array(rows), np.array(labels), np.array(groups)
    assert fit_temperature(p, y, g, level="volume") < 0.8
    assert fit_temperature(p, y, g, level="slice") == pytest.approx(1.0, abs=0.25)


def test_nothing_to_fit_is_temperature_one():
    assert fit_temperature(np.array([[0.9, 0.1]]), np.array([0])) == 1.0
    assert fit_temperature(np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 0])) == 1.0
    assert fit_temperature(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([-1, -1])) == 1.0


def test_reliability_bins_count_every_prediction():
    table = reliability(np.array([0.05, 0.55, 0.58, 1.0]), np.array([0, 1, 0, 1]), bins=10)
    assert table["n"].sum() == 4 and table.loc[5, "n"] == 2 and table.loc[9, "n"] == 1
    assert table.loc[5, "accuracy"] == 0.5
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([1, 1])) == 0.0


def _table(fold, probs, labels):
    n = len(probs)
    return pd.DataFrame({"shard": "s000", "row": np.arange(n), "volume_key": [f"v{i // 4}"
                         for i in range(n)], "fold": fold, "y_true": labels,
                         "y_pred": ["a"] * n, "p_a": probs[:, 0], "p_b": probs[:, 1]})


def test_fold_calibration_is_stored_and_applied_per_fold(tmp_path):
    overconfident, labels = _sharpened(n=800, classes=2)
    names = np.array(["a", "b"])[labels]
    for fold in (0, 1):
        path = tmp_path / f"m/fold{fold}"
        path.mkdir(parents=True)
        _table(fold, overconfident, names).to_parquet(path / "val_predictions.parquet")
        record = calibrate_fold(str(path / "val_predictions.parquet"),
                                str(path / "calibration.json"), ["a", "b"], level="slice")
        assert record["validation"]["ece_after"] < record["validation"]["ece_before"]
    stored = json.loads((tmp_path / "m/fold0/calibration.json").read_text())
    assert stored["method"] == "temperature" and stored["temperature"] > 1.5
    temperatures = read_temperatures([str(tmp_path / f"m/fold{k}/calibration.json")
                                      for k in (0, 1)])
    temperatures[1] = 1.0  # fold 1 left as it is
    table = pd.concat([_table(0, overconfident[:8], names[:8]),
                       _table(1, overconfident[:8], names[:8])], ignore_index=True)
    out = calibrate_table(table, ["a", "b"], temperatures)
    np.testing.assert_allclose(out["raw_p_a"], table["p_a"], rtol=1e-6)
    fold1 = out["fold"] == 1
    np.testing.assert_allclose(out.loc[fold1, "p_a"], table.loc[fold1, "p_a"], rtol=1e-3)
    fold0 = ~fold1
    assert (out.loc[fold0, ["p_a", "p_b"]].max(axis=1)
            < table.loc[fold0, ["p_a", "p_b"]].max(axis=1)).all()
    assert calibrate_table(out, ["a", "b"], temperatures) is out  # applied once only

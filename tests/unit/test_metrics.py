"""Metrics from confusion matrices agree with scikit-learn; bootstrap CIs resample patients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mriseq import metrics as m
from sklearn import metrics as skm

CLASSES = ["a", "b", "c", "d"]


def _sklearn(t, p):
    labels = sorted(set(t) | set(p))
    kw = {"labels": labels, "zero_division": 0}
    return {
        "accuracy": skm.accuracy_score(t, p),
        "balanced_accuracy": skm.recall_score(t, p, labels=sorted(set(t)), average="macro",
                                              zero_division=0),
        "macro_precision": skm.precision_score(t, p, average="macro", **kw),
        "macro_recall": skm.recall_score(t, p, average="macro", **kw),
        "macro_f1": skm.f1_score(t, p, average="macro", **kw),
        "weighted_precision": skm.precision_score(t, p, average="weighted", **kw),
        "weighted_recall": skm.recall_score(t, p, average="weighted", **kw),
        "weighted_f1": skm.f1_score(t, p, average="weighted", **kw),
        "kappa": skm.cohen_kappa_score(t, p),
    }


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=2, max_size=60))
def test_metrics_match_sklearn(pairs):
    t = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    got = m.metrics_from_confusion(m.confusion_counts(t, p, 4))
    want = _sklearn(t, p)
    for key, value in want.items():
        if np.isnan(value) or (key == "kappa" and len(set(t)) == 1 and len(set(p)) == 1):
            continue
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert got["n"] == len(pairs)


def test_balanced_accuracy_matches_sklearn_when_all_classes_present():
    t = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3])
    p = np.array([0, 1, 1, 1, 2, 0, 3, 3, 1])
    got = m.metrics_from_confusion(m.confusion_counts(t, p, 4))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(t, p))


def test_absent_class_does_not_crash_or_count_as_zero():
    # Class "d" never occurs and is never predicted (DLDS has no t2_fs): macro F1 over a, b, c.
    t = m.class_indices(["a", "a", "b", "c"], CLASSES)
    p = m.class_indices(["a", "a", "b", "c"], CLASSES)
    cm = m.confusion_counts(t, p, 4)
    assert m.metrics_from_confusion(cm)["macro_f1"] == 1.0
    table = m.per_class_table(cm, CLASSES)
    assert list(table["class"]) == CLASSES
    row = table.set_index("class").loc["d"]
    assert row["support"] == 0 and np.isnan(row["recall"]) and np.isnan(row["f1"])


def test_unlabelled_rows_are_left_out():
    t = m.class_indices(["a", None, "b", "zzz"], CLASSES)
    p = m.class_indices(["a", "b", "b", "a"], CLASSES)
    assert list(t) == [0, -1, 1, -1]
    assert m.confusion_counts(t, p, 4).sum() == 2


def test_empty_input_gives_nan_not_error():
    out = m.metrics_from_confusion(np.zeros((3, 3)))
    assert np.isnan(out["accuracy"]) and out["n"] == 0
    cis = m.bootstrap_intervals(np.array([], int), np.array([], int), [], 3, 50, 0.95, 0)
    assert all(np.isnan(low) for low, _ in cis.values())


def test_row_normalisation():
    cm = np.array([[3, 1], [0, 0]])
    assert m.normalise_rows(cm).tolist() == [[0.75, 0.25], [0.0, 0.0]]


def test_bootstrap_resamples_patients_not_rows():
    # Two patients: one all right (90 slices), one all wrong (10 slices). Resampling patients
    # gives replicate accuracies of only 0, 0.9 or 1; resampling rows would give values near 0.9.
    t = np.zeros(100, dtype=int)
    p = np.r_[np.zeros(90, dtype=int), np.ones(10, dtype=int)]
    groups = ["p1"] * 90 + ["p2"] * 10
    low, high = m.bootstrap_intervals(t, p, groups, 2, 400, 0.95, seed=3)["accuracy"]
    assert low == pytest.approx(0.0) and high == pytest.approx(1.0)


def test_bootstrap_interval_covers_estimate_and_narrows_with_more_patients():
    rng = np.random.default_rng(0)

    def width(n_patients):
        t = rng.integers(0, 3, n_patients * 10)
        p = np.where(rng.random(t.size) < 0.8, t, rng.integers(0, 3, t.size))
        groups = np.repeat(np.arange(n_patients), 10)
        est = m.metrics_from_confusion(m.confusion_counts(t, p, 3))["accuracy"]
        low, high = m.bootstrap_intervals(t, p, groups, 3, 300, 0.95, seed=1)["accuracy"]
        assert low <= est <= high
        return high - low

    assert width(200) < width(10)


def test_bootstrap_is_reproducible_for_a_seed():
    t = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0, 1, 0, 0, 1, 1])
    g = [1, 1, 2, 2, 3, 3]
    assert m.bootstrap_intervals(t, p, g, 2, 50, 0.9, 5) == m.bootstrap_intervals(t, p, g, 2, 50,
                                                                                  0.9, 5)

"""Class weights balance what is trained on: the per-epoch draw for the CNN, every row for the
forests; bounded."""

from __future__ import annotations

import numpy as np
import pytest
from mriseq.models.balance import balanced_class_weights, drawn_labels, weighted_class_shares
from mriseq.models.cnn.pipeline import epoch_samples


def _skewed_archive(rng):
    """An archive-like label set: per class a number of series and a slice-count range. Many long
    T2 series, many short DWI series, a handful of MRCP slabs, one long localizer-like class."""
    spec = {0: (120, (20, 60)), 1: (300, (3, 8)), 2: (6, (1, 3)), 3: (15, (150, 200))}
    series, labels = [], []
    code = 0
    for cls, (n_series, (lo, hi)) in spec.items():
        for _ in range(n_series):
            n = int(rng.integers(lo, hi + 1))
            series += [code] * n
            labels += [cls] * n
            code += 1
    return np.array(series), np.array(labels)


def test_weights_from_the_draw_equalise_the_weighted_class_share():
    rng = np.random.default_rng(0)
    series, labels = _skewed_archive(rng)
    samples = epoch_samples(series, np.arange(len(labels)), 8, 4, rng)
    drawn = drawn_labels(samples, labels)
    weights = balanced_class_weights(drawn, 4, max_weight=1000)
    shares = weighted_class_shares(drawn, weights, 4)
    np.testing.assert_allclose(shares, 0.25, rtol=0.05)
    # The mean weight per drawn slice is 1: the loss keeps the scale of an unweighted one.
    assert weights[drawn].mean() == pytest.approx(1.0, rel=1e-5)

    # Weights from every training slice (what the cap already evened out) miss by far.
    per_slice = balanced_class_weights(labels, 4, max_weight=1000)
    wrong = weighted_class_shares(drawn, per_slice, 4)
    assert np.abs(wrong / 0.25 - 1).max() > 0.5


def test_weights_are_bounded_relative_to_the_most_frequent_class():
    labels = np.array([0] * 10_000 + [1] * 500 + [2] * 3)
    weights = balanced_class_weights(labels, 4, max_weight=20)
    assert weights[2] / weights[0] == pytest.approx(20)  # bound hit (would be 3333)
    assert weights[1] / weights[0] == pytest.approx(20)  # exactly at the bound
    assert weights[3] == 1  # absent class
    assert weights[labels].mean() == pytest.approx(1.0, rel=1e-5)
    unbounded = balanced_class_weights(labels, 4, max_weight=1e6)
    assert unbounded[2] / unbounded[0] == pytest.approx(10_000 / 3, rel=1e-4)


def test_unlabelled_rows_are_ignored_and_bad_bound_is_refused():
    weights = balanced_class_weights(np.array([0, 0, 1, -1, -1]), 2, max_weight=5)
    assert weights[1] == pytest.approx(2 * weights[0])
    with pytest.raises(ValueError, match="max_class_weight"):
        balanced_class_weights(np.array([0, 1]), 2, max_weight=0.5)

"""Patient-level splits: no leakage between test / train / validation, determinism, edge cases."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from mriseq.splits import SplitError, class_counts, make_splits, split_series

SEQUENCES = ["t1_inphase", "t1_opposed", "t2", "t2_fs", "dwi", "adc", "t1_pre", "t1_arterial",
             "t1_portal", "t1_delayed", "mrcp", "localizer"]


def cohort(n_patients=30, seed=0, drop_fraction=0.2):
    """Series of a cohort: every patient has most of the 12 sequences (some missing at random)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for s, sequence in enumerate(SEQUENCES):
            if rng.random() < drop_fraction:
                continue
            rows.append({"series_key": f"{p:04d}{s:012d}", "patient_key": f"patient{p:09d}",
                         "label_sequence": sequence,
                         "label_orientation": "coronal" if sequence == "localizer" else "axial",
                         "label_contrast": "post" if sequence.startswith("t1_") and
                         sequence not in ("t1_inphase", "t1_opposed", "t1_pre") else "pre",
                         "n_slices": int(rng.integers(3, 20))})
    return pd.DataFrame(rows)


def assert_no_leakage(splits, folds):
    test_patients = set(splits.loc[splits["set"] == "test", "patient_key"])
    cv = splits[splits["set"] == "cv"]
    assert test_patients and not test_patients & set(cv["patient_key"])
    assert (splits.loc[splits["set"] == "test", "fold"] == -1).all()
    assert set(cv["fold"]) == set(range(folds))
    for k in range(folds):
        train = set(cv.loc[cv["fold"] != k, "patient_key"])
        validation = set(cv.loc[cv["fold"] == k, "patient_key"])
        assert train and validation
        assert not train & validation
        assert not (train | validation) & test_patients
    # Every patient's series share one set and one fold.
    assert (splits.groupby("patient_key")[["set", "fold"]].nunique() == 1).all().all()


@pytest.mark.parametrize(("n_patients", "folds", "seed"), [(30, 5, 42), (10, 2, 7), (57, 4, 1)])
def test_no_patient_in_two_sets_for_any_fold(n_patients, folds, seed):
    series = cohort(n_patients, seed)
    splits = split_series(series, seed=seed, test_fraction=0.2, folds=folds)
    assert len(splits) == len(series)
    assert_no_leakage(splits, folds)
    n_test = splits.loc[splits["set"] == "test", "patient_key"].nunique()
    assert n_test == round(0.2 * n_patients)


def test_same_seed_same_split_and_input_order_does_not_matter():
    series = cohort(40)
    first = split_series(series, seed=3, test_fraction=0.2, folds=5)
    shuffled = series.sample(frac=1, random_state=9)
    second = split_series(shuffled, seed=3, test_fraction=0.2, folds=5)
    pd.testing.assert_frame_equal(first, second)
    other = split_series(series, seed=4, test_fraction=0.2, folds=5)
    assert not first[["set", "fold"]].equals(other[["set", "fold"]])


def test_test_set_is_roughly_stratified():
    series = cohort(50, seed=5)
    splits = split_series(series, seed=5, test_fraction=0.2, folds=5)
    overall = series["label_sequence"].value_counts(normalize=True)
    test = splits.loc[splits["set"] == "test", "label_sequence"].value_counts(normalize=True)
    assert set(test.index) == set(overall.index)
    assert (test.reindex(overall.index) - overall).abs().sum() < 0.1


def test_unlabelled_series_are_not_split_and_rare_classes_only_warn(caplog):
    series = cohort(10, seed=2)
    series.loc[series.index[:3], "label_sequence"] = None
    series.loc[series.index[5], "label_sequence"] = "mrcp_rare"  # one member < folds
    with caplog.at_level(logging.WARNING, logger="mriseq.splits"):
        splits = split_series(series, seed=0, test_fraction=0.2, folds=3)
    assert len(splits) == len(series) - 3
    assert_no_leakage(splits, 3)
    assert any("least populated" in r.getMessage() for r in caplog.records)


def test_too_few_patients_is_one_sentence_naming_the_key():
    with pytest.raises(SplitError, match="split.folds"):
        split_series(cohort(4), seed=0, test_fraction=0.2, folds=5)
    with pytest.raises(SplitError, match="split.test_fraction"):
        split_series(cohort(10), seed=0, test_fraction=1.0, folds=2)


def test_make_splits_files_and_class_counts(tmp_path):
    series = cohort(12, seed=8)
    # Index: n_slices rows per series; one labelled series has no tensors (all slices rejected).
    keep = series.iloc[1:]
    index = keep.loc[keep.index.repeat(keep["n_slices"]), ["series_key"]]
    index.to_parquet(tmp_path / "index.parquet")
    series.drop(columns="n_slices").to_parquet(tmp_path / "series.parquet")
    splits = make_splits(tmp_path / "index.parquet", tmp_path / "series.parquet",
                         tmp_path / "splits.parquet", tmp_path / "class_counts.csv",
                         seed=1, test_fraction=0.25, folds=2)
    stored = pd.read_parquet(tmp_path / "splits.parquet")
    pd.testing.assert_frame_equal(splits.reset_index(drop=True), stored)
    assert series.iloc[0]["series_key"] not in set(stored["series_key"])
    assert list(stored.columns[:8]) == ["volume_key", "series_key", "patient_key",
                                        "label_sequence", "label_orientation", "label_contrast",
                                        "set", "fold"]
    assert_no_leakage(stored, 2)
    counts = pd.read_csv(tmp_path / "class_counts.csv")
    seq = counts[counts["task"] == "sequence"].groupby("split")[["volumes", "slices"]].sum()
    assert seq.loc["test", "volumes"] + seq.loc["cv", "volumes"] == len(stored)
    assert seq.loc["cv", "slices"] == seq.loc["fold0_train", "slices"] + seq.loc[
        "fold0_val", "slices"]
    assert seq.loc["test", "slices"] + seq.loc["cv", "slices"] == stored["n_slices"].sum()
    pd.testing.assert_frame_equal(counts, class_counts(stored, 2).reset_index(drop=True),
                                  check_dtype=False)

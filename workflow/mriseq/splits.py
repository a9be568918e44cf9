"""Leakage-free splits of the train dataset: a patient-level held-out test set, then
StratifiedGroupKFold on the rest (stratified on the sequence label, grouped by patient).

No patient is ever in two of test / train / validation: the test patients are chosen as whole
patients, and the CV folds group by patient. Everything is a function of the seed and the set of
labelled series (input order does not matter: rows are sorted by key first).

Test set: ``round(test_fraction × patients)`` patients (at least one, leaving at least ``folds``
for CV). Among ``TEST_CANDIDATES`` seeded random patient subsets of that size, the one whose
sequence-class proportions are closest (L1) to the whole cohort's is taken, a cheap stratification
that keeps the fraction exact in patients.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd

from mriseq.io import write_csv, write_parquet
from mriseq.models.health import split_warnings
from mriseq.scan.volumes import unit_key, with_volume_key
from mriseq.taxonomy import LABEL_COLUMN, TASKS

log = logging.getLogger("mriseq.splits")

TEST_CANDIDATES = 256
STRATIFY_ON = "label_sequence"


class SplitError(ValueError):
    """The cohort cannot be split as configured (one sentence naming the key)."""


def choose_test_patients(series: pd.DataFrame, test_fraction: float, folds: int,
                         seed: int) -> set[str]:
    """Patients of the held-out test set (see the module docstring)."""
    patients = np.array(sorted(series["patient_key"].unique()))
    n_patients = len(patients)
    if n_patients < folds + 1:
        raise SplitError(
            f"Config key 'split.folds': {folds} folds plus a test set need at least {folds + 1} "
            f"labelled patients, found {n_patients}."
        )
    n_test = min(max(1, round(test_fraction * n_patients)), n_patients - folds)
    classes = sorted(series[STRATIFY_ON].unique())
    # Patients × classes series counts; the target is the cohort's class proportions.
    counts = (pd.crosstab(series["patient_key"], series[STRATIFY_ON])
              .reindex(index=patients, columns=classes, fill_value=0).to_numpy(float))
    target = counts.sum(axis=0) / counts.sum()
    rng = np.random.default_rng(seed)
    best, best_score = None, np.inf
    for _ in range(TEST_CANDIDATES):
        chosen = rng.choice(n_patients, size=n_test, replace=False)
        picked = counts[chosen].sum(axis=0)
        score = np.abs(picked / picked.sum() - target).sum()
        if score < best_score - 1e-12:
            best, best_score = np.sort(chosen), score
    log.info("test set: %d of %d patients (class-proportion L1 distance %.3f)", n_test,
             n_patients, best_score)
    return set(patients[best])


def assign_folds(cv: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """Validation fold of each CV series: StratifiedGroupKFold on the sequence label, grouped by
    patient. Classes rarer than the number of folds cannot be spread over every fold; sklearn
    warns and still groups correctly, so the warning is logged, not raised."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_of = np.full(len(cv), -1, dtype=np.int64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k, (_, validation) in enumerate(
            splitter.split(np.zeros(len(cv)), cv[STRATIFY_ON], groups=cv["patient_key"])
        ):
            fold_of[validation] = k
    for warning in caught:
        log.warning("StratifiedGroupKFold: %s", warning.message)
    empty = sorted(set(range(folds)) - set(fold_of.tolist()))
    if empty:
        raise SplitError(
            f"Config key 'split.folds': fold(s) {empty} received no patient; "
            "lower the number of folds for this cohort."
        )
    return fold_of


def split_series(series: pd.DataFrame, *, seed: int, test_fraction: float,
                 folds: int) -> pd.DataFrame:
    """One row per labelled volume (or series) with ``set`` (test/cv) and ``fold`` (-1 for
    test); a patient's volumes are all in one set and one fold."""
    if not 0 < test_fraction < 1:
        raise SplitError(
            f"Config key 'split.test_fraction': {test_fraction} must lie strictly between 0 and 1."
        )
    if folds < 2:
        raise SplitError(f"Config key 'split.folds': {folds} must be at least 2.")
    labelled = series.loc[series[STRATIFY_ON].notna()].copy()
    labelled = labelled.sort_values(unit_key(labelled), kind="stable").reset_index(drop=True)
    test_patients = choose_test_patients(labelled, test_fraction, folds, seed)
    is_test = labelled["patient_key"].isin(test_patients).to_numpy()
    labelled["set"] = np.where(is_test, "test", "cv")
    labelled["fold"] = np.int64(-1)
    cv = labelled.loc[~is_test].reset_index(drop=True)
    labelled.loc[~is_test, "fold"] = assign_folds(cv, folds, seed)
    labelled["fold"] = labelled["fold"].astype("int64")
    return labelled


def class_counts(splits: pd.DataFrame, folds: int, tasks=TASKS) -> pd.DataFrame:
    """Volume and slice counts per split × task × class. Splits: ``test``, ``cv`` and, for each
    fold k, ``fold{k}_train`` and ``fold{k}_val``."""
    parts = {"test": splits["set"] == "test", "cv": splits["set"] == "cv"}
    for k in range(folds):
        parts[f"fold{k}_train"] = (splits["set"] == "cv") & (splits["fold"] != k)
        parts[f"fold{k}_val"] = (splits["set"] == "cv") & (splits["fold"] == k)
    rows = []
    for name, mask in parts.items():
        subset = splits.loc[mask]
        for task in tasks:
            column = LABEL_COLUMN.get(task, f"label_{task}")
            if column not in subset.columns:
                continue
            grouped = subset.groupby(column)
            for label, group in grouped:
                rows.append({"split": name, "task": task, "class": label,
                             "volumes": len(group), "slices": int(group["n_slices"].sum())})
    return pd.DataFrame(rows, columns=["split", "task", "class", "volumes", "slices"])


def make_splits(index_path: str | os.PathLike, volumes_path: str | os.PathLike,
                splits_out: str | os.PathLike, class_counts_out: str | os.PathLike,
                warnings_out: str | os.PathLike | None = None, *, seed: int,
                test_fraction: float = 0.2, folds: int = 5, tasks=TASKS) -> pd.DataFrame:
    """Split the labelled volumes that have at least one preprocessed slice (``volumes_path``:
    the scan's volumes.parquet; a series table is read as one volume per series); write
    ``splits.parquet``, ``class_counts.csv`` and (``warnings_out``) the classes too rare for the
    folds or absent from the test set (:func:`mriseq.models.health.split_warnings`)."""
    volumes = with_volume_key(pd.read_parquet(volumes_path))
    index = pd.read_parquet(index_path)
    unit = unit_key(index)
    label_columns = [LABEL_COLUMN.get(t, f"label_{t}") for t in tasks]
    missing = [c for c in ["series_key", "patient_key", STRATIFY_ON] if c not in volumes.columns]
    if missing:
        raise SplitError(f"{volumes_path}: missing column(s) {', '.join(missing)}.")
    n_slices = index[unit].value_counts().rename("n_slices")
    table = volumes[["volume_key", "series_key", "patient_key",
                     *[c for c in label_columns if c in volumes.columns]]]
    table = table.drop_duplicates("volume_key").merge(
        n_slices, left_on=unit, right_index=True, how="inner")
    for column in label_columns:
        if column not in table.columns:
            table[column] = pd.Series(pd.NA, index=table.index, dtype="str")
    n_unlabelled = int(table[STRATIFY_ON].isna().sum())
    splits = split_series(table, seed=seed, test_fraction=test_fraction, folds=folds)
    splits = splits[["volume_key", "series_key", "patient_key", *label_columns, "set", "fold",
                     "n_slices"]]
    write_parquet(splits, splits_out)
    counts = class_counts(splits, folds, tasks)
    write_csv(counts, class_counts_out)
    warned = split_warnings(splits, folds, {t: LABEL_COLUMN.get(t, f"label_{t}") for t in tasks})
    if warnings_out is not None:
        write_csv(warned, warnings_out)
    by_set = splits.groupby(["set", "fold"]).agg(volumes=("volume_key", "size"),
                                                 series=("series_key", "nunique"),
                                                 patients=("patient_key", "nunique"))
    log.info("split %d labelled volumes (%d unlabelled skipped) of %d patients:\n%s",
             len(splits), n_unlabelled, splits["patient_key"].nunique(), by_set.to_string())
    return splits

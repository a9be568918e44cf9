"""Training health checks: the signs that a fold model learnt nothing useful, said where a user
looks (the fold's log, ``val_metrics.json``, the training-health table and the report).

A model trained on a real archive can fail quietly: the workflow runs end to end, every file is
written, and the network predicts one or two classes everywhere. These checks compare each fold
model with what needs no learning at all:

- ``below_majority``: validation accuracy below always predicting the training set's most
  frequent class (by more than ``NOISE_MARGIN``);
- ``at_chance``: validation balanced accuracy at or below chance (``1 / k`` for the ``k`` classes
  the validation fold holds), which is what a constant prediction scores;
- ``first_epoch_loss_high``: mean training loss of the first epoch above ``LOSS_FACTOR`` times the
  loss of a uniform guess (``ln k`` over the classes trained on): a sign of wrong class weights or
  of inputs the network cannot read, long before validation says so;
- ``val_missing_classes``: classes trained on that the validation fold lacks (their recall is
  never measured, so a fold's metrics say nothing about them);
- ``below_hist_rf`` (across models, :func:`health_table`): validation accuracy or balanced
  accuracy below the histogram random forest on the same fold, the cheapest pixel model (by more
  than ``NOISE_MARGIN``).

The comparisons with a baseline allow ``NOISE_MARGIN``. One validation fold of an archive holds a
few dozen series, and a long series is hundreds of correlated slices, so two models of equal
skill differ there by a few thousandths; a flag for such a difference says nothing about either
model, and a table full of them teaches a user to ignore the one that matters (a model that
learnt nothing trails the baselines by tenths).

The split summary adds :func:`split_warnings`: a class in fewer patients than ``folds + 1``
cannot be in every validation fold and the test set, and the classes the test set lacks are never
tested.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq.metrics import balanced_accuracy_of

log = logging.getLogger("mriseq.models.health")

# "Far above" a uniform guess: a sound first epoch starts near ln k and falls; weights that
# overcorrect the class balance by orders of magnitude start at several times ln k.
LOSS_FACTOR = 2.0
# How far below a baseline a fold model must fall to be flagged (an absolute accuracy difference).
NOISE_MARGIN = 0.01
HEALTH_COLUMNS = ["task", "model", "fold", "flag", "detail"]
SPLIT_WARNING_COLUMNS = ["task", "class", "patients", "needed", "issue"]


def fold_health(train_labels: np.ndarray, val_labels: np.ndarray, val_predicted: np.ndarray,
                classes: Sequence[str], first_epoch_loss: float | None = None) -> dict:
    """The checks one fold job can make on its own (all but ``below_hist_rf``).

    Labels are class indices (negative = unlabelled, ignored). Returns the figures and a list of
    ``flags`` (``{"flag", "detail"}``) for ``val_metrics.json``.
    """
    train_labels = np.asarray(train_labels, dtype=np.int64)
    val_labels = np.asarray(val_labels, dtype=np.int64)
    val_predicted = np.asarray(val_predicted, dtype=np.int64)
    train_labels = train_labels[train_labels >= 0]
    keep = val_labels >= 0
    val_labels, val_predicted = val_labels[keep], val_predicted[keep]
    trained = sorted(set(train_labels.tolist()))
    in_val = sorted(set(val_labels.tolist()))
    flags: list[dict] = []
    out: dict = {"trained_classes": [classes[c] for c in trained],
                 "val_classes": [classes[c] for c in in_val]}
    if len(train_labels) and len(val_labels):
        majority = int(np.bincount(train_labels).argmax())
        majority_accuracy = float(np.mean(val_labels == majority))
        accuracy = float(np.mean(val_labels == val_predicted))
        balanced = balanced_accuracy_of(val_labels, val_predicted, len(classes))
        chance = 1.0 / len(in_val)
        out.update(majority_class=classes[majority], majority_accuracy=majority_accuracy,
                   chance_balanced_accuracy=chance)
        if accuracy < majority_accuracy - NOISE_MARGIN:
            flags.append({"flag": "below_majority", "detail": (
                f"validation accuracy {accuracy:.3f} < {majority_accuracy:.3f} of always "
                f"predicting {classes[majority]!r}")})
        if len(in_val) > 1 and balanced <= chance:
            flags.append({"flag": "at_chance", "detail": (
                f"validation balanced accuracy {balanced:.3f} <= chance {chance:.3f} "
                f"({len(in_val)} classes)")})
    if first_epoch_loss is not None and len(trained) > 1:
        uniform = math.log(len(trained))
        out.update(first_epoch_loss=float(first_epoch_loss), uniform_guess_loss=uniform)
        if first_epoch_loss > LOSS_FACTOR * uniform:
            flags.append({"flag": "first_epoch_loss_high", "detail": (
                f"first-epoch training loss {first_epoch_loss:.3f} > {LOSS_FACTOR:g} × "
                f"{uniform:.3f} (uniform guess over {len(trained)} classes)")})
    missing = [classes[c] for c in trained if c not in in_val]
    if missing and len(val_labels):
        flags.append({"flag": "val_missing_classes", "detail": (
            f"validation fold lacks trained class(es) {', '.join(missing)}")})
    out["flags"] = flags
    return out


def log_flags(health: dict, name: str) -> None:
    """One warning per flag in the fold's log (silent when healthy)."""
    for flag in health["flags"]:
        log.warning("training health: %s %s: %s", name, flag["flag"], flag["detail"])
    if not health["flags"]:
        log.info("training health: %s: no flag", name)


def health_table(val_metrics: dict[str, Sequence[str]], task: str,
                 reference: str = "hist_rf") -> pd.DataFrame:
    """Every flag of every fold model of ``task`` (``val_metrics`` maps model to its fold files in
    fold order), plus ``below_hist_rf`` where a model's validation accuracy or balanced accuracy
    falls more than ``NOISE_MARGIN`` below the ``reference`` model's on the same fold. One row
    per flag."""
    loaded = {model: [json.loads(Path(p).read_text()) for p in paths]
              for model, paths in val_metrics.items()}
    rows = []
    for model, folds in loaded.items():
        for fold, metrics in enumerate(folds):
            for flag in (metrics.get("health") or {}).get("flags", []):
                rows.append({"task": task, "model": model, "fold": fold, **flag})
            if model == reference or reference not in loaded:
                continue
            base = loaded[reference][fold]
            for metric in ("accuracy", "balanced_accuracy"):
                ours, theirs = metrics.get(metric), base.get(metric)
                if ours is not None and theirs is not None and ours < theirs - NOISE_MARGIN:
                    rows.append({"task": task, "model": model, "fold": fold,
                                 "flag": f"below_{reference}", "detail": (
                                     f"validation {metric.replace('_', ' ')} {ours:.3f} < "
                                     f"{theirs:.3f} of {reference}")})
    table = pd.DataFrame(rows, columns=HEALTH_COLUMNS)
    for row in table.itertuples():
        log.warning("training health: %s %s fold %d: %s: %s", row.task, row.model, row.fold,
                    row.flag, row.detail)
    if table.empty:
        log.info("training health: %s: no flag on any model or fold", task)
    return table


def split_warnings(splits: pd.DataFrame, folds: int,
                   label_columns: dict[str, str]) -> pd.DataFrame:
    """Classes that cannot be in every validation fold and the test set (fewer patients than
    ``folds + 1``), and classes of the cohort that the test set lacks. ``label_columns`` maps task
    to its label column in ``splits``."""
    rows = []
    for task, column in label_columns.items():
        if column not in splits.columns:
            continue
        labelled = splits.loc[splits[column].notna()]
        patients = labelled.groupby(column)["patient_key"].nunique()
        in_test = set(labelled.loc[labelled["set"] == "test", column])
        for cls, n in patients.items():
            if n < folds + 1:
                rows.append({"task": task, "class": cls, "patients": int(n), "needed": folds + 1,
                             "issue": "fewer patients than folds + 1: cannot be in every "
                                      "validation fold and the test set"})
            if cls not in in_test:
                rows.append({"task": task, "class": cls, "patients": int(n), "needed": folds + 1,
                             "issue": "absent from the test set: never tested"})
    table = pd.DataFrame(rows, columns=SPLIT_WARNING_COLUMNS)
    for row in table.itertuples():
        log.warning("split: %s class %r (%d patients): %s", row.task, row[2], row.patients,
                    row.issue)
    return table

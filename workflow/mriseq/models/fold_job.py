"""What every family's fold job does the same way: refuse a fold with nothing to learn, score the
validation fold (metrics and training health), check that a stored model knows the configured
classes, and write the fold's metadata in one shape.

Each family trains and predicts in its own way; this module holds the steps around that, so a
new family gets the same errors, flags and metadata fields without copying them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mriseq.metrics import classification_metrics
from mriseq.models.health import fold_health, log_flags
from mriseq.models.training_data import TrainingDataError
from mriseq.provenance import package_versions


def require_training_rows(positions: dict[str, np.ndarray], fold: int, tasks: Sequence[str],
                          source: str) -> None:
    """Stop a fold job whose training fold has no labelled slice, in one sentence."""
    if len(positions["train"]) == 0:
        what = f"task {tasks[0]!r}" if len(tasks) == 1 else f"task(s) {', '.join(tasks)}"
        raise TrainingDataError(
            f"Fold {fold} of {what} has no labelled training slices in {source!r}."
        )


def score_fold(model: str, task: str, fold: int, classes: Sequence[str], *,
               train_labels: np.ndarray, val_labels: np.ndarray, predicted: np.ndarray,
               first_epoch_loss: float | None = None, **extra: Any) -> dict[str, Any]:
    """The fold's ``val_metrics.json`` content: metrics of the validation calls, the training
    health flags (logged too) and ``extra`` fields (e.g. the CNN's best epoch)."""
    metrics = classification_metrics(val_labels, predicted, list(classes))
    health = fold_health(train_labels, val_labels, predicted, list(classes),
                         first_epoch_loss=first_epoch_loss)
    log_flags(health, f"{model} {task} fold {fold}")
    metrics.update(model=model, task=task, fold=int(fold), **extra, health=health)
    return metrics


def cpu_device(threads: int) -> dict[str, Any]:
    """The device record of a job that runs on the CPU only (the forests)."""
    return {"type": "CPU", "threads": int(threads)}


def fold_metadata(model: str, task: str, fold: int, classes: Sequence[str], *, seed: int,
                  job_seed: int, config_hash: str, device: dict[str, Any], train_slices: int,
                  val_slices: int, settings: dict[str, Any],
                  after: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fold's ``metadata.json``: who it is, how it was seeded and configured (``settings``:
    the family's own fields), the software and device, and what it saw (``after``: the family's
    counts). No timings: the same config gives the same bytes (timings are logged)."""
    return {
        "model": model, "task": task, "fold": int(fold), "classes": list(classes),
        "seed": int(seed), "job_seed": int(job_seed), "config_hash": config_hash,
        **settings,
        "packages": package_versions(), "device": device,
        "train_slices": int(train_slices), "val_slices": int(val_slices),
        **(after or {}),
    }


def check_classes(trained: Sequence[str], classes: Sequence[str], path: str, task: str) -> None:
    """Stop a prediction with a model trained on other classes than the config's taxonomy."""
    if list(trained) != list(classes):
        raise ValueError(
            f"Model {path!r} was trained on classes {list(trained)}, the config's "
            f"taxonomy.{task} is {list(classes)}; retrain it."
        )

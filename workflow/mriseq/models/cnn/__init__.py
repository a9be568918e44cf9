"""The slice CNN as a model family: its network (``network``), input pipeline (``pipeline``),
training (``training``), prediction (``prediction``), Grad-CAM and learning curves.

Reads the memory-mapped slice tensors; GPU-ready (a cluster gives its jobs a GPU; without one it
runs on the CPU). Its settings are the config's ``train`` section without the task and family
lists. With ``train.heads: shared`` (the default) a fold model is one network with a head per
task: one training job per fold, one prediction job per dataset, one pass per slice for the
three tasks. With ``per_task`` each task has its own network per fold (three passes per slice).
A fold writes the model plus per task the training history and the learning-curve plot.
"""

from __future__ import annotations

from typing import Any

from mriseq.io import write_parquet
from mriseq.models.cnn.gradcam import gradcam_grid
from mriseq.models.cnn.learning_curves import plot_learning_curves
from mriseq.models.cnn.prediction import predict_cnn
from mriseq.models.cnn.training import train_cnn
from mriseq.models.family import ModelFamily, task_file

# Per task and fold, besides the common outputs (mriseq.models).
PER_TASK_FILES = {"history": "history.csv", "curve": "learning_curve.png"}


def settings(config) -> dict[str, Any]:
    # Not the task and family lists: adding either must not retrain these models.
    return {key: value for key, value in config["train"].items()
            if key not in ("tasks", "models")}


def multi_task(config) -> bool:
    return config["train"]["heads"] == "shared"


def _task_outputs(outputs, tasks):
    """Each task's files of a fold job (plain names in a one-task job, <name>_<task> in a
    multi-task one)."""
    names = ("history", "curve", "val_metrics", "metadata", "val_predictions")
    return {task: {name: task_file(outputs, name, task) for name in names} for task in tasks}


def train(inputs, outputs, *, fold, seed, settings, threads, task=None, classes=None,
          tasks=None) -> dict[str, Any]:
    tasks = dict(tasks) if tasks is not None else {task: list(classes)}
    return train_cnn(list(inputs["tensors"]), inputs["index"], inputs["splits"], tasks=tasks,
                     fold=fold, seed=seed, train=dict(settings), out_model=outputs["model"],
                     outputs=_task_outputs(outputs, tasks), threads=threads)


def predict(inputs, out_path, *, settings, threads, task=None, classes=None, tasks=None):
    tables = predict_cnn(list(inputs["tensors"]), inputs["index"], list(inputs["models"]),
                         tasks=dict(tasks) if tasks is not None else {task: list(classes)},
                         splits_path=inputs.get("splits") or None,
                         batch_size=int(settings["batch_size"]), threads=threads,
                         fold_graph=bool(settings.get("fold_graph", True)))
    if tasks is not None:
        return tables
    if out_path:
        write_parquet(tables[task], out_path)
    return tables[task]


FAMILY = ModelFamily(
    name="cnn", title="CNN", artefact="model.keras", env="tensorflow", features=None,
    settings=settings, train=train, predict=predict, extra_outputs=PER_TASK_FILES,
    multi_task=multi_task, learning_curves=plot_learning_curves, gradcam=gradcam_grid, gpu=True,
)

"""The slice CNN (``mriseq.cnn`` architecture, ``mriseq.train`` recipe) as a model family.

Reads the memory-mapped slice tensors; writes ``model.keras`` plus the training history and the
learning-curve plot per fold; GPU-ready (a cluster gives its jobs a GPU; without one it runs on
the CPU). Its settings are the config's ``train`` section without the task and family lists.
"""

from __future__ import annotations

from typing import Any

from mriseq.models import ModelFamily


def settings(config) -> dict[str, Any]:
    # Not the task and family lists: adding either must not retrain these models.
    return {key: value for key, value in config["train"].items()
            if key not in ("tasks", "models")}


def train(inputs, outputs, *, task, fold, classes, seed, settings, threads) -> dict[str, Any]:
    from mriseq.train import train_cnn

    return train_cnn(list(inputs["tensors"]), inputs["index"], inputs["splits"], task=task,
                     classes=classes, fold=fold, seed=seed, train=dict(settings),
                     out_model=outputs["model"], out_history=outputs["history"],
                     out_val_metrics=outputs["val_metrics"], out_curve=outputs["curve"],
                     out_metadata=outputs["metadata"],
                     out_val_predictions=outputs.get("val_predictions"), threads=threads)


def predict(inputs, out_path, *, task, classes, settings, threads):
    from mriseq.predict import predict_cnn

    return predict_cnn(list(inputs["tensors"]), inputs["index"], list(inputs["models"]),
                       task=task, classes=classes, out_path=out_path,
                       splits_path=inputs.get("splits") or None,
                       batch_size=int(settings["batch_size"]), threads=threads,
                       fold_graph=bool(settings.get("fold_graph", True)))


FAMILY = ModelFamily(
    name="cnn", title="CNN", artefact="model.keras", env="tensorflow", features=None,
    settings=settings, train=train, predict=predict,
    extra_outputs={"history": "history.csv", "curve": "learning_curve.png"}, gpu=True,
)

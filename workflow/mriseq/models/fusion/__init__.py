"""Header and pixels together as a model family (the model: :mod:`mriseq.models.fusion.model`):
a forest on each slice's header features and the CNN's calibrated out-of-fold probabilities,
trained with header fields dropped or corrupted at random."""

from __future__ import annotations

from typing import Any

from mriseq.models.family import ModelFamily
from mriseq.models.fusion.model import predict_fusion, train_fusion

STACKS = ("cnn",)


def settings(config) -> dict[str, Any]:
    fusion = config["fusion"]
    return {"forest": {"n_estimators": fusion["n_estimators"], "max_depth": fusion["max_depth"]},
            "header_corruption": fusion["header_corruption"],
            "class_weighting": config["train"]["class_weighting"],
            "max_class_weight": config["train"]["max_class_weight"]}


def train(inputs, outputs, *, task, fold, classes, seed, settings, threads) -> dict[str, Any]:
    return train_fusion(inputs, outputs, task=task, fold=fold, classes=classes, seed=seed,
                        settings=settings, stacks=STACKS, threads=threads)


def predict(inputs, out_path, *, task, classes, settings, threads):
    return predict_fusion(inputs, out_path, task=task, classes=classes, stacks=STACKS,
                          threads=threads)


FAMILY = ModelFamily(
    name="fusion", title="fusion", artefact="model.joblib", env="data", features="header",
    settings=settings, train=train, predict=predict, stacks=STACKS,
)

"""What the two random-forest families share: the settings, and training and prediction on a
feature table (``mriseq.models.forest.model``)."""

from __future__ import annotations

from typing import Any

from mriseq.models.forest.model import predict_baseline, train_baseline


def settings(config) -> dict[str, Any]:
    return {"baselines": config["baselines"],
            "class_weighting": config["train"]["class_weighting"],
            "max_class_weight": config["train"]["max_class_weight"]}


def trainer(name: str):
    def train(inputs, outputs, *, task, fold, classes, seed, settings, threads) -> dict[str, Any]:
        return train_baseline(inputs["features"], inputs["index"], inputs["splits"],
                              model_name=name, task=task, classes=classes, fold=fold, seed=seed,
                              baselines=dict(settings["baselines"]),
                              class_weighting=settings["class_weighting"],
                              max_class_weight=settings["max_class_weight"],
                              out_model=outputs["model"], out_val_metrics=outputs["val_metrics"],
                              out_metadata=outputs["metadata"],
                              out_val_predictions=outputs.get("val_predictions"),
                              threads=threads)

    return train


def predict(inputs, out_path, *, task, classes, settings, threads):
    return predict_baseline(inputs["features"], inputs["index"], list(inputs["models"]),
                            task=task, classes=classes, out_path=out_path,
                            splits_path=inputs.get("splits") or None, threads=threads)

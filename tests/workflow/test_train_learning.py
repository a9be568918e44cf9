"""The CNN learns: 25 epochs of training on the fabricated dataset (tests/train_fixtures.py) reach
high validation accuracy, for one task and for one network with a head per task. The training
stage's plumbing (outputs, determinism, weights) is tested in tests/unit/test_train.py."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mriseq.models.cnn.training import train_cnn
from train_fixtures import SEQUENCES, TRAIN_CONFIG, fabricate, task_files


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return fabricate(tmp_path_factory.mktemp("ds"), patients=10, size=32, slices=4, folds=2)


def test_cnn_learns_the_fabricated_sequences(dataset, tmp_path):
    """Enough epochs on the easy fabricated signal reach high validation accuracy: the whole
    path (labels, weights, pipeline, early stopping) is wired correctly."""
    config = {**TRAIN_CONFIG, "epochs": 25, "patience": 25, "max_slices_per_series": 0,
              "learning_rate": 0.01,
              "architecture": {"filters": [8, 16], "dense_units": 16, "dropout": 0.1}}
    out = tmp_path / "m"
    train_cnn(dataset["tensors"], dataset["index"], dataset["splits"],
              tasks={"sequence": SEQUENCES}, fold=1, seed=0, train=config,
              out_model=str(out / "m.keras"), outputs={"sequence": task_files(out)})
    metrics = json.loads((out / "val_metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9, metrics


def test_multi_task_cnn_learns_every_task_with_one_network(dataset, tmp_path):
    """One network with a head per task: every task learns the fabricated signal, each task's
    files are written under its own names, and a slice without a task's label does not enter
    that head's loss (its weight is 0)."""
    index = dataset["index_frame"].copy()
    # Half of the slices lose their contrast label: the other heads still train on them.
    index.loc[index.index % 2 == 0, "label_contrast"] = None
    index_path = tmp_path / "index.parquet"
    index.to_parquet(index_path, index=False)
    config = {**TRAIN_CONFIG, "epochs": 25, "patience": 25, "max_slices_per_series": 0,
              "learning_rate": 0.01,
              "architecture": {"filters": [8, 16], "dense_units": 16, "dropout": 0.1}}
    tasks = {"sequence": SEQUENCES, "orientation": ["axial", "coronal", "sagittal", "oblique"],
             "contrast": ["pre", "post"]}
    outputs = {task: task_files(tmp_path / task) for task in tasks}
    written = train_cnn(dataset["tensors"], str(index_path), dataset["splits"], tasks=tasks,
                        fold=1, seed=0, train=config, out_model=str(tmp_path / "model.keras"),
                        outputs=outputs)
    import keras

    model = keras.models.load_model(tmp_path / "model.keras")
    assert len(model.outputs) == 3
    assert [layer.name for layer in model.layers[-3:]] == list(tasks)
    for task in tasks:
        metrics = json.loads(open(outputs[task]["val_metrics"]).read())
        assert metrics["task"] == task and metrics["accuracy"] >= 0.9, (task, metrics)
        history = pd.read_csv(outputs[task]["history"])
        assert {"loss", "val_loss", "accuracy", "val_accuracy", "total_loss"} <= set(history)
        assert written[task]["tasks_of_network"] == list(tasks)
        predictions = pd.read_parquet(outputs[task]["val_predictions"])
        assert predictions["y_true"].notna().all()
    assert written["contrast"]["train_slices"] < written["sequence"]["train_slices"]
    assert written["contrast"]["val_slices"] == len(pd.read_parquet(
        outputs["contrast"]["val_predictions"])) < written["sequence"]["val_slices"]

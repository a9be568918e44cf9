"""Model families are a registry: a family defined here, outside the package, runs through the
workflow's training, prediction, evaluation, training-health table and report untouched."""

from __future__ import annotations

import textwrap

import pandas as pd
from conftest import case_config, copy_workdir, run_snakemake

# A family that always predicts the training folds' most frequent class: everything a family
# needs, and nothing else.
MAJORITY_FAMILY = '''
"""Always the training folds' most frequent class (a test family)."""

import json

import numpy as np
import pandas as pd

from mriseq import io
from mriseq.models.health import fold_health
from mriseq.metrics import classification_metrics
from mriseq.models import ModelFamily
from mriseq.result_paths import fold_of
from mriseq.models.predictions import prediction_table, rows_to_predict
from mriseq.models.training_data import encode_labels, fold_positions


def settings(config):
    return {}


def train(inputs, outputs, *, task, fold, classes, seed, settings, threads):
    index = pd.read_parquet(inputs["index"])
    labels = encode_labels(index, task, classes)
    parts = fold_positions(index, pd.read_parquet(inputs["splits"]), fold, labels)
    majority = int(np.bincount(labels[parts["train"]], minlength=len(classes)).argmax())
    io.write_text(json.dumps({"class": majority}), outputs["model"])
    predicted = np.full(len(parts["val"]), majority)
    probabilities = np.zeros((len(parts["val"]), len(classes)), np.float32)
    probabilities[:, majority] = 1.0
    io.write_parquet(prediction_table(index, parts["val"], fold, task, classes, probabilities),
                     outputs["val_predictions"])
    metrics = classification_metrics(labels[parts["val"]], predicted, classes)
    metrics["health"] = fold_health(labels[parts["train"]], labels[parts["val"]], predicted,
                                    classes)
    io.write_json(metrics, outputs["val_metrics"])
    meta = {"model": "majority", "task": task, "fold": fold, "classes": list(classes)}
    io.write_json(meta, outputs["metadata"])
    return meta


def predict(inputs, out_path, *, task, classes, settings, threads):
    index = pd.read_parquet(inputs["index"]).reset_index(drop=True)
    positions = rows_to_predict(index, inputs.get("splits") or None)
    tables = []
    for path in sorted(inputs["models"], key=fold_of):
        probabilities = np.zeros((len(positions), len(classes)), np.float32)
        probabilities[:, json.loads(open(path).read())["class"]] = 1.0
        tables.append(prediction_table(index, positions, fold_of(path), task, classes,
                                       probabilities))
    table = pd.concat(tables, ignore_index=True)
    if out_path:
        io.write_parquet(table, out_path)
    return table


FAMILY = ModelFamily(name="majority", title="majority class", artefact="model.json", env="data",
                     features="histogram", settings=settings, train=train, predict=predict)
'''


def test_a_family_defined_outside_the_package_runs_through_the_workflow(
        tiny_prepared, tmp_path, monkeypatch):
    """The workflow from the tiny run's tensors and splits (``tiny_prepared``) to the report,
    with the histogram forest and a family defined outside the package only."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "majority_family.py").write_text(textwrap.dedent(MAJORITY_FAMILY))
    monkeypatch.setenv("PYTHONPATH", str(plugins))
    # The histogram forest and the test family only: no CNN, so no TensorFlow job at all.
    configfile = case_config("plugin_family")
    workdir = copy_workdir(tiny_prepared, tmp_path / "work")
    run_snakemake(workdir, "--cores", "2", "figures", configfile=configfile)

    results = workdir / "results"
    assert (results / "models/majority/sequence/fold1/model.json").is_file()
    comparison = pd.read_csv(results / "internal/evaluation/sequence/comparison.csv")
    assert set(comparison["model"]) == {"hist_rf", "majority"}
    # The family's constant prediction scores what the majority-class check expects of it.
    health = pd.read_csv(results / "models/training_health.csv")
    assert "majority" in set(health["model"])
    assert not (results / "models/cnn").exists()
    summary = (results / "report/summary.md").read_text()
    assert "majority class internal" in summary
    page = (results / "report/index.html").read_text()
    # The first listed family leads the report; the test family's matrices follow it.
    assert "hist_rf ensemble, volume level" in page and "majority, volume level" in page

"""The CNN's slice predictions: every fold model over a dataset's slices, in one graph.

One job loops over the folds so TensorFlow starts once per dataset (multi-task networks: one pass
per slice serves every task) or once per dataset and task (a network per task).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from mriseq.models.cnn.network import configure_runtime
from mriseq.models.cnn.pipeline import inference_dataset
from mriseq.models.predictions import combine_tables, prediction_table, rows_to_predict
from mriseq.models.training_data import open_tensors
from mriseq.result_paths import fold_of

log = logging.getLogger("mriseq.models.cnn")


def predict_cnn(tensor_paths: list[str], index_path: str, model_paths: list[str], *,
                tasks: Mapping[str, list[str]], splits_path: str | None = None,
                batch_size: int = 128, threads: int = 1,
                fold_graph: bool = True) -> dict[str, pd.DataFrame]:
    """Run every fold's ``model.keras`` over the dataset's slices: task -> its predictions.

    ``tasks`` (task -> classes) are the heads of the models: every task with multi-task
    networks (one pass per slice serves all), one task with single-task ones. ``fold_graph``
    False runs the folds one after another, as before they shared a graph (kept for make
    bench-predict's comparison)."""
    configure_runtime(threads, 0)
    import keras  # TensorFlow loads in the prediction job only, never at workflow parse time

    tensors = open_tensors(tensor_paths, index_path)
    positions = rows_to_predict(tensors.index, splits_path)
    paths = sorted(model_paths, key=fold_of)
    folds = [fold_of(path) for path in paths]
    models = [keras.models.load_model(path) for path in paths]
    heads = len(tasks)
    if len(positions) and models and (not fold_graph or len(models) == 1):
        outputs = [model.predict(inference_dataset(tensors, positions, batch_size), verbose=0)
                   for model in models]
    elif len(positions) and models:
        # Every fold model in one graph: each batch is read from the memory maps once and
        # passes through all folds in one call (make bench-predict compares it with the loop).
        for fold, model in zip(folds, models, strict=True):
            model.name = f"fold{fold}"  # names are unique within a graph
        inputs = keras.Input(shape=tuple(models[0].inputs[0].shape[1:]))
        together = keras.Model(inputs, [model(inputs) for model in models])
        outputs = together.predict(inference_dataset(tensors, positions, batch_size), verbose=0)
    else:
        empty = [np.zeros((0, len(classes)), np.float32) for classes in tasks.values()]
        outputs = [empty if heads > 1 else empty[0] for _ in models]
    # Per fold model: one array per head, in the order of ``tasks``.
    outputs = [list(output) if heads > 1 else [output] for output in outputs]
    tables = {}
    for head, (task, classes) in enumerate(tasks.items()):
        tables[task] = combine_tables(
            [prediction_table(tensors.index, positions, fold, task, classes, output[head])
             for fold, output in zip(folds, outputs, strict=True)], classes)
    log.info("cnn %s: %d slices predicted by folds %s (batches of %d)", ", ".join(tasks),
             len(positions), folds, batch_size)
    keras.backend.clear_session()
    return tables

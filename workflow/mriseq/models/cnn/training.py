"""Train one fold's CNN, a head per task on one trunk (or one task's network), and write its
model and per task its history, metrics and metadata.

Outputs (docs/contracts.md): the model (``results/models/cnn/fold{fold}/model.keras`` with a head
per task, ``results/models/cnn/{task}/fold{fold}/model.keras`` with one task's), and per task under
``results/models/cnn/{task}/fold{fold}/``: ``history.csv``, ``val_metrics.json``,
``val_predictions.parquet``, ``learning_curve.png``, ``metadata.json``. """

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mriseq import io
from mriseq.defaults import with_defaults
from mriseq.models.balance import balanced_class_weights, drawn_labels
from mriseq.models.cnn.learning_curves import plot_fold_curve
from mriseq.models.cnn.network import build_cnn, compile_cnn, configure_runtime
from mriseq.models.cnn.pipeline import epoch_samples, inference_dataset, training_dataset
from mriseq.models.fold_job import fold_metadata, require_training_rows, score_fold
from mriseq.models.predictions import prediction_table
from mriseq.models.training_data import (
    encode_labels,
    fold_positions,
    open_tensors,
)
from mriseq.provenance import config_hash, derive_seed
from mriseq.scan.volumes import unit_key

log = logging.getLogger("mriseq.models.cnn.training")


class _Throughput:
    """Keras callback measuring the time spent in the training part of each epoch (validation
    excluded), so images/s is the training throughput."""

    def __new__(cls, *args, **kwargs):
        import keras

        class Callback(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epoch_seconds: list[float] = []
                self._start = 0.0
                self._open = False

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()
                self._open = True

            def on_test_begin(self, logs=None):
                self._close()

            def on_epoch_end(self, epoch, logs=None):
                self._close()

            def _close(self):
                if self._open:
                    self.epoch_seconds.append(time.perf_counter() - self._start)
                    self._open = False

        return Callback()


def train_cnn(
    tensor_paths: list[str],
    index_path: str,
    splits_path: str,
    *,
    tasks: Mapping[str, list[str]],
    fold: int,
    seed: int,
    train: dict[str, Any],
    out_model: str,
    outputs: Mapping[str, Mapping[str, str]],
    threads: int = 1,
    dpi: int = 100,
) -> dict[str, dict[str, Any]]:
    """Train the fold's CNN on the memory-mapped tensors: one network with a head per task of
    ``tasks`` (task -> classes; one task: the single-task network), saved to ``out_model``.

    ``outputs[task]`` names the task's files: ``history``, ``val_metrics``, ``curve``,
    ``metadata`` and optionally ``val_predictions``. ``train`` is the config's ``train``
    section. Returns the metadata per task, with the timings.
    """
    train = with_defaults(train, "train")  # a caller outside the workflow may pass a few keys
    names = list(tasks)
    single = len(names) == 1
    job_seed = derive_seed(seed, "+".join(names), fold)
    device = configure_runtime(threads, job_seed)
    import keras

    tensors = open_tensors(tensor_paths, index_path)
    splits = pd.read_parquet(splits_path)
    labels = {task: encode_labels(tensors.index, task, classes) for task, classes in tasks.items()}
    # The network trains on every slice with a label for some task; a head's loss skips the
    # slices without its own (their weight is 0).
    positions = fold_positions(tensors.index, splits, fold,
                               np.max(np.stack(list(labels.values())), axis=0))
    require_training_rows(positions, fold, names, index_path)
    n_classes = {task: len(classes) for task, classes in tasks.items()}
    rng = np.random.default_rng(job_seed)
    epochs = int(train["epochs"])
    batch_size = int(train["batch_size"])
    volume_codes = pd.factorize(tensors.index[unit_key(tensors.index)])[0]
    samples = epoch_samples(volume_codes, positions["train"],
                            int(train["max_slices_per_series"]), epochs, rng)
    weights = dict.fromkeys(names)
    if train["class_weighting"] == "balanced":
        # From the per-epoch draw, not from every training slice: the draw is what the loss sees.
        weights = {task: balanced_class_weights(drawn_labels(samples, labels[task]),
                                                n_classes[task], float(train["max_class_weight"]))
                   for task in names}
    steps = int(np.ceil(samples.shape[1] / batch_size))
    # Quarter turns and mirror images change neither the plane of a slice, nor its sequence, nor
    # its contrast. For the plane they let an oblique seen cutting the body at the top and bottom
    # teach the same plane cutting it left and right; for the other tasks the invariance costs
    # more of a short budget than it gives, so it is chosen per task (a network serving several
    # turns its slices when one of them is listed).
    turned = any(task in train["augmentation"]["quarter_turns"] for task in names)
    symmetries = (np.random.default_rng(job_seed + 2).integers(0, 8, size=samples.shape)
                  .astype(np.int8) if turned else None)
    head = (lambda values: values[names[0]]) if single else (lambda values: values)
    train_ds = training_dataset(tensors, samples, head(labels), head(n_classes), batch_size,
                                head(weights), symmetries)
    has_val = len(positions["val"]) > 0
    # Early stopping watches the same per-series slice cap as training (a fixed draw): validating
    # every slice each epoch would cost as much as the training itself; the reported
    # val_metrics.json uses every validation slice.
    monitor_positions = np.sort(epoch_samples(
        volume_codes, positions["val"], int(train["max_slices_per_series"]), 1,
        np.random.default_rng(job_seed + 1))[0]) if has_val else positions["val"]
    val_ds = (inference_dataset(tensors, monitor_positions, batch_size, head(labels),
                                head(n_classes)) if has_val else None)
    log.info("task(s) %s fold %d: %d train slices (%d per epoch, %d steps), %d validation "
             "slices, classes %s, device %s", ", ".join(names), fold, len(positions["train"]),
             samples.shape[1], steps, len(positions["val"]), dict(tasks), device["type"])

    model = build_cnn(tensors.size, head(n_classes), train["architecture"],
                      train["augmentation"], seed=job_seed)
    compile_cnn(model, float(train["learning_rate"]), total_steps=epochs * steps)
    throughput = _Throughput()
    monitor = "val_loss" if has_val else "loss"
    # Early stopping restores the epoch of lowest validation loss (with several heads, their
    # sum), watched only from warmup_epochs on: a validation fold dominated by one patient's hard
    # series (an oblique 3D dynamic, hundreds of slices) can make the first epoch the lowest,
    # before anything is learnt, and restoring it leaves a model below the majority class.
    warmup = int(train["warmup_epochs"])
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=int(train["patience"]),
                                      restore_best_weights=True, start_from_epoch=warmup),
        throughput,
    ]
    started = time.perf_counter()
    fit = model.fit(train_ds, epochs=epochs, steps_per_epoch=steps, validation_data=val_ds,
                    callbacks=callbacks, shuffle=False, verbose=2)
    training_seconds = time.perf_counter() - started
    with io.atomic_path(out_model, suffix=".keras") as tmp:
        model.save(tmp)

    network = pd.DataFrame(fit.history)
    network.insert(0, "epoch", np.arange(1, len(network) + 1))
    best = best_epoch(network[monitor].to_numpy(), warmup)
    if has_val:
        probabilities = model.predict(inference_dataset(tensors, positions["val"], batch_size),
                                      verbose=0)
        probabilities = [probabilities] if single else list(probabilities)
    else:
        probabilities = [np.zeros((0, n), np.float32) for n in n_classes.values()]
    images = int(samples.shape[1]) * len(network)
    train_phase = float(np.sum(throughput.epoch_seconds))
    steady = throughput.epoch_seconds[1:]
    # Timings go to the log, not the metadata: the same config then gives the same metadata.json
    # byte for byte, whatever the machine's load (the host name stays out for the same reason).
    timing = {
        "training_seconds": round(training_seconds, 3),
        "images_per_second": round(images / train_phase, 1) if train_phase > 0 else None,
        "images_per_second_after_first_epoch": (
            round(samples.shape[1] * len(steady) / sum(steady), 1) if steady else None
        ),
    }
    written = {}
    for (task, classes), task_probabilities in zip(tasks.items(), probabilities, strict=True):
        files = outputs[task]
        history = network if single else _head_history(network, task)
        io.write_csv(history, files["history"])
        plot_fold_curve(history, f"{task}, fold {fold}", files["curve"], dpi)
        # Each task is scored on its own labelled validation slices.
        val = labels[task][positions["val"]] >= 0
        task_val = positions["val"][val]
        task_probabilities = task_probabilities[val]
        predicted = task_probabilities.argmax(axis=1)
        if files.get("val_predictions"):
            # Uncalibrated: the temperature is fitted on exactly these (mriseq.models.calibration).
            io.write_parquet(prediction_table(tensors.index, task_val, fold, task, classes,
                                              task_probabilities), files["val_predictions"])
        task_train = positions["train"][labels[task][positions["train"]] >= 0]
        drawn = labels[task][samples[0]]  # one epoch's draw
        metrics = score_fold("cnn", task, fold, classes, train_labels=labels[task][task_train],
                             val_labels=labels[task][task_val], predicted=predicted,
                             first_epoch_loss=float(history["loss"].iloc[0]), best_epoch=best)
        io.write_json(metrics, files["val_metrics"])
        meta = fold_metadata(
            "cnn", task, fold, classes, seed=seed, job_seed=job_seed,
            config_hash=config_hash("+".join(names), classes, seed, train), device=device,
            train_slices=len(task_train), val_slices=len(task_val),
            settings={"tasks_of_network": names, "train_config": train},
            after={
                "epochs_run": int(len(network)),
                "best_epoch": best,
                "train_slices_per_epoch": int(samples.shape[1]),
                "val_slices_monitored": int(len(monitor_positions)),
                "class_weights": (None if weights[task] is None
                                  else [float(w) for w in weights[task]]),
                "train_slices_per_class_per_epoch": np.bincount(
                    drawn[drawn >= 0], minlength=len(classes)).tolist(),
                "parameters": int(model.count_params()),
            },
        )
        io.write_json(meta, files["metadata"])
        log.info("%s: val accuracy %s, macro-F1 %s", task, metrics["accuracy"],
                 metrics["macro_f1"])
        written[task] = {**meta, **timing}
    log.info("done in %.1f s: %s images/s (%s after the first epoch)", training_seconds,
             timing["images_per_second"], timing["images_per_second_after_first_epoch"])
    return written


def _head_history(network: pd.DataFrame, task: str) -> pd.DataFrame:
    """One head's columns of a multi-task network's history under the single-task names (loss,
    accuracy, val_loss, val_accuracy), the network's summed losses as total_loss and
    val_total_loss."""
    renamed = {"loss": "total_loss", "val_loss": "val_total_loss"}
    for prefix in ("", "val_"):
        for metric in ("loss", "accuracy"):
            renamed[f"{prefix}{task}_{metric}"] = f"{prefix}{metric}"
    columns = ["epoch", *[c for c in renamed if c in network],
               *(["learning_rate"] if "learning_rate" in network else [])]
    return network[columns].rename(columns=renamed)


def best_epoch(monitored: np.ndarray, warmup: int) -> int:
    """The 1-based epoch whose weights early stopping kept: the lowest monitored value from
    ``warmup`` on, or the last epoch when training ended within the warm-up."""
    if warmup >= len(monitored):
        return int(len(monitored))
    return int(warmup + np.asarray(monitored)[warmup:].argmin() + 1)



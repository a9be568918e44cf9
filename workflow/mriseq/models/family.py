"""The contract every model family fulfils: what a family reads, writes and offers.

A leaf of :mod:`mriseq.models`: the registry and every family package import it, it imports
none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def single_task(config: Mapping[str, Any]) -> bool:
    """The default of :attr:`ModelFamily.multi_task`: a fold model per task."""
    return False


@dataclass(frozen=True)
class ModelFamily:
    name: str  # results/models/{name}/…, results/{dataset}/predictions/{name}/…
    title: str  # in tables and figures
    artefact: str  # the fold model's file name, e.g. "model.keras"
    env: str  # the jobs' conda environment: envs/{env}.yaml
    # None: reads the tensors; else results/{dataset}/features/{features}.parquet
    features: str | None
    # config -> the settings that determine a model (they key reruns and the config hash)
    settings: Callable[[Mapping[str, Any]], dict[str, Any]]
    # (inputs, outputs, *, task, fold, classes, seed, settings, threads) -> metadata; writes
    # outputs "model", "val_metrics", "metadata" and "val_predictions" (the validation fold's
    # slice predictions, uncalibrated: the job fits the fold's temperature on them)
    train: Callable[..., dict[str, Any]]
    # (inputs, out_path, *, task, classes, settings, threads) -> slice predictions (uncalibrated;
    # written to out_path unless it is None: the prediction job calibrates and writes them)
    predict: Callable[..., Any]
    extra_outputs: Mapping[str, str] = field(default_factory=dict)  # output name -> file name
    # Families whose fold predictions this one reads (a stacked model): their validation
    # predictions and calibrations to train, their predictions of the dataset to predict.
    stacks: tuple[str, ...] = ()
    # config -> whether a fold model has a head per task (one network serves every task): then
    # one job per fold trains it and one job per dataset predicts every task with it; train and
    # predict take ``tasks`` (task -> classes) instead of ``task`` and ``classes``, the outputs
    # and the predictions are keyed by task.
    multi_task: Callable[[Mapping[str, Any]], bool] = field(default=single_task)
    # What a family offers beyond predictions; the rules and the report ask these, never a name.
    # (histories, out_paths, *, title, dpi): the figure of every fold's per-epoch history; a
    # family with it writes "history" (history.csv, epochs numbered from 1) per task and fold.
    learning_curves: Callable[..., None] | None = None
    # (*, model_path, tensor_paths, predictions_path, classes, per_class, seed, out_png,
    # out_table, dpi, task, title): a grid of saliency maps on labelled slices of a dataset.
    gradcam: Callable[..., None] | None = None
    gpu: bool = False  # jobs ask a cluster for a GPU (and run on the CPU without one)
    train_mem_mb: int = 4000
    predict_mem_mb: int = 4000


def task_file(outputs: Mapping[str, Any], name: str, task: str):
    """Output ``name`` of ``task`` in a fold job's outputs: ``<name>_<task>`` in a multi-task
    family's job, the plain ``name`` in a one-task job (None if the job has no such output)."""
    return outputs.get(f"{name}_{task}", outputs.get(name))


def job_tasks(wildcards, classes) -> dict[str, list[str]]:
    """task -> classes of a train or predict job: its ``{task}`` wildcard's (``classes`` is that
    task's list), or every task's (a multi-task family's job: ``classes`` maps them)."""
    if "task" in wildcards.keys():
        return {wildcards.task: list(classes)}
    return {task: list(values) for task, values in classes.items()}

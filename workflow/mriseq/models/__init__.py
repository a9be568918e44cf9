"""Model families: each family is one module here holding one :class:`ModelFamily`.

The rules, the evaluation, the report and predict mode iterate :data:`FAMILIES`; none of them
names a family. A family says what it reads (the slice tensors, or a feature table of
``results/{dataset}/features/``), what it writes per ``{task}×{fold}`` (the model artefact, any
extra files), which environment and resources its jobs need, which config settings determine it,
and how to train one fold and predict with all folds. Adding a family is one module plus its name
in :data:`FAMILY_MODULES` (and an ``envs/`` file if it needs other packages). ``train.models``
picks the families a run trains; an entry that is not a registered name is read as the dotted path
of a module holding a ``FAMILY`` (a family kept outside this package).

The family modules are imported by name only when a job needs them, so reading the registry (at
workflow parse time) never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Name -> module under mriseq.models. The first is the primary family: its predictions make the
# predict-mode series table and its confusion matrices lead the report. The fusion of header and
# pixels leads because it is the best of the four on every task of the demo (README results).
FAMILY_MODULES: dict[str, str] = {
    "fusion": "mriseq.models.fusion",
    "cnn": "mriseq.models.cnn",
    "hist_rf": "mriseq.models.hist_rf",
    "header_rf": "mriseq.models.header_rf",
}


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


def family_names() -> list[str]:
    return list(FAMILY_MODULES)


class FamilyError(ValueError):
    """A ``train.models`` entry that names no family, worded as one sentence."""


def get_family(entry: str) -> ModelFamily:
    """The family a ``train.models`` entry names: a registered name, or the dotted path of a
    module with a ``FAMILY`` (imports its module)."""
    module = FAMILY_MODULES.get(entry, entry)
    try:
        family = importlib.import_module(module).FAMILY
    except (ImportError, AttributeError) as error:
        raise FamilyError(
            f"Config key 'train.models': {entry!r} is neither a registered model family "
            f"({', '.join(FAMILY_MODULES)}) nor a module with a FAMILY ({error})."
        ) from None
    return family


def families(entries: list[str] | None = None) -> dict[str, ModelFamily]:
    """``train.models`` entry -> family, in order (every registered family by default); a
    stacked family whose base families are not listed is a one-sentence error."""
    chosen = {entry: get_family(entry) for entry in (entries or list(FAMILY_MODULES))}
    names = {family.name for family in chosen.values()}
    for entry, family in chosen.items():
        missing = [base for base in family.stacks if base not in names]
        if missing:
            raise FamilyError(
                f"Config key 'train.models': {entry!r} reads the predictions of "
                f"{', '.join(missing)}; list {'it' if len(missing) == 1 else 'them'} too."
            )
    return chosen

# What every stage shares: config lookups, dataset roles, shard lists, the model families and the
# default target. Each stage's own input functions and targets live in helpers/<stage>.smk.
# Nothing here imports TensorFlow; everything is cheap enough to run at parse time.

import os

from mriseq import result_paths
from mriseq.config import dataset_entries, resolve_raw_dir
from mriseq.scan.layouts.registry import get_layout
from mriseq.models import families
from mriseq.provenance import training_data_source
from mriseq.scan.sharding import assign_shards

DATASETS = list(config["datasets"])
TASKS = config["train"]["tasks"]
FOLDS = list(range(config["split"]["folds"]))
TRAIN_DATASET = next(n for n, ds in config["datasets"].items() if ds["role"] == "train")
# The model families (mriseq.models): rules are generated per family, every target list and
# evaluation iterates them. The first is the primary one (predict-mode table, report).
MODEL_FAMILIES = {f.name: f for f in families(config["train"]["models"]).values()}
FAMILY_ENTRIES = dict(zip(MODEL_FAMILIES, config["train"]["models"]))
MODELS = list(MODEL_FAMILIES)
PRIMARY_MODEL = MODELS[0]
# What families offer beyond predictions (mriseq.models.family): rules and the report ask these.
CURVE_MODELS = [name for name, f in MODEL_FAMILIES.items() if f.learning_curves]
# Grad-CAM figures have one path per dataset and task: the first family offering it draws them.
GRADCAM_MODEL = next((name for name, f in MODEL_FAMILIES.items() if f.gradcam), None)
# Datasets by role: the labelled ones are evaluated, the external ones compared with the internal
# test set, the predict ones get the per-series table.
LABELLED_DATASETS = [
    n for n, ds in config["datasets"].items() if ds["role"] != "predict"
]
EXTERNAL_DATASETS = [
    n for n, ds in config["datasets"].items() if ds["role"] == "external"
]
PREDICT_DATASETS = [
    n for n, ds in config["datasets"].items() if ds["role"] == "predict"
]
# PNG is always drawn (the HTML report embeds it); the other formats as configured.
PLOT_FORMATS = list(dict.fromkeys(["png", *config["plots"]["formats"]]))
# Shard membership of every dataset, computed once per parse (one directory read per dataset).
SHARDS = {
    name: assign_shards(dataset_entries(config, name), config["scan"]["shards"])
    for name in DATASETS
}


wildcard_constraints:
    dataset="|".join(DATASETS),
    shard=r"s\d{3}",
    task="|".join(config["taxonomy"]),
    model="|".join(MODELS),
    fold=r"\d+",
    kind="reliability|coverage",


def canonical(value):
    """A config value with dict keys sorted (recursively; list order is kept, it carries meaning).
    Snakemake compares params by repr, so reordering keys in a config file would otherwise rerun
    every job that receives the section."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def dataset_config(wildcards):
    return config["datasets"][wildcards.dataset]


def raw_dir(dataset):
    ds = config["datasets"][dataset]
    return str(resolve_raw_dir(ds["raw_dir"], ds["layout"]))


def dataset_raw_dir(wildcards):
    """The {dataset}'s raw directory as its layout reads it (a params value of every stage that
    opens the raw files)."""
    return raw_dir(wildcards.dataset)


def shard_names(dataset):
    return list(SHARDS[dataset])


def synthetic_dir(cohort):
    return f"resources/synthetic/{cohort}"


def manifests(dataset):
    return expand(
        "results/{dataset}/manifests/{table}.parquet",
        dataset=dataset,
        table=["files", "series", "rejects"],
    )


def model_tensor_files(dataset):
    """Every shard tensor of a dataset (memory-mapped by the jobs, never copied)."""
    return expand(
        "results/{dataset}/tensors/{shard}.npy",
        dataset=dataset,
        shard=shard_names(dataset),
    )


def dataset_tensor_files(wildcards):
    return model_tensor_files(wildcards.dataset)


def task_classes(wildcards):
    return config["taxonomy"][wildcards.task]


def family_data(family, dataset):
    """What ``family`` reads of ``dataset``: the tensor shards or its feature table."""
    if family.features is None:
        return {"tensors": model_tensor_files(dataset)}
    return {"features": f"results/{dataset}/features/{family.features}.parquet"}


def multi_task(family):
    """Whether ``family``'s fold model has a head per task: then one job per fold trains it,
    and one job per dataset predicts every task with it."""
    return family.multi_task(config)


def family_classes(family):
    """The classes param of ``family``'s jobs: the task's, or task -> classes of every task."""
    if multi_task(family):
        return {task: config["taxonomy"][task] for task in TASKS}
    return task_classes


def family_resources(family, stage):
    """Memory and runtime of ``family``'s jobs; a GPU request (with CPUs per GPU) if it uses one."""
    mem = family.train_mem_mb if stage == "train" else family.predict_mem_mb
    resources = {"mem_mb": mem, "runtime": 60 if stage == "train" else 30}
    if family.gpu:
        resources |= {"gpu": 1, "cpus_per_gpu": 4}
    return resources


def training_data():
    """Where the models' training data came from: recorded in every fold's metadata.json (train)
    and said at the top of the report."""
    return training_data_source(TRAIN_DATASET, config["datasets"][TRAIN_DATASET])


def all_targets():
    """The default target: every stage's final outputs (each `<stage>_targets()` lives in
    helpers/<stage>.smk, included by the stage's rule file)."""
    return [
        *synthetic_targets(),
        *scan_targets(),
        *preprocess_targets(),
        *split_targets(),
        *train_targets(),
        *predict_targets(),
        *evaluate_targets(),
        *external_targets(),
        *report_targets(),
        *review_targets(),
    ]

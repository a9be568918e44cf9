# Helpers shared by every stage: dataset lookups, shard lists and target lists.
# Nothing here imports TensorFlow; everything is cheap enough to run at parse time.

import os

from mriseq.config import dataset_entries, resolve_raw_dir
from mriseq.sharding import assign_shards

DATASETS = list(config["datasets"])
TASKS = config["train"]["tasks"]
FOLDS = list(range(config["split"]["folds"]))
TRAIN_DATASET = next(n for n, ds in config["datasets"].items() if ds["role"] == "train")
# Shard membership of every dataset, computed once per parse (one directory read per dataset).
SHARDS = {
    name: assign_shards(dataset_entries(config, name), config["scan"]["shards"])
    for name in DATASETS
}


wildcard_constraints:
    dataset="|".join(DATASETS),
    shard=r"s\d{3}",
    task="|".join(config["taxonomy"]),
    fold=r"\d+",


def dataset_config(wildcards):
    return config["datasets"][wildcards.dataset]


def raw_dir(dataset):
    return str(resolve_raw_dir(config["datasets"][dataset]["raw_dir"]))


def shard_names(dataset):
    return list(SHARDS[dataset])


def shard_entries(wildcards):
    """Top-level entries of the raw directory that belong to this shard (a params value, so a
    new patient reruns only its own shard)."""
    return SHARDS[wildcards.dataset][wildcards.shard]


def shard_inputs(wildcards):
    """What a scan shard job depends on: the generated cohort for synthetic datasets, otherwise the
    shard's own top-level entries (their mtimes change when files are added to them)."""
    ds = config["datasets"][wildcards.dataset]
    if ds.get("synthetic"):
        return synthetic_dir(ds["synthetic"])
    root = raw_dir(wildcards.dataset)
    return [os.path.join(root, entry) for entry in shard_entries(wildcards)]


def synthetic_dir(cohort):
    return f"resources/synthetic/{cohort}"


def synthetic_cohort_config(wildcards):
    return config["synthetic"]["cohorts"][wildcards.cohort]


def dataset_labels_input(wildcards):
    """What the labels sheet depends on: the generated cohort directory for synthetic datasets
    (the sheet lies inside it), the sheet itself otherwise, nothing for unlabeled datasets.
    """
    ds = config["datasets"][wildcards.dataset]
    if ds.get("synthetic"):
        return synthetic_dir(ds["synthetic"])
    return [ds["labels"]] if ds.get("labels") else []


def dataset_labels_path(wildcards):
    """The labels sheet path as a params value ("" for unlabeled datasets)."""
    return config["datasets"][wildcards.dataset].get("labels", "")


def privacy_params():
    return {"key_env": config["privacy"]["key_env"], "key": config["privacy"]["key"]}


def manifests(dataset):
    return expand(
        "results/{dataset}/manifests/{table}.parquet",
        dataset=dataset,
        table=["files", "series", "rejects"],
    )


def all_targets():
    """The default target: each stage file contributes its final outputs through a
    `<stage>_targets()` function; stages not yet present contribute nothing."""
    targets = []
    for stage in (
        "synthetic",
        "scan",
        "preprocess",
        "split",
        "train",
        "baselines",
        "predict",
        "evaluate",
        "external",
        "report",
    ):
        contribute = globals().get(f"{stage}_targets")
        if contribute is not None:
            targets += contribute()
    return targets

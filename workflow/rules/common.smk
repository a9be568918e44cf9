# Helpers shared by every stage: dataset lookups, shard lists and target lists.
# Nothing here imports TensorFlow; everything is cheap enough to run at parse time.

import os

from mriseq.config import dataset_entries, resolve_raw_dir
from mriseq.layouts import get_layout
from mriseq.models import families
from mriseq.sharding import assign_shards

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
# What the evaluation writes per {dataset}×{task} (the target lists and the rules share them).
EVAL_LEVELS = ["slice", "volume"]
CONFUSION_KINDS = ["counts", "normalised"]
EVAL_TABLES = ["metrics", "per_class", "volumes", "cv_summary", "comparison"]
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
    fold=r"\d+",


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
    return canonical(config["synthetic"]["cohorts"][wildcards.cohort])


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
    """The default target: every stage's final outputs (each `<stage>_targets()` is below)."""
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
    ]


# ---- synthetic stage ------------------------------------------------------


def synthetic_targets():
    return [
        f"results/synthetic/{ds['synthetic']}/montage.png"
        for ds in config["datasets"].values()
        if ds.get("synthetic")
    ]


# ---- scan stage -----------------------------------------------------------


def shard_manifest_files(wildcards):
    return expand(
        "results/{dataset}/manifests/shards/{shard}.files.parquet",
        dataset=wildcards.dataset,
        shard=shard_names(wildcards.dataset),
    )


def shard_reject_files(wildcards):
    return expand(
        "results/{dataset}/manifests/shards/{shard}.rejects.parquet",
        dataset=wildcards.dataset,
        shard=shard_names(wildcards.dataset),
    )


def dataset_layout(wildcards):
    return dataset_config(wildcards)["layout"]


def dataset_label_map(wildcards):
    """The configured label map; a relative path missing from the working directory falls back
    to the copy shipped beside the Snakefile (runs with --directory elsewhere)."""
    path = dataset_config(wildcards).get("label_map", "resources/dlds_label_map.yaml")
    shipped = os.path.join(workflow.basedir, path)
    if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(shipped):
        return shipped
    return path


def dataset_label_map_input(wildcards):
    """The label map is an input of DLDS merges only (editing it relabels those datasets)."""
    if not get_layout(dataset_layout(wildcards)).uses_label_map:
        return []
    return [dataset_label_map(wildcards)]


def dataset_include_localizers(wildcards):
    return dataset_config(wildcards).get("include_localizers", True)


def scan_targets():
    return [
        path
        for dataset in DATASETS
        for path in manifests(dataset) + [f"results/{dataset}/manifests/qc_summary.csv"]
    ]


# ---- preprocess stage -----------------------------------------------------


def tensor_shard_outputs(wildcards):
    """Every shard's array, index and rejects (named inputs of merge_tensors)."""
    kinds = {
        "tensors": "npy",
        "shard_indexes": "index.parquet",
        "shard_rejects": "rejects.parquet",
    }
    return {
        name: expand(
            "results/{dataset}/tensors/{shard}.{suffix}",
            dataset=wildcards.dataset,
            shard=shard_names(wildcards.dataset),
            suffix=suffix,
        )
        for name, suffix in kinds.items()
    }


def preprocess_targets():
    return expand(
        "results/{dataset}/tensors/{table}",
        dataset=DATASETS,
        table=["index.parquet", "qc_summary.csv"],
    )


# ---- split stage ----------------------------------------------------------


def split_targets():
    return expand(
        "results/{dataset}/splits/{table}",
        dataset=TRAIN_DATASET,
        table=["splits.parquet", "class_counts.csv", "warnings.csv"],
    )


# ---- train stage ----------------------------------------------------------


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


def train_targets():
    return [
        path
        for family in MODEL_FAMILIES.values()
        for path in expand(
            list(fold_model_outputs(family).values()), task=TASKS, fold=FOLDS
        )
    ]


def fold_model_outputs(family):
    """What one fold job of ``family`` writes: its artefact, validation metrics, metadata and
    the family's extra files, under results/models/{family}/{task}/fold{fold}/."""
    base = f"results/models/{family.name}/{{task}}/fold{{fold}}"
    files = {"model": family.artefact, "val_metrics": "val_metrics.json"}
    files |= {"metadata": "metadata.json", **family.extra_outputs}
    return {name: f"{base}/{file}" for name, file in files.items()}


def family_data(family, dataset):
    """What ``family`` reads of ``dataset``: the tensor shards or its feature table."""
    if family.features is None:
        return {"tensors": model_tensor_files(dataset)}
    return {"features": f"results/{dataset}/features/{family.features}.parquet"}


def training_inputs(family):
    """The input function of ``family``'s training rule (its data, the index, the splits)."""

    def inputs(wildcards):
        return {
            **family_data(family, TRAIN_DATASET),
            "index": f"results/{TRAIN_DATASET}/tensors/index.parquet",
            "splits": f"results/{TRAIN_DATASET}/splits/splits.parquet",
        }

    return inputs


def family_resources(family, stage):
    """Memory and runtime of ``family``'s jobs; a GPU request (with CPUs per GPU) if it uses one."""
    mem = family.train_mem_mb if stage == "train" else family.predict_mem_mb
    resources = {"mem_mb": mem, "runtime": 60 if stage == "train" else 30}
    if family.gpu:
        resources |= {"gpu": 1, "cpus_per_gpu": 4}
    return resources


# ---- predict stage --------------------------------------------------------


def prediction_inputs(family):
    """The input function of ``family``'s prediction rule: its data of the dataset, the index,
    the held-out splits (train dataset only) and every fold model of the task."""

    def inputs(wildcards):
        return {
            **family_data(family, wildcards.dataset),
            "index": f"results/{wildcards.dataset}/tensors/index.parquet",
            "splits": held_out_splits(wildcards),
            "models": expand(
                f"results/models/{family.name}/{{task}}/fold{{fold}}/{family.artefact}",
                task=wildcards.task,
                fold=FOLDS,
            ),
        }

    return inputs


def held_out_splits(wildcards):
    """The train dataset is predicted on its held-out test series only (the splits table says
    which); every other dataset on all its slices (no splits input)."""
    if wildcards.dataset == TRAIN_DATASET:
        return f"results/{TRAIN_DATASET}/splits/splits.parquet"
    return []


def predict_targets():
    return expand(
        "results/{dataset}/predictions/{model}/{task}.parquet",
        dataset=DATASETS,
        model=MODELS,
        task=TASKS,
    )


# ---- evaluate stage -------------------------------------------------------


def evaluation_inputs(wildcards):
    """Each model's predictions; for the train dataset also the fold models' validation metrics
    (they enter the CV summary)."""
    inputs = {
        model: f"results/{wildcards.dataset}/predictions/{model}/{wildcards.task}.parquet"
        for model in MODELS
    }
    if wildcards.dataset == TRAIN_DATASET:
        for model in MODELS:
            inputs[f"validation_{model}"] = expand(
                "results/models/{model}/{task}/fold{fold}/val_metrics.json",
                model=model,
                task=wildcards.task,
                fold=FOLDS,
            )
    return inputs


def validation_metrics_files(wildcards):
    """Every fold model's val_metrics.json, by model family (CNN and baselines)."""
    return {
        f"{model}__{task}": expand(
            "results/models/{model}/{task}/fold{fold}/val_metrics.json",
            model=model,
            task=task,
            fold=FOLDS,
        )
        for model in MODELS
        for task in TASKS
    }


def confusion_files(dataset, task, figures=False):
    """Confusion tables (or their figures) of one dataset×task; volume level = majority vote."""
    name = "confusion_{model}_{level}_{kind}"
    pattern = f"figures/{name}.{{ext}}" if figures else f"{name}.csv"
    return expand(
        f"results/{{dataset}}/evaluation/{{task}}/{pattern}",
        dataset=dataset,
        task=task,
        model=MODELS,
        level=EVAL_LEVELS,
        kind=CONFUSION_KINDS,
        ext=PLOT_FORMATS if figures else ["csv"],
    )


def report_figures(paths, category, subcategory, caption, labels=None):
    """Register the PNG of each figure with `snakemake --report` (other formats ride along)."""
    registered = []
    for path in paths:
        if path.endswith(".png"):
            extra = {"figure": os.path.basename(path)}
            path = report(
                path,
                category=category,
                subcategory=subcategory,
                caption=caption,
                labels=(labels or {}) | extra,
            )
        registered.append(path)
    return registered


def evaluation_table(name, caption):
    return report(
        f"results/{{dataset}}/evaluation/{{task}}/{name}.csv",
        category="Evaluation tables",
        subcategory="{dataset}",
        caption=caption,
        labels={"dataset": "{dataset}", "task": "{task}", "table": name},
    )


def evaluate_targets():
    """Tables and figures of every labelled dataset; Grad-CAM on the train dataset's test set."""
    targets = []
    for dataset in LABELLED_DATASETS:
        for task in TASKS:
            targets += [
                f"results/{dataset}/evaluation/{task}/{t}.csv" for t in EVAL_TABLES
            ]
            targets += confusion_files(dataset, task, figures=True)
        targets += expand(
            "results/{dataset}/evaluation/figures/model_comparison.{ext}",
            dataset=dataset,
            ext=PLOT_FORMATS,
        )
    if "cnn" in MODELS:
        # Learning curves and Grad-CAM explain the CNN; a run without it has neither.
        targets += expand(
            "results/models/cnn/{task}/learning_curves.{ext}",
            task=TASKS,
            ext=PLOT_FORMATS,
        )
        targets += expand(
            "results/{dataset}/evaluation/{task}/figures/gradcam.png",
            dataset=TRAIN_DATASET,
            task=TASKS,
        )
    return targets


# ---- external stage -------------------------------------------------------


def external_targets():
    targets = expand(
        "results/{dataset}/evaluation/generalisation_gap.csv", dataset=EXTERNAL_DATASETS
    )
    targets += expand(
        "results/{dataset}/predictions/series.csv", dataset=PREDICT_DATASETS
    )
    if config["evaluate"]["sorted_links"]:
        targets += expand(
            "results/{dataset}/predictions/sorted", dataset=PREDICT_DATASETS
        )
    return targets


# ---- report stage ---------------------------------------------------------


def dataset_summary_files():
    """QC and dataset summaries shown in the report (CONTRACTS.md: manifests, tensors, splits)."""
    files = []
    for dataset in DATASETS:
        files += [
            f"results/{dataset}/manifests/qc_summary.csv",
            f"results/{dataset}/tensors/qc_summary.csv",
        ]
    files.append(f"results/{TRAIN_DATASET}/splits/class_counts.csv")
    files.append(f"results/{TRAIN_DATASET}/splits/warnings.csv")
    return files


def synthetic_montages():
    return {
        name: f"results/synthetic/{ds['synthetic']}/montage.png"
        for name, ds in config["datasets"].items()
        if ds.get("synthetic")
    }


def summary_comparisons(wildcards):
    """The comparison table of every labelled dataset × task, keyed dataset__task."""
    return {
        f"{dataset}__{task}": f"results/{dataset}/evaluation/{task}/comparison.csv"
        for dataset in LABELLED_DATASETS
        for task in TASKS
    }


def report_targets():
    return ["results/report/index.html", "results/report/summary.md"]

# The scan stage's input functions, params and targets. Included by rules/scan.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


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
    path = dataset_config(wildcards)["label_map"]
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
    return dataset_config(wildcards)["include_localizers"]


def scan_targets():
    return [
        path
        for dataset in DATASETS
        for path in manifests(dataset) + [f"results/{dataset}/manifests/qc_summary.csv"]
    ]

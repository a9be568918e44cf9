# The review stage's inputs and targets. Included by rules/review.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def review_datasets():
    """The datasets that get a review page: every predict-mode and every labelled dataset
    (none when review.enabled is false)."""
    if not config["review"]["enabled"]:
        return []
    wanted = set(PREDICT_DATASETS) | set(LABELLED_DATASETS)
    return [dataset for dataset in DATASETS if dataset in wanted]


def review_inputs(wildcards):
    """What the page of {dataset} reads: the tensors and their index (thumbnails), the files
    manifest (TE/TR), and the predictions: a predict-mode dataset's series table, or for a
    labelled dataset the primary family's slice predictions of every task and the volumes table
    with the reference labels."""
    dataset = wildcards.dataset
    inputs = {
        "index": f"results/{dataset}/tensors/index.parquet",
        "tensors": model_tensor_files(dataset),
        "files": f"results/{dataset}/manifests/files.parquet",
    }
    if config["datasets"][dataset]["role"] == "predict":
        inputs["series"] = f"results/{dataset}/predictions/series.parquet"
    else:
        inputs["predictions"] = [
            f"results/{dataset}/predictions/{PRIMARY_MODEL}/{task}.parquet"
            for task in TASKS
        ]
        inputs["volumes"] = f"results/{dataset}/manifests/volumes.parquet"
    return inputs


def dataset_role(wildcards):
    return config["datasets"][wildcards.dataset]["role"]


def review_targets():
    return [f"results/{dataset}/review/index.html" for dataset in review_datasets()]

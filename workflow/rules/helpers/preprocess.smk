# The preprocess stage's outputs and targets. Included by rules/preprocess.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


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


def slices_per_volume(wildcards):
    """Files decoded per volume: every one of a labelled dataset (it is evaluated on all its
    slices), at most predict.max_slices_per_volume of an unlabelled one (0 = all)."""
    if config["datasets"][wildcards.dataset]["role"] != "predict":
        return 0
    return config["predict"]["max_slices_per_volume"]


def preprocess_targets():
    return expand(
        "results/{dataset}/tensors/{table}",
        dataset=DATASETS,
        table=["index.parquet", "qc_summary.csv"],
    )

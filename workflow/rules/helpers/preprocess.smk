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


def preprocess_targets():
    return expand(
        "results/{dataset}/tensors/{table}",
        dataset=DATASETS,
        table=["index.parquet", "qc_summary.csv"],
    )

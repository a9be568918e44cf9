# The split stage's targets. Included by rules/split.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def split_targets():
    return expand(
        "results/{dataset}/splits/{table}",
        dataset=TRAIN_DATASET,
        table=["splits.parquet", "class_counts.csv", "warnings.csv"],
    )

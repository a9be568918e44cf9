# The report stage's inputs and targets. Included by rules/report.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def dataset_summary_files():
    """QC and dataset summaries shown in the report (docs/contracts.md: manifests, tensors, splits)."""
    files = []
    for dataset in DATASETS:
        files += [
            result_paths.qc_summary(dataset, "manifests"),
            result_paths.qc_summary(dataset, "tensors"),
        ]
    files.append(result_paths.split_table(TRAIN_DATASET, "class_counts.csv"))
    files.append(result_paths.split_table(TRAIN_DATASET, "warnings.csv"))
    return files


def synthetic_montages():
    return {
        name: f"results/synthetic/{ds['synthetic']}/montage.png"
        for name, ds in config["datasets"].items()
        if ds.get("synthetic")
    }


def summary_comparisons(wildcards):
    """The comparison table of every labelled dataset × task, keyed dataset__task, and the
    confidence tables beside it that the summary also reads (keyed dataset__task__table).
    """
    comparisons = {
        f"{dataset}__{task}": result_paths.evaluation_table(dataset, task, "comparison")
        for dataset in LABELLED_DATASETS
        for task in TASKS
    }
    beside = {
        f"{dataset}__{task}__{table}": result_paths.evaluation_table(
            dataset, task, table
        )
        for dataset in LABELLED_DATASETS
        for task in TASKS
        for table in ("calibration", "coverage", "subsets")
    }
    return comparisons | beside


def report_targets():
    return ["results/report/index.html", "results/report/summary.md"]

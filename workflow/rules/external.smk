# External validation and predict mode (docs/external.md; docs/own-data.md, "Classify your own
# archive"). External datasets run through the same scan/preprocess/predict/evaluate
# rules as the internal one ({dataset} wildcard); this file adds the internal-vs-external table
# and the per-series output of unlabelled (role: predict) datasets.


include: "helpers/external.smk"


rule generalisation_gap:
    input:
        internal=expand(
            "results/{dataset}/evaluation/{task}/metrics.parquet",
            dataset=TRAIN_DATASET,
            task=TASKS,
        ),
        external=expand(
            "results/{{dataset}}/evaluation/{task}/metrics.parquet", task=TASKS
        ),
    output:
        parquet="results/{dataset}/evaluation/generalisation_gap.parquet",
        csv=report(
            result_paths.generalisation_gap("{dataset}"),
            category="External validation",
            subcategory="{dataset}",
            caption="../report/generalisation_gap.rst",
            labels={"dataset": "{dataset}", "table": "generalisation gap"},
        ),
    log:
        "logs/{dataset}/evaluation/generalisation_gap.log",
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        tasks=TASKS,
        internal_name=TRAIN_DATASET,
    script:
        "../scripts/generalisation_gap.py"


rule predict_series:
    input:
        predictions=expand(
            f"results/{{{{dataset}}}}/predictions/{PRIMARY_MODEL}/{{task}}.parquet",
            task=TASKS,
        ),
        volumes="results/{dataset}/manifests/volumes.parquet",
        files="results/{dataset}/manifests/files.parquet",
        # Where the models' training data came from: every row says it.
        metadata=expand(
            f"results/models/{PRIMARY_MODEL}/{{task}}/fold{{fold}}/metadata.json",
            task=TASKS,
            fold=FOLDS,
        ),
    output:
        parquet="results/{dataset}/predictions/series.parquet",
        csv=report(
            result_paths.series_predictions("{dataset}"),
            category="Predictions",
            subcategory="{dataset}",
            caption="../report/predictions.rst",
            labels={"dataset": "{dataset}", "table": "series predictions"},
        ),
    log:
        "logs/{dataset}/predictions/series.log",
    benchmark:
        "benchmarks/{dataset}/predictions/series.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tasks=TASKS,
        taxonomy=canonical(config["taxonomy"]),
        abstain_below=canonical(config["evaluate"]["abstain_below"]),
    script:
        "../scripts/predict_series.py"


rule sorted_links:
    input:
        table="results/{dataset}/predictions/series.parquet",
        files="results/{dataset}/manifests/files.parquet",
    output:
        directory("results/{dataset}/predictions/sorted"),
    log:
        "logs/{dataset}/predictions/sorted_links.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        raw_dir=dataset_raw_dir,
    script:
        "../scripts/sorted_links.py"

# The two random-forest baselines, per {task}×{fold} on the CNN's folds (README "Training"):
# hist_rf (intensity histogram) and header_rf (DICOM header). Features are computed once per
# dataset, so the external datasets are predicted from the same tables.

BASELINE_FEATURES = {"hist_rf": "histogram", "header_rf": "header"}


rule histogram_features:
    input:
        tensors=dataset_tensor_files,
        index="results/{dataset}/tensors/index.parquet",
    output:
        "results/{dataset}/features/histogram.parquet",
    log:
        "logs/{dataset}/features/histogram.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        bins=config["baselines"]["histogram_bins"],
    script:
        "../scripts/histogram_features.py"


rule header_features:
    input:
        files="results/{dataset}/manifests/files.parquet",
        index="results/{dataset}/tensors/index.parquet",
    output:
        "results/{dataset}/features/header.parquet",
    log:
        "logs/{dataset}/features/header.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/header_features.py"


rule train_baseline:
    input:
        features=baseline_feature_table,
        index=f"results/{TRAIN_DATASET}/tensors/index.parquet",
        splits=f"results/{TRAIN_DATASET}/splits/splits.parquet",
    output:
        model="results/models/{model}/{task}/fold{fold}/model.joblib",
        val_metrics="results/models/{model}/{task}/fold{fold}/val_metrics.json",
        metadata="results/models/{model}/{task}/fold{fold}/metadata.json",
    log:
        "logs/models/{model}/{task}/fold{fold}.log",
    benchmark:
        "benchmarks/models/{model}/{task}/fold{fold}.tsv"
    wildcard_constraints:
        model="hist_rf|header_rf",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        classes=task_classes,
        baselines=canonical(config["baselines"]),
        class_weighting=config["train"]["class_weighting"],
        max_class_weight=config["train"]["max_class_weight"],
        seed=config["seed"],
    script:
        "../scripts/train_baseline.py"

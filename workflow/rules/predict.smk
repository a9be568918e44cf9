# Slice-level predictions of every fold model on every dataset (CONTRACTS.md, Predictions).
# One job per dataset × model × task loops over the folds (TensorFlow starts once per job).


rule predict_cnn:
    input:
        tensors=dataset_tensor_files,
        index="results/{dataset}/tensors/index.parquet",
        splits=held_out_splits,
        models=fold_model_files,
    output:
        "results/{dataset}/predictions/cnn/{task}.parquet",
    log:
        "logs/{dataset}/predictions/cnn/{task}.log",
    benchmark:
        "benchmarks/{dataset}/predictions/cnn/{task}.tsv"
    conda:
        "../../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=1,
        cpus_per_gpu=4,
    params:
        classes=task_classes,
        batch_size=config["train"]["batch_size"],
    script:
        "../scripts/predict.py"


rule predict_baseline:
    input:
        features=baseline_features_of_dataset,
        index="results/{dataset}/tensors/index.parquet",
        splits=held_out_splits,
        models=fold_model_files,
    output:
        "results/{dataset}/predictions/{model}/{task}.parquet",
    log:
        "logs/{dataset}/predictions/{model}/{task}.log",
    benchmark:
        "benchmarks/{dataset}/predictions/{model}/{task}.tsv"
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
    script:
        "../scripts/predict.py"

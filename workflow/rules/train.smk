# Per-fold CNN training, one job per {task}×{fold} (README "Training").
# GPU-ready: jobs declare gpu=1 for cluster executors and run on the CPU when no GPU is visible.


# The train section minus the task list: adding a task must not retrain the other tasks' models.
CNN_SETTINGS = {key: value for key, value in config["train"].items() if key != "tasks"}


rule train_cnn:
    input:
        tensors=model_tensor_files(TRAIN_DATASET),
        index=f"results/{TRAIN_DATASET}/tensors/index.parquet",
        splits=f"results/{TRAIN_DATASET}/splits/splits.parquet",
    output:
        model="results/models/cnn/{task}/fold{fold}/model.keras",
        history="results/models/cnn/{task}/fold{fold}/history.csv",
        val_metrics="results/models/cnn/{task}/fold{fold}/val_metrics.json",
        curve="results/models/cnn/{task}/fold{fold}/learning_curve.png",
        metadata="results/models/cnn/{task}/fold{fold}/metadata.json",
    log:
        "logs/models/cnn/{task}/fold{fold}.log",
    benchmark:
        "benchmarks/models/cnn/{task}/fold{fold}.tsv"
    conda:
        "../../envs/tensorflow.yaml"
    # One core per job keeps two trainings running side by side on a 2-core machine; a GPU
    # profile raises it (set-threads) to feed the accelerator.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1,
        cpus_per_gpu=4,
    params:
        classes=task_classes,
        train=canonical(CNN_SETTINGS),
        seed=config["seed"],
    script:
        "../scripts/train_cnn.py"

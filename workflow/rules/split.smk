# Split: patient-level held-out test set, then StratifiedGroupKFold on the rest, for the
# train dataset only. Deterministic for `seed`; only volumes with a reference label are split.


include: "helpers/split.smk"


rule split:
    input:
        index="results/{dataset}/tensors/index.parquet",
        volumes="results/{dataset}/manifests/volumes.parquet",
    output:
        splits="results/{dataset}/splits/splits.parquet",
        class_counts=result_paths.split_table("{dataset}", "class_counts.csv"),
        warnings=result_paths.split_table("{dataset}", "warnings.csv"),
    log:
        "logs/{dataset}/split.log",
    wildcard_constraints:
        dataset=TRAIN_DATASET,
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seed=config["seed"],
        split=canonical(config["split"]),
        tasks=sorted(config["taxonomy"]),
    script:
        "../scripts/split.py"

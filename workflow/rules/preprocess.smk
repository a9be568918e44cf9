# Preprocess: per shard, decode every image of the shard's scan manifest into a
# memory-mappable (N, size, size) tensor plus an index; then merge the shard indexes of a dataset.
# The input is the shard-level manifest, so adding a patient reruns only its shard; the params carry
# the whole `preprocess` section, so changing the image size reruns every shard and what follows.


include: "helpers/preprocess.smk"


rule preprocess_shard:
    input:
        files="results/{dataset}/manifests/shards/{shard}.files.parquet",
    output:
        tensors="results/{dataset}/tensors/{shard}.npy",
        index="results/{dataset}/tensors/{shard}.index.parquet",
        rejects="results/{dataset}/tensors/{shard}.rejects.parquet",
    log:
        "logs/{dataset}/preprocess/{shard}.log",
    benchmark:
        "benchmarks/{dataset}/preprocess/{shard}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        raw_dir=dataset_raw_dir,
        preprocess=canonical(config["preprocess"]),
        max_slices_per_volume=slices_per_volume,
        volume_rules=config["scan"]["volume_rules"],
        max_dynamic_phases=config["scan"]["max_dynamic_phases"],
    script:
        "../scripts/preprocess_shard.py"


rule merge_tensors:
    input:
        unpack(tensor_shard_outputs),
        manifest_rejects="results/{dataset}/manifests/rejects.parquet",
        files="results/{dataset}/manifests/files.parquet",
        volumes="results/{dataset}/manifests/volumes.parquet",
    output:
        index="results/{dataset}/tensors/index.parquet",
        qc_summary=result_paths.qc_summary("{dataset}", "tensors"),
        rejects="results/{dataset}/tensors/rejects.parquet",
    log:
        "logs/{dataset}/preprocess/merge.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/merge_tensors.py"

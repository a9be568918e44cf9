# Scan / QC: per-shard header scan -> shard manifests; merge -> files, series, volumes,
# rejects Parquet + QC summary with reference labels joined. Tables: docs/contracts.md.


include: "helpers/scan.smk"


rule scan_shard:
    input:
        shard_inputs,
    output:
        files="results/{dataset}/manifests/shards/{shard}.files.parquet",
        rejects="results/{dataset}/manifests/shards/{shard}.rejects.parquet",
    log:
        "logs/{dataset}/scan/{shard}.log",
    benchmark:
        "benchmarks/{dataset}/scan/{shard}.tsv"
    conda:
        "../../envs/data.yaml"
    # Worker processes inside the job (the scan is parser-bound); Snakemake caps it at --cores.
    threads: config["scan"]["workers"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        raw_dir=dataset_raw_dir,
        entries=shard_entries,
        max_pixels=config["scan"]["max_pixels"],
        orientation_tolerance=config["scan"]["orientation_tolerance"],
        privacy=privacy_params(),
    script:
        "../scripts/scan_shard.py"


rule merge_manifests:
    input:
        files=shard_manifest_files,
        rejects=shard_reject_files,
        labels=dataset_labels_input,
        label_map=dataset_label_map_input,
    output:
        files="results/{dataset}/manifests/files.parquet",
        series="results/{dataset}/manifests/series.parquet",
        volumes="results/{dataset}/manifests/volumes.parquet",
        rejects="results/{dataset}/manifests/rejects.parquet",
        qc=result_paths.qc_summary("{dataset}", "manifests"),
    log:
        "logs/{dataset}/scan/merge.log",
    benchmark:
        "benchmarks/{dataset}/scan/merge.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        labels=dataset_labels_path,
        layout=dataset_layout,
        taxonomy=canonical(config["taxonomy"]),
        label_map=dataset_label_map,
        include_localizers=dataset_include_localizers,
        privacy=privacy_params(),
        volume_rules=config["scan"]["volume_rules"],
        max_dynamic_phases=config["scan"]["max_dynamic_phases"],
    script:
        "../scripts/merge_manifests.py"

# Scan / QC (DESIGN.md §3): per-shard header scan -> shard manifests; merge -> files, series,
# rejects Parquet + QC summary with reference labels joined. Tables: workflow/CONTRACTS.md.


def scan_raw_dir(wildcards):
    return raw_dir(wildcards.dataset)


def shard_manifest_files(wildcards):
    return expand(
        "results/{dataset}/manifests/shards/{shard}.files.parquet",
        dataset=wildcards.dataset,
        shard=shard_names(wildcards.dataset),
    )


def shard_reject_files(wildcards):
    return expand(
        "results/{dataset}/manifests/shards/{shard}.rejects.parquet",
        dataset=wildcards.dataset,
        shard=shard_names(wildcards.dataset),
    )


def dataset_layout(wildcards):
    return dataset_config(wildcards).get("layout", "generic")


def dataset_label_map(wildcards):
    """The configured label map; a relative path missing from the working directory falls back
    to the copy shipped beside the Snakefile (runs with --directory elsewhere)."""
    path = dataset_config(wildcards).get("label_map", "resources/dlds_label_map.yaml")
    shipped = os.path.join(workflow.basedir, path)
    if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(shipped):
        return shipped
    return path


def dataset_label_map_input(wildcards):
    """The label map is an input of DLDS merges only (editing it relabels those datasets)."""
    if dataset_layout(wildcards) != "dlds":
        return []
    return [dataset_label_map(wildcards)]


def dataset_include_localizers(wildcards):
    return dataset_config(wildcards).get("include_localizers", True)


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
    threads: config["scan"].get("workers", 2)
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        raw_dir=scan_raw_dir,
        entries=shard_entries,
        max_pixels=config["scan"].get("max_pixels", 16777216),
        orientation_tolerance=config["scan"].get("orientation_tolerance", 0.8),
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
        rejects="results/{dataset}/manifests/rejects.parquet",
        qc="results/{dataset}/manifests/qc_summary.csv",
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
        taxonomy=config["taxonomy"],
        label_map=dataset_label_map,
        include_localizers=dataset_include_localizers,
        privacy=privacy_params(),
    script:
        "../scripts/merge_manifests.py"


def scan_targets():
    return [
        path
        for dataset in DATASETS
        for path in manifests(dataset) + [f"results/{dataset}/manifests/qc_summary.csv"]
    ]

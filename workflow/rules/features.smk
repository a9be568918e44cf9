# Per-slice feature tables of every dataset, read by the families that name them
# (ModelFamily.features): the intensity histogram and the DICOM header. Computed once per
# dataset, so the external datasets are predicted from the same tables.


rule histogram_features:
    input:
        tensors=dataset_tensor_files,
        index="results/{dataset}/tensors/index.parquet",
    output:
        "results/{dataset}/features/histogram.parquet",
    log:
        "logs/{dataset}/features/histogram.log",
    benchmark:
        "benchmarks/{dataset}/features/histogram.tsv"
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
    benchmark:
        "benchmarks/{dataset}/features/header.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/header_features.py"

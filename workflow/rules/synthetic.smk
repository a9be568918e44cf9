# The built-in synthetic abdominal MRI cohorts (real DICOM files; DESIGN.md §3).


rule synthetic_cohort:
    output:
        cohort=directory("resources/synthetic/{cohort}"),
        montage="results/synthetic/{cohort}/montage.png",
        class_counts="results/synthetic/{cohort}/class_counts.csv",
    params:
        cohort=synthetic_cohort_config,
        taxonomy=config["taxonomy"],
    log:
        "logs/synthetic/{cohort}.log",
    benchmark:
        "benchmarks/synthetic/{cohort}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/synthetic_cohort.py"


def synthetic_targets():
    return [
        f"results/synthetic/{ds['synthetic']}/montage.png"
        for ds in config["datasets"].values()
        if ds.get("synthetic")
    ]

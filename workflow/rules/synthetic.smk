# The built-in synthetic abdominal MRI cohorts (real DICOM files).


include: "helpers/synthetic.smk"


from mriseq.synthetic import source_digest

# Snakemake's code trigger sees only the script file, not the package it calls: the digest of the
# generator's sources is a param, so editing the generator regenerates the cohorts.
SYNTHETIC_GENERATOR = source_digest()


rule synthetic_cohort:
    output:
        cohort=directory("resources/synthetic/{cohort}"),
        montage="results/synthetic/{cohort}/montage.png",
        class_counts="results/synthetic/{cohort}/class_counts.csv",
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
    params:
        cohort=synthetic_cohort_config,
        taxonomy=canonical(config["taxonomy"]),
        generator=SYNTHETIC_GENERATOR,
    script:
        "../scripts/synthetic_cohort.py"

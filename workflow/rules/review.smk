# The review page of every predict-mode and labelled dataset (docs/review.md): one card per volume
# with a strip of slices, the primary family's calls, the header hints and (labelled datasets) the
# reference label, in review order; relabelled in the browser and exported as a labels sheet.


include: "helpers/review.smk"


rule review_page:
    input:
        unpack(review_inputs),
    output:
        page="results/{dataset}/review/index.html",
        thumbs=directory("results/{dataset}/review/thumbs"),
    log:
        "logs/{dataset}/review/page.log",
    benchmark:
        "benchmarks/{dataset}/review/page.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        role=dataset_role,
        tasks=TASKS,
        taxonomy=canonical(config["taxonomy"]),
        abstain_below=canonical(config["evaluate"]["abstain_below"]),
        slices=config["review"]["slices"],
        model=PRIMARY_MODEL,
        trained_on=training_data(),
    script:
        "../scripts/review_page.py"

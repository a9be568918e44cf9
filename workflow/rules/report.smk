# The reviewer's report (docs/evaluation.md): results/report/index.html, self-contained, built from
# stored tables and figures; `snakemake --report report.zip` collects the report()-registered
# files. `snakemake --cores all figures` rebuilds every table, figure and the HTML page from the
# stored predictions without retraining.


include: "helpers/report.smk"


rule report_html:
    input:
        evaluation=evaluate_targets(),
        external=external_targets(),
        summaries=dataset_summary_files(),
        health=result_paths.training_health(),
        montages=list(synthetic_montages().values()),
    output:
        "results/report/index.html",
    log:
        "logs/report/index_html.log",
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        datasets={name: ds["role"] for name, ds in config["datasets"].items()},
        tasks=TASKS,
        models=MODELS,
        learning_curves={name: MODEL_FAMILIES[name].title for name in CURVE_MODELS},
        gradcam=GRADCAM_MODEL is not None,
        train_dataset=TRAIN_DATASET,
        montages=synthetic_montages(),
        training_data=training_data(),
        confidence_level=config["evaluate"]["confidence_level"],
    script:
        "../scripts/report_html.py"


rule figures:
    input:
        evaluate_targets(),
        external_targets(),
        "results/report/index.html",
        "results/report/summary.md",
    localrule: True


# The headline tables as Markdown: README.md's results block is copied from this file
# (`make readme-results`), so the README shows what the workflow produced, not what was typed.
rule report_summary:
    input:
        unpack(summary_comparisons),
    output:
        "results/report/summary.md",
    log:
        "logs/report/summary.log",
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        datasets=LABELLED_DATASETS,
        tasks=TASKS,
        models={name: family.title for name, family in MODEL_FAMILIES.items()},
    script:
        "../scripts/report_summary.py"

# Evaluation of the stored predictions per {dataset}×{task} (docs/evaluation.md, docs/contracts.md).
# Tables are computed by `evaluate_predictions` and drawn by separate plot_* rules: a plotting
# option reruns only plotting jobs, and a deleted figure is redrawn from the stored tables without
# any training or prediction job (the models are inputs of Grad-CAM only, read, never rebuilt).


include: "helpers/evaluate.smk"


# Grad-CAM explains one fold model (all folds share the architecture and the training recipe).
GRADCAM_FOLD = 0


rule evaluate_predictions:
    input:
        unpack(evaluation_inputs),
    output:
        metrics=evaluation_table("metrics", "../report/metrics.rst"),
        per_class=evaluation_table("per_class", "../report/per_class.rst"),
        cv_summary=evaluation_table("cv_summary", "../report/cv_summary.rst"),
        comparison=evaluation_table("comparison", "../report/comparison.rst"),
        volumes=result_paths.evaluation_table("{dataset}", "{task}", "volumes"),
        confidence=[
            result_paths.evaluation_table("{dataset}", "{task}", table)
            for table in CONFIDENCE_TABLES
        ],
        parquet=[
            result_paths.evaluation_table("{dataset}", "{task}", table, "parquet")
            for table in result_paths.EVAL_TABLES
        ],
        summary=result_paths.evaluation_table("{dataset}", "{task}", "summary", "json"),
        confusion=confusion_files("{dataset}", "{task}"),
    log:
        "logs/{dataset}/evaluation/{task}.log",
    benchmark:
        "benchmarks/{dataset}/evaluation/{task}.tsv"
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        models=MODELS,
        classes=task_classes,
        bootstrap_samples=config["evaluate"]["bootstrap_samples"],
        confidence_level=config["evaluate"]["confidence_level"],
        seed=config["seed"],
        abstain_below=abstention_threshold,
    script:
        "../scripts/evaluate.py"


# The fold jobs flag what each can see on its own; comparing a model with the histogram forest
# on the same fold needs both, so it runs once all fold models exist.
rule training_health:
    input:
        unpack(validation_metrics_files),
    output:
        result_paths.training_health(),
    log:
        "logs/models/training_health.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        models=MODELS,
        tasks=TASKS,
    script:
        "../scripts/training_health.py"


rule plot_confusion:
    input:
        confusion_files("{dataset}", "{task}"),
    output:
        report_figures(
            confusion_files("{dataset}", "{task}", figures=True),
            category="Confusion matrices",
            subcategory="{dataset} · {task}",
            caption="../report/confusion.rst",
        ),
    log:
        "logs/{dataset}/evaluation/{task}.plot_confusion.log",
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        formats=PLOT_FORMATS,
        cmap=config["plots"]["cmap"],
        dpi=config["plots"]["dpi"],
    script:
        "../scripts/plot_confusion.py"


rule plot_comparison:
    input:
        [
            result_paths.evaluation_table("{dataset}", task, "comparison")
            for task in TASKS
        ],
    output:
        report_figures(
            [result_paths.comparison_figure("{dataset}", ext) for ext in PLOT_FORMATS],
            category="Model comparison",
            subcategory="{dataset}",
            caption="../report/comparison.rst",
        ),
    log:
        "logs/{dataset}/evaluation/plot_comparison.log",
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        tasks=TASKS,
        dpi=config["plots"]["dpi"],
        confidence_pct=round(100 * config["evaluate"]["confidence_level"]),
    script:
        "../scripts/plot_comparison.py"


rule plot_confidence:
    input:
        confidence_tables,
    output:
        report_figures(
            [
                result_paths.confidence_figure("{dataset}", "{kind}", ext)
                for ext in PLOT_FORMATS
            ],
            category="Confidence",
            subcategory="{dataset}",
            caption="../report/confidence.rst",
        ),
    log:
        "logs/{dataset}/evaluation/plot_{kind}.log",
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        tasks=TASKS,
        kind="{kind}",
        dpi=config["plots"]["dpi"],
    script:
        "../scripts/plot_confidence.py"


rule plot_learning_curves:
    input:
        history_files,
    output:
        report_figures(
            [
                result_paths.learning_curves("{model}", "{task}", ext)
                for ext in PLOT_FORMATS
            ],
            category="Learning curves",
            subcategory="{model} · {task}",
            caption="../report/learning_curves.rst",
        ),
    log:
        "logs/models/{model}/{task}/plot_learning_curves.log",
    conda:
        "../../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=family_title,
        dpi=config["plots"]["dpi"],
    script:
        "../scripts/plot_learning_curves.py"


rule gradcam:
    input:
        model=gradcam_model,
        tensors=dataset_tensor_files,
        predictions=gradcam_predictions,
    output:
        figure=report(
            result_paths.gradcam_figure("{dataset}", "{task}"),
            category="Grad-CAM",
            subcategory="{dataset}",
            caption="../report/gradcam.rst",
            labels={"dataset": "{dataset}", "task": "{task}"},
        ),
        table="results/{dataset}/evaluation/{task}/gradcam.csv",
    log:
        "logs/{dataset}/evaluation/{task}.gradcam.log",
    benchmark:
        "benchmarks/{dataset}/evaluation/{task}.gradcam.tsv"
    conda:
        "../../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        classes=task_classes,
        per_class=config["evaluate"]["gradcam_per_class"],
        seed=config["seed"],
        fold=GRADCAM_FOLD,
        model=GRADCAM_MODEL,
        dpi=config["plots"]["dpi"],
    script:
        "../scripts/gradcam.py"

# The evaluate stage's inputs, report registrations and targets. Included by rules/evaluate.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.

# What the evaluation writes per {dataset}×{task} (the target lists and the rules share them).
EVAL_LEVELS = ["slice", "volume"]
CONFUSION_KINDS = ["counts", "normalised"]
EVAL_TABLES = ["metrics", "per_class", "volumes", "cv_summary", "comparison"]


def evaluation_inputs(wildcards):
    """Each model's predictions; for the train dataset also the fold models' validation metrics
    (they enter the CV summary)."""
    inputs = {
        model: f"results/{wildcards.dataset}/predictions/{model}/{wildcards.task}.parquet"
        for model in MODELS
    }
    if wildcards.dataset == TRAIN_DATASET:
        for model in MODELS:
            inputs[f"validation_{model}"] = expand(
                "results/models/{model}/{task}/fold{fold}/val_metrics.json",
                model=model,
                task=wildcards.task,
                fold=FOLDS,
            )
    return inputs


def validation_metrics_files(wildcards):
    """Every fold model's val_metrics.json, by model family (CNN and baselines)."""
    return {
        f"{model}__{task}": expand(
            "results/models/{model}/{task}/fold{fold}/val_metrics.json",
            model=model,
            task=task,
            fold=FOLDS,
        )
        for model in MODELS
        for task in TASKS
    }


def confusion_files(dataset, task, figures=False):
    """Confusion tables (or their figures) of one dataset×task; volume level = majority vote."""
    name = "confusion_{model}_{level}_{kind}"
    pattern = f"figures/{name}.{{ext}}" if figures else f"{name}.csv"
    return expand(
        f"results/{{dataset}}/evaluation/{{task}}/{pattern}",
        dataset=dataset,
        task=task,
        model=MODELS,
        level=EVAL_LEVELS,
        kind=CONFUSION_KINDS,
        ext=PLOT_FORMATS if figures else ["csv"],
    )


def report_figures(paths, category, subcategory, caption, labels=None):
    """Register the PNG of each figure with `snakemake --report` (other formats ride along)."""
    registered = []
    for path in paths:
        if path.endswith(".png"):
            extra = {"figure": os.path.basename(path)}
            path = report(
                path,
                category=category,
                subcategory=subcategory,
                caption=caption,
                labels=(labels or {}) | extra,
            )
        registered.append(path)
    return registered


def evaluation_table(name, caption):
    return report(
        f"results/{{dataset}}/evaluation/{{task}}/{name}.csv",
        category="Evaluation tables",
        subcategory="{dataset}",
        caption=caption,
        labels={"dataset": "{dataset}", "task": "{task}", "table": name},
    )


def evaluate_targets():
    """Tables and figures of every labelled dataset; Grad-CAM on the train dataset's test set."""
    targets = []
    for dataset in LABELLED_DATASETS:
        for task in TASKS:
            targets += [
                f"results/{dataset}/evaluation/{task}/{t}.csv" for t in EVAL_TABLES
            ]
            targets += confusion_files(dataset, task, figures=True)
        targets += expand(
            "results/{dataset}/evaluation/figures/model_comparison.{ext}",
            dataset=dataset,
            ext=PLOT_FORMATS,
        )
    if "cnn" in MODELS:
        # Learning curves and Grad-CAM explain the CNN; a run without it has neither.
        targets += expand(
            "results/models/cnn/{task}/learning_curves.{ext}",
            task=TASKS,
            ext=PLOT_FORMATS,
        )
        targets += expand(
            "results/{dataset}/evaluation/{task}/figures/gradcam.png",
            dataset=TRAIN_DATASET,
            task=TASKS,
        )
    return targets

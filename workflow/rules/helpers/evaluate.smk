# The evaluate stage's inputs, report registrations and targets. Included by rules/evaluate.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


# Tables of mriseq.evaluation.confidence: calibration, abstention, subsets (their CSVs; all EVAL_TABLES
# are also written as Parquet).
CONFIDENCE_TABLES = ["calibration", "reliability", "coverage", "subsets"]
CONFIDENCE_FIGURES = ["reliability", "coverage"]


def evaluation_inputs(wildcards):
    """Each model's predictions and the scan's volumes table (its subsets); for the train
    dataset also the fold models' validation metrics (they enter the CV summary)."""
    inputs = {
        model: f"results/{wildcards.dataset}/predictions/{model}/{wildcards.task}.parquet"
        for model in MODELS
    }
    inputs["volumes_manifest"] = (
        f"results/{wildcards.dataset}/manifests/volumes.parquet"
    )
    if wildcards.dataset == TRAIN_DATASET:
        for model in MODELS:
            inputs[f"validation_{model}"] = expand(
                "results/models/{model}/{task}/fold{fold}/val_metrics.json",
                model=model,
                task=wildcards.task,
                fold=FOLDS,
            )
    return inputs


def gradcam_model(wildcards):
    """The fold model Grad-CAM explains (a multi-task model through the task's head)."""
    return fold_model_path(MODEL_FAMILIES[GRADCAM_MODEL], wildcards.task, GRADCAM_FOLD)


def gradcam_predictions(wildcards):
    """The explained family's predictions of the dataset (the slices the grid shows)."""
    return f"results/{wildcards.dataset}/predictions/{GRADCAM_MODEL}/{wildcards.task}.parquet"


def history_files(wildcards):
    """Every fold's per-epoch history of one family and task (a family with learning curves)."""
    return expand(
        "results/models/{model}/{task}/fold{fold}/history.csv",
        model=wildcards.model,
        task=wildcards.task,
        fold=FOLDS,
    )


def family_title(wildcards):
    return MODEL_FAMILIES[wildcards.model].title


def abstention_threshold(wildcards):
    """The task's confidence threshold below which a volume is called uncertain."""
    return config["evaluate"]["abstain_below"][wildcards.task]


def confidence_tables(wildcards):
    """The reliability or coverage table of every task of the dataset ({kind})."""
    return [
        result_paths.evaluation_table(wildcards.dataset, task, wildcards.kind)
        for task in TASKS
    ]


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
    return [
        (
            result_paths.confusion_figure(dataset, task, model, level, kind, ext)
            if figures
            else result_paths.confusion_table(dataset, task, model, level, kind)
        )
        for model in MODELS
        for level in result_paths.EVAL_LEVELS
        for kind in result_paths.CONFUSION_KINDS
        for ext in (PLOT_FORMATS if figures else ["csv"])
    ]


def report_figures(files, category, subcategory, caption, labels=None):
    """Register the PNG of each figure with `snakemake --report` (other formats ride along)."""
    registered = []
    for path in files:
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
        result_paths.evaluation_table("{dataset}", "{task}", name),
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
                result_paths.evaluation_table(dataset, task, table)
                for table in result_paths.EVAL_TABLES
            ]
            targets += confusion_files(dataset, task, figures=True)
        targets += [
            result_paths.comparison_figure(dataset, ext) for ext in PLOT_FORMATS
        ]
        targets += [
            result_paths.confidence_figure(dataset, kind, ext)
            for kind in CONFIDENCE_FIGURES
            for ext in PLOT_FORMATS
        ]
    # Learning curves and Grad-CAM come from the families that offer them; without one, none.
    targets += [
        result_paths.learning_curves(model, task, ext)
        for model in CURVE_MODELS
        for task in TASKS
        for ext in PLOT_FORMATS
    ]
    if GRADCAM_MODEL:
        targets += [result_paths.gradcam_figure(TRAIN_DATASET, task) for task in TASKS]
    return targets

# The train stage's per-family outputs, inputs and targets. Included by rules/train.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def task_wildcard(family):
    """The job-level wildcards of ``family``'s fold jobs: {task}/fold{fold}, or fold{fold}
    for a multi-task family."""
    return "fold{fold}" if multi_task(family) else "{task}/fold{fold}"


def fold_model_outputs(family):
    """What one fold job of ``family`` writes: its artefact, validation metrics and predictions,
    the temperature fitted on them, metadata and the family's extra files, under
    results/models/{family}/{task}/fold{fold}/; a multi-task family writes one artefact
    (results/models/{family}/fold{fold}/) and the rest per task, named <name>_<task>."""
    base = f"results/models/{family.name}"
    files = {"val_metrics": "val_metrics.json"}
    files |= {
        "val_predictions": "val_predictions.parquet",
        "calibration": "calibration.json",
    }
    files |= {"metadata": "metadata.json", **family.extra_outputs}
    if not multi_task(family):
        folder = f"{base}/{{task}}/fold{{fold}}"
        return {"model": f"{folder}/{family.artefact}"} | {
            name: f"{folder}/{file}" for name, file in files.items()
        }
    outputs = {"model": f"{base}/fold{{fold}}/{family.artefact}"}
    for task in TASKS:
        outputs |= {
            f"{name}_{task}": f"{base}/{task}/fold{{fold}}/{file}"
            for name, file in files.items()
        }
    return outputs


def fold_model_path(family, task, fold):
    """The model file of one fold of ``family`` for ``task`` (a multi-task model serves every
    task)."""
    return fold_model_outputs(family)["model"].format(task=task, fold=fold)


def training_inputs(family):
    """The input function of ``family``'s training rule (its data, the index, the splits; for a
    stacked family every fold's validation predictions and calibration of its base families).
    """

    def inputs(wildcards):
        stacked = {
            f"{base}_{name}": expand(
                f"results/models/{base}/{{task}}/fold{{fold}}/{name}.{ext}",
                task=wildcards.task,
                fold=FOLDS,
            )
            for base in family.stacks
            for name, ext in (("val_predictions", "parquet"), ("calibration", "json"))
        }
        return {
            **family_data(family, TRAIN_DATASET),
            "index": f"results/{TRAIN_DATASET}/tensors/index.parquet",
            "splits": f"results/{TRAIN_DATASET}/splits/splits.parquet",
            **stacked,
        }

    return inputs


def train_targets():
    paths = [
        path
        for family in MODEL_FAMILIES.values()
        for path in expand(
            list(fold_model_outputs(family).values()), task=TASKS, fold=FOLDS
        )
    ]
    return list(dict.fromkeys(paths))  # a multi-task model is every task's

# The train stage's per-family outputs, inputs and targets. Included by rules/train.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def fold_model_outputs(family):
    """What one fold job of ``family`` writes: its artefact, validation metrics and predictions,
    the temperature fitted on them, metadata and the family's extra files, under
    results/models/{family}/{task}/fold{fold}/."""
    base = f"results/models/{family.name}/{{task}}/fold{{fold}}"
    files = {"model": family.artefact, "val_metrics": "val_metrics.json"}
    files |= {
        "val_predictions": "val_predictions.parquet",
        "calibration": "calibration.json",
    }
    files |= {"metadata": "metadata.json", **family.extra_outputs}
    return {name: f"{base}/{file}" for name, file in files.items()}


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
    return [
        path
        for family in MODEL_FAMILIES.values()
        for path in expand(
            list(fold_model_outputs(family).values()), task=TASKS, fold=FOLDS
        )
    ]

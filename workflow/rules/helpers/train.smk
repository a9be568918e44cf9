# The train stage's per-family outputs, inputs and targets. Included by rules/train.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def fold_model_outputs(family):
    """What one fold job of ``family`` writes: its artefact, validation metrics, metadata and
    the family's extra files, under results/models/{family}/{task}/fold{fold}/."""
    base = f"results/models/{family.name}/{{task}}/fold{{fold}}"
    files = {"model": family.artefact, "val_metrics": "val_metrics.json"}
    files |= {"metadata": "metadata.json", **family.extra_outputs}
    return {name: f"{base}/{file}" for name, file in files.items()}


def training_inputs(family):
    """The input function of ``family``'s training rule (its data, the index, the splits)."""

    def inputs(wildcards):
        return {
            **family_data(family, TRAIN_DATASET),
            "index": f"results/{TRAIN_DATASET}/tensors/index.parquet",
            "splits": f"results/{TRAIN_DATASET}/splits/splits.parquet",
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

# The predict stage's per-family inputs and targets. Included by rules/predict.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def prediction_inputs(family):
    """The input function of ``family``'s prediction rule: its data of the dataset, the index,
    the held-out splits (train dataset only), every fold model of the task and its temperature
    (a multi-task family: every fold model and every task's temperatures, calibrations_<task>);
    for a stacked family its base families' predictions of the dataset."""

    def inputs(wildcards):
        tasks = TASKS if multi_task(family) else [wildcards.task]
        stacked = {
            f"{base}_predictions": f"results/{wildcards.dataset}/predictions/{base}/"
            f"{wildcards.task}.parquet"
            for base in family.stacks
        }
        calibrations = {
            f"calibrations_{task}": expand(
                f"results/models/{family.name}/{task}/fold{{fold}}/calibration.json",
                fold=FOLDS,
            )
            for task in tasks
        }
        if not multi_task(family):
            calibrations = {"calibrations": calibrations[f"calibrations_{tasks[0]}"]}
        return {
            **family_data(family, wildcards.dataset),
            "index": f"results/{wildcards.dataset}/tensors/index.parquet",
            "splits": held_out_splits(wildcards),
            "models": [fold_model_path(family, tasks[0], fold) for fold in FOLDS],
            **calibrations,
            **stacked,
        }

    return inputs


def prediction_outputs(family):
    """The predictions one job of ``family`` writes: the task's of the dataset, or (a
    multi-task family) every task's, named by task."""
    path = f"results/{{dataset}}/predictions/{family.name}/{{task}}.parquet"
    if multi_task(family):
        return {task: path.replace("{task}", task) for task in TASKS}
    return {"predictions": path}


def prediction_job(family):
    """The log and benchmark name of ``family``'s prediction job: per task, or one per
    dataset for a multi-task family."""
    return family.name if multi_task(family) else f"{family.name}/{{task}}"


def held_out_splits(wildcards):
    """The train dataset is predicted on its held-out test series only (the splits table says
    which); every other dataset on all its slices (no splits input)."""
    if wildcards.dataset == TRAIN_DATASET:
        return f"results/{TRAIN_DATASET}/splits/splits.parquet"
    return []


def predicting_families(dataset):
    """The families that predict ``dataset``: every one for a labelled dataset (each is
    evaluated); for an unlabelled one, unless predict.families is all, only the primary family
    and those it stacks (its table is the primary family's)."""
    if config["datasets"][dataset]["role"] != "predict":
        return MODELS
    if config["predict"]["families"] == "all":
        return MODELS
    needed = [PRIMARY_MODEL]
    for name in needed:  # grows while it is walked: the bases of the bases
        needed += [base for base in MODEL_FAMILIES[name].stacks if base not in needed]
    return [model for model in MODELS if model in needed]


def predict_targets():
    return [
        f"results/{dataset}/predictions/{model}/{task}.parquet"
        for dataset in DATASETS
        for model in predicting_families(dataset)
        for task in TASKS
    ]

# Per-fold training of every model family (mriseq.models), one job per {task}×{fold} (per fold
# for a multi-task family: the CNN with train.heads shared): one rule per family, generated from
# the registry (docs/models.md). GPU families declare gpu=1 for cluster executors and run on
# the CPU when no GPU is visible.


include: "helpers/train.smk"


for family in MODEL_FAMILIES.values():

    rule:
        name:
            f"train_{family.name}"
        input:
            unpack(training_inputs(family)),
        output:
            **fold_model_outputs(family),
        log:
            f"logs/models/{family.name}/{task_wildcard(family)}.log",
        benchmark:
            f"benchmarks/models/{family.name}/{task_wildcard(family)}.tsv"
        conda:
            f"../../envs/{family.env}.yaml"
        # One core per job keeps two trainings running side by side on a 2-core machine; a
        # cluster profile raises it (set-threads) to feed the accelerator or the forest.
        threads: 1
        resources:
            **family_resources(family, "train"),
        params:
            family=FAMILY_ENTRIES[family.name],
            classes=family_classes(family),
            settings=canonical(family.settings(config)),
            seed=config["seed"],
            training_data=training_data(),
            calibration_level=config["calibration"]["level"],
        script:
            "../scripts/train_model.py"

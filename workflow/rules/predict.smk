# Slice-level predictions of every fold model of every family on every dataset (CONTRACTS.md,
# Predictions). One job per dataset × family × task loops over the folds (TensorFlow starts once
# per job); one rule per family, generated from the registry.


include: "helpers/predict.smk"


for family in MODEL_FAMILIES.values():

    rule:
        name:
            f"predict_{family.name}"
        input:
            unpack(prediction_inputs(family)),
        output:
            f"results/{{dataset}}/predictions/{family.name}/{{task}}.parquet",
        log:
            f"logs/{{dataset}}/predictions/{family.name}/{{task}}.log",
        benchmark:
            f"benchmarks/{{dataset}}/predictions/{family.name}/{{task}}.tsv"
        conda:
            f"../../envs/{family.env}.yaml"
        threads: 1
        resources:
            **family_resources(family, "predict"),
        params:
            family=FAMILY_ENTRIES[family.name],
            classes=task_classes,
            settings=canonical(family.settings(config)),
            inference={
                "batch_size": config["predict"]["batch_size"],
                "fold_graph": config["predict"]["fold_graph"],
            },
        script:
            "../scripts/predict_model.py"

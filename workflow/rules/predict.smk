# Slice-level predictions of every fold model of every family on every dataset (docs/contracts.md,
# Predictions). One job per dataset × family × task loops over the folds (TensorFlow starts once
# per job); a multi-task family's one job per dataset predicts every task in one pass per slice.
# One rule per family, generated from the registry.


include: "helpers/predict.smk"


for family in MODEL_FAMILIES.values():

    rule:
        name:
            f"predict_{family.name}"
        input:
            unpack(prediction_inputs(family)),
        output:
            **prediction_outputs(family),
        log:
            f"logs/{{dataset}}/predictions/{prediction_job(family)}.log",
        benchmark:
            f"benchmarks/{{dataset}}/predictions/{prediction_job(family)}.tsv"
        conda:
            f"../../envs/{family.env}.yaml"
        threads: 1
        resources:
            **family_resources(family, "predict"),
        params:
            family=FAMILY_ENTRIES[family.name],
            classes=family_classes(family),
            settings=canonical(family.settings(config)),
            inference={
                "batch_size": config["predict"]["batch_size"],
                "fold_graph": config["predict"]["fold_graph"],
            },
        script:
            "../scripts/predict_model.py"

# Glue: evaluate every model's stored predictions of one {dataset}×{task}
# (mriseq.evaluation.tables).
import os

from mriseq.evaluation.tables import evaluate_task
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    models = snakemake.params.models
    evaluate_task(
        predictions={model: snakemake.input[model] for model in models},
        classes=snakemake.params.classes,
        out_dir=os.path.dirname(snakemake.output.metrics),
        n_boot=snakemake.params.bootstrap_samples,
        confidence=snakemake.params.confidence_level,
        seed=snakemake.params.seed,
        validation_metrics={
            model: list(snakemake.input[f"validation_{model}"])
            for model in models
            if f"validation_{model}" in snakemake.input.keys()
        },
        abstain_below=snakemake.params.abstain_below,
        volumes_manifest=snakemake.input.volumes_manifest,
    )

"""Fit one random-forest baseline for one task and fold (rule train_baseline)."""

from mriseq.baselines import train_baseline
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    train_baseline(
        snakemake.input.features,
        snakemake.input.index,
        snakemake.input.splits,
        model_name=snakemake.wildcards.model,
        task=snakemake.wildcards.task,
        classes=list(snakemake.params.classes),
        fold=int(snakemake.wildcards.fold),
        seed=snakemake.params.seed,
        baselines=dict(snakemake.params.baselines),
        class_weighting=snakemake.params.class_weighting,
        max_class_weight=snakemake.params.max_class_weight,
        out_model=snakemake.output.model,
        out_val_metrics=snakemake.output.val_metrics,
        out_metadata=snakemake.output.metadata,
        threads=snakemake.threads,
    )

"""Train one CNN for one task and fold (rule train_cnn)."""

from mriseq.logs import log_to
from mriseq.train import train_cnn

with log_to(snakemake.log[0]):
    train_cnn(
        list(snakemake.input.tensors),
        snakemake.input.index,
        snakemake.input.splits,
        task=snakemake.wildcards.task,
        classes=list(snakemake.params.classes),
        fold=int(snakemake.wildcards.fold),
        seed=snakemake.params.seed,
        train=dict(snakemake.params.train),
        out_model=snakemake.output.model,
        out_history=snakemake.output.history,
        out_val_metrics=snakemake.output.val_metrics,
        out_curve=snakemake.output.curve,
        out_metadata=snakemake.output.metadata,
        threads=snakemake.threads,
    )

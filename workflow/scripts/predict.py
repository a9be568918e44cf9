"""Slice-level predictions of all fold models on one dataset (predict_cnn, predict_baseline)."""

from mriseq.logs import log_to
from mriseq.predict import predict_baseline, predict_cnn

with log_to(snakemake.log[0]):
    common = dict(
        task=snakemake.wildcards.task,
        classes=list(snakemake.params.classes),
        out_path=snakemake.output[0],
        splits_path=snakemake.input.splits or None,
        threads=snakemake.threads,
    )
    if "features" in snakemake.input.keys():
        predict_baseline(
            snakemake.input.features, snakemake.input.index, list(snakemake.input.models), **common
        )
    else:
        predict_cnn(
            list(snakemake.input.tensors),
            snakemake.input.index,
            list(snakemake.input.models),
            batch_size=snakemake.params.batch_size,
            **common,
        )

"""Intensity histograms of every slice of a dataset (rule histogram_features)."""

from mriseq.features.tables import write_histogram_features
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    write_histogram_features(
        list(snakemake.input.tensors), snakemake.input.index, snakemake.params.bins,
        snakemake.output[0],
    )

"""Reliability diagrams or coverage–accuracy curves of one dataset, all tasks
(mriseq.evaluation.plots)."""

from mriseq.evaluation.plots import plot_coverage, plot_reliability
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    tables = dict(zip(snakemake.params.tasks, snakemake.input, strict=True))
    dataset = snakemake.wildcards.dataset
    if snakemake.params.kind == "reliability":
        plot_reliability(tables, list(snakemake.output),
                         title=f"{dataset}: reliability, volume level (before/after calibration)",
                         dpi=snakemake.params.dpi)
    else:
        plot_coverage(tables, list(snakemake.output),
                      title=f"{dataset}: abstention, coverage vs accuracy (volume level)",
                      dpi=snakemake.params.dpi)

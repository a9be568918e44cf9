"""Write the headline results as Markdown (rule report_summary; mriseq.report.summary)."""

from mriseq.logs import log_to
from mriseq.report.summary import write_summary

with log_to(snakemake.log[0]):
    datasets, tasks = snakemake.params.datasets, snakemake.params.tasks
    write_summary(
        snakemake.output[0],
        {(d, t): snakemake.input[f"{d}__{t}"] for d in datasets for t in tasks},
        datasets,
        tasks,
        snakemake.params.models,
    )

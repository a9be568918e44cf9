"""Slice predictions of all fold models of one family on one dataset, for one task or (a
multi-task family) for every task, each fold's probabilities scaled by its temperature (rules
predict_<family>; mriseq.models.calibration)."""

from mriseq.io import write_parquet
from mriseq.logs import log_to
from mriseq.models import get_family
from mriseq.models.calibration import calibrate_table, read_temperatures
from mriseq.models.family import job_tasks

with log_to(snakemake.log[0]):
    family = get_family(snakemake.params.family)
    inputs = dict(snakemake.input.items())
    # Inference batches are larger than training ones: no gradients to fit in memory.
    common = {"settings": {**snakemake.params.settings, **snakemake.params.inference},
              "threads": snakemake.threads}
    tasks = job_tasks(snakemake.wildcards, snakemake.params.classes)
    if "task" in snakemake.wildcards.keys():
        task = snakemake.wildcards.task
        tables = {task: family.predict(inputs, None, task=task, classes=tasks[task], **common)}
        written = {task: (snakemake.output[0], list(snakemake.input.calibrations))}
    else:  # a head per task
        tables = family.predict(inputs, None, tasks=tasks, **common)
        written = {task: (snakemake.output[task], list(snakemake.input[f"calibrations_{task}"]))
                   for task in tasks}
    for task, (path, calibrations) in written.items():
        temperatures = read_temperatures(calibrations)
        write_parquet(calibrate_table(tables[task], tasks[task], temperatures), path)

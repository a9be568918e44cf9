"""Slice predictions of all fold models of one family on one dataset, for one task or (a
multi-task family) for every task, each fold's probabilities scaled by its temperature (rules
predict_<family>; mriseq.calibration)."""

from mriseq.calibration import calibrate_table, read_temperatures
from mriseq.io import write_parquet
from mriseq.logs import log_to
from mriseq.models import get_family

with log_to(snakemake.log[0]):
    family = get_family(snakemake.params.family)
    inputs = dict(snakemake.input.items())
    # Inference batches are larger than training ones: no gradients to fit in memory.
    common = {"settings": {**snakemake.params.settings, **snakemake.params.inference},
              "threads": snakemake.threads}
    if "task" in snakemake.wildcards.keys():
        task = snakemake.wildcards.task
        tasks = {task: list(snakemake.params.classes)}
        tables = {task: family.predict(inputs, None, task=task, classes=tasks[task], **common)}
        written = {task: (snakemake.output[0], list(snakemake.input.calibrations))}
    else:
        tasks = {task: list(classes) for task, classes in snakemake.params.classes.items()}
        tables = family.predict(inputs, None, tasks=tasks, **common)
        written = {task: (snakemake.output[task], list(snakemake.input[f"calibrations_{task}"]))
                   for task in tasks}
    for task, (path, calibrations) in written.items():
        temperatures = read_temperatures(calibrations)
        write_parquet(calibrate_table(tables[task], tasks[task], temperatures), path)

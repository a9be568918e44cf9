"""Train one fold model of one family, for one task or (a multi-task family) for every task, and
fit each task's temperature on the validation fold (rules train_<family>; mriseq.models,
mriseq.models.calibration)."""

from mriseq.logs import log_to
from mriseq.models import get_family
from mriseq.models.calibration import calibrate_fold
from mriseq.models.family import job_tasks, task_file
from mriseq.provenance import record_training_data

with log_to(snakemake.log[0]):
    family = get_family(snakemake.params.family)
    inputs, outputs = dict(snakemake.input.items()), dict(snakemake.output.items())
    common = {"fold": int(snakemake.wildcards.fold), "seed": snakemake.params.seed,
              "settings": snakemake.params.settings, "threads": snakemake.threads}
    tasks = job_tasks(snakemake.wildcards, snakemake.params.classes)
    if "task" in snakemake.wildcards.keys():
        task = snakemake.wildcards.task
        family.train(inputs, outputs, task=task, classes=tasks[task], **common)
    else:  # a head per task
        family.train(inputs, outputs, tasks=tasks, **common)
    for task, classes in tasks.items():
        metadata = task_file(outputs, "metadata", task)
        record_training_data(metadata, snakemake.params.training_data)
        calibrate_fold(task_file(outputs, "val_predictions", task),
                       task_file(outputs, "calibration", task), classes,
                       level=snakemake.params.calibration_level)

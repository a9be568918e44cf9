"""Train one fold model of one family, for one task or (a multi-task family) for every task, and
fit each task's temperature on the validation fold (rules train_<family>; mriseq.models,
mriseq.calibration)."""

from mriseq.calibration import calibrate_fold
from mriseq.logs import log_to
from mriseq.models import get_family
from mriseq.provenance import record_training_data

with log_to(snakemake.log[0]):
    family = get_family(snakemake.params.family)
    inputs, outputs = dict(snakemake.input.items()), dict(snakemake.output.items())
    common = {"fold": int(snakemake.wildcards.fold), "seed": snakemake.params.seed,
              "settings": snakemake.params.settings, "threads": snakemake.threads}
    one_task = "task" in snakemake.wildcards.keys()
    if one_task:  # the job's outputs under their plain names
        task = snakemake.wildcards.task
        tasks = {task: list(snakemake.params.classes)}
        family.train(inputs, outputs, task=task, classes=tasks[task], **common)
    else:  # a head per task: the outputs named <name>_<task>
        tasks = {task: list(classes) for task, classes in snakemake.params.classes.items()}
        family.train(inputs, outputs, tasks=tasks, **common)
    for task, classes in tasks.items():
        named = {name: outputs[name if one_task else f"{name}_{task}"]
                 for name in ("metadata", "val_predictions", "calibration")}
        record_training_data(named["metadata"], snakemake.params.training_data)
        calibrate_fold(named["val_predictions"], named["calibration"], classes,
                       level=snakemake.params.calibration_level)

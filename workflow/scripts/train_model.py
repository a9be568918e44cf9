"""Train one fold model of one family, for one task or (a multi-task family) for every task, and
fit each task's temperature on the validation fold (rules train_<family>; mriseq.models,
mriseq.calibration)."""

from mriseq.calibration import calibrate_fold
from mriseq.logs import log_to
from mriseq.models import get_family
from mriseq.provenance import record_training_data

with log_to(snakemake.log[0]):
    family = get_family(snakemake.params.family)
    outputs = dict(snakemake.output.items())
    common = {"fold": int(snakemake.wildcards.fold), "seed": snakemake.params.seed,
              "settings": snakemake.params.settings, "threads": snakemake.threads}
    if "task" in snakemake.wildcards.keys():  # one task: outputs under their plain names
        task = snakemake.wildcards.task
        tasks = {task: list(snakemake.params.classes)}
        family.train(dict(snakemake.input.items()), outputs, task=task,
                     classes=tasks[task], **common)
        named = {task: {name: outputs[name] for name in ("metadata", "val_predictions",
                                                         "calibration")}}
    else:  # a head per task: outputs named <name>_<task>
        tasks = {task: list(classes) for task, classes in snakemake.params.classes.items()}
        family.train(dict(snakemake.input.items()), outputs, tasks=tasks, **common)
        named = {task: {name: outputs[f"{name}_{task}"] for name in ("metadata",
                                                                     "val_predictions",
                                                                     "calibration")}
                 for task in tasks}
    for task, files in named.items():
        record_training_data(files["metadata"], snakemake.params.training_data)
        calibrate_fold(files["val_predictions"], files["calibration"], tasks[task],
                       level=snakemake.params.calibration_level)

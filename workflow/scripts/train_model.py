"""Train one fold model of one family for one task and fit its temperature on the validation
fold (rules train_<family>; mriseq.models, mriseq.calibration)."""

from mriseq.calibration import calibrate_fold
from mriseq.logs import log_to
from mriseq.models import get_family
from mriseq.provenance import record_training_data

with log_to(snakemake.log[0]):
    get_family(snakemake.params.family).train(
        dict(snakemake.input.items()),
        dict(snakemake.output.items()),
        task=snakemake.wildcards.task,
        fold=int(snakemake.wildcards.fold),
        classes=list(snakemake.params.classes),
        seed=snakemake.params.seed,
        settings=snakemake.params.settings,
        threads=snakemake.threads,
    )
    record_training_data(snakemake.output.metadata, snakemake.params.training_data)
    calibrate_fold(
        snakemake.output.val_predictions,
        snakemake.output.calibration,
        list(snakemake.params.classes),
        level=snakemake.params.calibration_level,
    )

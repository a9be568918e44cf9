"""Slice predictions of all fold models of one family on one dataset, each fold's probabilities
scaled by its temperature (rules predict_<family>; mriseq.calibration)."""

from mriseq.calibration import calibrate_table, read_temperatures
from mriseq.io import write_parquet
from mriseq.logs import log_to
from mriseq.models import get_family

with log_to(snakemake.log[0]):
    classes = list(snakemake.params.classes)
    table = get_family(snakemake.params.family).predict(
        dict(snakemake.input.items()),
        None,
        task=snakemake.wildcards.task,
        classes=classes,
        # Inference batches are larger than training ones: no gradients to fit in memory.
        settings={**snakemake.params.settings, **snakemake.params.inference},
        threads=snakemake.threads,
    )
    temperatures = read_temperatures(list(snakemake.input.calibrations))
    write_parquet(calibrate_table(table, classes, temperatures), snakemake.output[0])

"""Train one fold model of one family for one task (rules train_<family>; mriseq.models)."""

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

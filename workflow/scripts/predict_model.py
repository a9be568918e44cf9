"""Slice predictions of all fold models of one family on one dataset (rules predict_<family>)."""

from mriseq.logs import log_to
from mriseq.models import get_family

with log_to(snakemake.log[0]):
    get_family(snakemake.params.family).predict(
        dict(snakemake.input.items()),
        snakemake.output[0],
        task=snakemake.wildcards.task,
        classes=list(snakemake.params.classes),
        settings=snakemake.params.settings,
        threads=snakemake.threads,
    )

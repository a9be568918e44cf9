# Glue: learning curves of every fold of one task, drawn by the family that offers them.
from mriseq.logs import log_to
from mriseq.models import get_family

with log_to(snakemake.log[0]):
    get_family(snakemake.wildcards.model).learning_curves(
        list(snakemake.input),
        list(snakemake.output),
        title=f"{snakemake.params.title} {snakemake.wildcards.task}: loss and accuracy per epoch",
        dpi=snakemake.params.dpi,
    )

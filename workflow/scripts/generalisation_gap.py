# Glue: internal test vs external metrics side by side (mriseq.evaluation.tables).
from mriseq.evaluation.tables import write_generalisation_gap
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    tasks = snakemake.params.tasks
    write_generalisation_gap(
        internal=dict(zip(tasks, snakemake.input.internal, strict=True)),
        external=dict(zip(tasks, snakemake.input.external, strict=True)),
        internal_name=snakemake.params.internal_name,
        external_name=snakemake.wildcards.dataset,
        out_parquet=snakemake.output.parquet,
        out_csv=snakemake.output.csv,
    )

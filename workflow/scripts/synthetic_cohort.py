# Glue: generate one synthetic cohort (rule synthetic_cohort); all logic in mriseq.synthetic.
from mriseq.logs import log_to
from mriseq.synthetic.cohort import generate_cohort

with log_to(snakemake.log[0]):
    generate_cohort(
        snakemake.output.cohort,
        dict(snakemake.params.cohort),
        dict(snakemake.params.taxonomy),
        snakemake.output.montage,
        snakemake.output.class_counts,
        workers=snakemake.threads,
    )

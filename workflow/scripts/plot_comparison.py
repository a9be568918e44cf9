# Glue: every model family side by side, a bar chart of one dataset, all tasks
# (mriseq.evaluation.plots).
from mriseq.evaluation.plots import plot_comparison
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    plot_comparison(
        dict(zip(snakemake.params.tasks, snakemake.input, strict=True)),
        list(snakemake.output),
        title=f"{snakemake.wildcards.dataset}: model families (fold ensemble, "
        f"{snakemake.params.confidence_pct} % CI)",
        dpi=snakemake.params.dpi,
    )

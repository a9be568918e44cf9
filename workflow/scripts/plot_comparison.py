# Glue: every model family side by side, a bar chart of one dataset, all tasks (mriseq.plots).
from mriseq.logs import log_to
from mriseq.plots import plot_comparison

with log_to(snakemake.log[0]):
    plot_comparison(
        dict(zip(snakemake.params.tasks, snakemake.input, strict=True)),
        list(snakemake.output),
        title=f"{snakemake.wildcards.dataset}: model families (fold ensemble, "
        f"{snakemake.params.confidence_pct} % CI)",
        dpi=snakemake.params.dpi,
    )

# Glue: one heatmap per confusion table, in every configured format (mriseq.evaluation.plots).
from mriseq.evaluation.plots import plot_confusion_tables
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    plot_confusion_tables(
        list(snakemake.input),
        list(snakemake.output),
        formats=snakemake.params.formats,
        label=f"{snakemake.wildcards.dataset} · {snakemake.wildcards.task}",
        cmap=snakemake.params.cmap,
        dpi=snakemake.params.dpi,
    )

# Glue: one heatmap per confusion table, in every configured format (mriseq.plots).
from mriseq.logs import log_to
from mriseq.plots import plot_confusion_tables

with log_to(snakemake.log[0]):
    plot_confusion_tables(
        list(snakemake.input),
        list(snakemake.output),
        formats=snakemake.params.formats,
        label=f"{snakemake.wildcards.dataset} · {snakemake.wildcards.task}",
        cmap=snakemake.params.cmap,
        dpi=snakemake.params.dpi,
    )

# Glue: learning curves of every fold of one task's CNN (mriseq.evaluation.plots).
from mriseq.logs import log_to
from mriseq.models.cnn.learning_curves import plot_learning_curves

with log_to(snakemake.log[0]):
    plot_learning_curves(
        list(snakemake.input),
        list(snakemake.output),
        title=f"CNN {snakemake.wildcards.task}: loss and accuracy per epoch",
        dpi=snakemake.params.dpi,
    )

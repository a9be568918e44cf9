# Glue: the self-contained reviewer report results/report/index.html (mriseq.report.html).
from mriseq.logs import log_to
from mriseq.report.html import build_report

with log_to(snakemake.log[0]):
    build_report(
        snakemake.output[0],
        datasets=snakemake.params.datasets,
        tasks=snakemake.params.tasks,
        models=snakemake.params.models,
        train_dataset=snakemake.params.train_dataset,
        montages=snakemake.params.montages,
        confidence=snakemake.params.confidence_level,
        training_data=snakemake.params.training_data,
        learning_curves=snakemake.params.learning_curves,
        gradcam=snakemake.params.gradcam,
    )

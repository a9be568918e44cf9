# Glue: Grad-CAM grid of one task's fold model on labelled slices of a dataset, drawn by the
# family that offers it (the CNN's: mriseq.models.cnn.gradcam).
from mriseq.logs import log_to
from mriseq.models import get_family

with log_to(snakemake.log[0]):
    get_family(snakemake.params.model).gradcam(
        model_path=snakemake.input.model,
        tensor_paths=list(snakemake.input.tensors),
        predictions_path=snakemake.input.predictions,
        classes=snakemake.params.classes,
        per_class=snakemake.params.per_class,
        seed=snakemake.params.seed,
        out_png=snakemake.output.figure,
        out_table=snakemake.output.table,
        dpi=snakemake.params.dpi,
        task=snakemake.wildcards.task,
        title=f"{snakemake.wildcards.dataset} · {snakemake.wildcards.task} · Grad-CAM "
        f"(fold {snakemake.params.fold} model)",
    )

# Glue: the review page of a dataset and its thumbnails (mriseq.review.page).
from mriseq.logs import log_to
from mriseq.review.page import write_review

with log_to(snakemake.log[0]):
    tasks = list(snakemake.params.tasks)
    predictions = snakemake.input.get("predictions")
    write_review(
        snakemake.output.page,
        snakemake.output.thumbs,
        dataset=snakemake.wildcards.dataset,
        role=snakemake.params.role,
        tasks=tasks,
        taxonomy=snakemake.params.taxonomy,
        index_path=snakemake.input.index,
        tensor_paths=list(snakemake.input.tensors),
        files_path=snakemake.input.files,
        slices=snakemake.params.slices,
        model=snakemake.params.model,
        trained_on=snakemake.params.trained_on,
        abstain_below=dict(snakemake.params.abstain_below),
        series_path=snakemake.input.get("series"),
        predictions=dict(zip(tasks, predictions, strict=True)) if predictions else None,
        volumes_path=snakemake.input.get("volumes"),
    )

# Glue: predict mode, one row per volume with header hints (mriseq.predict.series).
from mriseq.logs import log_to
from mriseq.predict.series import write_series_predictions

with log_to(snakemake.log[0]):
    write_series_predictions(
        predictions=dict(zip(snakemake.params.tasks, snakemake.input.predictions, strict=True)),
        taxonomy=snakemake.params.taxonomy,
        volumes_path=snakemake.input.volumes,
        files_path=snakemake.input.files,
        metadata_paths=list(snakemake.input.metadata),
        out_parquet=snakemake.output.parquet,
        out_csv=snakemake.output.csv,
        abstain_below=dict(snakemake.params.abstain_below),
    )

# Merge a dataset's shard manifests, join reference labels, write the QC summary (mriseq.scan).
from mriseq.logs import log_to
from mriseq.scan import merge_manifests

with log_to(snakemake.log[0]):
    merge_manifests(
        files_shards=snakemake.input.files,
        rejects_shards=snakemake.input.rejects,
        files_out=snakemake.output.files,
        series_out=snakemake.output.series,
        rejects_out=snakemake.output.rejects,
        qc_out=snakemake.output.qc,
        labels_path=snakemake.params.labels,
        layout=snakemake.params.layout,
        taxonomy=snakemake.params.taxonomy,
        label_map=snakemake.params.label_map,
        include_localizers=snakemake.params.include_localizers,
        **snakemake.params.privacy,
    )

# Merge a dataset's shard manifests, split series into volumes, join reference labels, write the
# QC summary (mriseq.scan.manifests).
from mriseq.logs import log_to
from mriseq.scan.manifests import merge_manifests

with log_to(snakemake.log[0]):
    merge_manifests(
        files_shards=snakemake.input.files,
        rejects_shards=snakemake.input.rejects,
        files_out=snakemake.output.files,
        series_out=snakemake.output.series,
        volumes_out=snakemake.output.volumes,
        rejects_out=snakemake.output.rejects,
        qc_out=snakemake.output.qc,
        labels_path=snakemake.params.labels,
        layout=snakemake.params.layout,
        taxonomy=snakemake.params.taxonomy,
        label_map=snakemake.params.label_map,
        include_localizers=snakemake.params.include_localizers,
        volume_rules=snakemake.params.volume_rules,
        max_dynamic_phases=snakemake.params.max_dynamic_phases or None,
        **snakemake.params.privacy,
    )

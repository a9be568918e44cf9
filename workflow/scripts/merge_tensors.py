"""Merge a dataset's shard indexes into one index with volumes and labels, plus the decode QC
summary."""

from mriseq.logs import log_to
from mriseq.tensors.merge import merge_tensors

with log_to(snakemake.log[0]):
    merge_tensors(
        list(snakemake.input.shard_indexes),
        list(snakemake.input.shard_rejects),
        snakemake.input.manifest_rejects,
        snakemake.input.volumes,
        snakemake.output.index,
        snakemake.output.qc_summary,
        snakemake.output.rejects,
        files_path=snakemake.input.files,
    )

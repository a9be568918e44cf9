"""Preprocess one shard into a memory-mappable tensor, its index and its decode rejects."""

from mriseq.logs import log_to
from mriseq.tensors.shard import preprocess_shard

with log_to(snakemake.log[0]):
    settings = snakemake.params.preprocess
    preprocess_shard(
        snakemake.input.files,
        snakemake.params.raw_dir,
        snakemake.output.tensors,
        snakemake.output.index,
        snakemake.output.rejects,
        size=settings["size"],
        dtype=settings["dtype"],
        aspect=settings["aspect"],
        window_percentiles=settings["window_percentiles"],
        workers=snakemake.threads,
        max_slices_per_volume=snakemake.params.max_slices_per_volume,
        volume_rules=snakemake.params.volume_rules,
        max_dynamic_phases=snakemake.params.max_dynamic_phases or None,
    )

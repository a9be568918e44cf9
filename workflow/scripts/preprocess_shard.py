"""Preprocess one shard into a memory-mappable tensor, its index and its decode rejects."""

from mriseq.logs import log_to
from mriseq.preprocess import preprocess_shard

with log_to(snakemake.log[0]):
    settings = snakemake.params.preprocess
    preprocess_shard(
        snakemake.input.files,
        snakemake.params.raw_dir,
        snakemake.output.tensors,
        snakemake.output.index,
        snakemake.output.rejects,
        size=settings["size"],
        dtype=settings.get("dtype", "uint8"),
        aspect=settings.get("aspect", "pad"),
        window_percentiles=settings.get("window_percentiles", [0.5, 99.5]),
        workers=snakemake.threads,
    )

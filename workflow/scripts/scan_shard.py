# Scan one shard of a dataset's raw directory: files and rejects Parquet (mriseq.scan.shard).
from mriseq.logs import log_to
from mriseq.scan.shard import scan_shard

with log_to(snakemake.log[0]):
    scan_shard(
        raw_dir=snakemake.params.raw_dir,
        entries=snakemake.params.entries,
        files_out=snakemake.output.files,
        rejects_out=snakemake.output.rejects,
        shard=snakemake.wildcards.shard,
        max_pixels=snakemake.params.max_pixels,
        orientation_tolerance=snakemake.params.orientation_tolerance,
        workers=snakemake.threads,
        **snakemake.params.privacy,
    )

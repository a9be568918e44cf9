# Glue: optional symlink tree of a predicted archive, sorted by class (mriseq.predict.series).
from mriseq.logs import log_to
from mriseq.predict.series import sorted_links

with log_to(snakemake.log[0]):
    sorted_links(snakemake.input.table, snakemake.params.raw_dir, snakemake.output[0],
                 files_path=snakemake.input.files)

"""DICOM-header features of every slice of a dataset (rule header_features)."""

from mriseq.features.tables import write_header_features
from mriseq.logs import log_to

with log_to(snakemake.log[0]):
    write_header_features(snakemake.input.files, snakemake.input.index, snakemake.output[0])

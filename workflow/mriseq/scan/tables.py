"""Columns and dtypes of the scan's files and rejects tables, per shard and merged.

One files row per DICOM file the scan keeps: where it is, its pseudonymised keys, the header
fields the classifiers and the volume rules read, its slice geometry and what decoding needs
(:data:`PIXEL_LAYOUT`). One rejects row per file it does not keep, with the reason.
"""

from __future__ import annotations

import math

import pandas as pd

TEXT = ["transfer_syntax", "photometric", "sop_class_uid", "modality", "manufacturer",
        "series_description", "protocol_name", "image_type", "scanning_sequence",
        "sequence_variant", "scan_options", "sequence_name", "mr_acquisition_type", "stack_id"]
NUMERIC = ["series_number", "instance_number", "echo_time", "repetition_time", "inversion_time",
           "flip_angle", "echo_train_length", "b_value", "field_strength", "echo_numbers",
           "acquisition_number", "temporal_position", "trigger_time", "acquisition_offset"]
GEOMETRY = ([f"iop_{i}" for i in range(6)] + [f"ipp_{i}" for i in range(3)]
            + ["pixel_spacing_0", "pixel_spacing_1", "slice_thickness", "spacing_between_slices"])
# What decoding needs, recorded so that preprocessing reads native pixels without a second header
# parse: pixel-data offset and length in the file (-1: must go through a decoder), sample layout,
# the slice count of a Siemens mosaic (0: not one), rescale and whether a Modality LUT is present.
PIXEL_LAYOUT = ["pixel_offset", "pixel_length", "bits_allocated", "bits_stored",
                "pixel_representation", "samples_per_pixel", "planar_configuration",
                "mosaic_images"]
RESCALE = ["rescale_slope", "rescale_intercept"]
# Where b_value came from: standard (DiffusionBValue), private (a vendor element in its creator's
# block), private_conventional (the creator removed: the vendor's usual block); null without one.
B_VALUE_SOURCE = "b_value_source"
FILE_COLUMNS = (["path", "shard", "entry", "patient_key", "study_key", "series_key", "sop_key",
                 "series_dir", "n_frames", "rows", "columns"] + TEXT + NUMERIC
                + [B_VALUE_SOURCE, "contrast_agent"] + GEOMETRY
                + ["header_orientation", "slice_position"] + PIXEL_LAYOUT + RESCALE
                + ["modality_lut"])
FILE_DTYPES = {
    **{c: "string" for c in ["path", "shard", "entry", "patient_key", "study_key", "series_key",
                            "sop_key", "series_dir", *TEXT, B_VALUE_SOURCE,
                            "header_orientation"]},
    **{c: "int64" for c in ["n_frames", "rows", "columns", *PIXEL_LAYOUT]},
    **{c: "float64" for c in [*NUMERIC, *GEOMETRY, "slice_position", *RESCALE]},
    "contrast_agent": "bool",
    "modality_lut": "bool",
}
# Defaults of the layout fields a header may omit (the DICOM defaults pydicom also assumes; no
# mosaic).
LAYOUT_DEFAULTS = {"bits_allocated": 16, "pixel_representation": 0, "samples_per_pixel": 1,
                   "planar_configuration": 0, "mosaic_images": 0}
REJECT_COLUMNS = ["path", "shard", "stage", "reason", "message"]


def files_frame(rows: list[tuple]) -> pd.DataFrame:
    """Files rows (tuples in :data:`FILE_COLUMNS` order) as a typed table."""
    df = pd.DataFrame.from_records(rows, columns=FILE_COLUMNS)
    return df.astype(FILE_DTYPES)


def rejects_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rejects rows (tuples in :data:`REJECT_COLUMNS` order) as a table of strings."""
    return pd.DataFrame.from_records(rows, columns=REJECT_COLUMNS).astype("string")


def with_file_columns(files: pd.DataFrame) -> pd.DataFrame:
    """Shard tables written by an older scan lack the columns added since: their defaults."""
    missing = [c for c in FILE_COLUMNS if c not in files.columns]
    if not missing:
        return files
    defaults = {"int64": -1, "float64": math.nan, "bool": False, "string": None}
    return files.assign(**{c: LAYOUT_DEFAULTS.get(c, defaults[FILE_DTYPES[c]])
                           for c in missing})

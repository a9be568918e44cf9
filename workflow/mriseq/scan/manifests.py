"""Merge the shard tables of a dataset's scan into its manifests: files, series, volumes, QC.

``merge_manifests`` concatenates the shards' files and rejects tables (:mod:`mriseq.scan.shard`),
rejects SOP instances duplicated across shards (no shard alone can see them), splits series into
volumes (:mod:`mriseq.scan.volumes`), builds the per-series and per-volume tables, joins the
reference labels of the dataset's layout (:mod:`mriseq.scan.layouts`) and writes the QC summary.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import pandas as pd

from mriseq.io import write_csv, write_parquet
from mriseq.scan.layouts.registry import join_labels
from mriseq.scan.privacy import resolve_key
from mriseq.scan.tables import FILE_DTYPES, files_frame, rejects_frame, with_file_columns
from mriseq.scan.volumes import (
    MAX_DYNAMIC_PHASES,
    assign_volumes,
    frames_in_order,
    volume_table,
)
from mriseq.taxonomy import DEFAULT_TAXONOMY

log = logging.getLogger("mriseq.scan.manifests")


SERIES_SUMMARY = ["series_description", "manufacturer", "modality", "image_type",
                  "scanning_sequence", "sequence_variant", "scan_options", "series_number",
                  "echo_time", "repetition_time", "inversion_time", "flip_angle",
                  "echo_train_length", "field_strength", "transfer_syntax", "photometric",
                  *[f"iop_{i}" for i in range(6)], "pixel_spacing_0", "pixel_spacing_1",
                  "slice_thickness"]


def series_table(files: pd.DataFrame) -> pd.DataFrame:
    """One row per series: keys, counts, geometry and the header summary of its first file.
    ``n_slices`` counts frames, a mosaic's slices for a Siemens mosaic."""
    grouped = frames_in_order(files, "series_key").groupby("series_key", sort=True)
    first = grouped[["patient_key", "study_key", "shard", "series_dir", "rows", "columns",
                     *SERIES_SUMMARY]].first()
    table = first.assign(
        n_files=grouped.size(),
        n_slices=grouped["n_frames"].sum(),
        header_orientation=grouped["header_orientation"].agg(_mode),
        b_value=grouped["b_value"].max(),
        contrast_agent=grouped["contrast_agent"].any(),
    ).reset_index()
    columns = ["series_key", "patient_key", "study_key", "shard", "series_dir", "n_files",
               "n_slices", "rows", "columns", "header_orientation", *SERIES_SUMMARY, "b_value",
               "contrast_agent"]
    return table[columns]


def _mode(values: pd.Series) -> str:
    counts = Counter(values)
    return max(counts, key=lambda v: (counts[v], v != "unknown")) if counts else "unknown"


def merge_manifests(files_shards: Sequence[str], rejects_shards: Sequence[str], files_out: str,
                    series_out: str, volumes_out: str, rejects_out: str, qc_out: str,
                    labels_path: str = "", layout: str = "generic", taxonomy: dict | None = None,
                    label_map: str = "resources/dlds_label_map.yaml",
                    include_localizers: bool = True, key_env: str = "MRISEQ_PSEUDONYM_KEY",
                    key: str = "", volume_rules: Sequence[str] | None = None,
                    max_dynamic_phases: int | None = MAX_DYNAMIC_PHASES) -> None:
    """Concatenate shard tables, split series into volumes (:mod:`mriseq.scan.volumes`), build
    series.parquet and volumes.parquet with reference labels, write the QC summary."""
    files = pd.concat([pd.read_parquet(p) for p in files_shards], ignore_index=True) \
        if files_shards else files_frame([])
    rejects = pd.concat([pd.read_parquet(p) for p in rejects_shards], ignore_index=True) \
        if rejects_shards else rejects_frame([])
    files = with_file_columns(files).astype(FILE_DTYPES).sort_values(["shard", "path"],
                                                                     kind="stable")
    duplicate = files.duplicated("sop_key", keep="first")
    if duplicate.any():
        first_path = files.groupby("sop_key")["path"].transform("first")
        cross = rejects_frame([(p, s, "scan", "duplicate_sop_instance",
                                f"same SOPInstanceUID as {fp} (another shard)")
                               for p, s, fp in zip(files.path[duplicate], files.shard[duplicate],
                                                   first_path[duplicate], strict=True)])
        rejects = pd.concat([rejects, cross], ignore_index=True)
        files = files[~duplicate]
    files = assign_volumes(files.reset_index(drop=True), volume_rules, max_dynamic_phases)
    rejects = rejects.astype("string").sort_values(["shard", "path"]).reset_index(drop=True)
    join = (labels_path, layout, taxonomy or DEFAULT_TAXONOMY, label_map, include_localizers,
            resolve_key(key_env, key))
    series, _ = join_labels(series_table(files), *join)
    volumes, label_qc = join_labels(volume_table(files), *join)
    qc = qc_summary(files, rejects, volumes, label_qc)
    log.info("merged: %d files, %d rejects, %d series, %d volumes", len(files), len(rejects),
             len(series), len(volumes))
    write_parquet(files, files_out)
    write_parquet(series, series_out)
    write_parquet(volumes, volumes_out)
    write_parquet(rejects, rejects_out)
    write_csv(qc, qc_out)


def qc_summary(files: pd.DataFrame, rejects: pd.DataFrame, volumes: pd.DataFrame,
               label_qc: dict[str, int]) -> pd.DataFrame:
    """reason,count rows: each reject reason, the label-join notes, and the totals (series, the
    volumes they hold, series split into several volumes and by which rule)."""
    rows = sorted(Counter(rejects["reason"].astype(str)).items())
    rows += sorted(label_qc.items())
    per_series = volumes.drop_duplicates("series_key")
    several = per_series[per_series["volumes_in_series"] > 1]
    rules = Counter(rule for split in several["volume_split"].dropna() for rule in split.split("+")
                    if rule)
    rows += [("files_ok", len(files)), ("files_total", len(files) + len(rejects)),
             ("series_total", len(per_series)),
             ("series_with_several_volumes", len(several)),
             *((f"series_split_by_{rule}", n) for rule, n in sorted(rules.items())),
             ("series_labelled",
              int(volumes.loc[volumes["label_sequence"].notna(), "series_key"].nunique())),
             ("volumes_total", len(volumes)),
             ("volumes_labelled", int(volumes["label_sequence"].notna().sum()))]
    return pd.DataFrame(rows, columns=["reason", "count"])

"""Merge the shard indexes of a dataset into one index with volumes, labels and a QC summary.

The shard tensors stay where they are: the merged index names each row's shard and row, so a
reader memory-maps the ``.npy`` files it needs. What the merge adds is what no single shard can
know: files the merged scan rejects (SOP instances duplicated across shards), each row's volume and
its reference labels, and the slice order over whole volumes.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from mriseq.io import write_csv, write_parquet
from mriseq.scan.volumes import with_volume_key
from mriseq.tensors.tables import INDEX_COLUMNS, REJECT_COLUMNS, order_slices, typed_table

log = logging.getLogger("mriseq.tensors.merge")


def merge_tensors(shard_indexes: list[str], shard_rejects: list[str],
                  manifest_rejects: str | os.PathLike, volumes_path: str | os.PathLike,
                  index_out: str | os.PathLike, qc_out: str | os.PathLike,
                  rejects_out: str | os.PathLike,
                  files_path: str | os.PathLike | None = None) -> pd.DataFrame:
    """All shards' index rows in one table with their volume and its reference labels.

    ``volumes_path`` is the scan's volumes.parquet (a series table is read as one volume per
    series); ``files_path``, the merged files.parquet, gives each file its volume (without it a
    row's volume is its series). Rows of files the merged scan rejects (duplicates across
    shards, found only after all shards were scanned) are dropped, as are rows of volumes the
    manifest does not list; slice order is recomputed over the whole volume. Writes
    ``index.parquet``, ``rejects.parquet`` (decode and ``blank_image`` rejects of all shards) and
    ``qc_summary.csv`` (rejects by reason and totals, among them ``blank_frames``: frames skipped
    as blank in files that kept others).
    """
    index = _concat([pd.read_parquet(p) for p in shard_indexes], INDEX_COLUMNS)
    if "blank_frames" not in index.columns:  # shards preprocessed before blank frames were kept out
        index["blank_frames"] = 0
    rejects = _concat([pd.read_parquet(p) for p in shard_rejects], REJECT_COLUMNS)
    scan_rejected = set(pd.read_parquet(manifest_rejects, columns=["path"])["path"])
    volumes = with_volume_key(pd.read_parquet(volumes_path))
    label_columns = [c for c in volumes.columns if c.startswith("label_")]

    files_total = index["path"].nunique() + len(rejects)
    excluded = index["path"].isin(scan_rejected)
    n_excluded_files = index.loc[excluded, "path"].nunique()
    index = index.loc[~excluded]
    index["volume_key"] = index["series_key"]
    if files_path is not None:
        volume_of = pd.read_parquet(files_path, columns=["sop_key", "volume_key"]) \
            .drop_duplicates("sop_key").set_index("sop_key")["volume_key"]
        index["volume_key"] = index["sop_key"].map(volume_of).fillna(index["series_key"])
    index["volume_key"] = index["volume_key"].astype("string")
    known = index["volume_key"].isin(set(volumes["volume_key"]))
    n_unknown_series = index.loc[~known, "series_key"].nunique()
    index = index.loc[known]
    labels = volumes[["volume_key", *label_columns]].drop_duplicates("volume_key")
    index = index.merge(labels, on="volume_key", how="left", validate="many_to_one")
    index["slice_index"] = order_slices(index)
    index = index.sort_values(["shard", "row"], kind="stable").reset_index(drop=True)

    not_sampled = 0
    if files_path is not None:
        # Predict mode's per-volume bound leaves files out on purpose: counted, so that every
        # manifest file is a tensor row, a reject, or one of these.
        listed = set(pd.read_parquet(files_path, columns=["path"])["path"]) - scan_rejected
        not_sampled = len(listed - set(index["path"]) - set(rejects["path"]))
    write_parquet(index, index_out)
    write_parquet(rejects, rejects_out)
    counts = rejects["reason"].value_counts().sort_index()
    qc = pd.DataFrame({"reason": counts.index.astype(str), "count": counts.to_numpy()})
    blank_frames = int(index.drop_duplicates("path")["blank_frames"].sum())
    totals = pd.DataFrame({
        "reason": ["excluded_by_scan", "series_not_in_manifest", "blank_frames",
                   "files_not_sampled", "files_ok", "files_total", "slices_ok", "series_ok",
                   "volumes_ok"],
        "count": [n_excluded_files, n_unknown_series, blank_frames, not_sampled,
                  index["path"].nunique(), files_total, len(index),
                  index["series_key"].nunique(), index["volume_key"].nunique()],
    })
    write_csv(pd.concat([qc, totals], ignore_index=True), qc_out)
    log.info("merged %d shards: %d slices of %d volumes in %d series, %d decode or blank "
             "rejects, %d blank frames skipped in files that kept others, %d files dropped as "
             "scan rejects, %d series not in the manifest", len(shard_indexes), len(index),
             index["volume_key"].nunique(), index["series_key"].nunique(), len(rejects),
             blank_frames, n_excluded_files, n_unknown_series)
    return index


def _concat(frames: list[pd.DataFrame], columns: dict[str, str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return typed_table([], columns)
    return pd.concat(frames, ignore_index=True)

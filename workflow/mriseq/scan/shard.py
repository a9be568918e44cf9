"""Scan one shard: its files' DICOM headers → a files table and a rejects table.

A shard is a group of top-level entries of the raw directory (usually one patient each, see
:mod:`mriseq.scan.sharding`). :func:`scan_shard` lists every file under its entries, reads each
header in worker processes (:func:`mriseq.scan.headers.read_headers`), applies the per-shard checks
(duplicate SOPInstanceUID, Rows/Columns differing inside a volume) and writes two Parquet files.
Every file found lands in exactly one of them.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence

import pandas as pd

from mriseq.defaults import setting
from mriseq.io import write_parquet
from mriseq.scan.headers import list_files, read_headers
from mriseq.scan.privacy import resolve_key
from mriseq.scan.tables import files_frame, rejects_frame
from mriseq.scan.timing import series_offsets
from mriseq.scan.volumes import assign_volumes

log = logging.getLogger("mriseq.scan.shard")


def scan_files(raw_dir, entries: Iterable[str], shard: str, key: bytes,
               max_pixels: int | None = None, orientation_tolerance: float | None = None,
               workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Files and rejects tables of the given top-level entries (per-shard checks applied).
    ``max_pixels`` and ``orientation_tolerance`` are the ``scan`` settings (schema defaults when
    None)."""
    max_pixels = int(setting("scan", "max_pixels", max_pixels))
    orientation_tolerance = float(setting("scan", "orientation_tolerance", orientation_tolerance))
    root = os.fspath(raw_dir)
    items = list_files(root, entries)
    log.info("shard %s: %d files under %d entries", shard, len(items), len(list(entries)))
    results = read_headers(root, items, shard, key, max_pixels, orientation_tolerance, workers,
                           progress=f"scan {shard}")
    files = files_frame([row for ok, row in results if ok])
    files["acquisition_offset"] = series_offsets(files)
    rejects = rejects_frame([row for ok, row in results if not ok])
    files, extra = shard_checks(files)
    return files, pd.concat([rejects, extra], ignore_index=True) if len(extra) else rejects


def shard_checks(files: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reject repeated SOP instances (the first path keeps it) and files whose Rows/Columns differ
    from the most common size of their volume (ties: the size of the volume's first path). The
    volumes of one series may differ in size (the planes of a survey, say): only a file that
    differs from the rest of its own stack is a mismatch."""

    files = files.sort_values("path", kind="stable").reset_index(drop=True)
    duplicate = files.duplicated("sop_key", keep="first")
    first_path = files.groupby("sop_key")["path"].transform("first")
    rejects = [(p, s, "scan", "duplicate_sop_instance", f"same SOPInstanceUID as {fp}")
               for p, s, fp in zip(files.path[duplicate], files.shard[duplicate],
                                   first_path[duplicate], strict=True)]
    files = files[~duplicate]
    mismatch = pd.Series(False, index=files.index)
    sizes_per_series = files.groupby("series_key")[["rows", "columns"]].nunique()
    mixed = sizes_per_series.index[(sizes_per_series > 1).any(axis=1)]
    candidates = files[files["series_key"].isin(mixed)]
    if len(candidates):  # every rule, every pass apart: the check is per stack and per pass,
        # whatever the merge will keep apart or together
        candidates = assign_volumes(candidates, max_dynamic_phases=None)
    for _, group in candidates.groupby("volume_key" if len(candidates) else "series_key",
                                       sort=False):
        sizes = list(zip(group["rows"], group["columns"], strict=True))
        counts = Counter(sizes)
        if len(counts) < 2:
            continue
        best = max(counts.values())
        keep = next(size for size in sizes if counts[size] == best)
        for index, size in zip(group.index, sizes, strict=True):
            if size != keep:
                mismatch[index] = True
                rejects.append((files.at[index, "path"], files.at[index, "shard"], "scan",
                                "geometry_mismatch",
                                f"{size[0]}x{size[1]} in a volume of {keep[0]}x{keep[1]}"))
    return files[~mismatch].reset_index(drop=True), rejects_frame(rejects)


def scan_shard(raw_dir: str, entries: Sequence[str], files_out: str, rejects_out: str, shard: str,
               key_env: str, key: str, max_pixels: int | None = None,
               orientation_tolerance: float | None = None, workers: int = 1) -> None:
    """Scan one shard's entries and write its files and rejects Parquet files."""
    files, rejects = scan_files(raw_dir, list(entries), shard, resolve_key(key_env, key),
                                max_pixels, orientation_tolerance, workers)
    log.info("shard %s: %d files ok, %d rejected %s", shard, len(files), len(rejects),
             dict(Counter(rejects["reason"])))
    write_parquet(files, files_out)
    write_parquet(rejects, rejects_out)

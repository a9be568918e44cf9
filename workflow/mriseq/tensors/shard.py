"""Preprocess one shard of a dataset into a memory-mappable tensor and its index.

Per shard: ``{shard}.npy`` of shape (N, size, size), one row per slice (multi-frame files expand
into their frames, Siemens mosaics into their tiles), ``{shard}.index.parquet`` mapping each row to
its series, patient, SOP instance, frame, order along the slice normal, and
``{shard}.rejects.parquet`` for files whose pixels cannot be decoded (reason codes from
:mod:`mriseq.dicom.pixels`) or hold nothing but blank frames (``blank_image``). A reject never stops
the job; every file ends in exactly one of index and rejects. What becomes of each file's pixels
is :mod:`mriseq.tensors.frames`; the files are decoded in worker processes
(:func:`mriseq.parallel.parallel_map`) and their results appended in plan order.

Memory stays bounded by one image, not the shard: rows are appended to the ``.npy`` file as they
come (the header is rewritten with the final row count at the end, numpy reserves room for that),
then the file is renamed into place atomically.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq.defaults import setting
from mriseq.dicom.pixels import native_layout
from mriseq.io import atomic_path, write_parquet
from mriseq.parallel import parallel_map
from mriseq.scan.volumes import MAX_DYNAMIC_PHASES, sample_slices
from mriseq.tensors.frames import process_file
from mriseq.tensors.tables import INDEX_COLUMNS, REJECT_COLUMNS, order_slices, typed_table

log = logging.getLogger("mriseq.tensors.shard")

REQUIRED_FILE_COLUMNS = ("path", "series_key", "patient_key", "sop_key")


# ---------------------------------------------------------------- npy writing


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


class NpyAppender:
    """Append rows of a (N, size, size) array to an open file; the header is rewritten with the
    final N at the end (numpy pads headers so that the first dimension can grow in place)."""

    def __init__(self, handle, size: int, dtype: str):
        self.handle, self.size, self.dtype, self.rows = handle, size, dtype, 0
        self.header_length = len(_npy_header((0, size, size), dtype))
        handle.write(_npy_header((0, size, size), dtype))

    def append(self, tensors: np.ndarray) -> int:
        start = self.rows
        self.handle.write(np.ascontiguousarray(tensors, dtype=self.dtype).tobytes())
        self.rows += len(tensors)
        return start

    def close(self) -> None:
        header = _npy_header((self.rows, self.size, self.size), self.dtype)
        if len(header) != self.header_length:  # pragma: no cover - numpy guarantees room
            raise RuntimeError("npy header grew; cannot rewrite it in place")
        self.handle.seek(0)
        self.handle.write(header)
        self.handle.flush()


# ---------------------------------------------------------------- the shard job


def _window(window_percentiles) -> tuple[float, float]:
    """The (low, high) percentiles. The schema checks each value and the enums; the order of the
    two is the one constraint it cannot state."""
    low, high = (float(p) for p in window_percentiles)
    if not 0 <= low < high <= 100:
        raise ValueError(
            "Config key 'preprocess.window_percentiles': needs two percentiles "
            f"0 <= low < high <= 100, got {list(window_percentiles)}."
        )
    return low, high


def plan_files(files: pd.DataFrame, source: str) -> pd.DataFrame:
    """Files in tensor-row order: by series, then position along the normal, instance number and
    path (never file-name order alone). Missing required columns stop with one sentence."""
    missing = [c for c in REQUIRED_FILE_COLUMNS if c not in files.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)} (see CONTRACTS.md).")
    planned = files.copy()
    for column in ("slice_position", "instance_number"):
        if column not in planned.columns:
            planned[column] = np.nan
        planned[column] = pd.to_numeric(planned[column], errors="coerce").astype("float64")
    for column in ("study_key", "transfer_syntax"):
        if column not in planned.columns:
            planned[column] = None
    if "mosaic_images" not in planned.columns:  # a manifest of an older scan
        planned["mosaic_images"] = 0
    return planned.sort_values(
        ["series_key", "slice_position", "instance_number", "path"], na_position="last",
        kind="stable",
    ).reset_index(drop=True)


def preprocess_shard(files_path: str | os.PathLike, raw_dir: str | os.PathLike,
                     tensors_path: str | os.PathLike, index_path: str | os.PathLike,
                     rejects_path: str | os.PathLike, *, size: int, dtype: str | None = None,
                     aspect: str | None = None, window_percentiles=None,
                     workers: int = 1, max_slices_per_volume: int = 0,
                     volume_rules: Sequence[str] | None = None,
                     max_dynamic_phases: int | None = MAX_DYNAMIC_PHASES) -> dict[str, int]:
    """Preprocess the files listed in a shard's ``files.parquet`` (paths relative to ``raw_dir``).
    ``dtype``, ``aspect`` and ``window_percentiles`` are the ``preprocess`` settings (schema
    defaults when None). ``max_slices_per_volume`` > 0 decodes only that many files of each
    volume (:func:`mriseq.scan.volumes.sample_slices`, volumes keyed by ``volume_rules``): predict
    mode's bound on the cost of a volume; the files left out stay in the scan's manifest.

    Writes the three shard outputs atomically and returns counts (files, slices, rejects).
    """
    dtype = setting("preprocess", "dtype", dtype)
    aspect = setting("preprocess", "aspect", aspect)
    window = _window(setting("preprocess", "window_percentiles", window_percentiles))
    listed = pd.read_parquet(files_path)
    sampled = sample_slices(listed, int(max_slices_per_volume), volume_rules, max_dynamic_phases)
    if len(sampled) < len(listed):
        log.info("%d of %d files kept: at most %d per volume", len(sampled), len(listed),
                 max_slices_per_volume)
    files = plan_files(sampled, str(files_path))
    shard = Path(files_path).name.split(".")[0]
    raw_dir = Path(raw_dir)
    tasks = [(str(raw_dir / record.path),
              record.transfer_syntax if isinstance(record.transfer_syntax, str)
              and record.transfer_syntax else None, native_layout(record))
             for record in files.itertuples(index=False)]
    n_native = sum(task[2] is not None for task in tasks)
    work = partial(process_file, size=int(size), aspect=aspect, window_percentiles=window,
                   dtype=dtype)
    log.info("shard %s: %d files from %s (%d read directly from the scan's pixel layout), "
             "size %d, %s, aspect %s, window %s, %d worker(s)", shard, len(tasks), raw_dir,
             n_native, size, dtype, aspect, window, workers)

    started = time.perf_counter()
    index_rows: list[dict] = []
    reject_rows: list[dict] = []
    # Chunks of at most 16 files, and at least 8 chunks per worker so that slow files even out.
    chunksize = max(1, min(16, len(tasks) // (max(1, workers) * 8)))
    with atomic_path(tensors_path, suffix=".npy") as tmp:
        with open(tmp, "wb") as handle:
            appender = NpyAppender(handle, int(size), dtype)
            # One BLAS thread per process: small matrix products gain nothing from more, and
            # the workers share the job's cores.
            results = parallel_map(work, tasks, workers, chunksize=chunksize, blas_threads=1,
                                   progress=f"preprocess {shard}", unit="file")
            try:
                _collect(files, results, shard, appender, index_rows, reject_rows)
            finally:
                results.close()
            appender.close()
    index = typed_table(index_rows, INDEX_COLUMNS)
    index["slice_index"] = order_slices(index)
    write_parquet(index, index_path)
    rejects = typed_table(reject_rows, REJECT_COLUMNS)
    write_parquet(rejects, rejects_path)

    elapsed = time.perf_counter() - started
    blank_frames = int(index.drop_duplicates("path")["blank_frames"].sum())
    counts = {"files": len(tasks), "slices": len(index), "rejects": len(rejects),
              "blank_frames": blank_frames}
    log.info("shard %s: %d slices from %d files in %.1f s (%.0f slices/s), %d rejected%s; "
             "%d blank frames skipped in files that kept others", shard, counts["slices"],
             counts["files"], elapsed, counts["slices"] / elapsed if elapsed > 0 else 0.0,
             counts["rejects"],
             f" ({rejects['reason'].value_counts().to_dict()})" if len(rejects) else "",
             blank_frames)
    return counts


def _collect(files: pd.DataFrame, results, shard: str, appender: NpyAppender,
             index_rows: list[dict], reject_rows: list[dict]) -> None:
    """Append each file's tensors in plan order and record its index rows or its reject."""
    for record, result in zip(files.itertuples(index=False), results, strict=True):
        if result[0] == "reject":
            reject_rows.append({"path": record.path, "shard": shard, "stage": "preprocess",
                                "reason": result[1], "message": result[2]})
            continue
        _, tensors, positions, frames, n_blank = result
        start = appender.append(tensors)
        for offset, (frame, position) in enumerate(zip(frames, positions, strict=True)):
            index_rows.append({
                "row": start + offset,
                "shard": shard,
                "series_key": record.series_key,
                "patient_key": record.patient_key,
                "study_key": record.study_key,
                "sop_key": record.sop_key,
                "path": record.path,
                "frame": int(frame),
                "slice_index": -1,
                "slice_position": position if np.isfinite(position)
                else record.slice_position,
                "instance_number": record.instance_number,
                "blank_frames": n_blank,
            })

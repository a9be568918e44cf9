"""Preprocess one shard of a dataset into a memory-mappable tensor and its index.

Per shard: ``{shard}.npy`` of shape (N, size, size), one row per slice (multi-frame files expand
into their frames, Siemens mosaics into their tiles), ``{shard}.index.parquet`` mapping each row to
its series, patient, SOP instance, frame, order along the slice normal, and
``{shard}.rejects.parquet`` for files whose pixels cannot be decoded (reason codes from
:mod:`mriseq.dicom.pixels`) or hold nothing but blank frames (``blank_image``). A reject never stops
the job; every file ends in exactly one of index and rejects.

Each image: decode (:func:`mriseq.dicom.pixels.decode`: rescale, MONOCHROME1, colour) → resize with an
antialiasing triangle filter (PIL BILINEAR) to the target shape → robust percentile window computed
on the resized image (``window_percentiles``; cheaper than on the full matrix, and it is the window
of what
the model sees) → place on a ``size``×``size`` canvas.

Blank frames: a frame with no contrast inside its window (all zero, constant, or blanked but for
a few pixels, as anonymised files often are) carries nothing a classifier could learn or vote on;
windowed it would become an all-black slice, still trained on and voting in its series.
Such frames are skipped. A file whose every frame is blank is a ``blank_image`` reject; a file
that keeps some frames records how many it skipped (``blank_frames``, summed in the QC summary),
and its kept rows keep their true ``frame`` numbers.

Aspect: ``pad`` (default) keeps the physical aspect ratio (Rows × row spacing vs Columns × column
spacing) and pads the short side with black, so body outlines keep their shape, which the plane
and sequence classifiers rely on; ``stretch`` fills the square and distorts rectangular fields of
view. Dtype: ``uint8`` (default) stores the window in 0–255: 8 bits are below the noise of
windowed MR magnitude images and take half the memory and bandwidth of ``float16``, whose values
are the window in [0, 1] for users who want finer steps.

Memory stays bounded by one image, not the shard: rows are appended to the ``.npy`` file as they
come (the header is rewritten with the final row count at the end, numpy reserves room for that),
then the file is renamed into place atomically.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image  # imported before the pool forks, not once per worker

from mriseq.defaults import setting
from mriseq.dicom import one_line
from mriseq.dicom.pixels import DecodeError, NativeLayout, decode, decode_native, native_layout
from mriseq.io import atomic_path, write_csv, write_parquet
from mriseq.logs import progress
from mriseq.scan.volumes import sample_slices, with_volume_key

log = logging.getLogger("mriseq.tensors.preprocess")

INDEX_COLUMNS = {
    "row": "int64",
    "shard": "str",
    "series_key": "str",
    "patient_key": "str",
    "study_key": "str",
    "sop_key": "str",
    "path": "str",
    "frame": "int64",
    "slice_index": "int64",
    "slice_position": "float64",
    "instance_number": "float64",
    "blank_frames": "int64",
}
REJECT_COLUMNS = {"path": "str", "shard": "str", "stage": "str", "reason": "str", "message": "str"}
REQUIRED_FILE_COLUMNS = ("path", "series_key", "patient_key", "sop_key")


# ---------------------------------------------------------------- image transform


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize (F, H, W) float32 frames with PIL's antialiased BILINEAR: a triangle filter whose
    support widens with the downsampling factor, so each output pixel averages the input pixels it
    covers (no aliasing); upsampling is linear interpolation. PIL's separable C loops beat a dense
    resampling-matrix product (measured: 1.0 vs 2.2 ms for 512² → 128², 0.47 vs 0.88 ms for
    320×260) and give the same values."""
    out = np.empty((len(frames), height, width), dtype=np.float32)
    for i, frame in enumerate(frames):
        image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.float32))
        out[i] = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
    return out


def window_bounds(images: np.ndarray, percentiles: tuple[float, float]):
    """Per-image (low, high) percentiles of (F, N) values, numpy's 'linear' method, via one
    ``np.partition`` (about 2.5× faster than ``np.percentile`` on 128² images)."""
    n = images.shape[1]
    positions = np.array(percentiles, dtype=np.float64) / 100.0 * (n - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    kth = np.unique(np.concatenate([below, above]))
    parted = np.partition(images, kth, axis=1)
    fraction = (positions - below).astype(np.float32)
    bounds = parted[:, below] * (1 - fraction) + parted[:, above] * fraction
    return bounds[:, 0], bounds[:, 1]


def target_shape(rows: int, columns: int, size: int, aspect: str,
                 spacing: tuple[float, float] | None = None) -> tuple[int, int]:
    """Resized (height, width): the square for ``stretch``; for ``pad`` the longer physical side
    becomes ``size`` and the other keeps the physical aspect ratio."""
    if aspect == "stretch":
        return size, size
    row_mm, col_mm = spacing or (1.0, 1.0)
    height, width = rows * row_mm, columns * col_mm
    longest = max(height, width)
    return (max(1, round(size * height / longest)), max(1, round(size * width / longest)))


@dataclass
class WindowedFrames:
    tensors: np.ndarray  # (F, size, size) of the output dtype; blank frames all black
    blank: np.ndarray  # (F,) bool: no contrast inside the frame's window
    level: np.ndarray  # (F,) float32: the window's low bound, a blank frame's value


def window_frames(frames: np.ndarray, *, size: int, aspect: str = "pad",
                  window_percentiles=(0.5, 99.5), dtype: str = "uint8",
                  spacing: tuple[float, float] | None = None) -> WindowedFrames:
    """(F, H, W) float frames → (F, size, size) tensors of ``dtype``, each frame windowed on its
    own, and which frames are blank."""
    n, rows, columns = frames.shape
    out_h, out_w = target_shape(rows, columns, size, aspect, spacing)
    resized = resize_frames(frames, out_h, out_w)
    low, high = window_bounds(resized.reshape(n, -1), tuple(window_percentiles))
    span = (high - low).astype(np.float32)
    # A constant image has no contrast to window (only float rounding of the resize): blank.
    flat = span <= 1e-4 * np.maximum(1.0, np.maximum(np.abs(low), np.abs(high)))
    scale = np.where(flat, 0.0, 1.0 / np.where(flat, 1.0, span)).astype(np.float32)
    windowed = (resized - low[:, None, None]) * scale[:, None, None]
    np.clip(windowed, 0.0, 1.0, out=windowed)
    out = np.zeros((n, size, size), dtype=dtype)
    top, left = (size - out_h) // 2, (size - out_w) // 2
    target = out[:, top:top + out_h, left:left + out_w]
    if dtype == "uint8":
        target[:] = (windowed * 255.0 + 0.5).astype(np.uint8)
    else:
        target[:] = windowed.astype(dtype)
    return WindowedFrames(out, flat, low.astype(np.float32))


def preprocess_frames(frames: np.ndarray, *, size: int, aspect: str = "pad",
                      window_percentiles=(0.5, 99.5), dtype: str = "uint8",
                      spacing: tuple[float, float] | None = None) -> np.ndarray:
    """(F, H, W) float frames → (F, size, size) windowed tensors of ``dtype`` (blank frames
    black; :func:`window_frames` says which they are)."""
    return window_frames(frames, size=size, aspect=aspect, window_percentiles=window_percentiles,
                         dtype=dtype, spacing=spacing).tensors


def blank_message(levels: np.ndarray, window_percentiles) -> str:
    """Why a file is a ``blank_image`` reject: how many frames, at which value."""
    low, high = float(np.min(levels)), float(np.max(levels))
    value = f"value {low:.6g}" if np.isclose(low, high) else f"values {low:.6g} to {high:.6g}"
    frames = "the only frame is" if len(levels) == 1 else f"all {len(levels)} frames are"
    return (f"{frames} blank: no contrast between the {window_percentiles[0]:g} and "
            f"{window_percentiles[1]:g} percentiles ({value})")


# ---------------------------------------------------------------- per-file work (runs in workers)


def process_file(task: tuple[str, str | None, NativeLayout | None], *, size: int, aspect: str,
                 window_percentiles, dtype: str):
    """Decode and transform one file. Returns ("ok", tensors, positions, frame numbers, blank
    frames skipped) or ("reject", reason, message); never raises for a per-file problem. Blank
    frames are left out of the tensors; a file with nothing else is a ``blank_image`` reject.

    With a :class:`~mriseq.dicom.pixels.NativeLayout` from the scan the pixels are read directly; should
    that fail (the file changed since the scan), pydicom decodes it as for any other file.
    """
    path, transfer_syntax, layout = task
    try:
        image = None
        if layout is not None:
            try:
                image = decode_native(path, layout)
            except DecodeError:
                image = None
        if image is None:
            image = decode(path, transfer_syntax)
        windowed = window_frames(image.frames, size=size, aspect=aspect,
                                 window_percentiles=window_percentiles, dtype=dtype,
                                 spacing=image.pixel_spacing)
    except DecodeError as error:
        return "reject", error.reason, error.message
    except Exception as error:  # noqa: BLE001 - an unexpected per-file failure is a reject too
        return "reject", "reader_error", one_line(f"{type(error).__name__}: {error}", 500)
    blank = windowed.blank
    n_blank = int(blank.sum())
    if n_blank == len(blank):
        return "reject", "blank_image", blank_message(windowed.level, window_percentiles)
    frame_numbers = np.arange(len(blank))
    if n_blank:
        kept = ~blank
        return ("ok", windowed.tensors[kept], np.asarray(image.positions)[kept],
                frame_numbers[kept], n_blank)
    return "ok", windowed.tensors, image.positions, frame_numbers, 0


def _single_blas_thread() -> None:
    # Worker processes share the job's cores: one BLAS thread each avoids oversubscription.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


# ---------------------------------------------------------------- npy writing


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    import io

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


def order_slices(index: pd.DataFrame) -> pd.Series:
    """0-based order of each row along the slice normal within its volume (its series where the
    index has no volume key; ties: instance number, frame, path)."""
    if index.empty:
        return pd.Series([], dtype="int64", index=index.index)
    unit = "volume_key" if "volume_key" in index else "series_key"
    ordered = index.sort_values(
        [unit, "slice_position", "instance_number", "frame", "path", "shard", "row"],
        na_position="last", kind="stable",
    )
    return ordered.groupby(unit, sort=False).cumcount().reindex(index.index).astype("int64")


def _typed(rows: list[dict], columns: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype(columns)


def preprocess_shard(files_path: str | os.PathLike, raw_dir: str | os.PathLike,
                     tensors_path: str | os.PathLike, index_path: str | os.PathLike,
                     rejects_path: str | os.PathLike, *, size: int, dtype: str | None = None,
                     aspect: str | None = None, window_percentiles=None,
                     workers: int = 1, max_slices_per_volume: int = 0,
                     volume_rules: Sequence[str] | None = None) -> dict[str, int]:
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
    sampled = sample_slices(listed, int(max_slices_per_volume), volume_rules)
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
    with atomic_path(tensors_path, suffix=".npy") as tmp:
        with open(tmp, "wb") as handle:
            appender = NpyAppender(handle, int(size), dtype)
            with _mapper(workers if len(tasks) > 1 else 1) as mapper:
                results = progress(mapper(work, tasks), total=len(tasks),
                                   desc=f"preprocess {shard}", unit="file")
                _collect(files, results, shard, appender, index_rows, reject_rows)
            appender.close()
    index = _typed(index_rows, INDEX_COLUMNS)
    index["slice_index"] = order_slices(index)
    write_parquet(index, index_path)
    rejects = _typed(reject_rows, REJECT_COLUMNS)
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


@contextmanager
def _mapper(workers: int):
    """An order-preserving ``map``: the built-in for one worker, else a process pool's (decoding
    is CPU-bound Python; threads would serialise on the GIL). The pool forks before any progress
    thread starts."""
    if workers <= 1:
        from threadpoolctl import threadpool_limits

        # Small matrix products: BLAS threads cost more in wake-ups than they save.
        with threadpool_limits(1):
            yield map
        return
    import multiprocessing

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_single_blas_thread) as pool:

        def pool_map(work, tasks):
            chunksize = max(1, min(16, len(tasks) // (workers * 8)))
            return pool.map(work, tasks, chunksize=chunksize)

        yield pool_map


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


# ---------------------------------------------------------------- merging shards


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
        return _typed([], columns)
    return pd.concat(frames, ignore_index=True)

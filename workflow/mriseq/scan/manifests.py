"""Scan / QC: DICOM headers of one shard -> files and rejects tables; merge -> manifests.

A shard is a group of top-level entries of the raw directory (usually one patient each, see
``mriseq.scan.sharding``). ``scan_shard`` lists every file under its entries, reads each header with
``mriseq.dicom.read_header`` in a pool of worker processes, pseudonymises identifiers inside the
worker (raw UIDs and patient IDs never leave it), applies the per-shard checks (duplicate
SOPInstanceUID, Rows/Columns differing inside a series) and writes two Parquet files. Every file
found lands in exactly one of them. ``merge_manifests`` concatenates the shards, rejects SOP
instances duplicated across shards, builds the per-series table, joins the reference labels
(``mriseq.scan.layouts.base``) and writes the QC summary. A file's plane (``header_orientation``) and its
position along the slice normal come from ``mriseq.geometry``, which the decoder and the
synthetic generator share.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from mriseq.defaults import setting
from mriseq.dicom import one_line, read_header
from mriseq.geometry import orientation_label, position_along, slice_normal
from mriseq.io import write_csv, write_parquet
from mriseq.logs import progress
from mriseq.scan.layouts.registry import join_labels
from mriseq.scan.privacy import pseudonym, resolve_key
from mriseq.scan.volumes import assign_volumes, frames_in_order, volume_table
from mriseq.taxonomy import DEFAULT_TAXONOMY

log = logging.getLogger("mriseq.scan.manifests")

_TEXT = ["transfer_syntax", "photometric", "sop_class_uid", "modality", "manufacturer",
         "series_description", "protocol_name", "image_type", "scanning_sequence",
         "sequence_variant", "scan_options", "sequence_name", "mr_acquisition_type", "stack_id"]
_NUMERIC = ["series_number", "instance_number", "echo_time", "repetition_time", "inversion_time",
            "flip_angle", "echo_train_length", "b_value", "field_strength", "echo_numbers",
            "acquisition_number", "temporal_position", "trigger_time"]
_GEOMETRY = ([f"iop_{i}" for i in range(6)] + [f"ipp_{i}" for i in range(3)]
             + ["pixel_spacing_0", "pixel_spacing_1", "slice_thickness", "spacing_between_slices"])
# What decoding needs, recorded so that preprocessing reads native pixels without a second header
# parse: pixel-data offset and length in the file (-1: must go through a decoder), sample layout,
# the slice count of a Siemens mosaic (0: not one), rescale and whether a Modality LUT is present.
PIXEL_LAYOUT = ["pixel_offset", "pixel_length", "bits_allocated", "bits_stored",
                "pixel_representation", "samples_per_pixel", "planar_configuration",
                "mosaic_images"]
_RESCALE = ["rescale_slope", "rescale_intercept"]
FILE_COLUMNS = (["path", "shard", "entry", "patient_key", "study_key", "series_key", "sop_key",
                 "series_dir", "n_frames", "rows", "columns"] + _TEXT + _NUMERIC
                + ["contrast_agent"] + _GEOMETRY + ["header_orientation", "slice_position"]
                + PIXEL_LAYOUT + _RESCALE + ["modality_lut"])
_FILE_DTYPES = {
    **{c: "string" for c in ["path", "shard", "entry", "patient_key", "study_key", "series_key",
                            "sop_key", "series_dir", *_TEXT, "header_orientation"]},
    **{c: "int64" for c in ["n_frames", "rows", "columns", *PIXEL_LAYOUT]},
    **{c: "float64" for c in [*_NUMERIC, *_GEOMETRY, "slice_position", *_RESCALE]},
    "contrast_agent": "bool",
    "modality_lut": "bool",
}
# Defaults of the layout fields a header may omit (the DICOM defaults pydicom also assumes; no
# mosaic).
_LAYOUT_DEFAULTS = {"bits_allocated": 16, "pixel_representation": 0, "samples_per_pixel": 1,
                    "planar_configuration": 0, "mosaic_images": 0}
REJECT_COLUMNS = ["path", "shard", "stage", "reason", "message"]
_CHUNK = 256  # files per worker task: large enough to amortise inter-process traffic


# ----------------------------------------------------------------------------------------------
# Listing


def list_files(raw_dir: str | os.PathLike, entries: Iterable[str]) -> list[tuple[str, str]]:
    """(entry, path relative to raw_dir) of every non-directory under the given top-level entries.

    Symbolic links are listed, never followed into: a link to a directory is one item (it becomes
    a ``directory_link`` reject), so a link loop cannot make the walk infinite.
    """
    root = os.fspath(raw_dir)
    found: list[tuple[str, str]] = []
    for entry in entries:
        top = os.path.join(root, entry)
        if os.path.islink(top) or not os.path.isdir(top):
            if os.path.lexists(top):
                found.append((entry, entry))
            else:
                log.warning("entry %r listed for this shard no longer exists", entry)
            continue
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            rel_dir = os.path.relpath(dirpath, root)
            for name in filenames:
                found.append((entry, os.path.join(rel_dir, name)))
            for name in dirnames:
                if os.path.islink(os.path.join(dirpath, name)):
                    found.append((entry, os.path.join(rel_dir, name)))
    found.sort(key=lambda item: item[1].encode("utf-8", "surrogateescape"))
    return found


def printable_path(rel: str) -> str:
    """The path as valid UTF-8 text: undecodable bytes written as \\xNN escapes."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# ----------------------------------------------------------------------------------------------
# One file


def scan_file(root: str, entry: str, rel: str, shard: str, key: bytes, max_pixels: int,
              tolerance: float) -> tuple[bool, tuple]:
    """(True, files row) or (False, rejects row) for one file; identifiers already pseudonymised.

    Never raises for a file: the reader rejects what it recognises as bad, and anything that
    still escapes (a reader bug met on an unforeseen file) becomes a ``reader_error`` reject with
    the exception, so one odd file cannot fail the shard.
    """
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False, (printable_path(rel), shard, "scan", "undecodable_name",
                       "file name is not valid UTF-8")
    try:
        return _scan_file(root, entry, rel, shard, key, max_pixels, tolerance)
    except Exception as error:  # noqa: BLE001 - defence in depth, see the docstring
        log.warning("reader error on %s: %s: %s", rel, type(error).__name__, error)
        return False, (rel, shard, "scan", "reader_error",
                       one_line(f"{type(error).__name__}: {error}"))


def _scan_file(root, entry, rel, shard, key, max_pixels, tolerance) -> tuple[bool, tuple]:
    result = read_header(os.path.join(root, rel), max_pixels)
    if not result.ok:
        return False, (rel, shard, "scan", result.reason, result.message)
    f = result.fields
    iop = _padded(f.get("iop"), 6)
    ipp = _padded(f.get("ipp"), 3)
    spacing = _padded(f.get("pixel_spacing") or f.get("imager_pixel_spacing"), 2)
    normal = slice_normal(iop)
    position = position_along(normal, ipp)
    # Without a PatientID the top-level entry stands in for the patient (keeps splits grouped).
    patient = f.get("patient_id") or f"entry:{entry}"
    series_dir = os.path.dirname(rel) or "."
    if f.get("sequence_name") is None:  # enhanced MR names its sequence in PulseSequenceName
        f["sequence_name"] = f.get("pulse_sequence_name")
    row = (
        rel, shard, entry, _repeated_pseudonym(patient, key),
        _repeated_pseudonym(f.get("study_instance_uid"), key),
        _repeated_pseudonym(f["series_instance_uid"], key), pseudonym(f["sop_instance_uid"], key),
        series_dir, int(f["n_frames"]), int(f["rows"]), int(f["columns"]),
        *(f.get(c) for c in _TEXT),
        *(_float(f.get(c)) for c in _NUMERIC),
        bool(f.get("contrast_agent")),
        *iop, *ipp, *spacing, _float(f.get("slice_thickness")),
        _float(f.get("spacing_between_slices")),
        orientation_label(normal, tolerance), position,
        *(_layout_int(f, c) for c in PIXEL_LAYOUT),
        _float(f.get("rescale_slope")), _float(f.get("rescale_intercept")),
        bool(f.get("modality_lut")),
    )
    return True, row


def _layout_int(fields: dict, column: str) -> int:
    value = fields.get(column)
    if value is None or not math.isfinite(value):
        return _LAYOUT_DEFAULTS.get(column, -1)
    return int(value)


# Patient, study and series identifiers repeat in every file of a series: their pseudonyms are
# remembered (per worker process, bounded) instead of recomputing an HMAC per file.
_PSEUDONYMS: dict[tuple[str | None, bytes], str | None] = {}
_PSEUDONYMS_MAX = 65536


def _repeated_pseudonym(value: str | None, key: bytes) -> str | None:
    cached = _PSEUDONYMS.get((value, key))
    if cached is None:
        if len(_PSEUDONYMS) >= _PSEUDONYMS_MAX:
            _PSEUDONYMS.clear()
        cached = _PSEUDONYMS[(value, key)] = pseudonym(value, key)
    return cached


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _padded(values, n: int) -> list[float]:
    values = list(values or [])
    if len(values) != n:
        return [math.nan] * n
    return [_float(v) for v in values]


def _scan_chunk(args) -> list[tuple[bool, tuple]]:
    root, items, shard, key, max_pixels, tolerance = args
    return [scan_file(root, entry, rel, shard, key, max_pixels, tolerance) for entry, rel in items]


# ----------------------------------------------------------------------------------------------
# A shard


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
    chunks = [(root, items[i:i + _CHUNK], shard, key, max_pixels, orientation_tolerance)
              for i in range(0, len(items), _CHUNK)]
    results: list[tuple[bool, tuple]] = []
    bar = progress(None, total=len(items), desc=f"scan {shard}", unit="file")
    if workers > 1 and len(chunks) > 1:
        import multiprocessing

        # fork: workers inherit the imported modules (spawn would re-import pydicom per worker).
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        with multiprocessing.get_context(method).Pool(min(workers, len(chunks))) as pool:
            for chunk in pool.imap(_scan_chunk, chunks):
                results.extend(chunk)
                bar.update(len(chunk))
    else:
        for chunk in chunks:
            results.extend(_scan_chunk(chunk))
            bar.update(len(chunk[1]))
    bar.close()
    files = files_frame([row for ok, row in results if ok])
    rejects = rejects_frame([row for ok, row in results if not ok])
    files, extra = shard_checks(files)
    return files, pd.concat([rejects, extra], ignore_index=True) if len(extra) else rejects


def files_frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows, columns=FILE_COLUMNS)
    return df.astype(_FILE_DTYPES)


def rejects_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=REJECT_COLUMNS).astype("string")


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
    if len(candidates):  # every rule: the check is per stack whatever the merge will keep apart
        candidates = assign_volumes(candidates)
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


# ----------------------------------------------------------------------------------------------
# Merge


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
                    key: str = "", volume_rules: Sequence[str] | None = None) -> None:
    """Concatenate shard tables, split series into volumes (:mod:`mriseq.scan.volumes`), build
    series.parquet and volumes.parquet with reference labels, write the QC summary."""
    files = pd.concat([pd.read_parquet(p) for p in files_shards], ignore_index=True) \
        if files_shards else files_frame([])
    rejects = pd.concat([pd.read_parquet(p) for p in rejects_shards], ignore_index=True) \
        if rejects_shards else rejects_frame([])
    files = _with_file_columns(files).astype(_FILE_DTYPES).sort_values(["shard", "path"],
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
    files = assign_volumes(files.reset_index(drop=True), volume_rules)
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


def _with_file_columns(files: pd.DataFrame) -> pd.DataFrame:
    """Shard tables written by an older scan lack the columns added since: their defaults."""
    missing = [c for c in FILE_COLUMNS if c not in files.columns]
    if not missing:
        return files
    defaults = {"int64": -1, "float64": math.nan, "bool": False, "string": None}
    return files.assign(**{c: _LAYOUT_DEFAULTS.get(c, defaults[_FILE_DTYPES[c]])
                           for c in missing})


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


def count_files(raw_dir: str | os.PathLike) -> int:
    """Non-directory entries under ``raw_dir`` (what the invariant counts)."""
    root = Path(raw_dir)
    return len(list_files(root, sorted(os.listdir(root))))

"""List a shard's files and read each one's DICOM header into a files row or a rejects row.

Each header is read with :func:`mriseq.dicom.read_header`; identifiers are pseudonymised right
there (:mod:`mriseq.scan.privacy`), in the worker process, so raw UIDs and patient IDs never leave
it. A file's plane (``header_orientation``) and its position along the slice normal come from
:mod:`mriseq.geometry`, which the decoder and the synthetic generator share. The rows follow
:mod:`mriseq.scan.tables`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path

from mriseq.dicom import one_line, read_header
from mriseq.geometry import orientation_label, position_along, slice_normal
from mriseq.parallel import parallel_map
from mriseq.scan.privacy import pseudonym
from mriseq.scan.tables import LAYOUT_DEFAULTS, NUMERIC, PIXEL_LAYOUT, TEXT
from mriseq.scan.timing import seconds_of_day

log = logging.getLogger("mriseq.scan.headers")

FILES_PER_TASK = 256  # files per worker task: large enough to amortise inter-process traffic


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


def count_files(raw_dir: str | os.PathLike) -> int:
    """Non-directory entries under ``raw_dir`` (what the invariant counts)."""
    root = Path(raw_dir)
    return len(list_files(root, sorted(os.listdir(root))))


def printable_path(rel: str) -> str:
    """The path as valid UTF-8 text: undecodable bytes written as \\xNN escapes."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# ----------------------------------------------------------------------------------------------
# Many files


def read_headers(root: str, items: Sequence[tuple[str, str]], shard: str, key: bytes,
                 max_pixels: int, tolerance: float, workers: int = 1,
                 progress: str | None = None) -> list[tuple[bool, tuple]]:
    """:func:`scan_file` of each (entry, path) item, in item order, read by ``workers`` processes.

    The map is :func:`mriseq.parallel.parallel_map`, :data:`FILES_PER_TASK` files per task;
    ``progress`` labels the progress bar in the job log.
    """
    work = partial(_scan_item, root=root, shard=shard, key=key, max_pixels=max_pixels,
                   tolerance=tolerance)
    return list(parallel_map(work, items, workers, chunksize=FILES_PER_TASK, progress=progress,
                             unit="file"))


def _scan_item(item: tuple[str, str], *, root: str, shard: str, key: bytes, max_pixels: int,
               tolerance: float) -> tuple[bool, tuple]:
    entry, rel = item
    return scan_file(root, entry, rel, shard, key, max_pixels, tolerance)


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
    # The time of day stays in this row only until the shard makes it an offset within the
    # series (:func:`mriseq.scan.shard.series_offsets`): no clock time reaches the manifests.
    f["acquisition_offset"] = seconds_of_day(f.get("acquisition_time"))
    row = (
        rel, shard, entry, _repeated_pseudonym(patient, key),
        _repeated_pseudonym(f.get("study_instance_uid"), key),
        _repeated_pseudonym(f["series_instance_uid"], key), pseudonym(f["sop_instance_uid"], key),
        series_dir, int(f["n_frames"]), int(f["rows"]), int(f["columns"]),
        *(f.get(c) for c in TEXT),
        *(_float(f.get(c)) for c in NUMERIC), f.get("b_value_source"),
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
        return LAYOUT_DEFAULTS.get(column, -1)
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

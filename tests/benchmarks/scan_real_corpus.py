"""bench-scan on the real-DICOM corpus: uncompressed and gzip-compressed files timed apart.

Part of ``make bench-scan`` (tests/benchmarks/bench_scan.py runs it after the synthetic cohort).
The corpus (``tests/realcorpus``: every file, kept or rejected) is split into its uncompressed
files and its ``.dcm.gz`` files; each group is repeated to a stable measuring time and timed in
the same run, on the same warm page cache, four ways: the naive full
``pydicom.dcmread(stop_before_pixels=True)`` loop (through ``gzip.open`` for a ``.gz`` file),
``pydicom.dcmread(specific_tags=...)`` restricted to the tags the scan reads (pydicom's own way of
reading less), and mriseq's header reader (``mriseq.scan.headers.read_headers``: header read,
validation, pseudonyms) in one process and in --workers processes. Each ratio is printed against
the naive loop and against ``specific_tags`` of the same group.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mriseq.dicom.fields import FIELDS, PRIVATE_B_VALUES  # noqa: E402
from mriseq.scan.headers import read_headers  # noqa: E402
from real_corpus import all_files, corpus_or_none, repeated  # noqa: E402


def _pydicom_loop(paths: list[Path], **kwargs) -> float:
    """files/s of pydicom.dcmread over ``paths`` (a ``.gz`` file read through ``gzip.open``, as
    mriseq inflates it); files pydicom cannot parse count as read."""
    import gzip
    import warnings

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            try:
                if path.name.endswith(".gz"):
                    with gzip.open(path) as stream:
                        pydicom.dcmread(stream, force=True, **kwargs)
                else:
                    pydicom.dcmread(path, force=True, **kwargs)
            except Exception:  # noqa: BLE001 - broken corpus files: pydicom gives up on them
                pass
    return len(paths) / (time.perf_counter() - start)


def _scan_loop(archive: Path, items: list[tuple[str, str]], workers: int) -> float:
    """files/s of mriseq's per-file scan (header read, validation, pseudonyms) in ``workers``
    processes, as the scan job runs it (the same parallel map, the same chunks)."""
    start = time.perf_counter()
    read_headers(str(archive), items, "s000", b"bench", 1 << 24, 0.8, workers)
    return len(items) / (time.perf_counter() - start)


def real_corpus_benchmark(workers: int, at_least: int, rounds: int = 2) -> None:
    """The real-DICOM corpus, its uncompressed and its gzip-compressed files timed apart.

    Inflating a ``.dcm.gz`` is real work that both readers do (mriseq the whole stream, to check
    the pixel data's length; pydicom up to the pixel data), so a mix would let a few compressed
    files hide the per-element cost of the uncompressed majority. Each group is repeated to at
    least ``at_least`` files, the gzip group to 1/250 of that: its files inflate to 1.7-23 MB, one
    of them an enhanced multi-frame that both readers parse with pydicom (~0.3 s a file).
    """
    archive = corpus_or_none()
    if archive is None:
        return
    distinct = all_files(archive)
    # What the scan needs, as pydicom tags: its fields plus the vendor b-value elements and their
    # private creators in the first 16 private blocks (where vendors put them).
    tags = sorted(FIELDS) + [group << 16 | element for group, offset, _, _ in PRIVATE_B_VALUES
                              for block in range(0x10, 0x20)
                              for element in (block, block << 8 | offset)]
    gzipped = [item for item in distinct if item[1].endswith(".gz")]
    groups = (("uncompressed", [item for item in distinct if not item[1].endswith(".gz")],
               at_least),
              ("gzip-compressed (.dcm.gz)", gzipped, max(1, at_least // 250)))
    print(f"\nreal-DICOM corpus {archive}: {len(distinct)} distinct files (every file of the "
          f"corpus, kept or rejected), each group repeated, best of {rounds} rounds")
    for label, files, count in groups:
        if files:
            _time_group(archive, label, files, count, tags, workers, rounds)


def _time_group(archive: Path, label: str, files: list, count: int, tags: list[int],
                workers: int, rounds: int) -> None:
    items = repeated(files, count)
    paths = [archive / rel for _, rel in items]
    best: dict[str, float] = {}
    for _ in range(rounds):  # alternate, keep each variant's best (the machine may be shared)
        for name, run in (("naive", lambda: _pydicom_loop(paths, stop_before_pixels=True)),
                          ("specific", lambda: _pydicom_loop(paths, specific_tags=tags)),
                          ("scan1", lambda: _scan_loop(archive, items, 1)),
                          ("scanN", lambda: _scan_loop(archive, items, workers))):
            best[name] = max(best.get(name, 0.0), run())
    load = os.getloadavg()[0]
    print(f"  {label}: {len(items)} files ({len(files)} distinct); load average {load:.1f}")
    print(f"    naive pydicom.dcmread(stop_before_pixels=True):  {best['naive']:8,.0f} files/s")
    print(f"    pydicom.dcmread(specific_tags=<scan's tags>):    {best['specific']:8,.0f} files/s")
    for name, what in (("scan1", "1 process"), ("scanN", f"{workers} processes")):
        print(f"    mriseq scan, {what:12s}:                   {best[name]:8,.0f} files/s  -> "
              f"{best[name] / best['naive']:.1f}x naive, "
              f"{best[name] / best['specific']:.1f}x specific_tags")

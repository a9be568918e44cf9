"""Scan throughput on a generated cohort vs a naive single-process pydicom loop (make bench-scan).

Builds (once, cached under /tmp) a cohort of >= 20,000 small MR files from a few templates with
fresh UIDs, then times, in the same run and on the same warm page cache:
  naive: for every file pydicom.dcmread(path, stop_before_pixels=True, force=True), one process;
  scan:  mriseq.scan.scan_shard over the whole cohort (listing, header reads in scan.workers
         processes, pseudonymisation, QC checks and the Parquet writes included).
Usage: python tests/benchmarks/bench_scan.py [--files N] [--workers W] [--root DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile.corpus import mr_dataset  # noqa: E402
from mriseq.scan import scan_shard  # noqa: E402


def build_cohort(root: Path, n_files: int, per_series: int = 40) -> list[str]:
    marker = root / f".complete-{n_files}"
    entries = []
    n_series = (n_files + per_series - 1) // per_series
    patients = max(1, n_series // 8)
    if not marker.exists():
        templates = [mr_dataset(rows=r, columns=c) for r, c in ((64, 64), (96, 96), (128, 128))]
        written = 0
        for s in range(n_series):
            template = templates[s % len(templates)]
            template.SeriesInstanceUID = generate_uid()
            template.SeriesDescription = f"series {s}"
            folder = root / f"patient_{s % patients:04d}" / f"series_{s:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(min(per_series, n_files - written)):
                template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = \
                    generate_uid()
                template.InstanceNumber = k + 1
                template.save_as(folder / f"IM{k:05d}.dcm", enforce_file_format=True)
                written += 1
        marker.write_text("ok\n")
    entries = sorted(e for e in os.listdir(root) if not e.startswith("."))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "mriseq-bench-scan"))
    args = parser.parse_args()
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    entries = build_cohort(root, args.files)
    paths = [str(p) for e in entries for p in sorted((root / e).rglob("*.dcm"))]
    print(f"cohort: {len(paths)} files in {len(entries)} patient dirs under {root} "
          f"(ready in {time.perf_counter() - t0:.1f} s)")

    start = time.perf_counter()
    for path in paths:
        pydicom.dcmread(path, stop_before_pixels=True, force=True)
    naive = len(paths) / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        scan_shard(str(root), entries, f"{out}/files.parquet", f"{out}/rejects.parquet", "s000",
                   "MRISEQ_PSEUDONYM_KEY", "bench", workers=args.workers)
        fast = len(paths) / (time.perf_counter() - start)
    print(f"scan: {fast:,.0f} files/s ({args.workers} workers) vs naive pydicom loop "
          f"{naive:,.0f} files/s = {fast / naive:.1f}x  [{os.cpu_count()} CPUs visible]")


if __name__ == "__main__":
    main()

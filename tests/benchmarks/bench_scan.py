"""Scan throughput on a realistic cohort vs a naive single-process pydicom loop (make bench-scan).

Builds (once, cached under /tmp) a cohort of >= 20,000 MR files, then times, in the same run and on
the same warm page cache:
  naive: for every file pydicom.dcmread(path, stop_before_pixels=True, force=True), one process;
  scan:  mriseq.scan.shard.scan_shard over the whole cohort (listing, header reads in scan.workers
         processes, pseudonymisation, QC checks and the Parquet writes included).

The cohort (what one file looks like; pydicom takes 0.4-1 ms per real file):
  * six series templates in vendor style, built with the synthetic generator's own header code
    (mriseq.synthetic.writer.new_dataset / SeriesWriter, mriseq.synthetic.vendors):
    Siemens 256² and 192² (DWI, b-value in SIEMENS MR HEADER), GE 256² implicit VR and 128²,
    Philips 256², Canon 192²; all uncompressed 16-bit, 1 frame;
  * 106-108 standard top-level elements (patient / study / series / equipment / MR acquisition /
    image pixel modules, window, procedure-step and request attributes) including 4 sequences:
    ReferencedImageSequence (3 items, undefined length as Siemens writes it),
    ProcedureCodeSequence with a nested code sequence, RequestAttributesSequence and
    ReferencedPerformedProcedureStepSequence;
  * vendor private blocks, 11-98 private elements per file: Siemens CSA image header (0029,1010 OB,
    10 KB, "SV10" layout) and CSA series header (0029,1020 OB, 24 KB, with an ASCII
    MrPhoenixProtocol), SIEMENS MR HEADER (0019,xx / 0051,xx); GE GEMS_IDEN/ACQU/RELA/IMAG/PARM
    blocks with a 4 KB OB table and the b-value in (0043,xx39); Philips 2001/2005 blocks with a
    private per-frame sequence (2005,xx0F) and an 8 KB OB; Canon 0029/700D blocks with a 6 KB OB;
  * headers (up to the pixel data) of 8.5 KB (GE, Canon) to 38 KB (Siemens: beyond the scan's
    32 KB first read), files of 41-170 KB; 117-204 top-level elements in all;
  * 40 files per series (fresh SOP/series UIDs, instance numbers and slice positions per file),
    8 series per patient directory.
The cache is keyed by COHORT_VERSION and the file count: a changed template rebuilds the cohort.
The templates are built in scan_cohort.py beside this file. Then the real-DICOM corpus, its
uncompressed and its gzip-compressed files timed apart (scan_real_corpus.py).
Usage: python tests/benchmarks/bench_scan.py [--files N] [--workers W] [--root DIR]
       [--real-files N] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mriseq.scan.shard import scan_shard  # noqa: E402
from mriseq.synthetic import writer as synthetic_writer  # noqa: E402
from scan_cohort import template  # noqa: E402
from scan_real_corpus import real_corpus_benchmark  # noqa: E402

COHORT_VERSION = 3  # bump when a template changes: the cached cohort is rebuilt
PER_SERIES = 40
SERIES_PER_PATIENT = 8
# (vendor, matrix, transfer syntax, family, b-value)
TEMPLATES = (
    ("siemens", 256, ExplicitVRLittleEndian, "fse", None),
    ("ge", 256, ImplicitVRLittleEndian, "ssfse", None),
    ("philips", 256, ExplicitVRLittleEndian, "vibe", None),
    ("siemens", 192, ExplicitVRLittleEndian, "dwi", 800.0),
    ("ge", 128, ExplicitVRLittleEndian, "dual", None),
    ("canon", 192, ExplicitVRLittleEndian, "fse", None),
)


def build_cohort(root: Path, n_files: int) -> list[str]:
    """The patient directories of a cached cohort of ``n_files`` files (built when missing)."""
    marker = root / f".complete-v{COHORT_VERSION}-{n_files}"
    if not marker.exists():
        # Only ever clear a directory this benchmark built (it holds one of our markers).
        if any(p.name.startswith(".complete-") for p in root.iterdir()):
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        rng = np.random.default_rng(2024)
        specs = [(i, *spec) for i, spec in enumerate(TEMPLATES)]
        pixels = {m: rng.integers(0, 4096, (m, m), dtype=np.uint16)
                  for m in {spec[1] for spec in TEMPLATES}}
        n_series = (n_files + PER_SERIES - 1) // PER_SERIES
        written = 0
        for s in range(n_series):
            index, vendor, matrix, ts, family, b_value = specs[s % len(specs)]
            ds = template(index, vendor, matrix, ts, family, b_value, rng)
            ds.SeriesInstanceUID = synthetic_writer.uid(rng)
            ds.SeriesNumber = s + 1
            patient = s // SERIES_PER_PATIENT
            ds.PatientID = f"BENCH{patient:06d}"
            writer = synthetic_writer.SeriesWriter(ds)
            folder = root / f"patient_{patient:04d}" / f"series_{s:05d}"
            for k in range(min(PER_SERIES, n_files - written)):
                ds.InstanceNumber = k + 1
                ds.ImagePositionPatient = [-190.0, -170.5, 120.0 - 7.2 * k]
                ds.SliceLocation = f"{120.0 - 7.2 * k:.1f}"
                writer.write(folder / f"IM{k:05d}.dcm", synthetic_writer.uid(rng), pixels[matrix])
                written += 1
        marker.write_text("ok\n")
    return sorted(e for e in os.listdir(root) if not e.startswith("."))


def describe(paths: list[str]) -> str:
    """Median file size, header size and top-level element count of a sample of the cohort."""
    sample = paths[:: max(1, len(paths) // 12)]
    sizes, headers, counts, private = [], [], [], []
    for path in sample:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        sizes.append(os.path.getsize(path))
        full = pydicom.dcmread(path, force=True, defer_size=1)
        headers.append(full["PixelData"].file_tell)
        counts.append(len(ds))
        private.append(sum(1 for tag in ds.keys() if tag.is_private))
    return (f"sample of {len(sample)}: file {min(sizes) // 1024}-{max(sizes) // 1024} KB, header "
            f"{min(headers) // 1024}-{max(headers) // 1024} KB, {min(counts)}-{max(counts)} "
            f"top-level elements ({min(private)}-{max(private)} private)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "mriseq-bench-scan"))
    parser.add_argument("--real-files", type=int, default=20000)
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if not args.skip_synthetic:
        synthetic_benchmark(args)
    real_corpus_benchmark(args.workers, args.real_files)


def synthetic_benchmark(args) -> None:
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]  # other jobs on the machine share the cores: say so
    t0 = time.perf_counter()
    entries = build_cohort(root, args.files)
    paths = [str(p) for e in entries for p in sorted((root / e).rglob("*.dcm"))]
    print(f"cohort: {len(paths)} files in {len(entries)} patient dirs under {root} "
          f"(ready in {time.perf_counter() - t0:.1f} s); {describe(paths)}")

    start = time.perf_counter()
    for path in paths:
        pydicom.dcmread(path, stop_before_pixels=True, force=True)
    naive = len(paths) / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        scan_shard(str(root), entries, f"{out}/files.parquet", f"{out}/rejects.parquet", "s000",
                   "MRISEQ_PSEUDONYM_KEY", "bench", workers=args.workers)
        fast = len(paths) / (time.perf_counter() - start)
        n_ok = len(pd.read_parquet(f"{out}/files.parquet", columns=["path"]))
        n_rejected = len(pd.read_parquet(f"{out}/rejects.parquet", columns=["path"]))
    if n_ok != len(paths) or n_rejected:
        raise SystemExit(f"scan accepted {n_ok} of {len(paths)} files ({n_rejected} rejected)")
    print(f"scan: {fast:,.0f} files/s ({args.workers} workers) vs naive pydicom loop "
          f"{naive:,.0f} files/s = {fast / naive:.1f}x  [{os.cpu_count()} CPUs visible, load "
          f"average {load:.1f} before the run]")


if __name__ == "__main__":
    main()

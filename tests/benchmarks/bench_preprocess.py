"""Preprocessing throughput: ``mriseq.tensors.shard.preprocess_shard`` versus a naive loop
(``dcmread`` + ``pixel_array`` + percentile window + a per-image resize with scikit-image or PIL),
side by side in one run on the same files, plus the peak memory of the preprocess job.

The corpus is written once with pydicom under the system temp dir (uncompressed MR slices with
vendor-like headers and a mix of matrices: 256², 320×260, 192² and 512²) and reused by later runs.
The preprocess job runs in a child process; its peak memory is the summed RSS of the process tree
(how Snakemake's ``benchmark:`` measures ``max_rss``), for a shard of a quarter of the corpus and
for the whole corpus: bounded by one image, it must not grow with the shard.

Then the same comparison on the real-DICOM corpus (``tests/realcorpus``), separately for its
single-frame and multi-frame MR files: ``preprocess_shard`` with 1 and with ``--workers`` workers
against the naive loop, each ratio printed in the same run. Real headers are where a second full
``dcmread`` per file costs most; the preprocess job reads native pixels at the offset the scan
recorded instead.

    .venv/bin/python tests/benchmarks/bench_preprocess.py [--slices 10000] [--workers 2]
        [--real-files 4000] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pydicom
from pydicom.uid import MRImageStorage, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hostile.corpus import part10_dataset  # noqa: E402

SIZE = 128
WINDOW = (0.5, 99.5)
# (rows, columns, share of series): typical abdominal matrices, DWI at 192², a few 512² recons.
MATRICES = [((256, 256), 0.55), ((260, 320), 0.25), ((192, 192), 0.15), ((512, 512), 0.05)]
SLICES_PER_SERIES = 40

CHILD = """
import json, sys, time
from mriseq.tensors.shard import preprocess_shard
args = json.loads(sys.argv[1])
start = time.perf_counter()
counts = preprocess_shard(args["files"], args["raw"], args["out"] + ".npy", args["out"] + ".idx",
                          args["out"] + ".rej", size=args["size"], workers=args["workers"])
print(json.dumps({"seconds": time.perf_counter() - start, **counts}))
"""


def write_slice(path: Path, pixels: np.ndarray, z: float, instance: int, uids: dict) -> None:
    ds = part10_dataset(MRImageStorage)
    ds.PatientID, ds.PatientName = uids["patient"], "Bench^Patient"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uids["study"], uids["series"]
    ds.Modality, ds.Manufacturer, ds.SeriesDescription = "MR", "SIEMENS", "t2_haste_tra_mbh"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"]
    ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "SE", ["SK", "SP"], "FS"
    ds.EchoTime, ds.RepetitionTime, ds.FlipAngle, ds.EchoTrainLength = 92.0, 1400.0, 160.0, 128
    ds.MagneticFieldStrength, ds.SliceThickness = 1.5, 6.0
    ds.PixelSpacing = [1.4, 1.4]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [-180.0, -180.0, float(z)]
    ds.InstanceNumber, ds.SeriesNumber = instance, 3
    for i in range(30):  # vendor private tags: real headers are long, parsing them costs time
        ds.add_new((0x0019, 0x1010 + i), "LO", f"private value {i}")
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1.0, 0.0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)


def build_corpus(root: Path, n_slices: int) -> pd.DataFrame:
    """Write (or reuse) ``n_slices`` files in patient/series directories; return their scan
    manifest."""
    manifest = root / "files.parquet"
    if manifest.exists():
        files = pd.read_parquet(manifest)
        if "pixel_offset" in files.columns:
            return files
        manifest.unlink()  # written before the scan recorded pixel layouts: rescan below
        return _scanned_manifest(root, manifest)
    rng = np.random.default_rng(0)
    written, n_series = 0, -(-n_slices // SLICES_PER_SERIES)
    shapes = [m for m, _ in MATRICES]
    weights = np.array([w for _, w in MATRICES])
    started = time.perf_counter()
    for s in range(n_series):
        shape = shapes[rng.choice(len(shapes), p=weights / weights.sum())]
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        body = ((yy - shape[0] / 2) / (shape[0] * 0.4)) ** 2 + (
            (xx - shape[1] / 2) / (shape[1] * 0.45)) ** 2 < 1
        uids = {"patient": f"P{s // 10:05d}", "study": generate_uid(), "series": generate_uid()}
        series_dir = root / "raw" / uids["patient"] / f"series{s:05d}"
        series_dir.mkdir(parents=True, exist_ok=True)
        for i in range(min(SLICES_PER_SERIES, n_slices - s * SLICES_PER_SERIES)):
            pixels = (body * rng.normal(1500, 200, shape)).clip(0, 4095).astype(np.uint16)
            name = f"{rng.integers(1 << 40):010x}.dcm"  # random names, as real exports
            write_slice(series_dir / name, pixels, z=i * 6.0, instance=i + 1, uids=uids)
            written += 1
    print(f"wrote {written} slices to {root / 'raw'} in {time.perf_counter() - started:.0f} s")
    return _scanned_manifest(root, manifest)


def _scanned_manifest(root: Path, manifest: Path) -> pd.DataFrame:
    """The corpus's files table as the workflow makes it: by the scan, with the pixel layouts
    that let preprocessing skip the second header parse."""
    from mriseq.scan.shard import scan_files

    raw = root / "raw"
    files, rejects = scan_files(raw, sorted(p.name for p in raw.iterdir()), "s000", b"bench",
                                workers=2)
    if len(rejects):
        raise SystemExit(f"the scan rejected {len(rejects)} benchmark files")
    files.to_parquet(manifest)
    return files


def naive_loop(files: pd.DataFrame, raw: Path, resizer: str) -> float:
    """The usual first attempt: one file at a time, pydicom's pixel_array, percentile window on
    the full matrix, a library resize with antialiasing; slices collected then saved."""
    from PIL import Image
    from skimage.transform import resize

    out = np.empty((len(files), SIZE, SIZE), np.uint8)
    start = time.perf_counter()
    for i, path in enumerate(files["path"]):
        ds = pydicom.dcmread(raw / path)
        image = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(
            ds.RescaleIntercept)
        low, high = np.percentile(image, WINDOW)
        image = np.clip((image - low) / max(high - low, 1e-6), 0, 1)
        if resizer == "skimage":
            small = resize(image, (SIZE, SIZE), anti_aliasing=True, preserve_range=True)
        else:
            small = np.asarray(Image.fromarray(image.astype(np.float32)).resize(
                (SIZE, SIZE), Image.Resampling.BILINEAR))
        out[i] = (small * 255 + 0.5).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "naive.npy", out)
    return time.perf_counter() - start


def naive_real_loop(paths: list[Path]) -> tuple[float, int]:
    """The naive loop on real files of any kind: dcmread, pixel_array, rescale, percentile window
    and PIL resize per frame. Returns (seconds, slices)."""
    from PIL import Image

    slices = []
    start = time.perf_counter()
    for path in paths:
        ds = pydicom.dcmread(path, force=True)
        pixels = ds.pixel_array.astype(np.float32)
        frames = pixels.reshape(-1, int(ds.Rows), int(ds.Columns))
        slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(
            ds.get("RescaleIntercept", 0) or 0)
        for frame in frames:
            image = frame * slope + intercept
            low, high = np.percentile(image, WINDOW)
            image = np.clip((image - low) / max(high - low, 1e-6), 0, 1)
            small = np.asarray(Image.fromarray(image).resize((SIZE, SIZE),
                                                             Image.Resampling.BILINEAR))
            slices.append((small * 255 + 0.5).astype(np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "naive.npy", np.stack(slices))
    return time.perf_counter() - start, len(slices)


def _decodable(archive: Path, files: pd.DataFrame) -> pd.DataFrame:
    """The rows pydicom can decode (the naive loop has no error handling)."""
    keep = []
    for path in files["path"]:
        try:
            pydicom.dcmread(archive / path, force=True).pixel_array  # noqa: B018
            keep.append(True)
        except Exception:  # noqa: BLE001 - a file without a decoder is left out of both sides
            keep.append(False)
    return files[keep]


def real_corpus_benchmark(workers: int, rounds: int, at_least: int) -> None:
    """Naive loop vs preprocess_shard (1 and ``workers`` workers) on the real corpus."""
    from real_corpus import corpus_or_none, kept_files, repeated

    archive = corpus_or_none()
    if archive is None:
        return
    files = _decodable(archive, kept_files(archive))
    groups = {"single-frame": files[files["n_frames"] == 1],
              "multi-frame": files[files["n_frames"] > 1]}
    print(f"\nreal-DICOM corpus {archive}: {len(files)} decodable MR files "
          f"({len(groups['single-frame'])} single-frame, {len(groups['multi-frame'])} "
          f"multi-frame, {files['n_frames'].sum()} slices)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, group in groups.items():
            if group.empty:
                continue
            rows = repeated(list(range(len(group))), at_least if name == "single-frame"
                            else max(1, at_least // 20))
            manifest = group.iloc[rows].reset_index(drop=True)
            manifest_path = Path(tmp) / f"{name}.files.parquet"
            manifest.to_parquet(manifest_path)
            paths = [archive / p for p in manifest["path"]]
            best: dict[str, float] = {}
            slices = 0
            for _ in range(rounds):
                seconds, slices = naive_real_loop(paths)
                best["naive"] = min(best.get("naive", np.inf), seconds)
                for n in sorted({1, workers}):
                    job = preprocess_job(manifest_path, archive, Path(tmp) / name, n)
                    if job["slices"] != slices:
                        raise SystemExit(f"preprocess wrote {job['slices']} slices, naive {slices}")
                    best[n] = min(best.get(n, np.inf), job["seconds"])
            naive_rate = slices / best["naive"]
            print(f"  {name}: {len(manifest)} files ({manifest['path'].nunique()} distinct), "
                  f"{slices} slices, best of {rounds} rounds")
            print(f"    naive dcmread+pixel_array+percentile+PIL loop: {naive_rate:8.0f} slices/s")
            for n in sorted({1, workers}):
                rate = slices / best[n]
                print(f"    mriseq preprocess_shard, {n} worker(s):        {rate:8.0f} slices/s"
                      f"  -> {rate / naive_rate:.2f}x naive")


def preprocess_job(files_path: Path, raw: Path, out: Path, workers: int) -> dict:
    """Run preprocess_shard in a child process; sample the process tree's summed RSS as
    Snakemake's benchmark directive does."""
    args = json.dumps({"files": str(files_path), "raw": str(raw), "out": str(out), "size": SIZE,
                       "workers": workers})
    proc = subprocess.Popen([sys.executable, "-c", CHILD, args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"preprocess job failed with exit code {proc.returncode}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "max_rss_mb": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--corpus", type=Path,
                        default=Path(tempfile.gettempdir()) / "mriseq_bench_preprocess")
    parser.add_argument("--real-files", type=int, default=4000,
                        help="single-frame real files to time (the corpus list, repeated)")
    parser.add_argument("--skip-synthetic", action="store_true",
                        help="only the real-corpus comparison")
    args = parser.parse_args()
    if not args.skip_synthetic:
        synthetic_benchmark(args)
    real_corpus_benchmark(args.workers, args.rounds, args.real_files)


def synthetic_benchmark(args) -> None:
    root = args.corpus / str(args.slices)
    root.mkdir(parents=True, exist_ok=True)
    files = build_corpus(root, args.slices)
    raw = root / "raw"
    quarter = files.iloc[: len(files) // 4]
    quarter_path = root / "quarter.files.parquet"
    quarter.to_parquet(quarter_path)
    jobs: dict[str, dict] = {}

    def with_workers() -> float:
        jobs["all"] = preprocess_job(root / "files.parquet", raw, Path(tmp) / "all", args.workers)
        return jobs["all"]["seconds"]

    def single_worker() -> float:
        return preprocess_job(root / "files.parquet", raw, Path(tmp) / "one", 1)["seconds"]

    variants = {"skimage": lambda: naive_loop(files, raw, "skimage"),
                "PIL": lambda: naive_loop(files, raw, "pil"),
                "workers": with_workers, "single": single_worker}
    # The machine may be shared: variants alternate over rounds and each keeps its best time.
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for name, run in variants.items():
                best[name] = min(best.get(name, np.inf), run())
        small_job = preprocess_job(quarter_path, raw, Path(tmp) / "quarter", args.workers)
    job = jobs["all"]

    n = len(files)
    rate = n / best["workers"]
    print(f"\npreprocess {n} slices ({SIZE}x{SIZE} uint8), {psutil.cpu_count()} CPUs, "
          f"best of {args.rounds} alternating rounds:")
    print(f"  mriseq preprocess_shard, {args.workers} workers: {rate:8.0f} slices/s")
    print(f"  mriseq preprocess_shard, 1 worker:  {n / best['single']:8.0f} slices/s")
    for name in ("skimage", "PIL"):
        seconds = best[name]
        print(f"  naive dcmread+pixel_array+{name} loop:   {n / seconds:8.0f} slices/s"
              f"  -> speed-up {rate / (n / seconds):.1f}x")
    print(f"peak memory (process tree RSS, as Snakemake max_rss): {small_job['max_rss_mb']:.0f} MB "
          f"for a {len(quarter)}-slice shard vs {job['max_rss_mb']:.0f} MB for {n} slices")


if __name__ == "__main__":
    main()

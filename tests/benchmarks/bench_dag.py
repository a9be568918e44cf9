"""DAG scale benchmark: how long Snakemake needs to plan mriseq on a large archive.

For 1k, 10k and 100k series it builds an on-disk archive of patient directories with series
subdirectories (no pixel data: planning reads only directory entries), a labels sheet with one row
per series, and a config whose only dataset is that archive. It then measures

* ``snakemake -n`` on an empty results tree (the DAG build of a first run),
* ``snakemake -n`` once every output exists and is newer than its inputs (a no-op rerun),

and prints the curve. The number of jobs must grow with ``scan.shards``, not with series.

    .venv/bin/python tests/benchmarks/bench_dag.py                 # 1k, 10k, 100k series
    .venv/bin/python tests/benchmarks/bench_dag.py --sizes 1000 --shards 16
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
SERIES_PER_PATIENT = 10
SLICES_PER_SERIES = 30  # what the archive would hold: ~3 million slices at 100k series
TARGET_100K_S = 60.0

_LABELS = (("t2", "axial", "pre"), ("t1_portal", "axial", "post"), ("dwi", "axial", "pre"),
           ("t1_arterial", "coronal", "post"), ("localizer", "sagittal", "pre"))


def patient_name(index: int) -> str:
    return f"P{index:06d}"


def add_patient(raw_dir: Path, index: int, writer=None) -> None:
    """One patient directory with SERIES_PER_PATIENT empty series directories (and their rows in
    the labels sheet when ``writer`` is given)."""
    patient = raw_dir / patient_name(index)
    for series in range(1, SERIES_PER_PATIENT + 1):
        (patient / f"{series:03d}").mkdir(parents=True, exist_ok=True)
        if writer is not None:
            uid = f"1.2.826.0.1.3680043.8.498.{index}.{series}"
            writer.writerow([uid, *_LABELS[series % len(_LABELS)]])


def build_archive(root: Path, n_series: int) -> tuple[Path, Path]:
    """``root/raw`` with n_series / SERIES_PER_PATIENT patients, and ``root/labels.csv``."""
    raw_dir, labels = root / "raw", root / "labels.csv"
    raw_dir.mkdir(parents=True, exist_ok=True)
    with open(labels, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SeriesInstanceUID", "sequence", "orientation", "contrast"])
        for index in range(n_series // SERIES_PER_PATIENT):
            add_patient(raw_dir, index, writer)
    return raw_dir, labels


def write_config(root: Path, raw_dir: Path, labels: Path, shards: int,
                 base: Path = REPO / "config" / "config.yaml") -> Path:
    """The shipped config with one real (non-synthetic) dataset, the archive, as train dataset."""
    config = yaml.safe_load(base.read_text())
    config["datasets"] = {
        "archive": {"role": "train", "layout": "generic", "raw_dir": str(raw_dir),
                    "labels": str(labels)},
    }
    config["synthetic"] = {"cohorts": {}}
    config["scan"]["shards"] = shards
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, configfile: Path, *args: str,
              timeout: int = 900) -> tuple[float, subprocess.CompletedProcess]:
    """Run the repository's workflow in ``workdir``; return (seconds, completed process)."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(configfile), *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONHASHSEED="0"))
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc


_STATS_ROW = re.compile(r"^(\S+)\s+(\d+)\s*$")


def job_counts(output: str) -> Counter:
    """Jobs per rule from the 'Job stats' table of a dry-run (empty when nothing is to be done)."""
    counts: Counter = Counter()
    in_table = False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
            continue
        if in_table:
            match = _STATS_ROW.match(line.strip())
            if match and match.group(1) != "total":
                counts[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


_OUTPUT_LINE = re.compile(r"^\s+output: (.+)$")


def planned_outputs(output: str) -> list[str]:
    """Output paths of every job listed by a dry-run."""
    paths = []
    for line in output.splitlines():
        match = _OUTPUT_LINE.match(line)
        if match:
            paths += [p.strip() for p in match.group(1).split(", ")]
    return paths


_RULE_LINE = re.compile(r"^(?:local)?rule (\w+):$")
_WILDCARDS_LINE = re.compile(r"^\s+wildcards: (.+)$")


def scheduled_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry-run lists."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in output.splitlines():
        rule = _RULE_LINE.match(line)
        if rule:
            jobs.append((rule.group(1), {}))
            continue
        wildcards = _WILDCARDS_LINE.match(line)
        if wildcards and jobs:
            jobs[-1][1].update(item.split("=", 1) for item in wildcards.group(1).split(", "))
    return jobs


def nothing_to_do(output: str) -> bool:
    return "Nothing to be done" in output


def prepare(root: Path, n_series: int, shards: int) -> tuple[Path, Path, Path, Path]:
    """Archive, labels sheet, config and an empty working directory under ``root``:
    returns (workdir, configfile, raw_dir, labels)."""
    root.mkdir(parents=True, exist_ok=True)
    raw_dir, labels = build_archive(root, n_series)
    configfile = write_config(root, raw_dir, labels, shards)
    workdir = root / "work"
    workdir.mkdir(exist_ok=True)
    return workdir, configfile, raw_dir, labels


def materialise(workdir: Path, configfile: Path) -> tuple[Counter, float]:
    """Create every planned output as an empty file (the no-op state of a finished run), then let
    ``snakemake --touch`` order their mtimes along the DAG. Returns the jobs the first dry-run
    planned and the seconds --touch took."""
    _, proc = snakemake(workdir, configfile, "-n")
    output = proc.stdout + proc.stderr
    for path in planned_outputs(output):
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    seconds, _ = snakemake(workdir, configfile, "--touch", "--cores", "1")
    return job_counts(output), seconds


def measure(root: Path, n_series: int, shards: int) -> dict:
    """Build the archive for n_series and time dry-runs of a first run and of a no-op rerun."""
    start = time.perf_counter()
    workdir, configfile, _, _ = prepare(root, n_series, shards)
    build_s = time.perf_counter() - start
    first_s, proc = snakemake(workdir, configfile, "-n")
    jobs = job_counts(proc.stdout + proc.stderr)
    _, touch_s = materialise(workdir, configfile)
    noop_s, proc = snakemake(workdir, configfile, "-n")
    if not nothing_to_do(proc.stdout + proc.stderr):
        raise RuntimeError(f"the rerun after --touch still has work:\n{proc.stdout[-3000:]}")
    return {"series": n_series, "patients": n_series // SERIES_PER_PATIENT,
            "slices": n_series * SLICES_PER_SERIES, "jobs": sum(jobs.values()),
            "build_s": build_s, "dry_run_s": first_s, "touch_s": touch_s, "noop_s": noop_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000],
                        help="archive sizes in series")
    parser.add_argument("--shards", type=int, default=64, help="scan.shards for every size")
    parser.add_argument("--root", type=Path, help="where to build the archives (default: a "
                        "temporary directory, removed afterwards)")
    args = parser.parse_args(argv)

    root = args.root or Path(tempfile.mkdtemp(prefix="mriseq-bench-dag-"))
    rows = []
    try:
        print(f"scan.shards = {args.shards}; {SERIES_PER_PATIENT} series per patient; "
              f"target: dry-run at 100k series <= {TARGET_100K_S:.0f} s", flush=True)
        header = (f"{'series':>8} {'patients':>8} {'slices':>10} {'jobs':>6} {'archive s':>9} "
                  f"{'dry-run s':>9} {'no-op s':>8} {'touch s':>8}")
        print(header, flush=True)
        for n_series in args.sizes:
            row = measure(root / str(n_series), n_series, args.shards)
            rows.append(row)
            print(f"{row['series']:>8} {row['patients']:>8} {row['slices']:>10} {row['jobs']:>6} "
                  f"{row['build_s']:>9.1f} {row['dry_run_s']:>9.1f} {row['noop_s']:>8.1f} "
                  f"{row['touch_s']:>8.1f}", flush=True)
    finally:
        if args.root is None:
            print(f"removing {root} (slow on file systems mounted with discard)", flush=True)
            shutil.rmtree(root, ignore_errors=True)

    base = rows[0]
    for row in rows[1:]:
        print(f"{row['series']} series: dry-run {row['dry_run_s']:.1f} s vs {base['series']} "
              f"series {base['dry_run_s']:.1f} s = {row['dry_run_s'] / base['dry_run_s']:.1f}x "
              f"for {row['series'] / base['series']:.0f}x the series; jobs {row['jobs']} vs "
              f"{base['jobs']}")
    ok = all(row["jobs"] == base["jobs"] for row in rows)
    big = [row for row in rows if row["series"] >= 100000]
    if big:
        verdict = "meets" if big[0]["dry_run_s"] <= TARGET_100K_S else "MISSES"
        print(f"dry-run at {big[0]['series']} series: {big[0]['dry_run_s']:.1f} s, {verdict} the "
              f"{TARGET_100K_S:.0f} s target")
        ok = ok and big[0]["dry_run_s"] <= TARGET_100K_S
    print("jobs grow with shards, not series" if all(row["jobs"] == base["jobs"] for row in rows)
          else "JOB COUNT CHANGES WITH ARCHIVE SIZE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

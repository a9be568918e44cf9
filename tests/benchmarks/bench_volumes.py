"""Volumes per series on a generated archive in the vendors' layouts, before and after the check
that keeps one acquisition's repeated passes together (make bench-volumes).

The archive (tests/volume_archive.py) holds DTI, DWI with its ADC, BOLD, multiphase fMRI, ASL,
two contrast dynamics, a dual echo, a 3-plane localizer and an enhanced file with two stacks,
written as real DICOM files the way each vendor stores them, with the volumes a reader names in
each. It is scanned and merged by the workflow's own functions twice: with
``scan.max_dynamic_phases: 0`` (every repeated pass its own volume: the temporal rule before the
check) and with the default. What it can show: that the rules name the volumes a reader names on
these layouts. What it cannot: how often each layout occurs in a real archive, or layouts not in
it. Exit status 1 when a series' volumes after the check differ from the reader's count.
Usage: python tests/benchmarks/bench_volumes.py [--scale N] [--root DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mriseq.defaults import schema_defaults  # noqa: E402
from mriseq.scan.manifests import merge_manifests  # noqa: E402
from mriseq.scan.privacy import pseudonym  # noqa: E402
from mriseq.scan.shard import scan_shard  # noqa: E402
from volume_archive import build_archive  # noqa: E402

KEY = "bench-volumes"


def volumes_per_series(root: Path, out: Path, max_dynamic_phases: int) -> pd.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    shard_files, shard_rejects = str(out / "s000.files.parquet"), str(out / "s000.rejects.parquet")
    scan_shard(str(root), ["patient01"], shard_files, shard_rejects, "s000", key_env="", key=KEY)
    merge_manifests([shard_files], [shard_rejects], str(out / "files.parquet"),
                    str(out / "series.parquet"), str(out / "volumes.parquet"),
                    str(out / "rejects.parquet"), str(out / "qc_summary.csv"), key_env="",
                    key=KEY, max_dynamic_phases=max_dynamic_phases or None)
    return pd.read_parquet(out / "volumes.parquet")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="directions and time points × N")
    parser.add_argument("--root", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp)
        truth = build_archive(root / "raw", scale=args.scale)
        before = volumes_per_series(root / "raw", root / "before", 0)
        after = volumes_per_series(root / "raw", root / "after",
                                   schema_defaults("scan", "max_dynamic_phases"))
    rows = []
    for name, (uid, expected, files) in truth.items():
        key = pseudonym(uid, KEY.encode())
        mine = after[after["series_key"] == key]
        rows.append({"series": name, "files": files, "reader": expected,
                     "before": int((before["series_key"] == key).sum()), "after": len(mine),
                     "n_repetitions": ",".join(str(n) for n in mine["n_repetitions"]),
                     "split_by": ",".join(sorted(set(mine["volume_split"]) - {""})) or "-"})
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False))
    wrong = table[table["after"] != table["reader"]]
    print(f"\n{len(table) - len(wrong)} of {len(table)} series have the volumes a reader names "
          f"(before the check: {int((table['before'] == table['reader']).sum())}); volumes in "
          f"all: {table['before'].sum()} before, {table['after'].sum()} after, "
          f"{table['reader'].sum()} named by a reader.")
    return 1 if len(wrong) else 0


if __name__ == "__main__":
    sys.exit(main())

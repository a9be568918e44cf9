"""DICOM trees and labels sheets that a test writes for the real workflow to read: the test case
config .test/config_hostile reads them from ./raw and ./labels.csv of the working directory."""

from __future__ import annotations

import zlib
from pathlib import Path

from .corpus import mr_dataset, save

REPO = Path(__file__).resolve().parents[2]


def write_patient(raw_dir: Path, name: str, series: int = 2, slices: int = 3) -> list[str]:
    """A patient directory of small valid MR series; returns the series UIDs."""
    uids = []
    for s in range(series):
        uid = f"1.2.826.0.1.3680043.10.{zlib.crc32(name.encode())}.{s + 1}"
        uids.append(uid)
        for k in range(slices):
            save(mr_dataset(series_uid=uid, instance=k + 1), raw_dir / name / f"se{s}" / f"{k}.dcm")
    return uids


def write_labels(path: Path, uids: list[str]) -> Path:
    lines = ["SeriesInstanceUID,sequence,orientation,contrast"]
    lines += [f"{uid},t2,axial,pre" for uid in uids]
    path.write_text("\n".join(lines) + "\n")
    return path


MANIFEST_TARGETS = [f"results/internal/manifests/{name}" for name in
                    ("files.parquet", "series.parquet", "rejects.parquet", "qc_summary.csv")]

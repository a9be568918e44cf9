"""Integration: the real workflow on config/test.yaml up to tensors and splits, then the
incremental behaviour (a new patient reruns only its shard; a new image size reruns everything
from preprocessing on)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import yaml
from conftest import (
    PREPARED_TARGETS,
    REPO,
    TEST_CONFIG,
    case_config,
    copy_workdir,
    run_snakemake,
)
from mriseq.scan.sharding import shard_of
from pydicom.uid import generate_uid

pytestmark = pytest.mark.slow
# The session's ``tiny_prepared`` is the tiny workflow run to exactly these targets.
TARGETS = PREPARED_TARGETS


def planned_jobs(workdir: Path, targets: list[str], *options: str,
                 configfile: Path = TEST_CONFIG) -> dict[str, int]:
    """Rule → job count of a dry run (-n ends --configfile's list, targets precede the options
    that take several values)."""
    proc = run_snakemake(workdir, "-n", *targets, *options, "--quiet", "rules",
                         configfile=configfile)
    counts = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        match = re.match(r"^\s*(\w+)\s+(\d+)\s*$", line)
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def check_outputs(workdir: Path, dataset: str, size: int) -> pd.DataFrame:
    tensors = workdir / "results" / dataset / "tensors"
    index = pd.read_parquet(tensors / "index.parquet")
    assert len(index) > 0
    for shard, rows in index.groupby("shard"):
        array = np.load(tensors / f"{shard}.npy", mmap_mode="r")
        assert array.shape[1:] == (size, size) and array.dtype == np.uint8
        assert rows["row"].max() < len(array)
        assert (workdir / "benchmarks" / dataset / "preprocess" / f"{shard}.tsv").exists()
    qc = pd.read_csv(tensors / "qc_summary.csv").set_index("reason")["count"]
    assert qc["slices_ok"] == len(index)
    return index


def test_workflow_tensors_splits_and_incremental_reruns(tiny_prepared, tmp_path):
    """The tiny workflow run to TARGETS (``tiny_prepared``, copied; the run here finds them up
    to date): tensors, QC and splits of both datasets; a new image size replans preprocessing."""
    workdir = copy_workdir(tiny_prepared, tmp_path / "run")
    # The DLDS label map is read relative to the working directory (scan stage).
    (workdir / "resources").mkdir(exist_ok=True)
    shutil.copy2(REPO / "resources/dlds_label_map.yaml", workdir / "resources")
    run_snakemake(workdir, "--cores", "2", *TARGETS)
    index = check_outputs(workdir, "internal", 32)
    check_outputs(workdir, "dlds", 32)
    assert index["label_sequence"].notna().any()
    splits = pd.read_parquet(workdir / "results/internal/splits/splits.parquet")
    test_patients = set(splits.loc[splits["set"] == "test", "patient_key"])
    for k in range(2):
        train = set(splits.loc[(splits["set"] == "cv") & (splits["fold"] != k), "patient_key"])
        val = set(splits.loc[(splits["set"] == "cv") & (splits["fold"] == k), "patient_key"])
        assert train and val and not (train & val) and not (test_patients & (train | val))

    # A new image size (.test/config_size24) reruns every preprocess job and everything
    # downstream.
    resized = planned_jobs(workdir, TARGETS, configfile=case_config("size24"))
    n_shards = index["shard"].nunique()
    assert resized.get("preprocess_shard", 0) >= n_shards
    assert resized.get("merge_tensors") == 2 and resized.get("split") == 1


def renamed_patient(source: Path, target: Path, labels: pd.DataFrame) -> pd.DataFrame:
    """Copy a patient directory as a new patient: new PatientID and UIDs, same pixels; return
    the labels rows of its series."""
    new_uid: dict[str, str] = {}
    rows = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            ds = pydicom.dcmread(path)
            for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                old = str(ds[keyword].value)
                ds[keyword].value = new_uid.setdefault(old, generate_uid())
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.PatientID = f"{ds.PatientID}-copy"
            ds.save_as(out)
        except Exception:  # noqa: BLE001 - broken files are copied as they are
            shutil.copy2(path, out)
    for old, new in new_uid.items():
        match = labels[labels["SeriesInstanceUID"] == old]
        rows.append(match.assign(SeriesInstanceUID=new))
    return pd.concat(rows, ignore_index=True)


def test_new_patient_reruns_only_its_shard(tiny_cohorts, tmp_path):
    """A generic train dataset (.test/config_new_patient: ./archive, a copy of the tiny internal
    cohort) gains a patient: only that patient's scan and preprocess shards rerun."""
    workdir = tmp_path / "run"
    raw = workdir / "archive"
    shutil.copytree(tiny_cohorts / "resources/synthetic/internal", raw)
    configfile = case_config("new_patient")
    config = yaml.safe_load(configfile.read_text())
    targets = TARGETS[:2]
    run_snakemake(workdir, "--cores", "2", *targets, configfile=configfile)
    tensors = workdir / "results/internal/tensors"
    before = {p.name: p.stat().st_mtime_ns for p in tensors.glob("s*.npy")}
    patients_before = pd.read_parquet(tensors / "index.parquet")["patient_key"].nunique()

    entries = sorted(p.name for p in (raw / "dicom").iterdir())
    new_entry = "patient_9999"
    labels = pd.read_csv(raw / "labels.csv")
    new_rows = renamed_patient(raw / "dicom" / entries[0], raw / "dicom" / new_entry, labels)
    pd.concat([labels, new_rows]).to_csv(raw / "labels.csv", index=False)

    jobs = planned_jobs(workdir, targets, configfile=configfile)
    assert jobs.get("scan_shard") == 1 and jobs.get("preprocess_shard") == 1
    run_snakemake(workdir, "--cores", "2", *targets, configfile=configfile)
    new_shard = shard_of(new_entry, config["scan"]["shards"])
    after = {p.name: p.stat().st_mtime_ns for p in tensors.glob("s*.npy")}
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {f"{new_shard}.npy"}
    index = pd.read_parquet(tensors / "index.parquet")
    assert index["patient_key"].nunique() == patients_before + 1

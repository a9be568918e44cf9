"""Privacy: no name, ID, birth date or raw UID in any output of the workflow's scan stage, on the
hostile corpus and on the synthetic cohorts."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, case_config, run_snakemake
from hostile.corpus import PATIENT_BIRTH_DATE, PATIENT_ID, PATIENT_NAME, build_corpus
from hostile.workflow import MANIFEST_TARGETS, write_labels


def output_files(workdir: Path) -> list[Path]:
    return [p for top in ("results", "logs", "benchmarks") for p in (workdir / top).rglob("*")
            if p.is_file()]


def assert_absent(workdir: Path, needles: list[str]) -> None:
    """No output file holds a needle: raw bytes, and Parquet cells after decoding (compressed)."""
    files = output_files(workdir)
    assert files
    for path in files:
        data = path.read_bytes()
        text = data.decode("utf-8", "ignore")
        if path.suffix == ".parquet":
            text += pd.read_parquet(path).to_csv()
        for needle in needles:
            assert needle.encode() not in data and needle not in text, f"{needle!r} in {path}"


@pytest.mark.slow
def test_hostile_corpus_outputs_hold_no_identifiers(tmp_path):
    raw = tmp_path / "raw"
    build_corpus(raw)
    try:
        import pydicom

        uids = set()
        for path in raw.rglob("*.dcm"):
            if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
                try:
                    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
                    uids |= {str(ds.get(k)) for k in ("SeriesInstanceUID", "SOPInstanceUID",
                                                      "StudyInstanceUID") if ds.get(k)}
                except Exception:
                    pass
        valid = pydicom.dcmread(raw / "p01_valid" / "explicit.dcm", stop_before_pixels=True)
        write_labels(tmp_path / "labels.csv", [valid.SeriesInstanceUID])
        # .test/config_hostile reads ./raw and ./labels.csv
        run_snakemake(tmp_path, "--cores", "2", *MANIFEST_TARGETS,
                      configfile=case_config("hostile"))
        names = PATIENT_NAME.split("^")
        assert_absent(tmp_path, [PATIENT_NAME, PATIENT_ID, PATIENT_BIRTH_DATE, names[0],
                                 "Hostile General Hospital", *sorted(uids)])
        series = pd.read_parquet(tmp_path / "results/internal/manifests/series.parquet")
        assert series["label_sequence"].notna().sum() == 1
    finally:
        for path in raw.rglob("*"):
            if path.is_file() and not path.is_symlink():
                path.chmod(0o644)


_GENERATOR = REPO / "workflow" / "scripts" / "synthetic_cohort.py"


@pytest.mark.slow
@pytest.mark.skipif(_GENERATOR.read_text().startswith("# placeholder"),
                    reason="synthetic cohort generator not present yet")
def test_synthetic_outputs_hold_no_patient_names_or_ids(tiny_cohorts, tmp_path):
    from conftest import copy_workdir

    workdir = copy_workdir(tiny_cohorts, tmp_path / "work")
    run_snakemake(workdir, "--cores", "2", *MANIFEST_TARGETS,
                  *[t.replace("internal", "dlds") for t in MANIFEST_TARGETS])
    needles = []
    for patients in (workdir / "resources" / "synthetic").glob("*/patients.csv"):
        table = pd.read_csv(patients, dtype=str)
        for column in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber"):
            needles += [v for v in table.get(column, pd.Series(dtype=str)).dropna() if len(v) >= 4]
        needles += [part for name in table.get("PatientName", []) for part in name.split("^")
                    if len(part) >= 6]
    assert needles, "patients.csv lists no names or IDs"
    assert_absent(workdir, sorted(set(needles)))

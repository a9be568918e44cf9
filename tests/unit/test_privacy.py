"""Privacy: keyed pseudonyms; no name, ID, birth date or raw UID in any output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, run_snakemake

sys.path.insert(0, str(Path(__file__).parent))

from hostile.corpus import PATIENT_BIRTH_DATE, PATIENT_ID, PATIENT_NAME, build_corpus  # noqa: E402
from hostile.workflow import MANIFEST_TARGETS, write_config, write_labels  # noqa: E402
from mriseq.scan.privacy import pseudonym, resolve_key  # noqa: E402


def test_pseudonym_is_keyed_stable_and_short():
    a = pseudonym("1.2.3", b"key-one")
    assert a == pseudonym(" 1.2.3 ", b"key-one") and len(a) == 16
    assert a != pseudonym("1.2.3", b"key-two")
    assert pseudonym("", b"k") is None and pseudonym(None, b"k") is None


def test_key_from_environment_wins(monkeypatch):
    monkeypatch.setenv("MRISEQ_TEST_KEY", "secret")
    assert resolve_key("MRISEQ_TEST_KEY", "fallback") == b"secret"
    monkeypatch.delenv("MRISEQ_TEST_KEY")
    assert resolve_key("MRISEQ_TEST_KEY", "fallback") == b"fallback"


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
        labels = write_labels(tmp_path / "labels.csv", [valid.SeriesInstanceUID])
        config = write_config(tmp_path / "config.yaml", raw, labels)
        run_snakemake(tmp_path, "--cores", "2", *MANIFEST_TARGETS, configfile=config)
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

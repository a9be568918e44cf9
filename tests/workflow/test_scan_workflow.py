"""The scan stage through the real workflow: invariant and incremental reruns."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import case_config, run_snakemake
from hostile.workflow import MANIFEST_TARGETS, write_labels, write_patient
from mriseq.scan.headers import count_files

pytestmark = pytest.mark.slow


def planned_jobs(workdir: Path, config: Path) -> dict[str, int]:
    """Rule -> job count of a dry run (empty when nothing is to be done)."""
    proc = run_snakemake(workdir, "--cores", "2", "--dry-run", *MANIFEST_TARGETS,
                         configfile=config)
    stats = proc.stdout.split("Job stats:")[-1] if "Job stats:" in proc.stdout else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)
            if m[1] != "total"}


def test_scan_invariant_and_incremental_reruns(tmp_path):
    """Small valid patients in ./raw (.test/config_hostile): every file in one table, a second
    run does nothing, a new patient rescans one shard, a new scan setting every shard."""
    raw = tmp_path / "raw"
    uids = []
    for k in range(5):
        uids += write_patient(raw, f"patient_{k:02d}")
    (raw / "patient_00" / "broken.dcm").write_bytes(b"\0" * 50)
    labels = write_labels(tmp_path / "labels.csv", uids)
    assert labels == tmp_path / "labels.csv"  # where .test/config_hostile reads them
    config = case_config("hostile")
    run_snakemake(tmp_path, "--cores", "2", *MANIFEST_TARGETS, configfile=config)

    manifests = tmp_path / "results" / "internal" / "manifests"
    files = pd.read_parquet(manifests / "files.parquet")
    rejects = pd.read_parquet(manifests / "rejects.parquet")
    series = pd.read_parquet(manifests / "series.parquet")
    assert len(files) + len(rejects) == count_files(raw) == 31
    assert list(rejects["reason"]) == ["not_dicom"]
    assert len(series) == 10 and series["label_sequence"].eq("t2").all()

    assert planned_jobs(tmp_path, config) == {}, "a second run must do nothing"

    write_patient(raw, "patient_new", series=1)
    assert planned_jobs(tmp_path, config) == {"scan_shard": 1, "merge_manifests": 1}
    run_snakemake(tmp_path, "--cores", "2", *MANIFEST_TARGETS, configfile=config)
    files = pd.read_parquet(manifests / "files.parquet")
    assert len(files) + len(rejects) == count_files(raw) == 34

    changed = case_config("hostile_max_pixels")  # scan.max_pixels: 1000
    jobs = planned_jobs(tmp_path, changed)
    shards = len(list((manifests / "shards").glob("*.files.parquet")))
    assert jobs == {"scan_shard": shards, "merge_manifests": 1}


_GENERATOR = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "synthetic_cohort.py"


@pytest.mark.skipif(_GENERATOR.read_text().startswith("# placeholder"),
                    reason="synthetic cohort generator not present yet")
def test_synthetic_cohorts_invariant_and_broken_files(tiny_prepared, tmp_path):
    """The scan of the tiny cohorts (``tiny_prepared``, copied; the run here finds the manifests
    up to date): every file in one table, broken files rejected, volumes split as labelled."""
    from conftest import copy_workdir

    workdir = copy_workdir(tiny_prepared, tmp_path / "work")
    targets = [f"results/{d}/manifests/{t}" for d in ("internal", "dlds")
               for t in ("files.parquet", "series.parquet", "volumes.parquet", "rejects.parquet",
                         "qc_summary.csv")]
    run_snakemake(workdir, "--cores", "2", *targets)
    raw_dirs = {"internal": workdir / "resources/synthetic/internal/dicom",
                "dlds": workdir / "resources/synthetic/dlds/Series_Classification"}
    for dataset, raw in raw_dirs.items():
        manifests = workdir / "results" / dataset / "manifests"
        files = pd.read_parquet(manifests / "files.parquet")
        rejects = pd.read_parquet(manifests / "rejects.parquet")
        assert len(files) + len(rejects) == count_files(raw)
        assert not set(files["path"]) & set(rejects["path"])
        series = pd.read_parquet(manifests / "series.parquet")
        assert series["label_sequence"].notna().any()
        broken = raw.parent / "broken.csv"
        if broken.is_file():
            listed = pd.read_csv(broken, dtype=str)
            path_column = next(c for c in listed.columns if "path" in c.lower())
            rejected = set(rejects["path"])
            kinds = listed.get("kind", pd.Series([""] * len(listed))).fillna("")
            for path, kind in zip(listed[path_column], kinds, strict=True):
                if "duplicate" in kind:  # whichever copy sorts second is the rejected one
                    assert (rejects["reason"] == "duplicate_sop_instance").any()
                    continue
                assert any(path.endswith(r) or r.endswith(path) for r in rejected), path

    # The internal cohort stores some volumes together, as scanners do (dual echo, Dixon,
    # multiphase dynamics, 3-plane localizers): the scan splits them back, one labelled volume per
    # row of the generator's labels sheet.
    manifests = workdir / "results" / "internal" / "manifests"
    volumes = pd.read_parquet(manifests / "volumes.parquet")
    qc = pd.read_csv(manifests / "qc_summary.csv").set_index("reason")["count"]
    truth = pd.read_csv(workdir / "resources/synthetic/internal/labels.csv")
    assert qc["series_with_several_volumes"] > 0
    assert qc["volumes_total"] == len(volumes) == len(truth)
    assert qc["volumes_without_label"] == 0 and qc["label_without_volume"] == 0
    expected = truth.groupby("sequence").size()
    assert volumes.groupby("label_sequence").size().reindex(expected.index).tolist() == \
        expected.tolist()

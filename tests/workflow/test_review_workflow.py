"""Integration: the review rule on the session's tiny run (``tiny_run`` in tests/conftest.py; no
model is trained here): the page and its thumbnails of a labelled dataset (internal: its held-out
test volumes) and of a predict-mode dataset (an unlabelled copy of two of its patients)."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from conftest import case_config, copy_workdir, run_snakemake

pytestmark = pytest.mark.slow


def test_review_pages_of_a_labelled_and_a_predict_dataset(tiny_run, tmp_path):
    workdir = copy_workdir(tiny_run, tmp_path / "review")
    # .test/config_predict_archive: config/test.yaml plus ./archive as a predict dataset.
    cohort = workdir / "resources" / "synthetic" / "internal" / "dicom"
    for entry in [e for e in sorted(cohort.iterdir()) if e.is_dir()][:2]:
        shutil.copytree(entry, workdir / "archive" / entry.name)
    configfile = case_config("predict_archive")
    targets = ["results/internal/review/index.html", "results/archive/review/index.html"]
    plan = run_snakemake(workdir, "-n", *targets, "--quiet", "rules", configfile=configfile)
    planned = set(re.findall(r"^(\w+)\s+\d+\s*$", plan.stdout + plan.stderr, re.M))
    assert "review_page" in planned and not {j for j in planned if j.startswith("train_")}
    run_snakemake(workdir, "--cores", "2", *targets, configfile=configfile)

    identities = pd.read_csv(workdir / "resources" / "synthetic" / "internal" / "patients.csv",
                             dtype=str)
    splits = pd.read_parquet(workdir / "results" / "internal" / "splits" / "splits.parquet")
    volumes = pd.read_parquet(workdir / "results" / "archive" / "manifests" / "volumes.parquet")
    expected = {"internal": set(splits.loc[splits["set"] == "test", "volume_key"]),
                "archive": set(volumes["volume_key"])}
    for dataset, keys in expected.items():
        review = workdir / "results" / dataset / "review"
        text = (review / "index.html").read_text()
        data = json.loads(re.search(r'id="review-data">(.*?)</script>', text, re.S)[1])
        assert data["meta"]["labelled"] == (dataset == "internal")
        assert {card["k"] for card in data["cards"]} == keys
        drawn = {card["k"] for card in data["cards"] if card["t"]}
        assert drawn and {p.stem for p in (review / "thumbs").glob("*.png")} == drawn
        for column in ("PatientName", "PatientID"):
            for value in identities[column].dropna():
                assert value not in text, f"{column} {value!r} in the {dataset} page"

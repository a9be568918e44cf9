"""The synthetic cohort rule of the workflow (``tiny_cohorts``, on config/test.yaml): both
cohorts, their montages, class counts, broken files and log. The generator itself is tested in
tests/unit/test_synthetic.py."""

from __future__ import annotations

import pandas as pd
import yaml
from conftest import TEST_CONFIG
from mriseq.synthetic.cohort import BROKEN_KINDS, raw_dir_of
from mriseq.synthetic.layout import patient_entries


def test_rule_writes_cohorts_montage_and_counts(tiny_cohorts):
    """The real rule on config/test.yaml: both cohorts, their montages and class counts."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    for name, cohort in config["synthetic"]["cohorts"].items():
        out = tiny_cohorts / "resources" / "synthetic" / name
        raw = raw_dir_of(out, cohort["layout"])
        assert sorted(p.name for p in raw.iterdir()) == patient_entries(cohort["layout"],
                                                                        cohort["patients"])
        counts = pd.read_csv(tiny_cohorts / "results" / "synthetic" / name / "class_counts.csv")
        seq = counts[counts["task"] == "sequence"]
        assert (seq["slices"] > 0).all() and len(seq) == len(config["taxonomy"]["sequence"])
        montage = tiny_cohorts / "results" / "synthetic" / name / "montage.png"
        assert montage.read_bytes().startswith(b"\x89PNG")
        assert set(pd.read_csv(out / "broken.csv")["kind"]) == set(BROKEN_KINDS)
    assert (tiny_cohorts / "logs" / "synthetic" / "internal.log").is_file()

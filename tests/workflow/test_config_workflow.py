"""A bad config stops the run at start with one sentence naming the key (Snakemake dry-runs)."""

from __future__ import annotations

import pytest
from conftest import case_config, run_snakemake


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("seed=abc", "Config key 'seed': 'abc' is not of type 'integer'."),
        ("scan={'shards': 2, 'typo_key': 1}", "Config key 'scan': unknown key 'typo_key'"),
        ("preprocess={'size': 'big'}", "Config key 'preprocess.size'"),
    ],
)
def test_bad_config_stops_with_one_sentence(tmp_path, override, expected):
    proc = run_snakemake(tmp_path, "-n", "--config", override, check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr


def test_missing_raw_dir_is_named(tmp_path):
    """A train dataset whose raw_dir does not exist (.test/config_missing_raw_dir)."""
    proc = run_snakemake(tmp_path, "-n", configfile=case_config("missing_raw_dir"), check=False)
    assert proc.returncode != 0
    assert (
        "Config key 'datasets.internal.raw_dir': directory 'no/such/dir' does not exist."
        in proc.stdout + proc.stderr
    )


def test_default_config_is_valid(tmp_path):
    from conftest import REPO

    proc = run_snakemake(tmp_path, "-n", configfile=REPO / "config" / "config.yaml")
    assert proc.returncode == 0

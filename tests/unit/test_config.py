"""A bad config stops the run at start with one sentence naming the key."""

from __future__ import annotations

import pytest
import yaml
from conftest import TEST_CONFIG, run_snakemake


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
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["datasets"]["internal"] = {"role": "train", "raw_dir": "no/such/dir", "labels": "x.csv"}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    proc = run_snakemake(tmp_path, "-n", configfile=configfile, check=False)
    assert proc.returncode != 0
    assert (
        "Config key 'datasets.internal.raw_dir': directory 'no/such/dir' does not exist."
        in proc.stdout + proc.stderr
    )


def test_default_config_is_valid(tmp_path):
    from conftest import REPO

    proc = run_snakemake(tmp_path, "-n", configfile=REPO / "config" / "config.yaml")
    assert proc.returncode == 0


def test_schema_defaults_are_what_validation_fills_in():
    """Library functions take their defaults from the schema (mriseq.defaults.schema_defaults):
    they must be exactly what the workflow's validation writes into a config that omits them."""
    from conftest import REPO
    from mriseq.defaults import SCHEMA_PATH, schema_defaults, setting
    from snakemake.utils import validate

    config = yaml.safe_load(TEST_CONFIG.read_text())
    for section in ("scan", "preprocess"):
        config[section] = {k: v for k, v in config[section].items() if k in ("shards", "size")}
    for key in ("architecture", "augmentation"):
        config["train"].pop(key, None)
    cohort = {"layout": "generic", "patients": 2, "seed": 0}
    config.setdefault("synthetic", {"cohorts": {}})["cohorts"]["bare"] = cohort
    validate(config, str(SCHEMA_PATH))
    assert config["train"]["architecture"] == schema_defaults("train", "architecture")
    assert config["train"]["augmentation"] == schema_defaults("train", "augmentation")
    for section in ("scan", "preprocess"):
        assert {k: v for k, v in config[section].items() if k not in ("shards", "size")} \
            == schema_defaults(section)
    bare = config["synthetic"]["cohorts"]["bare"]
    assert bare == {**cohort, **schema_defaults("$defs", "cohort")}
    assert setting("scan", "orientation_tolerance", None) == config["scan"]["orientation_tolerance"]
    assert setting("scan", "orientation_tolerance", 0.9) == 0.9
    assert SCHEMA_PATH.is_relative_to(REPO)

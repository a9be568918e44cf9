"""The config schema's defaults are what the workflow's validation fills in (the Snakemake
dry-runs of bad configs are in tests/workflow/test_config_workflow.py)."""

from __future__ import annotations

import yaml
from conftest import TEST_CONFIG


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

"""The test cases' configs (.test/config_<case>/config.yaml) are config/test.yaml with exactly
their documented changes: a change to config/test.yaml that a case did not follow fails here, in
the unit tier, instead of as a puzzling workflow-test failure."""

from __future__ import annotations

import pytest
import yaml
from conftest import CASES, TEST_CONFIG

# Case -> the settings (dotted paths) in which it differs from config/test.yaml.
CHANGES = {
    "missing_raw_dir": {"datasets.internal.layout", "datasets.internal.raw_dir",
                        "datasets.internal.labels", "datasets.internal.synthetic"},
    "plugin_family": {"train.models"},
    "plots_variant": {"plots.dpi", "plots.cmap"},
    "predict_archive": {"datasets.archive", "evaluate.sorted_links"},
    "size24": {"preprocess.size"},
    "new_patient": {"datasets.internal.raw_dir", "datasets.internal.labels",
                    "datasets.internal.synthetic", "datasets.dlds"},
    "hostile": {"datasets.internal.raw_dir", "datasets.internal.labels",
                "datasets.internal.synthetic", "datasets.dlds", "synthetic"},
    "hostile_max_pixels": {"datasets.internal.raw_dir", "datasets.internal.labels",
                           "datasets.internal.synthetic", "datasets.dlds", "synthetic",
                           "scan.max_pixels"},
    "real_corpus": {"datasets.internal.raw_dir", "datasets.internal.labels",
                    "datasets.internal.synthetic", "datasets.dlds", "datasets.real", "synthetic",
                    "scan.workers", "predict.max_slices_per_volume"},
    "reordered_keys": set(),  # only the order of keys differs (checked where it is used)
}


def differences(a, b, prefix: str = "") -> set[str]:
    """Dotted paths of the settings that differ between two configs (order ignored)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {path for key in a.keys() | b.keys()
                for path in (differences(a.get(key), b.get(key), f"{prefix}{key}.")
                             if key in a and key in b else {f"{prefix}{key}"})}
    return set() if a == b else {prefix.rstrip(".")}


def test_every_case_directory_is_listed():
    assert {p.name.removeprefix("config_") for p in CASES.glob("config_*")} == set(CHANGES)


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_case_is_the_test_config_with_its_changes(case):
    """Each case differs from config/test.yaml in its listed settings, and in no other."""
    base = yaml.safe_load(TEST_CONFIG.read_text())
    config = yaml.safe_load((CASES / f"config_{case}" / "config.yaml").read_text())
    assert differences(base, config) == CHANGES[case]

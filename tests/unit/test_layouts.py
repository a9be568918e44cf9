"""Dataset layouts are a registry: a new layout is one module and one entry, nothing else."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mriseq.config import ConfigError, check_config, resolve_raw_dir
from mriseq.scan.layouts import registry as layouts
from mriseq.scan.layouts.registry import join_labels
from mriseq.taxonomy import DEFAULT_TAXONOMY


def _one_folder_per_class(series, labels_path, options):
    """A toy layout: the top folder of each series names its sequence class."""
    sequence = [str(d).split("/")[0] for d in series["series_dir"]]
    out = series.assign(label_sequence=pd.array(sequence, dtype="string"),
                        label_orientation=pd.array([None] * len(series), dtype="string"),
                        label_contrast=pd.array([None] * len(series), dtype="string"))
    return out, {"toy_series": len(series)}


def test_a_layout_added_to_the_registry_is_used_everywhere(tmp_path, monkeypatch):
    toy = layouts.Layout(name="by_folder", description="class = top folder",
                         join_labels=_one_folder_per_class,
                         resolve_raw_dir=lambda raw: Path(raw) / "images")
    monkeypatch.setitem(layouts.LAYOUTS, "by_folder", toy)
    series = pd.DataFrame({"series_key": ["a", "b"], "series_dir": ["t2/1", "dwi/2"]})
    out, qc = join_labels(series, "unused.csv", "by_folder", DEFAULT_TAXONOMY, "", True, b"k")
    assert out["label_sequence"].tolist() == ["t2", "dwi"] and qc == {"toy_series": 2}
    assert resolve_raw_dir(tmp_path, "by_folder") == tmp_path / "images"
    (tmp_path / "raw").mkdir()
    (tmp_path / "labels.csv").write_text("x\n")
    config = {"datasets": {"mine": {"role": "train", "layout": "by_folder", "raw_dir": "raw",
                                    "labels": "labels.csv"}}}
    check_config(config, tmp_path)  # accepted: the config checks ask the registry


def test_unknown_layout_is_one_sentence(tmp_path):
    (tmp_path / "raw").mkdir()
    config = {"datasets": {"mine": {"role": "train", "layout": "pacs", "raw_dir": "raw",
                                    "labels": "labels.csv"}}}
    with pytest.raises(ConfigError, match="'datasets.mine.layout': 'pacs' is not a layout; "
                                          "the layouts are dlds, generic"):
        check_config(config, tmp_path)
    with pytest.raises(layouts.LayoutError, match="'pacs'"):
        layouts.get_layout("pacs")

"""Reference labels: generic sheet and DLDS key + letter map."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mriseq.scan.layouts.base import LabelsError
from mriseq.scan.layouts.dlds import load_label_map
from mriseq.scan.layouts.registry import join_labels
from mriseq.scan.privacy import pseudonym
from mriseq.taxonomy import DEFAULT_TAXONOMY, UnknownLabelError

REPO = Path(__file__).resolve().parents[2]
LABEL_MAP = REPO / "resources" / "dlds_label_map.yaml"
KEY = b"k"


def series_frame(dirs_and_planes):
    return pd.DataFrame({
        "series_key": [f"{i:016x}" for i in range(len(dirs_and_planes))],
        "series_dir": [d for d, _ in dirs_and_planes],
        "header_orientation": [p for _, p in dirs_and_planes],
    })


def test_generic_sheet_joins_on_pseudonymised_uid(tmp_path):
    sheet = tmp_path / "labels.csv"
    sheet.write_text("SeriesInstanceUID,sequence,orientation,contrast,note\n"
                     "1.2.3,t1_portal,axial,post,x\n9.9.9,t2,coronal,pre,y\n")
    series = pd.DataFrame({"series_key": [pseudonym("1.2.3", KEY), pseudonym("4.5.6", KEY)]})
    out, qc = join_labels(series, str(sheet), "generic", DEFAULT_TAXONOMY, "", True, KEY)
    assert out["label_sequence"].tolist()[0] == "t1_portal"
    assert pd.isna(out["label_sequence"].tolist()[1])
    assert qc == {"series_without_label": 1, "label_without_series": 1}


def test_unknown_class_names_the_row(tmp_path):
    sheet = tmp_path / "labels.csv"
    sheet.write_text("SeriesInstanceUID,sequence,orientation,contrast\n"
                     "1.2.3,t2,axial,pre\n1.2.4,t3_weird,axial,pre\n")
    with pytest.raises(UnknownLabelError, match=r"line 3: unknown sequence class 't3_weird'"):
        join_labels(pd.DataFrame({"series_key": ["a"]}), str(sheet), "generic",
                    DEFAULT_TAXONOMY, "", True, KEY)


def test_missing_column_is_named(tmp_path):
    sheet = tmp_path / "labels.csv"
    sheet.write_text("SeriesInstanceUID,sequence,contrast\n1.2.3,t2,pre\n")
    with pytest.raises(LabelsError, match="lacks the column.*orientation"):
        join_labels(pd.DataFrame({"series_key": ["a"]}), str(sheet), "generic",
                    DEFAULT_TAXONOMY, "", True, KEY)


def write_key(tmp_path, rows):
    key = tmp_path / "SeriesClassificationKey.csv"
    key.write_text("DLDS,Series,Label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return str(key)


def test_dlds_letters_map_to_classes_and_planes(tmp_path):
    series = series_frame([("0001/3", "axial"), ("0001/7", "coronal"), ("0002/5", "axial"),
                           ("0002/9", "sagittal"), ("0003/1", "axial"), ("0003/2", "oblique")])
    # ids with and without zero padding; 0003/2 has no key row; 0004/1 has no folder
    key = write_key(tmp_path, [("1", 3, "A"), ("0001", 7, "K"), (2, 5, "F"), (2, 9, "L"),
                               (3, 1, "N"), (4, 1, "A")])
    out, qc = join_labels(series, key, "dlds", DEFAULT_TAXONOMY, str(LABEL_MAP), True, KEY)
    labels = out.set_index("series_dir")
    assert tuple(labels.loc["0001/3", ["label_sequence", "label_orientation", "label_contrast"]]) \
        == ("t2", "axial", "pre")
    # K (portal venous) states no plane: taken from ImageOrientationPatient
    assert tuple(labels.loc["0001/7", ["label_sequence", "label_orientation"]]) == \
        ("t1_portal", "coronal")
    assert pd.isna(labels.at["0002/5", "label_sequence"])  # F: anything else, excluded
    assert labels.at["0002/5", "dlds_label"] == "F"
    assert tuple(labels.loc["0002/9", ["label_sequence", "label_orientation"]]) == \
        ("localizer", "sagittal")
    assert labels.at["0003/1", "label_orientation"] == "coronal"  # N says coronal
    assert qc == {"dlds_series_without_label": 1, "dlds_label_without_series": 1,
                  "dlds_excluded_label": 1}


def test_localizers_can_be_excluded(tmp_path):
    key = write_key(tmp_path, [(1, 1, "L")])
    out, qc = join_labels(series_frame([("0001/1", "axial")]), key, "dlds", DEFAULT_TAXONOMY,
                          str(LABEL_MAP), False, KEY)
    assert pd.isna(out["label_sequence"].iloc[0]) and qc["dlds_excluded_label"] == 1


def test_unmapped_letter_stops_with_the_row(tmp_path):
    key = write_key(tmp_path, [(1, 1, "A"), (1, 2, "Z")])
    with pytest.raises(LabelsError, match=r"line 3: label 'Z' is not in the DLDS label map"):
        join_labels(series_frame([("0001/1", "axial")]), key, "dlds", DEFAULT_TAXONOMY,
                    str(LABEL_MAP), True, KEY)


def test_shipped_label_map_is_consistent_with_the_taxonomy():
    mapping = load_label_map(LABEL_MAP, DEFAULT_TAXONOMY)
    assert set(mapping) == set("ABCDEFGHIJKLMNOPQ")
    assert mapping["F"]["exclude"] and mapping["L"]["localizer"]
    assert {mapping[x]["sequence"] for x in "COQ"} == {"t1_arterial"}
    assert {mapping[x]["sequence"] for x in "ENP"} == {"t1_delayed"}


def test_label_map_with_unknown_class_is_refused(tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("A: {sequence: t9, orientation: axial, contrast: pre}\n")
    with pytest.raises(UnknownLabelError, match="letter 'A'"):
        load_label_map(bad, DEFAULT_TAXONOMY)

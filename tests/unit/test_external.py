"""Predict mode (one row per series, header hints, disagreement flags, symlink tree) and the
external-validation tables."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from evaluate_fixtures import make_predictions
from mriseq.predict import series as ps
from mriseq.provenance import synthetic_only_warning
from mriseq.taxonomy import DEFAULT_TAXONOMY


def _archive(tmp_path):
    """Three series: an axial DWI predicted dwi (consistent), a coronal T1 with a contrast tag but
    predicted axial/pre (orientation and contrast disagree), a T2 with b-value 800 predicted T2."""
    series = pd.DataFrame({
        "series_key": ["a" * 16, "b" * 16, "c" * 16, "d" * 16],
        "patient_key": ["p1", "p1", "p2", "p2"],
        "study_key": ["s1", "s1", "s2", "s2"],
        "series_dir": ["p1/1", "p1/2", "p2/1", "p2/9"],
        "n_slices": [2, 2, 2, 0],
        "header_orientation": ["axial", "coronal", "unknown", "axial"],
        "series_description": ["ep2d_diff", "t1_vibe_cor_pv", "", "loc"],
    })
    files = pd.DataFrame({
        "series_key": ["a" * 16] * 2 + ["b" * 16] * 2 + ["c" * 16] * 2 + ["d" * 16],
        "b_value": [0.0, 800.0, np.nan, np.nan, 800.0, 800.0, np.nan],
        "contrast_agent": [False, False, True, True, False, False, False],
    })
    series.to_parquet(tmp_path / "series.parquet")
    files.to_parquet(tmp_path / "files.parquet")
    wanted = {"sequence": ["dwi", "t1_portal", "t2"], "orientation": ["axial", "axial", "axial"],
              "contrast": ["pre", "pre", "pre"]}
    paths = {}
    for task, preds in wanted.items():
        classes = DEFAULT_TAXONOMY[task]
        rows = []
        for i, (key, pred) in enumerate(zip(["a" * 16, "b" * 16, "c" * 16], preds, strict=True)):
            for k in range(2):
                for fold in range(2):
                    probs = np.full(len(classes), 0.1 / (len(classes) - 1))
                    probs[classes.index(pred)] = 0.9 if k == 0 else 0.7
                    probs /= probs.sum()
                    rows.append({"shard": "s000", "row": 2 * i + k, "series_key": key,
                                 "patient_key": "p", "slice_index": k, "fold": fold,
                                 "y_true": None, "y_pred": pred}
                                | {f"p_{c}": v for c, v in zip(classes, probs, strict=True)})
        path = tmp_path / f"{task}.parquet"
        pd.DataFrame(rows).to_parquet(path)
        paths[task] = str(path)
    return paths


def test_series_table_with_hints_and_disagreement(tmp_path):
    paths = _archive(tmp_path)
    table = ps.write_series_predictions(paths, DEFAULT_TAXONOMY, str(tmp_path / "series.parquet"),
                                        str(tmp_path / "files.parquet"),
                                        str(tmp_path / "out.parquet"), str(tmp_path / "out.csv"))
    assert len(table) == 4 and table["series_key"].is_unique
    t = table.set_index("series_key")
    a, b, c, d = (t.loc[k * 16] for k in "abcd")
    assert (a["sequence"], a["orientation"], a["contrast"]) == ("dwi", "axial", "pre")
    assert a["sequence_vote_share"] == 1.0 and 0.7 < a["sequence_probability"] < 0.9
    assert a["sequence_best"] == "dwi" and a["sequence_runner_up_probability"] < 0.1
    assert a["header_b_values"] == "0/800" and not a["header_disagreement"]
    assert b["header_contrast_agent"]
    assert b["disagreement_reasons"] == "orientation;contrast" and b["header_disagreement"]
    assert c["disagreement_reasons"] == "b_value"  # b = 800 but predicted T2
    # A series without tensors keeps its row, unpredicted and unflagged.
    assert pd.isna(d["sequence"]) and not d["header_disagreement"]
    on_disk = pd.read_csv(tmp_path / "out.csv")
    assert list(on_disk.columns) == list(table.columns)


def test_volumes_below_the_threshold_are_uncertain_with_the_runner_up(tmp_path):
    """Series a's slices say DWI with 0.9 and 0.875: mean 0.89. At a threshold of 0.95 it is
    uncertain, and the row still names DWI, its probability and the next class; the header
    checks use the voted class, so the b-value evidence still agrees with DWI."""
    paths = _archive(tmp_path)
    table = ps.series_predictions(paths, DEFAULT_TAXONOMY, str(tmp_path / "series.parquet"),
                                  str(tmp_path / "files.parquet"),
                                  abstain_below={"sequence": 0.95, "orientation": 0.5})
    a = table.set_index("series_key").loc["a" * 16]
    assert a["sequence"] == "uncertain" and a["sequence_best"] == "dwi"
    assert a["sequence_probability"] == pytest.approx(0.8875, abs=0.001)
    assert a["sequence_runner_up"] in DEFAULT_TAXONOMY["sequence"]
    assert a["sequence_runner_up"] != "dwi"
    assert a["orientation"] == "axial" and not a["header_disagreement"]


def test_sorted_links(tmp_path):
    paths = _archive(tmp_path)
    raw = tmp_path / "raw"
    for d in ("p1/1", "p1/2", "p2/1", "p2/9"):
        (raw / d).mkdir(parents=True)
    ps.write_series_predictions(paths, DEFAULT_TAXONOMY, str(tmp_path / "series.parquet"),
                                str(tmp_path / "files.parquet"), str(tmp_path / "o.parquet"),
                                str(tmp_path / "o.csv"))
    out = tmp_path / "sorted"
    assert ps.sorted_links(str(tmp_path / "o.parquet"), raw, out) == 3
    link = out / "t1_portal" / "axial_pre" / ("b" * 16)
    assert link.is_symlink() and link.resolve() == (raw / "p1" / "2").resolve()
    # Rebuilding replaces the tree instead of failing on existing links.
    assert ps.sorted_links(str(tmp_path / "o.parquet"), raw, out) == 3


def test_unlabelled_predictions_vote_like_labelled_ones():
    classes = DEFAULT_TAXONOMY["contrast"]
    df = make_predictions(classes, patients=2, labelled=False)
    from mriseq.evaluation.predictions import ensemble_slices, vote_volumes

    volumes = vote_volumes(ensemble_slices(df, classes), classes)
    assert len(volumes) == 6 and volumes["y_true"].isna().all()
    assert volumes["y_pred_vote"].isin(classes).all()


def test_series_table_says_where_the_models_training_data_came_from(tmp_path, caplog):
    from mriseq.provenance import record_training_data

    paths = _archive(tmp_path)
    metadata = []
    for fold, source in enumerate(["synthetic", "synthetic"]):
        path = tmp_path / f"metadata{fold}.json"
        path.write_text(json.dumps({"model": "cnn", "fold": fold}))
        record_training_data(str(path), source)
        assert json.loads(path.read_text()) == {"model": "cnn", "fold": fold,
                                                "training_data": source}
        metadata.append(str(path))
    args = (paths, DEFAULT_TAXONOMY, str(tmp_path / "series.parquet"),
            str(tmp_path / "files.parquet"), str(tmp_path / "o.parquet"), str(tmp_path / "o.csv"))
    with caplog.at_level(logging.WARNING, logger="mriseq"):
        table = ps.write_series_predictions(*args, metadata_paths=metadata)
    assert table["models_trained_on"].eq("synthetic").all()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        synthetic_only_warning(["synthetic"])]
    # Models trained on a labelled archive: the rows name it, and nothing is announced.
    record_training_data(metadata[1], "my_labelled")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mriseq"):
        table = ps.write_series_predictions(*args, metadata_paths=metadata)
    assert table["models_trained_on"].eq("my_labelled;synthetic").all()
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert synthetic_only_warning(["my_labelled"]) is None

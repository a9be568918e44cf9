"""The fusion family (mriseq.models.fusion.model): header corruption at the configured rates, one
volume at a time; training on the base family's out-of-fold predictions; prediction with each
fold's own base predictions; no label-derived input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mriseq import io
from mriseq.features.tables import feature_columns, write_header_features
from mriseq.models.fusion.model import corrupt_headers, field_groups, predict_fusion, train_fusion
from mriseq.models.predictions import prediction_table, rows_to_predict
from mriseq.models.training_data import encode_labels, fold_positions
from train_fixtures import SEQUENCES, fabricate

SETTINGS = {"forest": {"n_estimators": 40, "max_depth": 0},
            "header_corruption": {"empty_description": 0.15, "misleading_description": 0.15,
                                  "missing_field": 0.05},
            "class_weighting": "balanced", "max_class_weight": 20}


def _headers(n_volumes=40, slices=3):
    rng = np.random.default_rng(0)
    rows = []
    for v in range(n_volumes):
        desc = rng.integers(0, 3)
        for _ in range(slices):
            rows.append({"num_echo_time": float(v), "num_normal_x": 0.0, "num_normal_y": 0.0,
                         "num_normal_z": 1.0, "tok_scanning_SE": 1.0,
                         "tok_desc_t2": float(desc == 0), "tok_desc_dwi": float(desc == 1),
                         "tok_desc_none": float(desc == 2)})
    volumes = np.repeat([f"v{v:02d}" for v in range(n_volumes)], slices)
    return pd.DataFrame(rows), volumes


def test_corruption_clears_or_swaps_whole_volumes():
    x, volumes = _headers()
    rng = np.random.default_rng(1)
    empty, counts = corrupt_headers(x, volumes, {"empty_description": 1.0}, rng)
    assert counts["empty_description"] == 40
    assert (empty["tok_desc_none"] == 1).all() and (empty[["tok_desc_t2", "tok_desc_dwi"]] == 0
                                                    ).all().all()
    assert empty["num_echo_time"].equals(x["num_echo_time"])  # only the description
    swapped, counts = corrupt_headers(x, volumes, {"misleading_description": 1.0}, rng)
    desc = ["tok_desc_t2", "tok_desc_dwi", "tok_desc_none"]
    # A volume takes one other volume's description: its slices stay alike.
    assert (swapped.groupby(volumes)[desc].nunique() == 1).all().all()
    assert not swapped[desc].equals(x[desc])
    gone, counts = corrupt_headers(x, volumes, {"missing_field": 1.0}, rng)
    assert gone["num_echo_time"].isna().all() and gone["num_normal_z"].isna().all()
    assert (gone["tok_scanning_SE"] == 0).all() and gone[desc].equals(x[desc])
    untouched, counts = corrupt_headers(x, volumes, {}, rng)
    assert untouched.equals(x) and sum(counts.values()) == 0


def test_field_groups_keep_the_slice_normal_together():
    groups = field_groups(["num_normal_x", "num_normal_y", "num_te", "tok_plane_axial",
                           "tok_plane_coronal", "tok_desc_t2"])
    assert groups == {"num_normal": ["num_normal_x", "num_normal_y"], "num_te": ["num_te"],
                      "tok_plane": ["tok_plane_axial", "tok_plane_coronal"]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("fusion")
    data = fabricate(root, patients=10, size=32, slices=3, folds=2)
    write_header_features(data["files"], data["index"], str(root / "header.parquet"))
    data["root"] = root
    return data


def _base_predictions(data, root, classes, accuracy, seed):
    """A stand-in for the CNN: right with probability ``accuracy`` per slice; out-of-fold tables
    per fold (the validation folds) and the test-set table of every fold, with T = 1."""
    rng = np.random.default_rng(seed)
    index = pd.read_parquet(data["index"]).reset_index(drop=True)
    splits = pd.read_parquet(data["splits"])
    labels = encode_labels(index, "sequence", classes)

    def probs(positions):
        p = np.full((len(positions), len(classes)), 0.1 / (len(classes) - 1))
        right = rng.random(len(positions)) < accuracy
        called = np.where(right, labels[positions], (labels[positions] + 1) % len(classes))
        p[np.arange(len(positions)), called] = 0.9
        return p

    val, calib, test = [], [], []
    for fold in (0, 1):
        out = root / f"cnn/fold{fold}"
        out.mkdir(parents=True, exist_ok=True)
        positions = fold_positions(index, splits, fold, labels)["val"]
        io.write_parquet(prediction_table(index, positions, fold, "sequence", classes,
                                          probs(positions)), out / "val_predictions.parquet")
        io.write_json({"temperature": 1.0}, out / "calibration.json")
        val.append(str(out / "val_predictions.parquet"))
        calib.append(str(out / "calibration.json"))
        positions = rows_to_predict(index, data["splits"])
        test.append(prediction_table(index, positions, fold, "sequence", classes,
                                     probs(positions)))
    path = root / "cnn_test.parquet"
    io.write_parquet(pd.concat(test, ignore_index=True), path)
    return val, calib, str(path)


def test_fusion_trains_on_out_of_fold_predictions_and_predicts_each_fold(dataset, tmp_path):
    classes = SEQUENCES
    val, calib, test = _base_predictions(dataset, tmp_path, classes, accuracy=0.8, seed=3)
    models = []
    for fold in (0, 1):
        out = tmp_path / f"fusion/fold{fold}"
        outputs = {name: str(out / file) for name, file in (
            ("model", "model.joblib"), ("val_metrics", "val_metrics.json"),
            ("val_predictions", "val_predictions.parquet"), ("metadata", "metadata.json"))}
        inputs = {"features": str(dataset["root"] / "header.parquet"), "index": dataset["index"],
                  "splits": dataset["splits"], "cnn_val_predictions": val,
                  "cnn_calibration": calib}
        meta = train_fusion(inputs, outputs, task="sequence", fold=fold, classes=classes, seed=1,
                            settings=SETTINGS, stacks=("cnn",))
        metrics = json.loads((out / "val_metrics.json").read_text())
        assert metrics["macro_f1"] >= 0.9, metrics  # the header alone separates these classes
        assert meta["n_stacked_features"] == 2 * len(classes)
        assert pd.read_parquet(outputs["val_predictions"])["fold"].eq(fold).all()
        models.append(outputs["model"])
    import joblib

    bundle = joblib.load(models[0])
    used = bundle["feature_columns"] + bundle["stacked_columns"]
    # Inputs are header features of the files and the base model's probabilities, nothing that
    # a label sheet wrote.
    assert not [c for c in used if "label" in c or "subset" in c or "y_true" in c]
    header = pd.read_parquet(dataset["root"] / "header.parquet")
    assert set(bundle["feature_columns"]) == set(feature_columns(header))
    table = predict_fusion({"features": str(dataset["root"] / "header.parquet"),
                            "index": dataset["index"], "splits": dataset["splits"],
                            "models": models, "cnn_predictions": test}, None,
                           task="sequence", classes=classes, stacks=("cnn",))
    splits = pd.read_parquet(dataset["splits"])
    assert set(table["series_key"]) == set(splits.loc[splits["set"] == "test", "series_key"])
    assert sorted(table["fold"].unique()) == [0, 1]
    assert (table["y_pred"] == table["y_true"]).mean() >= 0.9

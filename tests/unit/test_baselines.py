"""Baseline features, random forests and slice-level predictions on a fabricated dataset."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mriseq.features.tables import (
    feature_columns,
    header_table,
    histogram_table,
    write_header_features,
    write_histogram_features,
)
from mriseq.models.cnn.prediction import predict_cnn
from mriseq.models.forest.model import feature_matrix, predict_baseline, train_baseline
from mriseq.models.training_data import open_tensors
from train_fixtures import SEQUENCES, fabricate

PREDICTION_COLUMNS = ["shard", "row", "volume_key", "series_key", "patient_key", "slice_index",
                      "fold", "y_true", "y_pred"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    data = fabricate(root, patients=10, size=32, slices=3, folds=2)
    data["root"] = root
    write_histogram_features(data["tensors"], data["index"], 16, str(root / "histogram.parquet"))
    write_header_features(data["files"], data["index"], str(root / "header.parquet"))
    return data


def test_histogram_rows_are_normalised_bincounts(dataset):
    tensors = open_tensors(dataset["tensors"], dataset["index"])
    table = histogram_table(tensors.arrays, tensors.index, 4)
    assert list(table.columns) == ["shard", "row", "h_000", "h_001", "h_002", "h_003"]
    hist = table[feature_columns(table)].to_numpy()
    np.testing.assert_allclose(hist.sum(axis=1), 1, rtol=1e-6)
    image = tensors.gather(np.array([7]))[0]
    np.testing.assert_allclose(hist[7], np.bincount(image.ravel() // 64, minlength=4) / image.size)


def test_header_features_join_by_sop_key_and_tokenise(dataset):
    files = pd.read_parquet(dataset["files"])
    index = dataset["index_frame"]
    table = header_table(files.sample(frac=1, random_state=0), index)
    assert len(table) == len(index) and list(table["row"]) == list(index["row"])
    first = files.set_index("sop_key").loc[index["sop_key"].iloc[0]]
    assert table["num_echo_time"].iloc[0] == first["echo_time"]
    assert {"tok_image_type_diffusion", "tok_scanning_EP", "num_b_value",
            "num_normal_z", "num_contrast_agent"} <= set(table.columns)
    dwi = index["label_sequence"].eq("dwi").to_numpy()
    assert table.loc[dwi, "tok_image_type_diffusion"].eq(1).all()
    assert table.loc[~dwi, "tok_image_type_diffusion"].eq(0).all()


def test_unseen_feature_columns_become_zero():
    frame = pd.DataFrame({"tok_a": [1.0], "num_x": [2.0]})
    np.testing.assert_array_equal(feature_matrix(frame, ["num_x", "tok_b", "tok_a"]),
                                  [[2.0, 0.0, 1.0]])


@pytest.mark.parametrize("name", ["hist_rf", "header_rf"])
def test_baseline_trains_and_predicts_the_test_set(dataset, tmp_path, name):
    table = "histogram.parquet" if name == "hist_rf" else "header.parquet"
    features = str(dataset["root"] / table)
    classes = ["t1_inphase", "t1_opposed", *SEQUENCES[1:]]
    models = []
    for fold in (0, 1):
        out = tmp_path / f"fold{fold}"
        train_baseline(features, dataset["index"], dataset["splits"], model_name=name,
                       task="sequence", classes=classes, fold=fold, seed=1,
                       baselines={"n_estimators": 30, "max_depth": 0},
                       class_weighting="balanced", max_class_weight=20,
                       out_model=str(out / "model.joblib"),
                       out_val_metrics=str(out / "val_metrics.json"),
                       out_metadata=str(out / "metadata.json"))
        metrics = json.loads((out / "val_metrics.json").read_text())
        assert metrics["macro_f1"] >= 0.9, metrics  # the fabricated classes are separable
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["classes"] == classes and meta["model"] == name
        models.append(str(out / "model.joblib"))
    predictions = predict_baseline(features, dataset["index"], models, task="sequence",
                                   classes=classes, out_path=str(tmp_path / "pred.parquet"),
                                   splits_path=dataset["splits"])
    stored = pd.read_parquet(tmp_path / "pred.parquet")
    assert list(stored.columns) == PREDICTION_COLUMNS + [f"p_{c}" for c in classes]
    splits = pd.read_parquet(dataset["splits"])
    test_series = set(splits.loc[splits["set"] == "test", "series_key"])
    assert set(stored["series_key"]) == test_series
    n_test = dataset["index_frame"]["series_key"].isin(test_series).sum()
    assert len(stored) == 2 * n_test and sorted(stored["fold"].unique()) == [0, 1]
    probabilities = stored[[f"p_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert (stored["p_t1_opposed"] == 0).all()  # never seen in training
    assert (stored["y_pred"] == stored["y_true"]).mean() >= 0.9
    assert len(predictions) == len(stored)


def test_predict_without_splits_covers_every_slice_and_keeps_missing_labels(dataset, tmp_path):
    """External/predict datasets: all slices, y_true null where the dataset has no label."""
    from mriseq.models.cnn.network import build_cnn

    model = build_cnn(32, len(SEQUENCES), {"filters": [4], "dense_units": 4, "dropout": 0.0})
    path = tmp_path / "cnn/sequence/fold3/model.keras"
    path.parent.mkdir(parents=True)
    model.save(path)
    index = dataset["index_frame"].copy()
    index.loc[index.index[:5], "label_sequence"] = None
    index_path = tmp_path / "index.parquet"
    index.to_parquet(index_path, index=False)
    table = predict_cnn(dataset["tensors"], str(index_path), [str(path)],
                        tasks={"sequence": SEQUENCES})["sequence"]
    assert len(table) == len(index) and (table["fold"] == 3).all()
    assert table["y_true"].isna().sum() == 5
    assert set(table["y_pred"]) <= set(SEQUENCES)


def test_multi_task_models_predict_every_task_alike_in_one_graph_and_one_by_one(dataset,
                                                                                tmp_path):
    """Fold models with a head per task: one call gives every task's table, the same whether
    the folds share one graph or run one after another."""
    from mriseq.models.cnn.network import build_cnn

    tasks = {"sequence": SEQUENCES, "contrast": ["pre", "post"]}
    paths = []
    for fold in (0, 1):
        model = build_cnn(32, {task: len(classes) for task, classes in tasks.items()},
                          {"filters": [4], "dense_units": 4, "dropout": 0.0}, seed=fold)
        paths.append(str(tmp_path / f"fold{fold}/model.keras"))
        (tmp_path / f"fold{fold}").mkdir()
        model.save(paths[-1])
    together = predict_cnn(dataset["tensors"], dataset["index"], paths, tasks=tasks,
                           batch_size=7)
    apart = predict_cnn(dataset["tensors"], dataset["index"], paths, tasks=tasks,
                        fold_graph=False)
    for task, classes in tasks.items():
        assert len(together[task]) == 2 * len(dataset["index_frame"])
        assert set(together[task]["y_pred"]) <= set(classes)
        pd.testing.assert_frame_equal(together[task], apart[task], atol=1e-5)

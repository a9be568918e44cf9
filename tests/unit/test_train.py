"""Unit tests of the training stage on a fabricated dataset in the upstream layout (two-epoch
trainings; the 25-epoch learning checks are in tests/workflow/test_train_learning.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mriseq.metrics import classification_metrics
from mriseq.models.balance import balanced_class_weights
from mriseq.models.cnn.pipeline import epoch_samples
from mriseq.models.cnn.training import train_cnn
from mriseq.models.training_data import (
    TrainingDataError,
    encode_labels,
    fold_positions,
    open_tensors,
)
from mriseq.provenance import derive_seed
from train_fixtures import TRAIN_CONFIG, fabricate, task_files

CLASSES = ["t1_inphase", "t1_opposed", "t2", "dwi", "t1_portal"]  # t1_opposed never occurs


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return fabricate(tmp_path_factory.mktemp("ds"), patients=10, size=32, slices=4, folds=2)


def test_fold_positions_are_disjoint_by_patient(dataset):
    index = dataset["index_frame"]
    splits = pd.read_parquet(dataset["splits"])
    labels = encode_labels(index, "sequence", CLASSES)
    parts = fold_positions(index, splits, 0, labels)
    patients = {k: set(index.iloc[v]["patient_key"]) for k, v in parts.items()}
    assert patients["train"] and patients["val"] and patients["test"]
    assert not patients["train"] & patients["val"]
    assert not (patients["train"] | patients["val"]) & patients["test"]
    assert sum(len(v) for v in parts.values()) == len(index)


def test_epoch_samples_cap_slices_per_series_and_keep_epoch_size():
    series = np.repeat(np.arange(5), [1, 3, 10, 10, 2])
    positions = np.arange(len(series))
    samples = epoch_samples(series, positions, 4, 3, np.random.default_rng(0))
    assert samples.shape == (3, 1 + 3 + 4 + 4 + 2)
    for epoch in samples:
        assert len(set(epoch)) == len(epoch)
        assert np.bincount(series[epoch]).max() <= 4
    assert not np.array_equal(samples[0], samples[1])  # a fresh draw each epoch


def test_balanced_weights_ignore_absent_classes():
    weights = balanced_class_weights(np.array([0, 0, 0, 2]), 4, max_weight=20)
    assert weights[1] == 1 and weights[3] == 1
    assert weights[2] == pytest.approx(3 * weights[0])
    assert (weights[[0, 2]] * np.array([3, 1])).sum() == pytest.approx(4)


def test_unknown_label_stops_with_one_sentence(dataset):
    index = dataset["index_frame"].copy()
    index.loc[0, "label_sequence"] = "t3"
    with pytest.raises(TrainingDataError, match="'t3'.*taxonomy.sequence"):
        encode_labels(index, "sequence", CLASSES)


def test_gather_reads_rows_across_shards(dataset):
    tensors = open_tensors(dataset["tensors"], dataset["index"])
    assert isinstance(tensors.arrays["s000"], np.memmap)
    positions = np.array([len(tensors.index) - 1, 0, 5])
    expected = [np.load(f"{dataset['tensors'][0][:-8]}{row.shard}.npy")[row.row]
                for row in tensors.index.iloc[positions].itertuples()]
    np.testing.assert_array_equal(tensors.gather(positions), np.stack(expected))


def test_metrics_macro_f1():
    metrics = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 0]), ["a", "b"])
    assert metrics["accuracy"] == 0.75
    assert metrics["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


def _train(dataset, out, fold=0, seed=3, train=TRAIN_CONFIG):
    files = task_files(out)
    meta = train_cnn(dataset["tensors"], dataset["index"], dataset["splits"],
                     tasks={"sequence": CLASSES}, fold=fold, seed=seed, train=train,
                     out_model=str(out / "model.keras"), outputs={"sequence": files})["sequence"]
    paths = {"model.keras": str(out / "model.keras"), "history.csv": files["history"],
             "val_metrics.json": files["val_metrics"], "curve.png": files["curve"],
             "metadata.json": files["metadata"]}
    return meta, paths


def test_train_cnn_writes_outputs_and_is_deterministic(dataset, tmp_path):
    meta, paths = _train(dataset, tmp_path / "a")
    again, paths_again = _train(dataset, tmp_path / "b")
    metrics = json.loads(open(paths["val_metrics.json"]).read())
    assert metrics == json.loads(open(paths_again["val_metrics.json"]).read())
    pd.testing.assert_frame_equal(pd.read_csv(paths["history.csv"]),
                                  pd.read_csv(paths_again["history.csv"]))
    assert {"accuracy", "macro_f1", "per_class", "best_epoch"} <= set(metrics)
    history = pd.read_csv(paths["history.csv"])
    assert {"epoch", "loss", "val_loss", "accuracy", "val_accuracy"} <= set(history.columns)
    assert meta["classes"] == CLASSES and meta["seed"] == 3
    assert meta["device"]["type"] in {"CPU", "GPU"}
    assert meta["images_per_second"] > 0 and "tensorflow" in "".join(meta["packages"])
    assert meta["job_seed"] == derive_seed(3, "sequence", 0)
    # t1_opposed is absent from training: balanced weighting must not crash and keeps it at 1.
    assert meta["class_weights"][CLASSES.index("t1_opposed")] == 1.0
    assert open(paths["curve.png"], "rb").read(4) == b"\x89PNG"

    import keras

    model = keras.models.load_model(paths["model.keras"])
    probabilities = model.predict(np.zeros((2, 32, 32, 1), np.uint8), verbose=0)
    assert probabilities.shape == (2, len(CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_learning_curves_plot_the_epochs_training_wrote(dataset, tmp_path, monkeypatch):
    """The combined figure reads the history.csv a fold job writes (epochs from 1) and plots
    those epochs as they are: the first point at epoch 1, the last at the epochs run."""
    from mriseq.models import get_family
    from mriseq.models.cnn import learning_curves

    meta, paths = _train(dataset, tmp_path / "a")
    history = pd.read_csv(paths["history.csv"])
    assert history["epoch"].tolist() == list(range(1, meta["epochs_run"] + 1))
    drawn = []
    monkeypatch.setattr(learning_curves, "save_figure",
                        lambda fig, out_paths, dpi: drawn.append(fig.axes[0].lines[0].get_xdata()))
    get_family("cnn").learning_curves([paths["history.csv"]], [str(tmp_path / "c.png")],
                                      title="t", dpi=30)
    assert list(drawn[0]) == history["epoch"].tolist()


def test_a_slice_without_a_tasks_label_weighs_nothing_in_that_head(dataset):
    from mriseq.models.cnn.pipeline import training_dataset

    tensors = open_tensors(dataset["tensors"], dataset["index"])
    labels = {"sequence": np.array([0, 1, 2, 3]), "contrast": np.array([1, -1, 0, -1])}
    weights = {"sequence": np.array([1, 2, 3, 4], np.float32), "contrast": None}
    batches = training_dataset(tensors, np.array([[0, 1, 2, 3]]), labels,
                               {"sequence": 4, "contrast": 2}, 4, weights)
    _, targets, sample_weights = next(iter(batches))
    np.testing.assert_array_equal(sample_weights[0].numpy(), [1, 2, 3, 4])
    np.testing.assert_array_equal(sample_weights[1].numpy(), [1, 0, 1, 0])
    np.testing.assert_array_equal(targets[1].numpy().argmax(axis=1), [1, 0, 0, 0])


def test_best_epoch_is_chosen_after_the_warm_up():
    from mriseq.models.cnn.training import best_epoch

    losses = np.array([0.5, 0.9, 0.8, 0.7, 0.6, 0.65])
    assert best_epoch(losses, 0) == 1  # without a warm-up the untrained first epoch wins
    assert best_epoch(losses, 3) == 5
    assert best_epoch(losses[:2], 3) == 2  # ended inside the warm-up: the last epoch is kept


def test_quarter_turns_and_mirrors_are_the_eight_symmetries():
    from mriseq.models.cnn.pipeline import dihedral

    image = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    turned = [dihedral(image, np.array([code]))[0] for code in range(8)]
    assert np.array_equal(turned[0], image[0])
    assert np.array_equal(turned[1], np.rot90(image[0]))
    assert np.array_equal(turned[4], image[0][:, ::-1])
    assert len({t.tobytes() for t in turned}) == 8  # all distinct
    # Each is a rearrangement of the same pixels (nothing is interpolated or filled).
    assert all(sorted(t.ravel()) == sorted(image.ravel()) for t in turned)
    batch = np.stack([image[0]] * 3)
    out = dihedral(batch, np.array([0, 2, 6]))
    assert np.array_equal(out[1], np.rot90(image[0], 2))
    assert np.array_equal(out[2], np.rot90(image[0], 2)[:, ::-1])


def test_quarter_turns_train_deterministically(dataset, tmp_path):
    config = {**TRAIN_CONFIG, "augmentation": {**TRAIN_CONFIG["augmentation"],
                                               "quarter_turns": ["sequence"]}}
    runs = []
    for name in ("a", "b"):
        _, paths = _train(dataset, tmp_path / name, train=config)
        runs.append((open(paths["history.csv"]).read(), open(paths["val_metrics.json"]).read()))
    assert runs[0] == runs[1]
    _, plain = _train(dataset, tmp_path / "plain")
    assert open(plain["history.csv"]).read() != runs[0][0]  # the turns reach the network

"""Grad-CAM highlights the region that drives the class, on a model with known weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from mriseq.models.cnn import gradcam as gc  # noqa: E402


def _bright_dark_model(size: int = 16):
    """Class 1 ("bright") is driven by pixels above 0.5, class 0 ("dark") by pixels below it.

    A 1x1 convolution splits the image into a bright channel ReLU(x - 0.5) and a dark channel
    ReLU(0.5 - x); max-pooling halves the map (so Grad-CAM must upsample), global average pooling
    and a softmax layer read the bright channel for class 1 and the dark one for class 0.
    """
    from keras import layers

    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(2, 1, activation="relu", name="detector")(inputs)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(2, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("detector").set_weights([np.array([[[[1.0, -1.0]]]]), np.array([-0.5, 0.5])])
    model.get_layer("probabilities").set_weights([np.array([[0.0, 8.0], [8.0, 0.0]]),
                                                  np.zeros(2)])
    return model


def _image_with_square(size=16):
    image = np.zeros((size, size), dtype=np.float32)
    image[2:6, 8:14] = 1.0
    mask = image > 0
    return image, mask


def test_target_layer_is_last_spatial_layer():
    model = _bright_dark_model()
    assert gc.find_target_layer(model).name == "pool"


def test_map_highlights_the_region_that_drives_the_class():
    model = _bright_dark_model()
    image, mask = _image_with_square()
    maps, probs = gc.gradcam(model, image[None], class_indices=[1])
    cam = maps[0]
    assert cam.shape == image.shape
    assert cam[mask].mean() > 0.8
    assert cam[~mask].mean() < 0.1
    # The same image explained for the other class lights up the background instead.
    maps0, _ = gc.gradcam(model, image[None], class_indices=[0])
    # (bilinear upsampling of the 8x8 map blurs the square's edge, hence the looser bound)
    assert maps0[0][mask].mean() < 0.3 and maps0[0][~mask].mean() > 0.7
    # Swapping softmax for logits during the gradient leaves the model unchanged afterwards.
    assert model.layers[-1].activation.__name__ == "softmax"
    assert np.allclose(np.asarray(model(image[None, ..., None])).sum(), 1.0)
    assert probs.shape == (1, 2)


def test_default_class_is_the_prediction_and_saturation_does_not_blank_the_map():
    model = _bright_dark_model()
    image, mask = _image_with_square()
    image[:, :] = np.where(mask, 50.0, 0.0)  # p(bright) == 1.0 in float32: softmax saturated
    maps, probs = gc.gradcam(model, image[None])
    assert probs[0].argmax() == 1
    assert maps[0][mask].mean() > 0.8


def test_gradcam_runs_on_the_workflow_cnn():
    from mriseq.models.cnn.network import build_cnn

    model = build_cnn(32, 3, {"filters": [4, 8], "dense_units": 8, "dropout": 0.1}, seed=0)
    assert gc.find_target_layer(model).name.startswith("block1")
    images = np.random.default_rng(0).integers(0, 255, (2, 32, 32)).astype(np.float32)
    maps, probs = gc.gradcam(model, images)
    assert maps.shape == (2, 32, 32) and probs.shape == (2, 3)
    assert maps.min() >= 0 and maps.max() <= 1


def test_gradcam_grid_explains_a_multi_task_cnn_through_the_tasks_head(tmp_path):
    from mriseq.models.cnn.network import build_cnn

    model = build_cnn(32, {"sequence": 3, "contrast": 2},
                      {"filters": [4, 8], "dense_units": 8, "dropout": 0.1}, seed=0)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "s000.npy",
            np.random.default_rng(0).integers(0, 255, (2, 32, 32)).astype(np.uint8))
    pd.DataFrame({"shard": "s000", "row": [0, 1], "series_key": ["x", "y"], "slice_index": 0,
                  "fold": 0, "y_true": ["pre", "post"]}).to_parquet(tmp_path / "p.parquet")
    table = gc.gradcam_grid(tmp_path / "model.keras", [str(tmp_path / "s000.npy")],
                            str(tmp_path / "p.parquet"), ["pre", "post"], 1, 0,
                            str(tmp_path / "g.png"), str(tmp_path / "g.csv"), dpi=40,
                            task="contrast")
    assert set(table["y_pred"]) <= {"pre", "post"} and len(table) == 2


def test_choose_slices_per_class_middle_slice():
    rows = []
    for s, cls in enumerate(["a", "a", "a", "b"]):
        for k in range(5):
            rows.append({"shard": "s000", "row": s * 5 + k, "series_key": f"k{s}",
                         "slice_index": k, "y_true": cls, "fold": 0})
    chosen = gc.choose_slices(pd.DataFrame(rows), ["a", "b", "c"], per_class=2, seed=0)
    assert (chosen["y_true"] == "a").sum() == 2 and (chosen["y_true"] == "b").sum() == 1
    assert chosen["series_key"].is_unique
    assert set(chosen["row"] % 5) == {2}


def test_gradcam_grid_writes_figure(tmp_path):
    model = _bright_dark_model()
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    image, _ = _image_with_square()  # mostly dark: class "dark"; its negative is "bright"
    tensors = np.stack([1 - image, image, 1 - image])  # the test model expects 0-1 inputs
    np.save(tmp_path / "s000.npy", tensors)
    preds = pd.DataFrame({"shard": "s000", "row": [0, 1, 2], "series_key": ["x", "y", "z"],
                          "slice_index": 0, "fold": 0, "y_true": ["bright", "dark", "bright"]})
    preds.to_parquet(tmp_path / "p.parquet")
    table = gc.gradcam_grid(model_path, [str(tmp_path / "s000.npy")], str(tmp_path / "p.parquet"),
                            ["dark", "bright"], 2, 0, str(tmp_path / "g.png"),
                            str(tmp_path / "g.csv"), dpi=40)
    assert (tmp_path / "g.png").stat().st_size > 1000
    assert list(table["y_pred"]) == list(table["y_true"])
    assert list(pd.read_csv(tmp_path / "g.csv")["row"]) == list(table["row"])

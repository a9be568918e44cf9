"""The CNN architecture: shapes, configurable depth/width, augmentation only while training."""

from __future__ import annotations

import numpy as np
from mriseq.models.cnn.network import build_cnn, configure_runtime


def test_shapes_and_configurable_depth_width():
    configure_runtime(1, 0)
    small = build_cnn(128, 12, {"filters": [8, 16], "dense_units": 16, "dropout": 0.2})
    deep = build_cnn(128, 12, {"filters": [16, 32, 64, 96], "dense_units": 64, "dropout": 0.3})
    assert small.output_shape == (None, 12) and small.input_shape == (None, 128, 128, 1)
    convs = [layer for layer in deep.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [16, 32, 64, 96]
    assert deep.count_params() > small.count_params()
    # the output layer stays float32 (mixed precision computes the loss in full precision)
    assert deep.layers[-1].dtype_policy.compute_dtype == "float32"


def test_augmentation_only_in_training_and_label_preserving():
    configure_runtime(1, 0)
    model = build_cnn(32, 3, {"filters": [4, 8], "dense_units": 8, "dropout": 0.0},
                      {"intensity": 0.2, "shift": 0.1, "rotation_degrees": 10}, seed=1)
    x = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 1)).astype(np.uint8)
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    names = [layer.name for layer in model.layers]
    assert {"aug_gain", "aug_offset", "aug_shift", "aug_rotate"} <= set(names)
    # nothing that changes plane or handedness: no flips, rotation bounded by 10 degrees
    assert not any("flip" in name for name in names)
    rotate = model.get_layer("aug_rotate")
    assert max(abs(f) for f in np.atleast_1d(rotate.factor)) <= 10 / 360 + 1e-9
    augmented = model.get_layer("aug_shift")(x.astype("float32") / 255, training=True)
    assert augmented.shape == (4, 32, 32, 1)
    assert not np.allclose(np.asarray(augmented), x / 255)


def test_histogram_branch_matches_the_baseline_histogram_and_survives_saving(tmp_path):
    import keras
    from mriseq.models.cnn.gradcam import find_target_layer

    configure_runtime(1, 0)
    model = build_cnn(32, 3, {"filters": [4, 8], "dense_units": 8, "histogram_bins": 16})
    x = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 1)).astype(np.uint8)
    branch = keras.Model(model.input, model.get_layer("histogram").output)
    expected = [np.histogram(s, bins=16, range=(0, 256))[0] / s.size for s in x]
    np.testing.assert_allclose(np.asarray(branch(x)), expected, atol=1e-6)
    # Grad-CAM explains the last convolution block, not the (non-spatial) histogram branch
    assert find_target_layer(model).name == "block1_relu"
    assert model.get_layer("block1_relu").output.shape[1:3] == (4, 4)  # input pool 16, stem 4
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)  # stock layers only: no custom objects
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_architecture_switches():
    import pytest

    configure_runtime(1, 0)
    plain = build_cnn(32, 3, {"filters": [4, 8], "dense_units": 8, "input_pool": 1,
                              "histogram_bins": 0, "normalization": "none"})
    names = {layer.name for layer in plain.layers}
    assert not names & {"histogram", "input_pool", "stem_bn", "block1_bn"}
    assert plain.get_layer("block1_relu").output.shape[1:3] == (8, 8)  # stem 32 -> 8, none after
    # default: no intensity jitter (the windowed levels carry the class)
    assert "aug_gain" not in {layer.name for layer in build_cnn(32, 3).layers}
    with pytest.raises(ValueError, match="normalization"):
        build_cnn(32, 3, {"normalization": "layer"})

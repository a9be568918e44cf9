"""Grad-CAM (Selvaraju et al., ICCV 2017) for the slice CNN, and the per-class grid figure.

The target layer is found automatically: the last layer whose output is a 4-D feature map
``(batch, h, w, channels)``, i.e. the last convolutional stage before global pooling. The class
score is the pre-softmax logit: a softmax output saturates at 1 for confident slices and its
gradient vanishes, so the final layer's activation is swapped for the identity while the gradient
is taken (and restored afterwards). The map is ``ReLU(Σ_k α_k A_k)`` with ``α_k`` the spatial mean
gradient of channel k, upsampled bilinearly to the input and scaled to 0–1.

TensorFlow is imported inside the functions; the Grad-CAM job is the only evaluation job that
loads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd

from mriseq.io import atomic_path, write_csv
from mriseq.scan.volumes import unit_key

log = logging.getLogger("mriseq.models.cnn.gradcam")


class GradCamError(ValueError):
    """The model has no layer Grad-CAM can explain."""


def find_target_layer(model):
    """The last layer with a 4-D output (spatial feature map), skipping the input layer."""
    for layer in reversed(model.layers):
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4 and shape[1] and shape[1] > 1:
            return layer
    raise GradCamError(f"model {model.name!r} has no layer with a spatial (4-D) output.")


@contextmanager
def _logits(model):
    """Temporarily make the last layer output logits (identity instead of softmax)."""
    import keras

    last = model.layers[-1]
    previous = getattr(last, "activation", None)
    swap = previous is not None and getattr(previous, "__name__", "") == "softmax"
    if swap:
        last.activation = keras.activations.linear
    try:
        yield
    finally:
        if swap:
            last.activation = previous


def gradcam(model, images: np.ndarray, class_indices: Sequence[int] | None = None,
            layer_name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps for ``images`` ``(n, h, w)`` or ``(n, h, w, 1)`` as the model expects them.

    ``class_indices``: the class to explain per image (default: the predicted class).
    Returns (maps ``(n, h, w)`` in 0–1, probabilities ``(n, n_classes)``).
    """
    import keras
    import tensorflow as tf
    from skimage.transform import resize

    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    layer = model.get_layer(layer_name) if layer_name else find_target_layer(model)
    log.info("Grad-CAM target layer: %s", layer.name)
    grad_model = keras.Model(model.inputs, [layer.output, model.output])
    probabilities = np.asarray(model(x, training=False), dtype=np.float64)
    if class_indices is None:
        class_indices = probabilities.argmax(axis=1)
    class_indices = np.asarray(class_indices, dtype=np.int64)
    with _logits(model):
        inputs = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            features, logits = grad_model(inputs, training=False)
            score = tf.gather(logits, class_indices[:, None], batch_dims=1)
        grads = tape.gradient(score, features)
    features = np.asarray(features, dtype=np.float64)
    weights = np.asarray(grads, dtype=np.float64).mean(axis=(1, 2))
    cams = np.maximum(np.einsum("nhwc,nc->nhw", features, weights), 0)
    out = np.zeros(x.shape[:3])
    for i, cam in enumerate(cams):
        top = cam.max()
        if top > 0:
            out[i] = resize(cam / top, x.shape[1:3], order=1, mode="edge", anti_aliasing=False)
    return np.clip(out, 0, 1), probabilities


def choose_slices(predictions: pd.DataFrame, classes: Sequence[str], per_class: int,
                  seed: int) -> pd.DataFrame:
    """``per_class`` labelled slices per reference class, one per volume where possible,
    reproducibly for ``seed``. Takes each volume's middle slice (the most typical anatomy)."""
    df = predictions[predictions["y_true"].notna()].drop_duplicates(["shard", "row"])
    unit = unit_key(df)
    if "slice_index" in df.columns:
        df = df.assign(_mid=(df["slice_index"]
                             - df.groupby(unit)["slice_index"].transform("median")).abs())
        df = df.sort_values([unit, "_mid", "slice_index"]).drop_duplicates(unit)
    rng = np.random.default_rng(seed)
    chosen = []
    for name in classes:
        rows = df[df["y_true"] == name]
        if len(rows) > per_class:
            rows = rows.iloc[np.sort(rng.choice(len(rows), per_class, replace=False))]
        chosen.append(rows)
    out = pd.concat(chosen, ignore_index=True) if chosen else df.iloc[:0]
    return out[["shard", "row", "series_key", "y_true"]].reset_index(drop=True)


def gradcam_grid(model_path: str | os.PathLike, tensor_paths: Sequence[str], predictions_path: str,
                 classes: Sequence[str], per_class: int, seed: int, out_png: str,
                 out_table: str, dpi: int = 120, title: str = "",
                 task: str | None = None) -> pd.DataFrame:
    """Explain ``per_class`` test slices per class with one fold model and save the grid figure
    (image with the heatmap overlaid; title: reference / predicted class and its probability)
    plus a table of the explained slices. A multi-task model is explained through ``task``'s
    head."""
    import keras


    classes = list(classes)
    predictions = pd.read_parquet(predictions_path)
    chosen = choose_slices(predictions, classes, per_class, seed)
    arrays = {os.path.basename(p)[: -len(".npy")]: np.load(p, mmap_mode="r") for p in tensor_paths}
    images = np.stack([np.asarray(arrays[s][r], dtype=np.float32)
                       for s, r in zip(chosen["shard"], chosen["row"], strict=True)]) \
        if len(chosen) else np.zeros((0, 1, 1), dtype=np.float32)
    model = keras.models.load_model(model_path, compile=False)
    if len(model.outputs) > 1:  # a head per task: the task's head on the shared trunk
        model = keras.Model(model.inputs, model.get_layer(task).output)
    if len(chosen):
        maps, probs = gradcam(model, images)
        chosen["y_pred"] = np.asarray(classes)[probs.argmax(axis=1)]
        chosen["p_pred"] = probs.max(axis=1)
    else:
        maps = images
        chosen["y_pred"], chosen["p_pred"] = [], []
    log.info("explained %d slices with %s", len(chosen), model_path)
    with atomic_path(out_png) as tmp:
        plot_grid(images, maps, chosen, classes, tmp, dpi=dpi, title=title)
    write_csv(chosen, out_table)
    return chosen


def plot_grid(images: np.ndarray, maps: np.ndarray, chosen: pd.DataFrame, classes: Sequence[str],
              out_path, dpi: int = 120, title: str = "") -> None:
    """One row per class present, one column per explained slice: the slice in grey with the
    Grad-CAM map overlaid (jet, 40 % opacity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [c for c in classes if (chosen["y_true"] == c).any()]
    per_class = max([int((chosen["y_true"] == c).sum()) for c in present] or [1])
    # Classes side by side, four per row of the grid, each with its K slices: a 12-class task
    # makes a 3 x 4 grid of class panels instead of one very tall strip.
    classes_per_row = min(4, max(len(present), 1))
    n_cols = classes_per_row * per_class
    n_rows = max(-(-len(present) // classes_per_row), 1)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(max(2.2 * n_cols, 4.0), 2.5 * n_rows + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for k, name in enumerate(present):
        idx = np.flatnonzero((chosen["y_true"] == name).to_numpy())
        for c, i in enumerate(idx):
            ax = axes[k // classes_per_row, (k % classes_per_row) * per_class + c]
            ax.imshow(images[i], cmap="gray")
            ax.imshow(maps[i], cmap="jet", alpha=0.4, vmin=0, vmax=1)
            pred = chosen["y_pred"].iloc[i]
            ok = pred == name
            ax.set_title(f"true: {name}\npred: {pred} ({chosen['p_pred'].iloc[i]:.2f})",
                         fontsize=8, color="black" if ok else "firebrick")
    if not present:
        axes[0, 0].text(0.5, 0.5, "no labelled slices", ha="center", va="center")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(out_path, dpi=dpi, format="png")
    plt.close(fig)

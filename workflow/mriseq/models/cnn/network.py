"""The slice classifier: a small custom 2D CNN in Keras 3 (TensorFlow backend).

Architecture (``build_cnn``), for a ``size × size × 1`` uint8 slice (128 × 128 by default):

1. ``Rescaling(1/255)``: the tensors are stored as windowed uint8, the model sees 0–1.
2. Histogram branch (``histogram_bins`` > 0): the full-resolution slice's intensity histogram
   (``histogram_bins`` equal bins over 0–256, fractions of the pixels; a bincount built from stock
   layers, see ``intensity_histogram``), standardised per bin by batch norm. The windowed
   intensity distribution is what separates many sequences (in/opposed phase, DWI, ADC, …): a few
   hundred training steps of convolutions and average pooling do not learn to measure it, so the
   model is handed the same features the ``hist_rf`` baseline sees, and the convolutions add the
   spatial patterns (India-ink edges, vessels, anatomy).
3. ``AveragePooling2D(input_pool)`` (2: 128 → 64 pixels): the convolutions need no finer detail
   to recognise sequence, plane or contrast, and every epoch becomes ~3× cheaper, so more epochs
   fit the one-CPU-core budget.
4. Label-preserving augmentation, active only while training (identity in ``predict``):
   translation of up to ``shift`` of the image size, rotation of up to ``rotation_degrees`` and,
   only if ``intensity`` > 0, random gain (contrast) and offset (brightness). No flips and no
   large rotations: a coronal slice must stay coronal. The intensity jitter is off by default:
   the windowed intensity levels carry the class.
5. Stem: 5 × 5 convolution with stride 2 (``filters[0]``), normalization, ReLU, 2 × 2 max-pool.
6. One block per further entry of ``filters``: 3 × 3 convolution, normalization, ReLU, 2 × 2
   max-pool (while the map is larger than 4 × 4, never after the last block). Depth =
   ``len(filters)``, width = the numbers in it. The last block's ReLU output is the spatial map
   Grad-CAM explains (the histogram branch is built first, so it is the last 4-D layer).
   ``normalization``: ``batch`` (batch norm, momentum 0.9) or ``none`` (trains markedly slower in
   the same number of steps).
7. Global average and global max pooling of the last block (mean response and strongest local
   response), concatenated with the histogram → dropout → a ``dense_units`` ReLU layer → dropout
   → softmax over the classes (kept in float32 under mixed precision so the loss is computed in
   full precision). The workflow's CNN has one such head per task on one trunk (a multi-task
   network, ``train.heads: shared``): one pass per slice serves the three tasks, and the tasks
   share what they learn of the image (make bench-predict and docs/own-data.md compare it with one
   network per task).

TensorFlow/Keras are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mriseq.defaults import with_defaults

# Batch-norm running statistics follow the weights within tens of steps (Keras' default 0.99 needs
# hundreds): a fold of a small cohort trains only a few hundred steps in all, and with 0.99 the
# inference-mode statistics lag so far behind that validation collapses to one class.
BN_MOMENTUM = 0.9


def build_cnn(
    size: int,
    n_classes: int | Mapping[str, int],
    architecture: dict[str, Any] | None = None,
    augmentation: dict[str, float] | None = None,
    seed: int = 0,
):
    """A compiled-ready (not compiled) ``keras.Model`` mapping ``(batch, size, size, 1)`` uint8 or
    float input to class probabilities. ``seed`` seeds the augmentation layers.

    ``n_classes`` a mapping (task -> number of classes): one softmax head per task on the shared
    trunk, each named after its task, the outputs in the mapping's order (a multi-task network:
    one pass per slice serves every task)."""
    import keras
    from keras import layers


    # Keys left out take the schema's defaults (the workflow always passes complete sections).
    arch = with_defaults(architecture or {}, "train", "architecture")
    aug = with_defaults(augmentation or {}, "train", "augmentation")
    filters = list(arch["filters"])
    pool = max(1, int(arch["input_pool"]))
    bins = int(arch["histogram_bins"])

    inputs = keras.Input(shape=(size, size, 1), name="slice")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    # The histogram sees the full-resolution, un-augmented slice: exactly what the histogram
    # baseline sees (translation/rotation would only add fill pixels to it).
    pooled = [intensity_histogram(inputs, bins)] if bins > 0 else []
    if pool > 1:
        x = layers.AveragePooling2D(pool, name="input_pool")(x)
    x = _augmentation(x, aug, seed)

    x = layers.Conv2D(filters[0], 5, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = _normalization(x, arch["normalization"], "stem")
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    spatial = (size // pool) // 4
    last = len(filters) - 1
    for i, width in enumerate(filters[1:], start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = _normalization(x, arch["normalization"], f"block{i}")
        x = layers.ReLU(name=f"block{i}_relu")(x)
        if spatial > 4 and i < last:
            x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
            spatial //= 2
    pooled += [layers.GlobalAveragePooling2D(name="gap")(x),
               layers.GlobalMaxPooling2D(name="gmp")(x)]
    x = layers.Concatenate(name="pooled")(pooled)
    x = layers.Dropout(arch["dropout"], seed=seed, name="dropout_pooled")(x)
    x = layers.Dense(arch["dense_units"], activation="relu", name="dense")(x)
    x = layers.Dropout(arch["dropout"], seed=seed + 1, name="dropout_dense")(x)
    if isinstance(n_classes, Mapping):
        outputs = [layers.Dense(n, activation="softmax", dtype="float32", name=task)(x)
                   for task, n in n_classes.items()]
    else:
        outputs = layers.Dense(n_classes, activation="softmax", dtype="float32",
                               name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mriseq_cnn")


def intensity_histogram(slices, bins: int):
    """``(batch, bins)`` intensity histogram of 0–255 slices: ``bins`` equal bins over 0–256,
    fractions of the pixels, exactly the ``hist_rf`` baseline's features; standardised per bin.

    Built from stock Keras layers so a saved model needs no custom code: ``Rescaling(bins/256)``
    (exact in float32: ``bins/256`` is dyadic) and a ``ReLU`` capped just below ``bins`` (clips
    out-of-range input) give each pixel its bin as the integer part, and ``CategoryEncoding``
    counts them (a bincount: linear in the pixels, unlike ``Discretization``'s bucket search,
    which cost more than the convolutions). Binning has no gradient, and needs none: no trainable
    weight sits between the input and the histogram.
    """
    from keras import layers

    if not 1 <= bins <= 256:
        raise ValueError(f"train.architecture.histogram_bins must be 0 or 1–256, not {bins}.")
    pixels = int(slices.shape[1]) * int(slices.shape[2])
    h = layers.Rescaling(bins / 256.0, name="hist_scale")(slices)
    h = layers.ReLU(max_value=bins - 0.5, name="hist_clip")(h)
    h = layers.Reshape((pixels,), name="hist_pixels")(h)
    h = layers.CategoryEncoding(num_tokens=bins, output_mode="count", name="hist_counts")(h)
    h = layers.Rescaling(1.0 / pixels, name="histogram")(h)
    # Bin fractions differ by orders of magnitude (background vs. tissue bins); standardising
    # each bin gives the dense head the scale invariance the random forest has for free.
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name="histogram_bn")(h)


def _normalization(x, kind: str, prefix: str):
    from keras import layers

    if kind == "batch":
        return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}_bn")(x)
    if kind == "none":
        return x
    raise ValueError(f"train.architecture.normalization must be 'batch' or 'none', not {kind!r}.")


def _augmentation(x, aug: dict[str, float], seed: int):
    """Keras preprocessing layers; they act only when the model is called with ``training=True``."""
    from keras import layers

    if aug["intensity"] > 0:
        x = layers.RandomContrast(aug["intensity"], seed=seed + 11, name="aug_gain")(x)
        x = layers.RandomBrightness(aug["intensity"], value_range=(0.0, 1.0), seed=seed + 12,
                                    name="aug_offset")(x)
    if aug["shift"] > 0:
        x = layers.RandomTranslation(aug["shift"], aug["shift"], fill_mode="constant",
                                     seed=seed + 13, name="aug_shift")(x)
    if aug["rotation_degrees"] > 0:
        x = layers.RandomRotation(aug["rotation_degrees"] / 360.0, fill_mode="constant",
                                  seed=seed + 14, name="aug_rotate")(x)
    return x


def compile_cnn(model, learning_rate: float, total_steps: int = 0) -> None:
    """Adam + categorical cross-entropy on one-hot targets; accuracy as the tracked metric.

    With ``total_steps`` the learning rate follows a cosine decay to zero over the whole run: a
    short training budget needs the late, small steps to settle (a constant rate leaves the
    validation loss jumping from epoch to epoch, and early stopping then picks a noisy epoch).
    """
    import keras

    rate = learning_rate
    if total_steps > 0:
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    heads = len(model.outputs)
    # With a head per task the loss is the sum of the heads' (each weighted per sample); Keras
    # then logs each head's as <task>_loss and <task>_accuracy.
    losses = [keras.losses.CategoricalCrossentropy() for _ in range(heads)]
    metrics = [[keras.metrics.CategoricalAccuracy(name="accuracy")] for _ in range(heads)]
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=losses[0] if heads == 1 else losses,
        metrics=metrics[0] if heads == 1 else metrics,
    )


def configure_runtime(threads: int, seed: int) -> dict[str, Any]:
    """Set TF threads and seeds before any model is built; GPU: memory growth + mixed precision;
    CPU: deterministic ops (same seed, same weights, same metrics).

    Returns a description of the device for the metadata.
    """
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, int(threads)))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, int(threads)))
    except RuntimeError:
        # Already initialised in this process (tests building several models): keep the settings.
        pass
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    keras.utils.set_random_seed(int(seed))
    if gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
        names = []
        for gpu in gpus:
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        device = {"type": "GPU", "count": len(gpus), "names": names, "mixed_precision": True}
    else:
        keras.mixed_precision.set_global_policy("float32")
        tf.config.experimental.enable_op_determinism()
        device = {"type": "CPU", "count": 1, "names": ["cpu"], "mixed_precision": False,
                  "deterministic": True}
    device["threads"] = int(threads)
    return device

"""The CNN's input pipeline: the per-epoch draw of training slices, the dihedral augmentation
and the tf.data datasets that gather batches from the memory-mapped shard tensors.

A batch is gathered from the memory maps by row number inside the pipeline
(``tf.numpy_function``), in parallel with training and prefetched, so the accelerator never waits
on Python. TensorFlow is imported inside the functions that build a dataset: this module is read
by jobs that never build one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mriseq.models.training_data import ShardTensors


def epoch_samples(series: np.ndarray, positions: np.ndarray, max_per_series: int,
                  epochs: int, rng: np.random.Generator) -> np.ndarray:
    """``(epochs, n)`` training positions: per epoch up to ``max_per_series`` slices drawn anew from
    every series (0 = all), shuffled. ``n`` is the same every epoch, so epochs stay aligned with
    batches. Capping slices per series keeps long series from dominating and bounds epoch cost."""
    keys = series[positions]
    order = np.argsort(keys, kind="stable")
    sorted_pos = positions[order]
    _, starts, counts = np.unique(keys[order], return_index=True, return_counts=True)
    groups = [sorted_pos[s:s + c] for s, c in zip(starts, counts, strict=True)]
    out = []
    for _ in range(epochs):
        chosen = []
        for group in groups:
            if max_per_series and len(group) > max_per_series:
                chosen.append(rng.choice(group, size=max_per_series, replace=False))
            else:
                chosen.append(group)
        epoch = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
        rng.shuffle(epoch)
        out.append(epoch)
    return np.stack(out).astype(np.int64)


def dihedral(images: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each ``(s, s)`` image turned by ``code % 4`` quarter turns, then mirrored when
    ``code >= 4`` (the 8 symmetries of the square; code 0 leaves it as it is)."""
    out = np.empty_like(images)
    for i, code in enumerate(np.asarray(codes, dtype=np.int64)):
        turned = np.rot90(images[i], k=int(code) % 4)
        out[i] = turned[:, ::-1] if code >= 4 else turned
    return out


def training_dataset(tensors: ShardTensors, samples: np.ndarray,
                     labels: np.ndarray | Mapping[str, np.ndarray],
                     n_classes: int | Mapping[str, int], batch_size: int,
                     class_weights: np.ndarray | Mapping[str, np.ndarray | None] | None = None,
                     symmetries: np.ndarray | None = None):
    """A tf.data pipeline over ``samples`` (``(epochs, n)`` positions): per epoch batches of
    (slice ``(b, s, s, 1)`` uint8, one-hot target, sample weight), gathered from the memory maps in
    parallel and prefetched. Yields exactly ``epochs × ceil(n / batch_size)`` batches.
    ``symmetries`` (same shape, codes 0–7 of :func:`dihedral`) turns or mirrors each drawn slice;
    drawn up front from the job's seed, so training stays deterministic.

    With ``labels``, ``n_classes`` and ``class_weights`` mappings (task -> …, a network with a
    head per task), targets and weights are tuples in the mapping's order; a slice without a
    task's label weighs 0 in that head's loss."""
    import tensorflow as tf

    size = tensors.size
    heads = _heads(labels, n_classes, class_weights)
    codes = np.zeros_like(samples, dtype=np.int8) if symmetries is None else symmetries

    def read(positions, batch_codes):
        images = tensors.gather(positions)
        return dihedral(images, batch_codes) if batch_codes.any() else images

    def load(positions, batch_codes):
        images = tf.numpy_function(read, [positions, batch_codes], tf.uint8, stateful=False)
        images = tf.reshape(images, [-1, size, size, 1])
        targets, weights = _targets(heads, positions, weighted=True)
        return images, targets, weights

    per_epoch = tf.data.Dataset.from_tensor_slices((samples, codes.astype(np.int8)))
    batches = per_epoch.flat_map(
        lambda epoch, epoch_codes: tf.data.Dataset.from_tensor_slices(
            (epoch, epoch_codes)
        ).batch(batch_size)
    )
    return batches.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE
    )


def _heads(labels, n_classes, class_weights) -> tuple[bool, list[tuple]]:
    """(several heads?, per head: label table, class count, weight table, labelled mask)."""
    import tensorflow as tf

    several = isinstance(labels, Mapping)
    tasks = list(labels) if several else [None]
    heads = []
    for task in tasks:
        head_labels = np.asarray(labels[task] if several else labels)
        count = int(n_classes[task] if several else n_classes)
        weights = (class_weights or {}).get(task) if several else class_weights
        weights = np.ones(count, np.float32) if weights is None else np.asarray(weights)
        heads.append((tf.constant(np.maximum(head_labels, 0).astype(np.int32)), count,
                      tf.constant(weights.astype(np.float32)),
                      tf.constant((head_labels >= 0).astype(np.float32))))
    return several, heads


def _targets(heads, positions, weighted: bool):
    """One-hot targets and sample weights of ``positions`` for every head (tuples with several
    heads, else the one head's tensors)."""
    import tensorflow as tf

    several, table = heads
    targets, weights = [], []
    for labels, count, class_weight, labelled in table:
        classes = tf.gather(labels, positions)
        targets.append(tf.one_hot(classes, count))
        weight = tf.gather(labelled, positions)
        weights.append(weight * tf.gather(class_weight, classes) if weighted else weight)
    if several:
        return tuple(targets), tuple(weights)
    return targets[0], weights[0]


def inference_dataset(tensors: ShardTensors, positions: np.ndarray, batch_size: int,
                      labels: np.ndarray | Mapping[str, np.ndarray] | None = None,
                      n_classes: int | Mapping[str, int] = 0):
    """Batches of slices for ``positions`` in order (validation, prediction); with ``labels``
    each batch is (slices, one-hot target) as Keras expects for validation data, or with
    mappings (a head per task) (slices, targets, weights): tuples in the mapping's order, a
    slice without a task's label weighing 0 in that head's loss."""
    import tensorflow as tf

    size = tensors.size
    heads = None if labels is None else _heads(labels, n_classes, None)

    def read(batch_positions):
        return tensors.gather(batch_positions)

    def load(batch_positions):
        images = tf.numpy_function(read, [batch_positions], tf.uint8, stateful=False)
        images = tf.reshape(images, [-1, size, size, 1])
        if heads is None:
            return images
        targets, weights = _targets(heads, batch_positions, weighted=False)
        return (images, targets, weights) if heads[0] else (images, targets)

    return (
        tf.data.Dataset.from_tensor_slices(np.asarray(positions, dtype=np.int64))
        .batch(batch_size)
        .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )

"""Class weights that balance what a model is actually trained on.

Weights must come from the sample the loss is computed on. The CNN draws at most
``max_slices_per_series`` slices per series per epoch, which already evens out a class of few long
series against a class of many short ones; weights computed from every training *slice* then
correct a second time, by orders of magnitude on a real archive (a class of long series weighted
hundreds of times a class of short ones), and the network predicts the rare classes everywhere.
So the CNN's weights come from its per-epoch draw (:func:`drawn_labels`), the forests' from the
rows they are fitted on.

Balanced weights give every class the same total weight: ``w_c ∝ 1 / n_c``. They are bounded: no
class weighs more than ``max_weight`` times the most frequent class, because a class seen a
handful of times cannot be learnt by weighting it up a hundredfold (its few samples dominate the
gradient and the model overfits them). They are scaled so that the mean weight per training
sample is 1, which keeps the loss on the scale of an unweighted loss (the learning rate and the
health check on the first-epoch loss mean the same with and without weighting).
"""

from __future__ import annotations

import numpy as np


def drawn_labels(samples: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The labels of every slice drawn over all epochs of ``samples`` (``(epochs, n)`` positions
    from :func:`mriseq.models.cnn.pipeline.epoch_samples`): what the loss is actually computed
    on."""
    return np.asarray(labels)[np.asarray(samples, dtype=np.int64).ravel()]


def balanced_class_weights(labels: np.ndarray, n_classes: int, max_weight: float) -> np.ndarray:
    """Per-class weights (``float32``, length ``n_classes``) that give each class present in
    ``labels`` an equal share of the total weight, bounded by ``max_weight`` (the config's
    ``train.max_class_weight``) and normalised as the module says.
    Classes absent from ``labels`` weigh 1 (they have no samples to weight; a fold of a small
    cohort may lack a class entirely)."""
    if max_weight < 1:
        raise ValueError(f"train.max_class_weight must be at least 1, not {max_weight}.")
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels[labels >= 0], minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(n_classes, dtype=np.float64)
    if present.any():
        relative = np.minimum(counts[present].max() / counts[present], float(max_weight))
        weights[present] = relative * counts.sum() / (relative * counts[present]).sum()
    return weights.astype(np.float32)


def weighted_class_shares(labels: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    """Each class's share of the total sample weight in ``labels`` (what balancing equalises)."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels[labels >= 0], minlength=n_classes).astype(np.float64)
    total = counts * np.asarray(weights, dtype=np.float64)
    return total / total.sum() if total.sum() > 0 else total

"""Fabricated prediction tables that follow docs/contracts.md exactly, for the evaluation tests.

``make_predictions`` writes what the predict stage writes: one row per (tensor row, fold) with
``shard, row, series_key, patient_key, slice_index, fold, y_true, y_pred, p_<class>``. Each slice
gets a probability vector that favours the reference class with probability ``skill``, so the
expected accuracy is known and metrics can be checked against it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_predictions(classes: list[str], *, patients: int = 12, series_per_patient: int = 3,
                     slices: int = 5, folds: int = 3, skill: float = 0.8, seed: int = 0,
                     absent: tuple[str, ...] = (), labelled: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    present = [c for c in classes if c not in absent]
    rows = []
    tensor_row = 0
    for p in range(patients):
        patient_key = f"{p:016x}"
        for s in range(series_per_patient):
            series_key = f"{p * 100 + s + 1:016x}"
            true = present[(p * series_per_patient + s) % len(present)]
            shard = f"s{p % 4:03d}"
            for k in range(slices):
                base = rng.dirichlet(np.ones(len(classes)))
                for fold in range(folds):
                    probs = 0.5 * base + 0.5 * rng.dirichlet(np.ones(len(classes)))
                    if rng.random() < skill:
                        probs[classes.index(true)] += 1.0
                    probs = probs / probs.sum()
                    row = {"shard": shard, "row": tensor_row, "series_key": series_key,
                           "patient_key": patient_key, "slice_index": k, "fold": fold,
                           "y_true": true if labelled else None,
                           "y_pred": classes[int(np.argmax(probs))]}
                    row.update({f"p_{c}": float(v) for c, v in zip(classes, probs, strict=True)})
                    rows.append(row)
                tensor_row += 1
    df = pd.DataFrame(rows)
    df["y_true"] = df["y_true"].astype(object)
    return df


def write_model_predictions(root, dataset: str, task: str, classes: list[str], **kwargs) -> dict:
    """Write predictions of the three models under ``root/results/<dataset>/predictions/``;
    the CNN is the most skilled, the header RF the least. Returns {model: path}."""
    paths = {}
    for i, (model, skill) in enumerate((("cnn", 0.9), ("hist_rf", 0.7), ("header_rf", 0.5))):
        path = root / "results" / dataset / "predictions" / model / f"{task}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        args = {"skill": skill, "seed": i} | kwargs
        make_predictions(classes, **args).to_parquet(path, index=False)
        paths[model] = str(path)
    return paths

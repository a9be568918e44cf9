"""A fabricated dataset for the review page tests (tests/unit/test_review.py,
tests/workflow/test_review_browser.py): the stage outputs the review rule reads, written as the
contracts say (docs/contracts.md), for five series whose review order is known.

| series | volumes | prediction (primary family)                    | reference (labelled) |
|--------|---------|------------------------------------------------|----------------------|
| A      | 1       | t2 0.90, confident                             | t2                   |
| B      | 2       | 1: t1_pre 0.80; 2: t1_arterial 0.45, uncertain | t1_pre, t1_arterial  |
| C      | 1       | t2 0.70, but b-values 0/800: header disagrees  | dwi (an error)       |
| D      | 1       | none: no tensor rows                           | –                    |
| E      | 1       | t2_fs 0.55                                     | t2 (an error)        |

Predict-mode review order: B.2 (uncertain), C (header), E, B.1, A (by probability), D (nothing to
show). Labelled: C, E (errors; C's header disagrees), B.2, B.1, A.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mriseq.predict.series import write_series_predictions
from mriseq.scan.privacy import pseudonym
from mriseq.taxonomy import DEFAULT_TAXONOMY

KEY = b"review-test-key"
TASKS = ("sequence", "orientation", "contrast")
SIZE = 16
THRESHOLDS = {"sequence": 0.5, "orientation": 0.5, "contrast": 0.5}


def uid(name: str) -> str:
    return f"1.2.826.0.1.3680043.{ord(name)}"


def series_key(name: str) -> str:
    return pseudonym(uid(name), KEY)


# (series, volume index, volumes in series, slices, {task: (class, probability)} or None,
#  reference labels, b-values, description, header plane)
VOLUMES = [
    ("A", 1, 1, 4, {"sequence": ("t2", 0.90), "orientation": ("axial", 0.95),
                    "contrast": ("pre", 0.90)}, ("t2", "axial", "pre"), (), "T2 HASTE AX", "axial"),
    ("B", 1, 2, 5, {"sequence": ("t1_pre", 0.80), "orientation": ("axial", 0.90),
                    "contrast": ("pre", 0.85)}, ("t1_pre", "axial", "pre"), (), "LAVA DYN",
     "axial"),
    ("B", 2, 2, 5, {"sequence": ("t1_arterial", 0.45), "orientation": ("axial", 0.90),
                    "contrast": ("post", 0.80)}, ("t1_arterial", "axial", "post"), (),
     "LAVA DYN", "axial"),
    ("C", 1, 1, 3, {"sequence": ("t2", 0.70), "orientation": ("axial", 0.90),
                    "contrast": ("pre", 0.90)}, ("dwi", "axial", "pre"), (0.0, 800.0),
     "ep2d_diff b0 800 </script>", "axial"),
    ("D", 1, 1, 0, None, (None, None, None), (), "SCOUT", "sagittal"),
    ("E", 1, 1, 4, {"sequence": ("t2_fs", 0.55), "orientation": ("coronal", 0.90),
                    "contrast": ("pre", 0.90)}, ("t2", "coronal", "pre"), (), "", "coronal"),
]


def volume_key(name: str, index: int, of: int) -> str:
    return series_key(name) if of == 1 else f"{series_key(name)}.{index}"


def _probabilities(classes: list[str], called: str, p: float) -> dict[str, float]:
    """``called`` at ``p``, the rest spread with the next class of the list the runner-up."""
    others = [c for c in classes if c != called]
    rest = 1.0 - p
    out = {c: rest * 0.4 / max(1, len(others) - 1) for c in others[1:]}
    out[others[0]] = rest * 0.6 if len(others) > 1 else rest
    out[called] = p
    return out


def write_dataset(root: Path, labelled: bool = False) -> dict:
    """The scan, tensor and prediction outputs of one dataset under ``root``; returns their paths
    (``series`` only for an unlabelled dataset: the predict-mode table)."""
    root.mkdir(parents=True, exist_ok=True)
    volumes, files, index, slices = [], [], [], []
    predictions = {task: [] for task in TASKS}
    for n, (name, i, of, count, called, ref, b_values, desc, plane) in enumerate(VOLUMES):
        key = volume_key(name, i, of)
        patient = pseudonym(f"PAT{n // 2}", KEY)
        volumes.append({
            "volume_key": key, "series_key": series_key(name), "volume_index": i,
            "volumes_in_series": of, "volume_split": "temporal" if of > 1 else "",
            "patient_key": patient, "study_key": pseudonym(f"STUDY{n // 2}", KEY),
            "series_dir": f"DOE^JOHN/{name}", "n_slices": max(count, 3),
            "header_orientation": plane, "echo_time": 90.0, "temporal_position": float(i),
            "image_type": "ORIGINAL\\PRIMARY\\M", "series_description": desc,
            **{f"label_{t}": (ref[j] if labelled else None) for j, t in enumerate(TASKS)},
        })
        for s in range(max(count, 3)):
            files.append({"volume_key": key, "series_key": series_key(name),
                          "path": f"DOE^JOHN/{name}/{i}_{s}.dcm",
                          "b_value": b_values[s % len(b_values)] if b_values else np.nan,
                          "contrast_agent": False, "echo_time": 90.0, "repetition_time": 1200.0})
        for s in range(count):
            row = len(slices)
            image = np.zeros((SIZE, SIZE), dtype=np.uint8)
            image[2:-2, 2:-2] = 40 + 40 * s
            image[SIZE // 2, :] = 255 - 30 * n
            slices.append(image)
            index.append({"shard": "s000", "row": row, "series_key": series_key(name),
                          "patient_key": patient, "volume_key": key, "slice_index": s})
            for task in TASKS:
                classes = DEFAULT_TAXONOMY[task]
                probs = _probabilities(classes, *called[task])
                for fold in (0, 1):
                    predictions[task].append({
                        "shard": "s000", "row": row, "volume_key": key,
                        "series_key": series_key(name), "patient_key": patient,
                        "slice_index": s, "fold": fold,
                        "y_true": ref[TASKS.index(task)] if labelled else None,
                        "y_pred": called[task][0],
                        **{f"p_{c}": probs[c] for c in classes},
                        **{f"raw_p_{c}": probs[c] for c in classes}})
    paths = {"volumes": root / "manifests" / "volumes.parquet",
             "files": root / "manifests" / "files.parquet",
             "index": root / "tensors" / "index.parquet",
             "tensors": [str(root / "tensors" / "s000.npy")],
             "predictions": {t: str(root / "predictions" / "fusion" / f"{t}.parquet")
                             for t in TASKS}}
    for path in (paths["volumes"], paths["index"], Path(paths["predictions"]["sequence"])):
        path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(volumes).to_parquet(paths["volumes"], index=False)
    pd.DataFrame(files).to_parquet(paths["files"], index=False)
    pd.DataFrame(index).to_parquet(paths["index"], index=False)
    np.save(paths["tensors"][0], np.stack(slices))
    for task, rows in predictions.items():
        table = pd.DataFrame(rows)
        table["y_true"] = table["y_true"].astype(object)
        table.to_parquet(paths["predictions"][task], index=False)
    if not labelled:
        paths["series"] = root / "predictions" / "series.parquet"
        write_series_predictions(paths["predictions"], DEFAULT_TAXONOMY, str(paths["volumes"]),
                                 str(paths["files"]), str(paths["series"]),
                                 str(root / "predictions" / "series.csv"),
                                 abstain_below=THRESHOLDS)
    return {k: (v if isinstance(v, list | dict) else str(v)) for k, v in paths.items()}


def review_kwargs(paths: dict, labelled: bool) -> dict:
    """The keyword arguments of :func:`mriseq.review.page.write_review` for ``write_dataset``'s
    outputs."""
    common = {"dataset": "fabricated", "role": "train" if labelled else "predict",
              "tasks": list(TASKS), "taxonomy": DEFAULT_TAXONOMY, "index_path": paths["index"],
              "tensor_paths": paths["tensors"], "files_path": paths["files"], "slices": 3,
              "model": "fusion", "trained_on": "synthetic", "abstain_below": THRESHOLDS}
    if labelled:
        return common | {"predictions": paths["predictions"], "volumes_path": paths["volumes"]}
    return common | {"series_path": paths["series"]}

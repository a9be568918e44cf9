"""A small fabricated dataset in the exact upstream layout (docs/contracts.md): shard tensors,
merged tensor index, splits and files manifest, so the train/baseline/predict stages are tested
without running the scan/preprocess/split stages.

Images carry learnable signal: the sequence class sets the brightness of an ellipse "body" and of a
smaller "organ", the orientation its aspect ratio, contrast a bright "vessel" dot. Header fields
follow the sequence (TE/TR/flip), so a header forest can learn as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEQUENCES = ["t1_inphase", "t2", "dwi", "t1_portal"]
ORIENTATIONS = ["axial", "coronal", "sagittal"]
TE = {"t1_inphase": 4.6, "t2": 90.0, "dwi": 70.0, "t1_portal": 1.8}
TR = {"t1_inphase": 150.0, "t2": 1200.0, "dwi": 4000.0, "t1_portal": 4.0}
IOP = {"axial": [1, 0, 0, 0, 1, 0], "coronal": [1, 0, 0, 0, 0, -1],
       "sagittal": [0, 1, 0, 0, 0, -1]}


def _slice(rng, size, sequence, orientation, contrast):
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    ax, ay = {"axial": (0.42, 0.3), "coronal": (0.25, 0.45), "sagittal": (0.2, 0.42)}[orientation]
    body = (xx / ax) ** 2 + (yy / ay) ** 2 < 1
    organ = ((xx + 0.1) / 0.12) ** 2 + (yy / 0.1) ** 2 < 1
    level = {"t1_inphase": (120, 200), "t2": (60, 240), "dwi": (40, 90), "t1_portal": (150, 110)}
    image = np.zeros((size, size), np.float32)
    image[body] = level[sequence][0]
    image[organ] = level[sequence][1]
    if contrast == "post":
        image[(xx - 0.1) ** 2 + yy**2 < 0.004] = 255
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def fabricate(root: Path, patients: int = 10, size: int = 32, slices: int = 4, folds: int = 2,
              shards: int = 2, seed: int = 0) -> dict[str, object]:
    """Write ``results/ds/{tensors,splits,manifests}`` under ``root``; return the paths."""
    rng = np.random.default_rng(seed)
    tensor_dir = root / "results/ds/tensors"
    tensor_dir.mkdir(parents=True, exist_ok=True)
    shard_rows: dict[str, list[np.ndarray]] = {}
    index_rows, file_rows, split_rows = [], [], []
    for p in range(patients):
        patient_key = f"{p:016x}"
        shard = f"s{p % shards:03d}"
        for s, sequence in enumerate(SEQUENCES):
            orientation = ORIENTATIONS[(p + s) % len(ORIENTATIONS)]
            contrast = "post" if sequence == "t1_portal" else "pre"
            series_key = f"{p:08x}{s:08x}"
            for k in range(slices):
                rows = shard_rows.setdefault(shard, [])
                sop_key = f"{p:06x}{s:05x}{k:05x}"
                index_rows.append({
                    "row": len(rows), "shard": shard, "series_key": series_key,
                    "patient_key": patient_key, "sop_key": sop_key, "frame": 0,
                    "slice_index": k, "slice_position": float(k * 5),
                    "label_sequence": sequence, "label_orientation": orientation,
                    "label_contrast": contrast,
                })
                rows.append(_slice(rng, size, sequence, orientation, contrast))
                file_rows.append({
                    "path": f"patient_{p:04d}/{s}/{k}.dcm", "shard": shard,
                    "entry": f"patient_{p:04d}", "patient_key": patient_key,
                    "study_key": patient_key, "series_key": series_key, "sop_key": sop_key,
                    "n_frames": 1, "rows": 256, "columns": 256, "manufacturer": "SIEMENS",
                    "image_type": "ORIGINAL\\PRIMARY\\M" + ("\\DIFFUSION" if sequence == "dwi"
                                                           else ""),
                    "scanning_sequence": "EP" if sequence == "dwi" else "GR",
                    "sequence_variant": "SK\\SP", "scan_options": "",
                    "echo_time": TE[sequence], "repetition_time": TR[sequence],
                    "inversion_time": np.nan, "flip_angle": 15.0, "echo_train_length": 1.0,
                    "b_value": 800.0 if sequence == "dwi" else np.nan, "field_strength": 1.5,
                    "contrast_agent": contrast == "post",
                    **{f"iop_{i}": float(v) for i, v in enumerate(IOP[orientation])},
                    "pixel_spacing_0": 1.5, "pixel_spacing_1": 1.5, "slice_thickness": 5.0,
                })
            is_test = p < max(1, patients // 5)
            split_rows.append({
                "series_key": series_key, "patient_key": patient_key,
                "label_sequence": sequence, "label_orientation": orientation,
                "label_contrast": contrast, "set": "test" if is_test else "cv",
                "fold": -1 if is_test else p % folds,
            })
    tensor_paths = []
    for shard, rows in sorted(shard_rows.items()):
        path = tensor_dir / f"{shard}.npy"
        np.save(path, np.stack(rows))
        tensor_paths.append(str(path))
    index = pd.DataFrame(index_rows)
    index_path = tensor_dir / "index.parquet"
    index.to_parquet(index_path, index=False)
    (root / "results/ds/splits").mkdir(parents=True, exist_ok=True)
    splits_path = root / "results/ds/splits/splits.parquet"
    pd.DataFrame(split_rows).to_parquet(splits_path, index=False)
    (root / "results/ds/manifests").mkdir(parents=True, exist_ok=True)
    files_path = root / "results/ds/manifests/files.parquet"
    pd.DataFrame(file_rows).to_parquet(files_path, index=False)
    return {"tensors": tensor_paths, "index": str(index_path), "splits": str(splits_path),
            "files": str(files_path), "index_frame": index}


TRAIN_CONFIG = {
    "epochs": 2, "patience": 1, "warmup_epochs": 0, "batch_size": 16, "learning_rate": 0.003,
    "class_weighting": "balanced", "max_slices_per_series": 2, "max_class_weight": 20,
    "architecture": {"filters": [4, 8], "dense_units": 8, "dropout": 0.1},
    "augmentation": {"intensity": 0.1, "shift": 0.05, "rotation_degrees": 5},
}


def task_files(out: Path) -> dict[str, str]:
    """The per-task output paths that ``train_cnn`` writes for one task, under ``out``."""
    return {name: str(out / file) for name, file in
            (("history", "history.csv"), ("val_metrics", "val_metrics.json"),
             ("curve", "curve.png"), ("metadata", "metadata.json"),
             ("val_predictions", "val_predictions.parquet"))}

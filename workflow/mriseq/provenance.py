"""What makes a trained model reproducible and traceable: its seed, its config hash, the software.

Every model family (the CNN, the random-forest baselines) derives its per-job seed, hashes the
settings that determine it and records the package versions the same way, so that models of
different families trained from one config are comparable and a changed setting shows up in
every ``metadata.json`` alike. Nothing here imports a training framework, so recording
provenance never pulls TensorFlow into a job that does not need it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata as importlib_metadata
from typing import Any

from mriseq.io import write_json

PACKAGES = ("mriseq", "tensorflow", "tensorflow-cpu", "keras", "numpy", "pandas", "scikit-learn",
            "pyarrow")


def derive_seed(seed: int, task: str, fold: int) -> int:
    """A per-job seed from the config seed, the task and the fold (stable across runs/machines)."""
    digest = hashlib.sha256(f"{seed}/{task}/{fold}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2**31 - 1)


def config_hash(*parts: Any) -> str:
    """Short SHA-256 of the JSON form of everything that determines a model."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (those not installed are left out), and Python's."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


# Where a model's training data came from: "synthetic" for the built-in synthetic cohorts, else the
# name of the labelled dataset. Models trained on synthetic data are demo models: on real scanner
# files they are not expected to hold, so predict mode and the report say so.
SYNTHETIC = "synthetic"


def training_data_source(dataset: str, dataset_config: dict[str, Any]) -> str:
    """``synthetic`` for a generated cohort, otherwise the dataset's name."""
    return SYNTHETIC if dataset_config.get("synthetic") else dataset


def record_training_data(metadata_path: str, source: str) -> None:
    """Add ``training_data`` to a fold model's ``metadata.json`` (every family alike, after the
    family's own training wrote it)."""
    with open(metadata_path) as handle:
        metadata = json.load(handle)
    metadata["training_data"] = source
    write_json(metadata, metadata_path)


def models_training_data(metadata_paths: list[str]) -> list[str]:
    """The distinct training-data sources of the given fold models (sorted; ``unknown`` for
    metadata written before models carried one)."""
    sources = set()
    for path in metadata_paths:
        with open(path) as handle:
            sources.add(json.load(handle).get("training_data", "unknown"))
    return sorted(sources)


def synthetic_only_warning(sources: list[str]) -> str | None:
    """One sentence when every model was trained on synthetic data only, else None."""
    if sources != [SYNTHETIC]:
        return None
    return ("Every model was trained on the synthetic cohort only: these are demo models, and on "
            "real scanner files their labels are not to be trusted. Train on labelled real data "
            "first (README, 'Train on your own labelled archive').")

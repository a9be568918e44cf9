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

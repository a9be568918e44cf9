"""Config checks that go beyond the JSON schema, and dataset helpers used by the rules.

Every error a user can cause here stops the run at start with one sentence naming the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mriseq.models import FamilyError, families
from mriseq.scan.layouts.registry import LAYOUTS, get_layout
from mriseq.scan.sharding import top_level_entries
from mriseq.synthetic.layout import patient_entries


class ConfigError(ValueError):
    """A configuration problem, worded as one sentence naming the key."""


def schema_error_sentence(error: Exception) -> str:
    """One sentence naming the offending key of a ``jsonschema.ValidationError``."""
    path = ".".join(str(p) for p in getattr(error, "absolute_path", [])) or "<top level>"
    validator = getattr(error, "validator", None)
    message = getattr(error, "message", str(error))
    if validator == "additionalProperties":
        # jsonschema words this as "Additional properties are not allowed ('x' was unexpected)".
        extra = message.split("(", 1)[-1].rstrip(")")
        return f"Config key {path!r}: unknown key {extra}."
    return f"Config key {path!r}: {message}."


def check_config(config: dict[str, Any], workdir: str | os.PathLike = ".") -> None:
    """Semantic checks: raw directories exist (unless generated), synthetic cohorts are defined."""
    workdir = Path(workdir)
    cohorts = config.get("synthetic", {}).get("cohorts", {})
    train_sets = [name for name, ds in config["datasets"].items() if ds["role"] == "train"]
    if len(train_sets) != 1:
        raise ConfigError(
            "Config key 'datasets': exactly one dataset needs role 'train', "
            f"found {len(train_sets)}."
        )
    models = config.get("train", {}).get("models")
    if models:
        try:
            families(models)
        except FamilyError as error:
            raise ConfigError(str(error)) from None
    for name, ds in config["datasets"].items():
        key = f"datasets.{name}"
        # Checked here, not as a schema enum: a new layout is one module and its registry entry.
        if ds["layout"] not in LAYOUTS:
            raise ConfigError(
                f"Config key '{key}.layout': {ds['layout']!r} is not a layout; the layouts are "
                f"{', '.join(sorted(LAYOUTS))}."
            )
        synthetic = ds.get("synthetic")
        if synthetic is not None:
            if synthetic not in cohorts:
                raise ConfigError(
                    f"Config key '{key}.synthetic': no cohort {synthetic!r} "
                    "under 'synthetic.cohorts'."
                )
            continue
        raw = workdir / ds["raw_dir"]
        if not raw.is_dir():
            raise ConfigError(f"Config key '{key}.raw_dir': directory {str(raw)!r} does not exist.")
        if ds["role"] != "predict" and "labels" not in ds:
            raise ConfigError(
                f"Config key '{key}.labels': a dataset with role {ds['role']!r} "
                "needs a labels sheet."
            )
        if "labels" in ds and not (workdir / ds["labels"]).is_file():
            raise ConfigError(f"Config key '{key}.labels': file {ds['labels']!r} does not exist.")


def resolve_raw_dir(raw_dir: str | os.PathLike, layout: str) -> Path:
    """Where a dataset's series folders start: ``raw_dir`` as its layout reads it (the DLDS
    download nests its root folder in itself)."""
    return get_layout(layout).resolve_raw_dir(Path(raw_dir))


def dataset_entries(config: dict[str, Any], dataset: str) -> list[str]:
    """Top-level entries of a dataset's raw directory, from the config for synthetic cohorts."""
    ds = config["datasets"][dataset]
    if ds.get("synthetic"):
        cohort = config["synthetic"]["cohorts"][ds["synthetic"]]
        return patient_entries(cohort["layout"], cohort["patients"])
    return top_level_entries(str(resolve_raw_dir(ds["raw_dir"], ds["layout"])))

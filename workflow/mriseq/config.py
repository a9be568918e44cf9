"""Config checks that go beyond the JSON schema, and dataset helpers used by the rules.

Every error a user can cause here stops the run at start with one sentence naming the key.
"""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

from mriseq.layouts import LAYOUTS, get_layout

# The one statement of every setting's default; the rules validate the config against it, and
# library functions called without a workflow (tests, benchmarks, notebooks) read it from here.
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


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
        from mriseq.models import FamilyError, families

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


@cache
def _schema() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())


def _defaults_of(node: dict[str, Any]) -> Any:
    if "properties" not in node:
        return copy.deepcopy(node.get("default"))
    out = dict(copy.deepcopy(node.get("default") or {}))
    for key, sub in node["properties"].items():
        if "default" in sub or "properties" in sub:
            value = _defaults_of(sub)
            if value is not None:
                out[key] = value
    return out


def schema_defaults(*path: str) -> Any:
    """The schema's defaults under ``path`` (section names, e.g. ``("train", "architecture")``;
    ``("$defs", "cohort")`` for a synthetic cohort): a dict for an object, filled recursively, the
    value itself for a leaf. A fresh copy each call (callers may update it)."""
    node = _schema()
    if path and path[0] == "$defs":
        node, path = node["$defs"][path[1]], path[2:]
    for key in path:
        node = node["properties"][key]
    return _defaults_of(node)


def setting(section: str, key: str, value: Any) -> Any:
    """``value``, or the schema's default of ``section.key`` when it is None (library functions
    called outside the workflow take their defaults from the schema, never a copy of them)."""
    return schema_defaults(section, key) if value is None else value


def with_defaults(values: dict[str, Any], *path: str) -> dict[str, Any]:
    """``values`` (a config section, e.g. ``train``) with what it leaves out, at any depth, set
    to the schema's defaults under ``path``."""

    def merge(defaults: Any, given: Any) -> Any:
        if isinstance(defaults, dict) and isinstance(given, dict):
            return {**defaults, **{k: merge(defaults.get(k), v) for k, v in given.items()}}
        return given

    return merge(schema_defaults(*path), values)


def resolve_raw_dir(raw_dir: str | os.PathLike, layout: str) -> Path:
    """Where a dataset's series folders start: ``raw_dir`` as its layout reads it (the DLDS
    download nests its root folder in itself)."""
    return get_layout(layout).resolve_raw_dir(Path(raw_dir))


def dataset_entries(config: dict[str, Any], dataset: str) -> list[str]:
    """Top-level entries of a dataset's raw directory, from the config for synthetic cohorts."""
    ds = config["datasets"][dataset]
    if ds.get("synthetic"):
        from mriseq.synthetic.layout import patient_entries

        cohort = config["synthetic"]["cohorts"][ds["synthetic"]]
        return patient_entries(cohort["layout"], cohort["patients"])
    from mriseq.sharding import top_level_entries

    return top_level_entries(str(resolve_raw_dir(ds["raw_dir"], ds["layout"])))

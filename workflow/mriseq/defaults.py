"""The defaults of every setting, read from the config schema (the one place they are stated).

The rules validate the config against the schema; library functions called without a workflow
(tests, benchmarks, notebooks) take their defaults from here. A leaf module: it imports no other
part of mriseq, so every stage may read it.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

# The one statement of every setting's default; the rules validate the config against it, and
# library functions called without a workflow (tests, benchmarks, notebooks) read it from here.
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


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

"""Dataset layouts: how a dataset's raw tree is arranged and where its reference labels come from.

A layout is one module holding one :class:`Layout` (its labels join and the quirks of its tree),
registered in :data:`LAYOUTS`; ``datasets.<name>.layout`` picks it by name. Adding a layout means
adding its module and its entry here: the rules, the scan and the config checks ask the registry,
never a layout's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


def same_dir(raw_dir: Path) -> Path:
    return raw_dir


@dataclass(frozen=True)
class Layout:
    name: str
    description: str
    # (series table, labels path, LabelOptions) -> (series + label_* columns, QC counts)
    join_labels: Callable[..., tuple[pd.DataFrame, dict[str, int]]]
    # Where the series folders really start, given the configured raw_dir (download quirks).
    resolve_raw_dir: Callable[[Path], Path] = same_dir
    # Whether labels go through a letter -> class map (datasets.<name>.label_map).
    uses_label_map: bool = False


class LayoutError(ValueError):
    """An unknown layout name, worded as one sentence."""


def _registry() -> dict[str, Layout]:
    from mriseq.layouts import dlds, generic

    return {layout.name: layout for layout in (generic.LAYOUT, dlds.LAYOUT)}


LAYOUTS: dict[str, Layout] = _registry()


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise LayoutError(
            f"Layout {name!r} is not known; the layouts are {', '.join(sorted(LAYOUTS))}."
        ) from None

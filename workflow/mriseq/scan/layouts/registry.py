"""Dataset layouts: how a dataset's raw tree is arranged and where its reference labels come from.

A layout is one module holding one :class:`~mriseq.scan.layouts.base.Layout` (its labels join and
the quirks of its tree), registered in :data:`LAYOUTS`; ``datasets.<name>.layout`` picks it by
name. Adding a layout means adding its module and its entry here: the rules, the scan and the
config checks ask the registry, never a layout's name. :func:`join_labels` hands a dataset's
series to its layout.

User errors (an unknown class, an unmapped letter, a missing column) stop the run with one
sentence naming the file and line.
"""

from __future__ import annotations

import pandas as pd

from mriseq.scan.layouts import dlds, generic
from mriseq.scan.layouts.base import LABEL_COLUMNS, LabelOptions, Layout, LayoutError

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (generic.LAYOUT, dlds.LAYOUT)}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise LayoutError(
            f"Layout {name!r} is not known; the layouts are {', '.join(sorted(LAYOUTS))}."
        ) from None


def join_labels(series: pd.DataFrame, labels_path: str, layout: str,
                taxonomy: dict[str, list[str]], label_map_path: str, include_localizers: bool,
                key: bytes) -> tuple[pd.DataFrame, dict[str, int]]:
    """series + label_* columns (null where unlabelled) and QC counts of the join."""
    if not labels_path:
        out = series.assign(**{c: pd.array([None] * len(series), dtype="string")
                               for c in LABEL_COLUMNS})
        return out, {}
    options = LabelOptions(taxonomy, label_map_path, include_localizers, key)
    return get_layout(layout).join_labels(series, labels_path, options)

"""Reference labels: what every layout's labels join shares, and the dispatch to the layout.

Each dataset layout (:mod:`mriseq.layouts`) reads its own labels (the generic series-level sheet,
the DLDS key and letter map); this module holds the label columns, the CSV reading and the errors
they share, and :func:`join_labels`, which hands a dataset's series to its layout.

User errors (an unknown class, an unmapped letter, a missing column) stop the run with one
sentence naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mriseq.taxonomy import TASKS

LABEL_COLUMNS = [f"label_{task}" for task in TASKS]


class LabelsError(ValueError):
    """A labels sheet or label map a user supplied is unusable; one sentence names the row."""


@dataclass(frozen=True)
class LabelOptions:
    """What a layout's labels join may need beyond the series table and the labels path."""

    taxonomy: dict[str, list[str]]
    label_map_path: str
    include_localizers: bool
    key: bytes


def read_csv(path: str | Path, required: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"Labels sheet {str(path)!r} does not exist.")
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    sheet.columns = [str(c).strip() for c in sheet.columns]
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise LabelsError(f"Labels sheet {str(path)!r} lacks the column(s) {', '.join(missing)}.")
    return sheet


def join_labels(series: pd.DataFrame, labels_path: str, layout: str,
                taxonomy: dict[str, list[str]], label_map_path: str, include_localizers: bool,
                key: bytes) -> tuple[pd.DataFrame, dict[str, int]]:
    """series + label_* columns (null where unlabelled) and QC counts of the join."""
    from mriseq.layouts import get_layout

    if not labels_path:
        out = series.assign(**{c: pd.array([None] * len(series), dtype="string")
                               for c in LABEL_COLUMNS})
        return out, {}
    options = LabelOptions(taxonomy, label_map_path, include_localizers, key)
    return get_layout(layout).join_labels(series, labels_path, options)

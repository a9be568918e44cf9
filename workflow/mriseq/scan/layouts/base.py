"""What every dataset layout shares: the :class:`Layout` contract, the label columns, the CSV
reading and the errors of a labels join.

Each dataset layout (a module of :mod:`mriseq.scan.layouts`) reads its own labels (the generic
series-level sheet, the DLDS key and letter map) and builds on this leaf module; the registry in
the package imports the layouts, never the other way round.

User errors (an unknown class, an unmapped letter, a missing column) stop the run with one
sentence naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable
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

"""What every figure shares: a headless pyplot, readable class names and atomic saving."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mriseq.io import atomic_path


def pyplot():
    """matplotlib.pyplot on the Agg backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def readable(name: str) -> str:
    """Class names as axis labels: ``t1_arterial`` -> ``T1 arterial``, ``t2_fs`` -> ``T2 FS``."""
    words = str(name).split("_")
    special = {"fs": "FS", "dwi": "DWI", "adc": "ADC", "mrcp": "MRCP", "t1": "T1", "t2": "T2"}
    words = [special.get(w, w) for w in words]
    return " ".join(words)


def save_figure(fig, paths: Sequence[str | os.PathLike], dpi: int) -> None:
    """Save ``fig`` to every path (format from the extension), each atomically."""
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip("."), bbox_inches="tight")

"""The real-DICOM corpus (``tests/realcorpus``) as benchmark input for bench_scan/bench_preprocess.

Real headers are what the synthetic benchmark cohorts approximate: vendor private blocks, nested
sequences, enhanced functional groups. The corpus holds a few hundred MR files, so a benchmark
repeats the file list to reach a stable measuring time; each file is read from the page cache every
time, for the naive loop and for mriseq alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realcorpus.build import CorpusUnavailable, build_corpus  # noqa: E402
from realcorpus.files import corpus_files, read_each  # noqa: E402

KEY = b"benchmark-key"


def corpus_or_none() -> Path | None:
    """The archive directory, or None (with the reason printed) when it cannot be built."""
    try:
        return build_corpus()
    except CorpusUnavailable as error:
        print(f"real-DICOM corpus unavailable, its benchmark is skipped: {error}")
        return None


def all_files(archive: Path) -> list[tuple[str, str]]:
    """(entry, path) of every corpus file."""
    return corpus_files(archive)


def kept_files(archive: Path) -> pd.DataFrame:
    """Scan-manifest rows of every MR file the scan keeps, each file read on its own (the corpus
    holds one SOP instance in several transfer syntaxes, all worth timing)."""
    return read_each(archive, KEY)[0]


def repeated(items: list, at_least: int) -> list:
    """``items`` repeated whole until there are at least ``at_least``."""
    if not items:
        return []
    return items * max(1, -(-at_least // len(items)))

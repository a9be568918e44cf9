"""The corpus's files as the scan sees them, shared by the real-corpus tests and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from mriseq.scan.headers import list_files, scan_file
from mriseq.scan.tables import files_frame, rejects_frame


def corpus_files(archive: Path) -> list[tuple[str, str]]:
    """(top-level entry, path) of every corpus file, as the scan lists them."""
    return list_files(archive, sorted(os.listdir(archive)))


def read_each(archive: Path, key: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Files and rejects tables of every file read on its own, without the shard checks: several
    corpus files are one SOP instance in other transfer syntaxes (duplicates within a shard), and
    each must still be read right."""
    rows = [scan_file(str(archive), entry, rel, "s000", key, 1 << 24, 0.8)
            for entry, rel in corpus_files(archive)]
    return (files_frame([row for ok, row in rows if ok]),
            rejects_frame([row for ok, row in rows if not ok]))

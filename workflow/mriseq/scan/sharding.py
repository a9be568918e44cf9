"""Work is sharded by top-level entry of a dataset's raw directory (usually one patient each).

Each top-level entry (a directory or a loose file) is assigned to one of ``n_shards`` shards by a
stable hash of its name, so adding a patient changes only the membership of its own shard: only that
shard is rescanned and preprocessed. The number of Snakemake jobs grows with shards, never with
series or slices.
"""

from __future__ import annotations

import os
import zlib
from collections import defaultdict


def shard_name(index: int) -> str:
    return f"s{index:03d}"


def shard_of(entry: str, n_shards: int) -> str:
    return shard_name(zlib.crc32(entry.encode("utf-8", "surrogateescape")) % n_shards)


def assign_shards(entries: list[str], n_shards: int) -> dict[str, list[str]]:
    """Map shard name -> sorted entries; shards without entries are omitted."""
    shards: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        shards[shard_of(entry, n_shards)].append(entry)
    return {name: sorted(members) for name, members in sorted(shards.items())}


def top_level_entries(raw_dir: str) -> list[str]:
    """Names of the top-level entries of ``raw_dir`` (cheap: one directory read, no recursion)."""
    with os.scandir(raw_dir) as it:
        return sorted(entry.name for entry in it)

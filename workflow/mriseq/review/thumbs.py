"""Thumbnail strips of the review page: per volume a few evenly spaced slices from its tensors.

A strip is ``slices`` of the volume's tensor slices (``review.slices``; all of them where it has
fewer), side by side in slice order with a 2-pixel white gap, at the tensors' resolution
(``preprocess.size``): a greyscale PNG ``<out_dir>/<volume_key>.png`` that the page loads lazily.
The slices are the centres of equal parts of the volume's tensor rows in ``slice_index`` order
(the middle one for one slice; never the outermost, which show least). In predict mode the tensors
hold at most ``predict.max_slices_per_volume`` slices of a volume, so the strip is drawn from those.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image

from mriseq.io import atomic_path
from mriseq.scan.volumes import with_volume_key

log = logging.getLogger("mriseq.review.thumbs")

GAP = 2  # white pixels between two slices of a strip
_FILE_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*")


def pick_slices(n: int, k: int) -> list[int]:
    """Positions of ``k`` evenly spaced slices among ``n`` (centres of ``k`` equal parts)."""
    if n <= 0 or k <= 0:
        return []
    if n <= k:
        return list(range(n))
    return [int((i + 0.5) * n / k) for i in range(k)]


def as_uint8(image: np.ndarray) -> np.ndarray:
    """A tensor slice as 0-255 grey levels (``uint8`` as it is; ``float16`` in [0, 1])."""
    if image.dtype == np.uint8:
        return np.asarray(image)
    return np.clip(np.asarray(image, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def strip(images: Sequence[np.ndarray]) -> np.ndarray:
    """``images`` (equal sizes) side by side, ``GAP`` white columns between them."""
    height = images[0].shape[0]
    gap = np.full((height, GAP), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for image in images:
        if parts:
            parts.append(gap)
        parts.append(as_uint8(image))
    return np.concatenate(parts, axis=1)


def thumbnail_name(volume_key: str) -> str:
    """The file name of a volume's strip (volume keys are pseudonyms: hex digits and a dot)."""
    if not _FILE_NAME.fullmatch(volume_key):
        raise ValueError(f"volume key {volume_key!r} cannot name a file")
    return f"{volume_key}.png"


def write_png(image: np.ndarray, path: str | Path) -> None:
    """A greyscale PNG, written atomically with the umask's permissions (:mod:`mriseq.io`)."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")


def write_thumbnails(index_path: str, tensor_paths: Iterable[str], volume_keys: Iterable[str],
                     out_dir: str | Path, slices: int) -> dict[str, int]:
    """A strip per volume of ``volume_keys`` that has tensor rows (merged ``index.parquet``, the
    shard arrays ``tensor_paths`` memory-mapped); returns volume_key -> slices drawn."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(volume_keys)
    names = set(pq.read_schema(index_path).names)
    columns = [c for c in ("shard", "row", "series_key", "volume_key", "slice_index") if c in names]
    index = with_volume_key(pd.read_parquet(index_path, columns=columns))
    index = index[index["volume_key"].isin(wanted)]
    if not len(index) or slices <= 0:
        log.info("no thumbnails: %d volumes, none with tensor rows", len(wanted))
        return {}
    arrays = {Path(p).stem: np.load(p, mmap_mode="r") for p in tensor_paths}
    order = [c for c in ("volume_key", "slice_index", "shard", "row") if c in index]
    drawn: dict[str, int] = {}
    for key, rows in index.sort_values(order, kind="stable").groupby("volume_key", sort=False):
        chosen = rows.iloc[pick_slices(len(rows), slices)]
        images = [arrays[str(shard)][int(row)] for shard, row in
                  zip(chosen["shard"], chosen["row"], strict=True)]
        write_png(strip(images), out / thumbnail_name(str(key)))
        drawn[str(key)] = len(images)
    log.info("%d thumbnail strips of up to %d slices for %d volumes in %s", len(drawn), slices,
             len(wanted), out)
    return drawn

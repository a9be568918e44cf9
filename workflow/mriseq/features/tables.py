"""Per-slice features of the two random-forest baselines, one table per dataset.

``results/{dataset}/features/histogram.parquet``: the slice's intensity histogram over the windowed
0–255 range (``baselines.histogram_bins`` equal bins, fractions of the slice's pixels), i.e. what a
model sees when it ignores where the intensities are.

``results/{dataset}/features/header.parquet``: the header features of the slice's file
(:mod:`mriseq.features.header`): acquisition parameters, plane, contrast agent, and the vendor's
codes and description words translated into vendor-neutral terms, i.e. what a reader of the
header uses.

Both tables have one row per tensor index row, keyed by ``shard`` and ``row``; missing numeric
header values stay NaN (the forests handle them).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from mriseq import io
from mriseq.features.header import file_features
from mriseq.logs import progress

log = logging.getLogger("mriseq.features.tables")

KEYS = ["shard", "row"]
FEATURE_PREFIXES = ("h_", "num_", "tok_")


def feature_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.startswith(FEATURE_PREFIXES)]


def histogram_table(arrays: dict[str, np.ndarray], index: pd.DataFrame, bins: int,
                    chunk: int = 512) -> pd.DataFrame:
    """Normalised intensity histograms of every indexed slice (uint8 or float16 0–255 tensors)."""
    bin_of = (np.arange(256) * bins // 256).astype(np.int64)
    out = np.zeros((len(index), bins), dtype=np.float32)
    positions = np.arange(len(index))
    for shard, group in progress(index.groupby("shard", sort=True), desc="histograms",
                                 total=index["shard"].nunique()):
        array = arrays[shard]
        pos = positions[group.index.to_numpy()]
        rows = group["row"].to_numpy(dtype=np.int64)
        for start in range(0, len(rows), chunk):
            block = np.asarray(array[rows[start:start + chunk]])
            if block.dtype != np.uint8:
                block = np.clip(np.rint(block.astype(np.float32)), 0, 255).astype(np.uint8)
            n = len(block)
            flat = bin_of[block.reshape(n, -1)] + (np.arange(n) * bins)[:, None]
            counts = np.bincount(flat.ravel(), minlength=n * bins).reshape(n, bins)
            out[pos[start:start + n]] = counts / block[0].size
    table = index[KEYS].copy()
    hist = pd.DataFrame(out, columns=[f"h_{i:03d}" for i in range(bins)], index=index.index)
    return pd.concat([table, hist], axis=1)


def header_table(files: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Header features of every indexed slice, joined to its file through ``sop_key``."""
    files = files.drop_duplicates("sop_key")
    header = pd.concat([files[["sop_key"]], file_features(files)], axis=1)
    joined = index[KEYS + ["sop_key"]].merge(header, on="sop_key", how="left", indicator=True)
    missing = int(joined.pop("_merge").ne("both").sum())
    if missing:
        log.warning("%d indexed slices have no row in files.parquet; their features are NaN",
                    missing)
    token_cols = [c for c in joined.columns if c.startswith("tok_")]
    joined[token_cols] = joined[token_cols].fillna(0.0)
    return joined.drop(columns="sop_key")


def write_histogram_features(tensor_paths: list[str | os.PathLike], index_path: str, bins: int,
                             out_path: str) -> None:
    arrays = {os.path.basename(str(p))[: -len(".npy")]: np.load(p, mmap_mode="r")
              for p in tensor_paths}
    index = pd.read_parquet(index_path).reset_index(drop=True)
    table = histogram_table(arrays, index, int(bins))
    io.write_parquet(table, out_path)
    log.info("%d slices, %d histogram bins -> %s", len(table), bins, out_path)


def write_header_features(files_path: str, index_path: str, out_path: str) -> None:
    files = pd.read_parquet(files_path)
    index = pd.read_parquet(index_path).reset_index(drop=True)
    table = header_table(files, index)
    io.write_parquet(table, out_path)
    log.info("%d slices, %d header features -> %s", len(table), len(feature_columns(table)),
             out_path)

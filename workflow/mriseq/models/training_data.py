"""What every family trains and predicts on: the memory-mapped shard tensors, the class numbers
of a task and the rows of a fold (no TensorFlow here: the forest and fusion jobs read it too).

The shard arrays ``results/{dataset}/tensors/{shard}.npy`` are opened with ``mmap_mode="r"``: every
fold job (and every parallel job on one node) shares the page cache instead of copying the cohort.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq.scan.volumes import unit_key
from mriseq.taxonomy import LABEL_COLUMN


class TrainingDataError(ValueError):
    """Inputs that cannot be trained on (missing shard, unknown label), worded as one sentence."""


@dataclass
class ShardTensors:
    """All shards of a dataset as memory maps plus the merged index (one row per tensor row)."""

    arrays: dict[str, np.ndarray]
    index: pd.DataFrame

    @property
    def size(self) -> int:
        first = next(iter(self.arrays.values()))
        return int(first.shape[1])

    def gather(self, positions: np.ndarray) -> np.ndarray:
        """Slices for rows ``positions`` of ``index`` (uint8 ``(n, size, size)``), read from the
        memory maps shard by shard (one fancy-index read per shard)."""
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(positions), self.size, self.size), dtype=np.uint8)
        shard_codes = self._shard_codes[positions]
        rows = self._rows[positions]
        for code in np.unique(shard_codes):
            mask = shard_codes == code
            out[mask] = _as_uint8(self._array_list[code][rows[mask]])
        return out

    def __post_init__(self) -> None:
        names = list(self.arrays)
        self._array_list = [self.arrays[n] for n in names]
        codes = {n: i for i, n in enumerate(names)}
        missing = set(self.index["shard"].unique()) - set(codes)
        if missing:
            raise TrainingDataError(
                f"Tensor index names shard(s) {sorted(missing)} without a tensor file."
            )
        self._shard_codes = self.index["shard"].map(codes).to_numpy(dtype=np.int64)
        self._rows = self.index["row"].to_numpy(dtype=np.int64)


def _as_uint8(block: np.ndarray) -> np.ndarray:
    # preprocess.dtype float16 stores 0–255 as well; the model rescales uint8.
    if block.dtype == np.uint8:
        return block
    return np.clip(np.rint(block.astype(np.float32)), 0, 255).astype(np.uint8)


def open_tensors(tensor_paths: list[str | os.PathLike], index_path: str | os.PathLike
                 ) -> ShardTensors:
    """Memory-map every shard array (named ``{shard}.npy``) and read the merged index."""
    arrays = {}
    for path in tensor_paths:
        path = Path(path)
        if not path.is_file():
            raise TrainingDataError(f"Tensor file {str(path)!r} does not exist.")
        arrays[path.stem] = np.load(path, mmap_mode="r")
    index = pd.read_parquet(index_path).reset_index(drop=True)
    return ShardTensors(arrays=arrays, index=index)


def encode_labels(index: pd.DataFrame, task: str, classes: list[str]) -> np.ndarray:
    """Class numbers of ``index``'s ``label_<task>`` (-1 where the label is missing); a label
    outside the taxonomy stops with one sentence naming it."""
    column = LABEL_COLUMN.get(task, f"label_{task}")
    if column not in index.columns:
        return np.full(len(index), -1, dtype=np.int64)
    lookup = {name: i for i, name in enumerate(classes)}
    labels = index[column]
    unknown = sorted(set(labels.dropna().unique()) - set(lookup))
    if unknown:
        raise TrainingDataError(
            f"Column {column!r} holds class(es) {unknown} that are not in taxonomy.{task}."
        )
    return labels.map(lookup).fillna(-1).to_numpy(dtype=np.int64)


def fold_positions(index: pd.DataFrame, splits: pd.DataFrame, fold: int,
                   labels: np.ndarray) -> dict[str, np.ndarray]:
    """Index positions (labelled rows only) of the fold's ``train`` and ``val`` volumes and of the
    held-out ``test`` volumes (splits contract: training fold k = cv volumes whose fold != k)."""
    unit = unit_key(splits) if unit_key(index) == unit_key(splits) else "series_key"
    split = index[[unit]].merge(
        splits[[unit, "set", "fold"]].drop_duplicates(unit), on=unit, how="left",
    )
    labelled = labels >= 0
    is_cv = (split["set"] == "cv").to_numpy()
    folds = split["fold"].fillna(-1).to_numpy(dtype=np.int64)
    return {
        "train": np.flatnonzero(labelled & is_cv & (folds != fold)),
        "val": np.flatnonzero(labelled & is_cv & (folds == fold)),
        "test": np.flatnonzero((split["set"] == "test").to_numpy()),
    }



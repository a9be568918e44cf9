"""The tables beside the tensors: columns and dtypes of the index and the rejects, slice order.

A shard's ``index.parquet`` maps each tensor row to its series, patient, SOP instance, frame and
order along the slice normal; its ``rejects.parquet`` lists the files that gave no row. The shard
job writes both, the merge concatenates them and recomputes the slice order over whole volumes.
"""

from __future__ import annotations

import pandas as pd

INDEX_COLUMNS = {
    "row": "int64",
    "shard": "str",
    "series_key": "str",
    "patient_key": "str",
    "study_key": "str",
    "sop_key": "str",
    "path": "str",
    "frame": "int64",
    "slice_index": "int64",
    "slice_position": "float64",
    "instance_number": "float64",
    "blank_frames": "int64",
}
REJECT_COLUMNS = {"path": "str", "shard": "str", "stage": "str", "reason": "str", "message": "str"}


def typed_table(rows: list[dict], columns: dict[str, str]) -> pd.DataFrame:
    """``rows`` as a table with exactly ``columns`` (name → dtype), also when there are none."""
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype(columns)


def order_slices(index: pd.DataFrame) -> pd.Series:
    """0-based order of each row along the slice normal within its volume (its series where the
    index has no volume key; ties: instance number, frame, path)."""
    if index.empty:
        return pd.Series([], dtype="int64", index=index.index)
    unit = "volume_key" if "volume_key" in index else "series_key"
    ordered = index.sort_values(
        [unit, "slice_position", "instance_number", "frame", "path", "shard", "row"],
        na_position="last", kind="stable",
    )
    return ordered.groupby(unit, sort=False).cumcount().reindex(index.index).astype("int64")

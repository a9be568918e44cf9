"""Volumes: the image stacks a radiologist reads, told apart inside a series.

A SeriesInstanceUID often holds more than one kind of image: a dual-echo series its in- and
opposed-phase echoes, a Dixon series its in/opposed/water/fat images, a multiphase dynamic its pre-,
arterial, portal and delayed phases, a survey its three planes, an enhanced multi-frame file
several stacks, a DWI series a derived trace or ADC stack beside its b-value images. Each of those
is one volume with its own class, so every stage after the scan works per volume. A series of one
kind is one volume, with the series' key as its key: ordinary archives change nothing.

The rules run in this order, each on the volumes the previous ones left; ``scan.volume_rules``
lists those that run (all by default):

``stack``
    StackID differs (a multi-stack file set).
``plane``
    The slice plane differs (``header_orientation`` from each file's ImageOrientationPatient:
    axial / coronal / sagittal / oblique); files without a usable orientation join the group most
    files are in.
``image_type``
    ImageType differs in a component that names a different image (:data:`DISTINGUISHING`):
    trace, ADC, FA, in/opposed phase, water, fat, subtraction, reformat, projection, magnitude /
    phase / real. ORIGINAL vs DERIVED alone does not split, nor do vendor flags.
``echo``
    EchoNumbers differ, else EchoTime (rounded to 0.01 ms) differs.
``temporal``
    Only where a slice position repeats (a time series stores each position once per phase):
    the first of TemporalPositionIdentifier, TriggerTime and AcquisitionNumber that has as many
    values as a position repeats and never holds one position twice (an AcquisitionNumber that
    numbers the slices of one pass is no time point).

The b-values of one DWI acquisition stay one volume: no rule looks at the b-value.

A volume's key is ``<series_key>`` for a series of one volume, else ``<series_key>.<n>`` with
``n`` = 1, 2, … in the order of the volumes' first InstanceNumber (then path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mriseq.features.header import coded_terms, vocabulary

RULES = ("stack", "plane", "image_type", "echo", "temporal")
# ImageType terms (mriseq.features.header's vocabulary) that name a different image, not a
# vendor flag.
DISTINGUISHING = frozenset({"trace", "adc", "exponential_adc", "anisotropy", "in_phase",
                            "opposed_phase", "water", "fat", "subtraction", "reformat",
                            "projection", "magnitude", "phase", "real"})
VOLUME_FILE_COLUMNS = ["volume_key", "volume_index", "volume_split"]
# Where a series splits, how much two numeric header values may differ and still be one volume.
ECHO_TIME_DECIMALS = 2
POSITION_DECIMALS = 2


def with_volume_key(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``volume_key``: a table written before series were split into volumes
    has each series as one volume."""
    if "volume_key" in table:
        return table
    return table.assign(volume_key=table["series_key"])


def frames_in_order(files: pd.DataFrame, key: str) -> pd.DataFrame:
    """``files`` sorted by ``key``, instance number and path, with ``n_frames`` counting a Siemens
    mosaic's slices (what a series or volume table sums as its slices)."""
    ordered = files.sort_values([key, "instance_number", "path"], kind="stable")
    if "mosaic_images" in ordered.columns:
        mosaics = ordered["mosaic_images"].fillna(0).astype("int64")
        ordered = ordered.assign(n_frames=ordered["n_frames"].where(mosaics <= 0, mosaics))
    return ordered


def unit_key(table: pd.DataFrame) -> str:
    """The column naming what a row belongs to: its volume, or its series in a table written
    before series were split into volumes (then each series is one volume)."""
    return "volume_key" if "volume_key" in table else "series_key"


def check_rules(rules: Sequence[str] | None) -> tuple[str, ...]:
    """``rules`` (None: all) in their fixed order; an unknown name is a clear error."""
    if rules is None:
        return RULES
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise ValueError(f"Unknown volume rule(s) {unknown}; known: {list(RULES)}.")
    return tuple(rule for rule in RULES if rule in set(rules))


def assign_volumes(files: pd.DataFrame, rules: Sequence[str] | None = None) -> pd.DataFrame:
    """``files`` with ``volume_key``, ``volume_index`` (1-based within the series) and
    ``volume_split`` (the rules that split the file's series, ``+``-joined; empty for one
    volume)."""
    rules = check_rules(rules)
    files = files.copy()
    files["volume_key"] = files["series_key"].astype("string")
    files["volume_index"] = np.int64(1)
    files["volume_split"] = pd.array([""] * len(files), dtype="string")
    candidates = _series_that_may_split(files, rules) if rules and not files.empty else []
    if not candidates:
        return files
    # The loop reads a narrow copy with plain Python strings and writes into NumPy arrays: row
    # selection on the whole manifest (some 60 Arrow-backed columns) cost ~20 s per 100,000
    # files, most of the merge (make bench-predict).
    work = files[[c for c in _SPLIT_COLUMNS if c in files]].reset_index(drop=True)
    work = work.astype({c: object for c in work.columns if work[c].dtype == "string"})
    volume_key = files["volume_key"].to_numpy(dtype=object, na_value=None).copy()
    volume_index = np.ones(len(files), np.int64)
    volume_split = np.full(len(files), "", dtype=object)
    positions = work.groupby("series_key", sort=False).indices
    for series_key in candidates:
        part = work.iloc[positions[series_key]]
        groups, used = _split(part, rules)
        if groups.nunique() < 2:
            continue
        order = (part.assign(_group=groups.to_numpy())
                 .sort_values(["instance_number", "path"], na_position="last", kind="stable")
                 .drop_duplicates("_group")["_group"].tolist())
        number = {group: n + 1 for n, group in enumerate(order)}
        index = groups.map(number).to_numpy(np.int64)
        rows = positions[series_key]
        volume_index[rows] = index
        volume_key[rows] = [f"{series_key}.{n}" for n in index]
        volume_split[rows] = "+".join(used)
    files["volume_key"] = pd.array(volume_key, dtype="string")
    files["volume_index"] = volume_index
    files["volume_split"] = pd.array(volume_split, dtype="string")
    return files


# What the rules and the volumes' numbering read.
_SPLIT_COLUMNS = ["series_key", "instance_number", "path", "stack_id", "header_orientation",
                  "image_type", "echo_numbers", "echo_time", "slice_position",
                  "temporal_position", "trigger_time", "acquisition_number"]


def _series_that_may_split(files: pd.DataFrame, rules: Sequence[str]) -> list[str]:
    """Series where some rule sees two values (the rest are one volume without a closer look)."""
    columns = {"stack": ["stack_id"], "plane": ["header_orientation"],
               "image_type": ["image_type"], "echo": ["echo_numbers", "echo_time"],
               "temporal": ["temporal_position", "trigger_time", "acquisition_number"]}
    wanted = [c for rule in rules for c in columns[rule] if c in files]
    if not wanted:
        return []
    counts = files.groupby("series_key", sort=True)[wanted].nunique(dropna=True)
    return counts.index[(counts > 1).any(axis=1)].astype(str).tolist()


def _split(series: pd.DataFrame, rules: Sequence[str]) -> tuple[pd.Series, list[str]]:
    """Group numbers of one series' files after every rule, and the rules that split it."""
    groups = np.zeros(len(series), np.int64)
    used = []
    for rule in rules:
        n_groups = int(groups.max()) + 1
        codes = np.zeros(len(series), np.int64)
        for group in range(n_groups):
            members = np.flatnonzero(groups == group) if n_groups > 1 else slice(None)
            labels = _RULE_FUNCTIONS[rule](series.iloc[members])
            if labels is not None:
                codes[members] = pd.factorize(labels, use_na_sentinel=False)[0]
        if codes.any():
            # A group and its code within it -> the refined group's number.
            refined = pd.factorize(groups * (int(codes.max()) + 1) + codes)[0]
            if refined.max() > groups.max():
                used.append(rule)
            groups = refined
    return pd.Series(groups, index=series.index), used


def _by_stack(part: pd.DataFrame) -> pd.Series | None:
    if "stack_id" not in part:
        return None
    return part["stack_id"].astype(object).where(part["stack_id"].notna(), "")


def _by_plane(part: pd.DataFrame) -> pd.Series | None:
    plane = part["header_orientation"].astype(object).fillna("unknown")
    known = plane[plane != "unknown"]
    if known.empty:
        return None
    return plane.where(plane != "unknown", known.mode().iloc[0])


def _by_image_type(part: pd.DataFrame) -> pd.Series | None:
    table = vocabulary()["image_type"]
    kinds: dict = {}
    labels = []
    for value in part["image_type"].tolist():  # Python loop: ~10x faster than map per series
        if value is None or value is pd.NA:
            labels.append("")
            continue
        if value not in kinds:
            kinds[value] = "+".join(sorted(coded_terms(value, table) & DISTINGUISHING))
        labels.append(kinds[value])
    return pd.Series(labels, index=part.index, dtype=object)


def _by_echo(part: pd.DataFrame) -> pd.Series | None:
    if "echo_numbers" in part and part["echo_numbers"].nunique(dropna=True) > 1:
        return part["echo_numbers"].fillna(-1)
    return part["echo_time"].round(ECHO_TIME_DECIMALS).fillna(-1)


def _by_time(part: pd.DataFrame) -> pd.Series | None:
    positions = part["slice_position"].round(POSITION_DECIMALS)
    repeats = int(positions.value_counts().max()) if len(positions) else 0
    if repeats < 2:
        return None  # every position once: a single pass, however its files are numbered
    for column in ("temporal_position", "trigger_time", "acquisition_number"):
        if column not in part or part[column].nunique(dropna=True) < 2:
            continue
        # A time series stores each position once per time point: a column tells the time
        # points apart when it has as many values as a position repeats and no position twice
        # under one value (an AcquisitionNumber that numbers slices, not passes, does not).
        values = part[column].fillna(-1)
        if values.nunique() == repeats and not pd.DataFrame(
                {"value": values, "position": positions}).duplicated().any():
            return values
    return None


_RULE_FUNCTIONS = {"stack": _by_stack, "plane": _by_plane, "image_type": _by_image_type,
                   "echo": _by_echo, "temporal": _by_time}


def volume_table(files: pd.DataFrame) -> pd.DataFrame:
    """One row per volume: keys, its series, how many volumes that series has and which rules
    split it, counts, and the values that tell it apart (plane, echo, time, ImageType)."""
    grouped = frames_in_order(files, "volume_key").groupby("volume_key", sort=True)
    first = grouped[["series_key", "patient_key", "study_key", "shard", "series_dir",
                     "volume_index", "volume_split", "series_description", "image_type",
                     "echo_numbers", "temporal_position"]].first()
    table = first.assign(
        n_files=grouped.size(),
        n_slices=grouped["n_frames"].sum(),
        echo_time=grouped["echo_time"].median(),
    ).reset_index()
    table["header_orientation"] = table["volume_key"].map(_modal_planes(files)).fillna("unknown")
    table["volumes_in_series"] = table.groupby("series_key")["volume_key"].transform("size")
    columns = ["volume_key", "series_key", "patient_key", "study_key", "shard", "series_dir",
               "volume_index", "volumes_in_series", "volume_split", "n_files", "n_slices",
               "header_orientation", "echo_time", "echo_numbers", "temporal_position",
               "image_type", "series_description"]
    return table[columns]


def _modal_planes(files: pd.DataFrame) -> pd.Series:
    """volume_key -> its most frequent known plane (``unknown`` only where no file has one; ties
    go to the plane met first in file order), counted for all volumes at once."""
    ordered = frames_in_order(files, "volume_key")[["volume_key", "header_orientation"]]
    ordered = ordered.dropna().reset_index(drop=True)
    ordered["known"] = ordered["header_orientation"] != "unknown"
    counts = (ordered.reset_index()
              .groupby(["volume_key", "header_orientation"], sort=False)
              .agg(files=("index", "size"), first=("index", "min"), known=("known", "first"))
              .reset_index()
              .sort_values(["volume_key", "known", "files", "first"],
                           ascending=[True, False, False, True]))
    return counts.drop_duplicates("volume_key").set_index("volume_key")["header_orientation"]


def same_number(a, b, decimals: int = ECHO_TIME_DECIMALS) -> bool:
    """Whether two header numbers are the same value as the rules compare them."""
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return math.isfinite(a) and math.isfinite(b) and round(a, decimals) == round(b, decimals)


def sample_slices(files: pd.DataFrame, per_volume: int,
                  rules: Sequence[str] | None = None) -> pd.DataFrame:
    """At most ``per_volume`` files of every volume (0 = all), evenly spaced along the slice
    normal with the outermost left out (``k`` of ``n`` at the centres of ``k`` equal parts): the
    end slices of a stack are the least typical (partial volume, coil fall-off). Volumes are keyed
    as :func:`assign_volumes` keys them; a multi-frame file counts as one file. Rows keep their
    order."""
    if per_volume <= 0 or files.empty:
        return files
    keyed = assign_volumes(files, rules)
    by = [c for c in ("volume_key", "slice_position", "instance_number", "path") if c in keyed]
    order = keyed.sort_values(by, na_position="last", kind="stable")
    keep: list = []
    for _, rows in order.groupby("volume_key", sort=False):
        n = len(rows)
        if n <= per_volume:
            keep.extend(rows.index)
            continue
        picks = np.floor((np.arange(per_volume) + 0.5) * n / per_volume).astype(np.int64)
        keep.extend(rows.index[picks])
    return files.loc[sorted(keep)]

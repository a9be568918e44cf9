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

from mriseq.header import coded_terms, vocabulary

RULES = ("stack", "plane", "image_type", "echo", "temporal")
# ImageType terms (mriseq.header's vocabulary) that name a different image, not a vendor flag.
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
    files["volume_split"] = ""
    if files.empty or not rules:
        files["volume_split"] = files["volume_split"].astype("string")
        return files
    candidates = _series_that_may_split(files, rules)
    positions = files.groupby("series_key", sort=False).indices
    for series_key in candidates:
        rows = files.index[positions[series_key]]
        groups, used = _split(files.loc[rows], rules)
        if groups.nunique() < 2:
            continue
        order = (files.loc[rows].assign(_group=groups.to_numpy())
                 .sort_values(["instance_number", "path"], na_position="last", kind="stable")
                 .drop_duplicates("_group")["_group"].tolist())
        number = {group: n + 1 for n, group in enumerate(order)}
        index = groups.map(number).astype("int64")
        files.loc[rows, "volume_index"] = index.to_numpy()
        files.loc[rows, "volume_key"] = [f"{series_key}.{n}" for n in index]
        files.loc[rows, "volume_split"] = "+".join(used)
    files["volume_split"] = files["volume_split"].astype("string")
    return files


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
    """Group labels of one series' files after every rule, and the rules that split it."""
    groups = pd.Series(["0"] * len(series), index=series.index, dtype=object)
    used = []
    for rule in rules:
        refined = groups.copy()
        for _, part in series.groupby(groups, sort=False):
            labels = _RULE_FUNCTIONS[rule](part)
            if labels is not None and labels.nunique(dropna=False) > 1:
                refined.loc[part.index] = groups.loc[part.index] + "|" + labels.astype(str)
        if refined.nunique() > groups.nunique():
            used.append(rule)
        groups = refined
    return groups, used


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
    kinds = {}
    for value in part["image_type"].dropna().unique():
        terms = coded_terms(value, table) & DISTINGUISHING
        kinds[value] = "+".join(sorted(terms))
    return part["image_type"].map(kinds).fillna("")


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
        header_orientation=grouped["header_orientation"].agg(_mode),
        echo_time=grouped["echo_time"].median(),
    ).reset_index()
    table["volumes_in_series"] = table.groupby("series_key")["volume_key"].transform("size")
    columns = ["volume_key", "series_key", "patient_key", "study_key", "shard", "series_dir",
               "volume_index", "volumes_in_series", "volume_split", "n_files", "n_slices",
               "header_orientation", "echo_time", "echo_numbers", "temporal_position",
               "image_type", "series_description"]
    return table[columns]


def _mode(values: pd.Series) -> str:
    counts = values.value_counts()
    if counts.empty:
        return "unknown"
    known = counts.drop("unknown", errors="ignore")
    return str((known if not known.empty else counts).index[0])


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

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
    Only where a slice position repeats (a time series stores each position once per phase)
    and the repetitions are the phases of a contrast dynamic (:func:`repeated_acquisition`
    says when they are not): the first of TemporalPositionIdentifier, TriggerTime,
    AcquisitionNumber and AcquisitionTime (as its offset in the series) that has as many values
    as a position repeats and never holds one position twice (an AcquisitionNumber that numbers
    the slices of one pass is no time point, nor is the AcquisitionTime of each slice of a 2D
    pass).

Repetitions that a reader names as one volume stay one (``n_repetitions`` of the volumes table
counts them): the directions and b-values of one diffusion acquisition, the time points of a
functional or perfusion run (BOLD, DSC, ASL label/control pairs). Vendors number those passes
as they number dynamic phases (Siemens and GE a new AcquisitionNumber per direction or
measurement, Philips and GE a TemporalPositionIdentifier per time point), so the number alone
cannot tell them apart; what can is in :func:`repeated_acquisition`.

A volume's key is ``<series_key>`` for a series of one volume, else ``<series_key>.<n>`` with
``n`` = 1, 2, … in the order of the volumes' first InstanceNumber (then path).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd

from mriseq.features.header import coded_terms, vocabulary

RULES = ("stack", "plane", "image_type", "echo", "temporal")
# No contrast dynamic of a body protocol has more phases than this (pre, arterial early / late,
# portal, transitional, delayed, hepatobiliary: 3-10); a longer series of repeated passes is a
# functional, perfusion or repeated measurement (``scan.max_dynamic_phases``).
MAX_DYNAMIC_PHASES = 10
# ImageType values (raw, upper case) that name a diffusion, functional or perfusion series:
# Siemens DIFFUSION (b-value and tensor images), FMRI (BOLD), PERFUSION (DSC and ASL), ASL;
# GE and Philips write the same words where they name the kind at all.
REPEATED_ACQUISITION_TYPES = frozenset({"DIFFUSION", "FMRI", "PERFUSION", "ASL", "DSC"})
# Siemens names its diffusion sequences *ep_b<b-value>[#<direction>] (ep_b0, ep_b1000#12, …).
DIFFUSION_SEQUENCE = re.compile(r"ep_b\d", re.IGNORECASE)
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


def assign_volumes(files: pd.DataFrame, rules: Sequence[str] | None = None,
                   max_dynamic_phases: int | None = MAX_DYNAMIC_PHASES) -> pd.DataFrame:
    """``files`` with ``volume_key``, ``volume_index`` (1-based within the series) and
    ``volume_split`` (the rules that split the file's series, ``+``-joined; empty for one
    volume). ``max_dynamic_phases``: more repeated passes than this are one acquisition
    (:func:`repeated_acquisition`); None splits every repeated pass, as a dynamic's phases."""
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
        groups, used = _split(part, rules, max_dynamic_phases)
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
                  "temporal_position", "trigger_time", "acquisition_number",
                  "acquisition_offset", "b_value", "sequence_name", "scanning_sequence"]
# Where the temporal rule looks for the time point of a pass, in this order.
_TIME_COLUMNS = ("temporal_position", "trigger_time", "acquisition_number", "acquisition_offset")


def _series_that_may_split(files: pd.DataFrame, rules: Sequence[str]) -> list[str]:
    """Series where some rule sees two values (the rest are one volume without a closer look)."""
    columns = {"stack": ["stack_id"], "plane": ["header_orientation"],
               "image_type": ["image_type"], "echo": ["echo_numbers", "echo_time"],
               "temporal": list(_TIME_COLUMNS)}
    wanted = [c for rule in rules for c in columns[rule] if c in files]
    if not wanted:
        return []
    counts = files.groupby("series_key", sort=True)[wanted].nunique(dropna=True)
    return counts.index[(counts > 1).any(axis=1)].astype(str).tolist()


def _split(series: pd.DataFrame, rules: Sequence[str],
           max_dynamic_phases: int | None = MAX_DYNAMIC_PHASES) -> tuple[pd.Series, list[str]]:
    """Group numbers of one series' files after every rule, and the rules that split it."""
    groups = np.zeros(len(series), np.int64)
    used = []
    rule_functions = {**_RULE_FUNCTIONS,
                      "temporal": partial(_by_time, max_dynamic_phases=max_dynamic_phases)}
    for rule in rules:
        n_groups = int(groups.max()) + 1
        codes = np.zeros(len(series), np.int64)
        for group in range(n_groups):
            members = np.flatnonzero(groups == group) if n_groups > 1 else slice(None)
            labels = rule_functions[rule](series.iloc[members])
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


def repetitions(part: pd.DataFrame) -> int:
    """How many times the most repeated slice position of ``part`` occurs (1: a single pass)."""
    positions = part["slice_position"].round(POSITION_DECIMALS)
    return int(positions.value_counts().max()) if positions.notna().any() else 1


def repeated_acquisition(part: pd.DataFrame, repeats: int,
                         max_dynamic_phases: int | None = MAX_DYNAMIC_PHASES) -> bool:
    """Whether the ``repeats`` passes of ``part`` are one acquisition (diffusion directions and
    b-values, functional or perfusion time points) rather than the phases of a dynamic:

    * a diffusion marker: a b-value above 0 on some file (DiffusionBValue or the vendor's
      private b-value), DIFFUSION in ImageType, or a Siemens diffusion sequence name
      (``*ep_b1000#3``); the derived trace, ADC and FA images have been told apart by the
      ``image_type`` rule already and stay their own volumes;
    * ImageType names a functional or perfusion series (FMRI, PERFUSION, ASL, DSC);
    * an echo-planar readout (ScanningSequence EP): the repeated passes of an EPI series are
      diffusion, BOLD or DSC perfusion; a body contrast dynamic is a T1 gradient echo;
    * more passes than ``max_dynamic_phases``: no contrast dynamic has that many phases.

    ``max_dynamic_phases`` None: never (every repeated pass is a phase, the earlier rule)."""
    if max_dynamic_phases is None:
        return False
    if "b_value" in part and (part["b_value"].fillna(0) > 0).any():
        return True
    if "image_type" in part:
        for value in part["image_type"].dropna().unique():
            if REPEATED_ACQUISITION_TYPES & {term.strip().upper() for term in value.split("\\")}:
                return True
    if "scanning_sequence" in part and part["scanning_sequence"].dropna().astype(str).map(
            lambda value: "EP" in value.upper().split("\\")).any():
        return True
    if "sequence_name" in part and part["sequence_name"].dropna().astype(str).map(
            lambda name: bool(DIFFUSION_SEQUENCE.search(name))).any():
        return True
    return repeats > max_dynamic_phases


def _by_time(part: pd.DataFrame,
             max_dynamic_phases: int | None = MAX_DYNAMIC_PHASES) -> pd.Series | None:
    positions = part["slice_position"].round(POSITION_DECIMALS)
    repeats = int(positions.value_counts().max()) if len(positions) else 0
    if repeats < 2:
        return None  # every position once: a single pass, however its files are numbered
    if repeated_acquisition(part, repeats, max_dynamic_phases):
        return None
    for column in _TIME_COLUMNS:
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
                   "echo": _by_echo}


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
    # Passes kept together in one volume: diffusion directions and b-values, time points.
    positions = files.assign(_position=files["slice_position"].round(POSITION_DECIMALS))
    table["n_repetitions"] = table["volume_key"].map(
        positions.groupby(["volume_key", "_position"]).size().groupby(level=0).max()
    ).fillna(1).astype("int64")
    table["volumes_in_series"] = table.groupby("series_key")["volume_key"].transform("size")
    columns = ["volume_key", "series_key", "patient_key", "study_key", "shard", "series_dir",
               "volume_index", "volumes_in_series", "volume_split", "n_files", "n_slices",
               "n_repetitions",
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


def sample_slices(files: pd.DataFrame, per_volume: int, rules: Sequence[str] | None = None,
                  max_dynamic_phases: int | None = MAX_DYNAMIC_PHASES) -> pd.DataFrame:
    """At most ``per_volume`` files of every volume (0 = all), evenly spaced along the slice
    normal with the outermost left out (``k`` of ``n`` at the centres of ``k`` equal parts): the
    end slices of a stack are the least typical (partial volume, coil fall-off). In a volume of
    repeated passes (every position ``r`` times: diffusion directions, time points) the ``k``
    files also step evenly through the passes, so that they sample the whole acquisition, not
    its first pass. Volumes are keyed as :func:`assign_volumes` keys them; a multi-frame file
    counts as one file. Rows keep their order."""
    if per_volume <= 0 or files.empty:
        return files
    keyed = assign_volumes(files, rules, max_dynamic_phases)
    by = [c for c in ("volume_key", "slice_position", "instance_number", "path") if c in keyed]
    order = keyed.sort_values(by, na_position="last", kind="stable")
    keep: list = []
    for _, rows in order.groupby("volume_key", sort=False):
        n = len(rows)
        if n <= per_volume:
            keep.extend(rows.index)
            continue
        picks = np.floor((np.arange(per_volume) + 0.5) * n / per_volume).astype(np.int64)
        passes = _passes(rows)
        if passes is not None:
            # Position p's files are rows p*r … p*r + r-1 (sorted by position, then instance):
            # the j-th pick takes position j's pass j*r/k, stepping through every pass.
            n_positions = n // passes
            at = np.floor((np.arange(per_volume) + 0.5) * n_positions / per_volume)
            step = np.floor((np.arange(per_volume) + 0.5) * passes / per_volume)
            picks = np.unique((at * passes + step).astype(np.int64))
        keep.extend(rows.index[picks])
    return files.loc[sorted(keep)]


def _passes(rows: pd.DataFrame) -> int | None:
    """``r`` where every slice position of ``rows`` occurs exactly ``r`` > 1 times, else None."""
    if "slice_position" not in rows or rows["slice_position"].isna().any():
        return None
    counts = rows["slice_position"].round(POSITION_DECIMALS).value_counts()
    if len(counts) < 2 or counts.nunique() != 1 or int(counts.iloc[0]) < 2:
        return None
    return int(counts.iloc[0])

"""Series of several volumes: which planned volumes one series holds, and what tells them apart.

Each planned series (``SeriesPlan``) is one volume. In the generic layout some volumes share one
SeriesInstanceUID, as real scanners store them (``merged_series``; the DLDS layout keeps one series
per plan and its sheet as it was):

- dual-echo in/opposed phase (Siemens, GE, Philips): ``EchoNumbers`` 1 (opposed, shorter TE) and 2
  (in phase), each file with its own EchoTime; Philips tells its Dixon images apart by an ``IP`` or
  ``OP`` ImageType component as well;
- the axial dynamic phases on one stack (GE, Philips): ``TemporalPositionIdentifier`` 1..N in
  acquisition order, ``NumberOfTemporalPositions`` N, ``AcquisitionNumber`` the temporal position;
- the three localizer planes (every vendor; not a 3D scout whose other planes are reformats).

A merged series has the first volume's series-level header (UID, number, description, times,
encoding, folder); instance numbers run on across its volumes. The labels sheet keeps one row per
volume: rows of one series share its UID and say which volume they label by the selector columns
``EchoTime``, ``TemporalPosition``, ``ImageType`` and ``ImagePlane`` (empty where unused), with
``volumes_in_series``. Merging only rewrites what the files say after every draw of the patient's
generator happened as for separate series, so the pixels and SOP Instance UIDs do not change
(``generate_patient(..., merge_volumes=False)`` in :mod:`mriseq.synthetic.patient` writes the
separate series).
"""

from __future__ import annotations

from dataclasses import dataclass

from mriseq.geometry import header_orientation
from mriseq.synthetic import vendors
from mriseq.synthetic.sequences import SeriesPlan

# Vendors that store several volumes in one series (see the module docstring), per kind.
ECHOES_IN_ONE_SERIES = ("siemens", "ge", "philips")
# Of those, the vendors that also tell in from opposed phase by an ImageType component.
DIXON_IMAGE_TYPE = ("philips",)
DIXON_COMPONENT = {"t1_inphase": "IP", "t1_opposed": "OP"}
DYNAMIC_IN_ONE_SERIES = ("ge", "philips")
# Header elements that tell the volumes of a merged series apart; the rest is the first volume's.
_VOLUME_ELEMENTS = {"echoes": ("EchoTime",), "dixon": ("EchoTime",), "dynamic": (),
                    "localizer": ("ImageOrientationPatient", "SliceThickness",
                                  "SpacingBetweenSlices")}
# The plane a localizer volume is selected by: header_orientation's label with this tolerance.
IMAGE_PLANE_TOLERANCE = 0.8
SELECTOR_COLUMNS = ("EchoTime", "TemporalPosition", "ImageType", "ImagePlane")


@dataclass(frozen=True)
class MergedSeries:
    """Plans whose volumes one series holds: ``kind`` (echoes, dixon, dynamic or localizer) and
    their plan indexes in acquisition order; the first plan's series is the one written."""

    kind: str
    members: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.members[0]


def merged_series(plans: list[SeriesPlan], vendor: str,
                  localizer_style: vendors.HeaderStyle) -> dict[int, MergedSeries]:
    """The merged series of a generic-layout examination, by plan index (plans not listed are
    series of their own). Decided from the plans, the vendor and the examination's localizer
    style: nothing is drawn."""
    groups: list[MergedSeries] = []
    if vendor in ECHOES_IN_ONE_SERIES:
        # The in- and opposed-phase plans of one dual-echo acquisition share its Geometry.
        kind = "dixon" if vendor in DIXON_IMAGE_TYPE else "echoes"
        groups += _same_stack(plans, kind, lambda p: p.family == "dual")
    if vendor in DYNAMIC_IN_ONE_SERIES:
        # The dynamic phases on the one axial stack of sequences.Dynamic (not its coronal, sagittal
        # or thin stacks, which are other geometries).
        groups += _same_stack(plans, "dynamic",
                              lambda p: p.family == "vibe" and p.plane == "axial")
    if localizer_style.reformat_image_type is None:
        # A 3D scout's other planes are reformats, each a series of its own (DERIVED MPR).
        groups += _localizer_runs(plans)
    return {si: group for group in groups for si in group.members}


def _same_stack(plans: list[SeriesPlan], kind: str, eligible) -> list[MergedSeries]:
    """``eligible`` plans grouped by their Geometry object (one stack: the same slices)."""
    by_stack: dict[int, list[int]] = {}
    for si, plan in enumerate(plans):
        if eligible(plan):
            by_stack.setdefault(id(plan.geometry), []).append(si)
    return [MergedSeries(kind, tuple(members)) for members in by_stack.values()
            if len(members) > 1]


def _localizer_runs(plans: list[SeriesPlan]) -> list[MergedSeries]:
    """Consecutive localizer plans, one series per set of planes (a plane seen again starts the
    next localizer)."""
    runs: list[list[int]] = []
    for si, plan in enumerate(plans):
        if plan.sequence != "localizer":
            continue
        run = runs[-1] if runs and runs[-1][-1] == si - 1 else None
        if run is None or plan.plane in {plans[m].plane for m in run}:
            runs.append([si])
        else:
            run.append(si)
    return [MergedSeries("localizer", tuple(run)) for run in runs if len(run) > 1]


def volume_header(own: dict, series: dict, merged: MergedSeries, si: int,
                  plans: list[SeriesPlan], agent: str) -> dict:
    """The header of plan ``si``'s files in a merged series: the series' (its first volume's)
    header, with what tells this volume apart taken from its ``own``."""
    header = {**series, **{k: own[k] for k in _VOLUME_ELEMENTS[merged.kind]}}
    plan = plans[si]
    if merged.kind in ("echoes", "dixon"):
        echo_times = sorted(plans[m].protocols[-1].te for m in merged.members)
        header["EchoNumbers"] = 1 + echo_times.index(plan.protocols[-1].te)
    if merged.kind == "dixon":
        header["ImageType"] = [*own["ImageType"], DIXON_COMPONENT[plan.sequence]]
    if merged.kind == "dynamic":
        header["TemporalPositionIdentifier"] = 1 + merged.members.index(si)
        header["NumberOfTemporalPositions"] = len(merged.members)
        # One header for the series: a series with a post-contrast phase names the agent.
        if any(plans[m].contrast == "post" for m in merged.members):
            header["ContrastBolusAgent"], header["ContrastBolusRoute"] = agent, "IV"
    return header


def selectors(merged: MergedSeries | None, header: dict) -> dict:
    """The labels-sheet columns that say which volume of its series a row labels."""
    row = dict.fromkeys(SELECTOR_COLUMNS, "")
    row["volumes_in_series"] = 1 if merged is None else len(merged.members)
    if merged is None:
        return row
    if merged.kind in ("echoes", "dixon"):
        row["EchoTime"] = header["EchoTime"]
    if merged.kind == "dixon":
        row["ImageType"] = "\\".join(header["ImageType"])
    if merged.kind == "dynamic":
        row["TemporalPosition"] = header["TemporalPositionIdentifier"]
    if merged.kind == "localizer":
        row["ImagePlane"] = header_orientation(header["ImageOrientationPatient"],
                                               IMAGE_PLANE_TOLERANCE)
    return row

"""Slice geometry shared by the scan, the decoder and the synthetic generator.

ImageOrientationPatient (IOP) holds the direction cosines of the image rows (``row``: the direction
of increasing column index) then of its columns (``column``); the slice normal is row × column.
A slice's position along the normal is ImagePositionPatient (IPP) · normal, what slices of a
series are ordered by. Its plane is the axis the unit normal points along: sagittal (x), coronal
(y) or axial (z) when that component is at least the orientation tolerance in magnitude, else
oblique. The scan labels headers with it (``header_orientation``) and the synthetic generator
labels the series it writes with the same function, so that label and header follow one rule.

Two position functions remain, and the difference is deliberate: the scan's ``slice_position``
is along the unit normal (:func:`position_along`), while the decoder, where pydicom reads a file,
projects on row × column as written (:func:`frame_position`). On an IOP rounded to a few decimals
the two differ by up to ~1e-5 mm; merging them would change the positions recorded by existing
preprocessing outputs.

Enhanced multi-frame objects keep this geometry (and pixel measures, timing, rescale) in
functional groups rather than at the top level of the dataset: a per-frame group for each frame,
and a shared group for what all frames have in common. A value is looked up in the frame's
per-frame item first and in the shared item after it: per-frame groups override shared ones, as
the DICOM standard intends (it allows a group in only one of the two places, so a conforming
file never depends on the order). Every reader of functional groups goes through
:func:`functional_items` so that the scan and the decoder read the same item. (Where a dataset
also holds a value at its top level, the scan keeps the top-level value and the decoder the
group's; conforming enhanced files hold their geometry only in the groups.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from functools import cache

import numpy as np

from mriseq.defaults import schema_defaults

PLANES = ("sagittal", "coronal", "axial")  # the plane whose normal is x, y, z
# Functional group sequences in precedence order: the frame's own item, then the shared one.
FUNCTIONAL_GROUPS = ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence")
_GROUP_TAGS = (0x52009230, 0x52009229)  # the same two, as tags (cheap presence test)


# ----------------------------------------------------------------------------------------------
# Normal, position, plane


def plane_normal(iop: Sequence | None) -> tuple[float, float, float] | None:
    """row × column of an IOP, as written (not rescaled to unit length); None without six
    numbers."""
    # Plain floats, not NumPy: this runs once per file and np.cross costs ~20 us on 3-vectors.
    # A text value (an unparsed element) is not six numbers, however long it is.
    if iop is None or isinstance(iop, str | bytes):
        return None
    try:
        if len(iop) != 6:
            return None
        rx, ry, rz, cx, cy, cz = (float(v) for v in iop)
    except (TypeError, ValueError):
        return None
    return (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)


def slice_normal(iop: Sequence | None) -> tuple[float, float, float] | None:
    """Unit normal (row × column) in patient coordinates, or None without a usable IOP."""
    normal = plane_normal(iop)
    if normal is None:
        return None
    norm = math.sqrt(sum(c * c for c in normal))
    if not math.isfinite(norm) or norm < 1e-6:
        return None
    return (normal[0] / norm, normal[1] / norm, normal[2] / norm)


def position_along(normal: Sequence[float] | None, ipp: Sequence[float]) -> float:
    """IPP · ``normal`` (mm along a unit normal); NaN without a normal."""
    if not normal:
        return math.nan
    return sum(n * p for n, p in zip(normal, ipp, strict=True))


def frame_position(iop, ipp) -> float:
    """IPP · (row × column) of one frame, the normal as written; NaN where IOP or IPP is
    unusable.

    The decoder's positions, used where pydicom decodes a file: not rescaled by the normal's
    length, unlike the scan's ``slice_position`` (:func:`position_along` the unit normal), which
    the direct pixel read reuses; see the module docstring.
    """
    normal = plane_normal(iop)
    if normal is None:
        return math.nan
    try:
        return float(np.dot(np.asarray(ipp, dtype=float), np.asarray(normal)))
    except (TypeError, ValueError):
        return math.nan


def orientation_label(normal: Sequence[float] | None, tolerance: float | None = None) -> str:
    """axial / coronal / sagittal when the dominant component of the unit ``normal`` is at least
    ``tolerance`` in magnitude (``scan.orientation_tolerance``, its schema default when None),
    else oblique; unknown without a normal."""
    if tolerance is None:
        tolerance = _default_tolerance()
    if normal is None:
        return "unknown"
    magnitudes = [abs(c) for c in normal]
    axis = magnitudes.index(max(magnitudes))
    if magnitudes[axis] < tolerance:
        return "oblique"
    return PLANES[axis]


@cache
def _default_tolerance() -> float:
    return float(schema_defaults("scan", "orientation_tolerance"))


def header_orientation(iop: Sequence | None, tolerance: float | None = None) -> str:
    """The plane of an IOP's slice normal (:func:`orientation_label`); unknown without one."""
    return orientation_label(slice_normal(iop), tolerance)


# ----------------------------------------------------------------------------------------------
# Functional groups


def has_functional_groups(ds) -> bool:
    """Whether a pydicom dataset has per-frame or shared functional groups (enhanced objects)."""
    return _GROUP_TAGS[0] in ds or _GROUP_TAGS[1] in ds


def functional_items(ds, frame: int, sequence: str) -> Iterator:
    """The items of functional group macro ``sequence`` (a keyword, e.g.
    ``PlanePositionSequence``) that describe ``frame`` of a pydicom dataset, most specific first:
    the frame's per-frame item, then the shared item. None for a classic object.

    A generator, so that a caller content with the first item never looks at the shared group."""
    if not has_functional_groups(ds):  # classic object: skip the keyword lookups
        return
    for groups, index in zip(FUNCTIONAL_GROUPS, (frame, 0), strict=True):
        items = ds.get(groups)
        if items and index < len(items):
            inner = items[index].get(sequence)
            if inner:
                yield inner[0]


def functional_item(ds, frame: int, sequence: str):
    """The item of ``sequence`` that describes ``frame`` (per-frame over shared), or None."""
    return next(functional_items(ds, frame, sequence), None)

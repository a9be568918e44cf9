"""The fallback reader: ``pydicom.dcmread`` for every file the fast walker declines.

Deflate, enhanced multi-frame functional groups, wrong VRs, undefined-length UN and odd
nesting are rare but real; pydicom reads them (``force=True``, large values deferred) into the
same field dict as the walker. Any exception it raises on malformed input becomes a
``parse_error`` reject, never a crash of the scan.
"""

from __future__ import annotations

from typing import Any

import pydicom

from mriseq.dicom.fields import (
    B_VALUE_CONVENTIONAL,
    B_VALUE_PRIVATE,
    B_VALUE_STANDARD,
    CONVENTIONAL_B_VALUES,
    FIELDS,
    MOSAIC_CREATORS,
    MOSAIC_GROUP,
    MOSAIC_OFFSET,
    PIXEL_TAGS,
    PRESENCE_TAGS,
    PRIVATE_B_VALUES,
    as_numbers,
    b_value_vendor,
    is_number,
    normalise,
    vendor_b_value,
)
from mriseq.dicom.reasons import HeaderResult, one_line, reject
from mriseq.geometry import functional_items, has_functional_groups

# Fields of enhanced multi-frame MR taken from functional groups where the top level lacks them:
# functional group macro -> (attribute keyword, field, kind).
_ENHANCED_FIELDS = (
    ("PlaneOrientationSequence", (("ImageOrientationPatient", "iop", "nums"),)),
    ("PlanePositionSequence", (("ImagePositionPatient", "ipp", "nums"),)),
    ("PixelMeasuresSequence", (("PixelSpacing", "pixel_spacing", "nums"),
                               ("SliceThickness", "slice_thickness", "num"),
                               ("SpacingBetweenSlices", "spacing_between_slices", "num"))),
    ("MRTimingAndRelatedParametersSequence", (("RepetitionTime", "repetition_time", "num"),
                                              ("FlipAngle", "flip_angle", "num"),
                                              ("EchoTrainLength", "echo_train_length", "num"))),
    ("MREchoSequence", (("EffectiveEchoTime", "echo_time", "num"),)),
    ("MRDiffusionSequence", (("DiffusionBValue", "b_value", "num"),)),
)


def read_with_pydicom(handle, size) -> tuple[dict[str, Any], tuple | None] | HeaderResult:
    """(fields, pixel) read by pydicom, or a reject; every exception becomes ``parse_error``."""
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(handle, force=True, defer_size=1024)
            fields = fields_from_dataset(ds)
            pixel = None
            for tag in PIXEL_TAGS:
                if tag in ds:
                    elem = ds.get_item(tag, keep_deferred=True)
                    length = getattr(elem, "length", None)
                    tell = getattr(elem, "value_tell", None)
                    pixel = (tag, length, tell if tell is not None else 0)
                    break
    except RecursionError:
        return reject("parse_error", "sequences nested too deeply", "pydicom")
    except Exception as error:  # malformed input of any kind is a reject, not a crash
        return reject("parse_error", one_line(f"{type(error).__name__}: {error}"), "pydicom")
    if not fields.get("_elements"):
        if any(k.startswith("media_") or k == "transfer_syntax" for k, v in fields.items() if v):
            # File meta but no dataset: pydicom gave up on the dataset, e.g. at an early end.
            ends_early = any("End of file" in str(w.message) for w in caught)
            return reject("truncated" if ends_early else "parse_error",
                          "file meta information present but no readable dataset"
                          + (" (the file ends early)" if ends_early else ""), "pydicom")
        return reject("not_dicom", "pydicom found no data elements", "pydicom")
    return fields, pixel


def fields_from_dataset(ds) -> dict[str, Any]:
    """The field dict of a pydicom dataset (the walker's, plus ``_elements``: whether pydicom
    found any data element)."""
    out: dict[str, Any] = {"_elements": len(ds) > 0}
    meta = getattr(ds, "file_meta", None)
    # Only the tags present are looked up: pydicom answers an absent one with a KeyError.
    meta_tags, tags = (meta.keys() if meta is not None else ()), ds.keys()
    for tag, (key, kind, _) in FIELDS.items():
        source, present = (meta, meta_tags) if tag >> 16 == 0x0002 else (ds, tags)
        value = safe_value(source, tag) if tag in present else None
        out[key] = normalise(value, kind)
    if meta is not None and out.get("transfer_syntax") is None:
        out["transfer_syntax"] = None
    if out.get("sop_class_uid") is None and out.get("media_sop_class_uid"):
        out["sop_class_uid"] = out["media_sop_class_uid"]
    for tag, key in PRESENCE_TAGS.items():
        out[key] = tag in ds
    if has_functional_groups(ds):
        _enhanced_fields(ds, out)
    if is_number(out.get("b_value")):
        out["b_value_source"] = B_VALUE_STANDARD
    else:
        out["b_value"], out["b_value_source"] = _private_b_value_ds(ds, out.get("manufacturer"))
    mosaic = "MOSAIC" in (out.get("image_type") or "").upper()
    out["mosaic_images"] = private_mosaic_images_ds(ds) if mosaic else None
    return out


def safe_value(source, tag):
    """The value of ``tag`` in a dataset, None where it is absent or pydicom cannot convert it."""
    if source is None:
        return None
    try:
        elem = source.get(tag)
        return None if elem is None else elem.value
    except Exception:
        return None


def _enhanced_fields(ds, out):
    """Geometry and timing of enhanced multi-frame MR from its functional groups: the one row of
    the file describes its first frame, so each field missing at the top level comes from the
    first frame's per-frame item, else from the shared item (:mod:`mriseq.geometry`)."""
    for sequence, attributes in _ENHANCED_FIELDS:
        items = _first_frame_items(ds, sequence)
        for keyword, key, kind in attributes:
            for item in items:
                if not _missing(out.get(key), kind):
                    break
                out[key] = normalise(item.get(keyword), kind)


def _missing(value, kind) -> bool:
    # A list field counts as missing when empty, a number only when None (NaN is a value).
    return not value if kind == "nums" else value is None


def _first_frame_items(ds, sequence) -> list:
    """Functional-group items of ``sequence`` for the first frame; a group pydicom cannot read
    contributes nothing (the rest of the header still counts)."""
    found = []
    try:
        for item in functional_items(ds, 0, sequence):
            found.append(item)
    except Exception:
        pass
    return found


def _private_b_value_ds(ds, manufacturer) -> tuple[float | None, str | None]:
    """(b-value, source) from a vendor's private element of a pydicom dataset, or (None, None),
    by the walker's rule (:func:`mriseq.dicom.decode._private_b_value`)."""
    for group, offset, creator, implicit_vr in PRIVATE_B_VALUES:
        elem = private_element(ds, group, offset, creator)
        if elem is None:
            continue
        number = vendor_b_value(group, _numbers(elem, implicit_vr))
        if number is not None:
            return number, B_VALUE_PRIVATE
    conventional = CONVENTIONAL_B_VALUES.get(b_value_vendor(manufacturer))
    if conventional is not None:
        creator_tag, tag, implicit_vr = conventional
        elem = _element(ds, tag)
        if elem is not None and not normalise(safe_value(ds, creator_tag), "text"):
            number = vendor_b_value(tag >> 16, _numbers(elem, implicit_vr))
            if number is not None:
                return number, B_VALUE_CONVENTIONAL
    return None, None


def _element(ds, tag):
    """The element ``tag`` of a dataset, None where it is absent or pydicom cannot convert it."""
    try:
        return ds[tag] if tag in ds else None
    except Exception:
        return None


def _numbers(elem, implicit_vr: bytes) -> list[float]:
    try:
        value = elem.value
    except Exception:
        return []
    if isinstance(value, bytes):  # VR UN (a private element whose creator pydicom cannot name)
        return as_numbers(implicit_vr, value)
    return normalise(value, "nums")


def private_mosaic_images_ds(ds) -> float | None:
    """NumberOfImagesInMosaic from a Siemens private block of a pydicom dataset, or None."""
    for creator in sorted(MOSAIC_CREATORS):
        try:
            value = private_element(ds, MOSAIC_GROUP, MOSAIC_OFFSET, creator).value
        except Exception:
            continue
        if isinstance(value, bytes):  # VR UN (creator unknown to pydicom's dictionary)
            numbers = as_numbers(b"US", value)
        else:
            numbers = normalise(value, "nums")
        if numbers:
            return numbers[0]
    return None


def private_element(ds, group: int, offset: int, creator: str):
    """``ds.private_block(group, creator)[offset]``, or None: the element at ``offset`` of the
    first block in ``group`` whose creator is ``creator``, none where a creator of the group
    cannot be read. Looked up in the dataset's tags, since pydicom's own lookup slices the
    dataset, which cost the fallback ~40 us a vendor."""
    try:
        creators = sorted(tag for tag in ds.keys()
                          if tag >> 16 == group and 0x10 <= tag & 0xFFFF < 0x100)
        owner = [tag for tag in creators if ds[tag].value == creator]
        if not owner:
            return None
        tag = group << 16 | (owner[0] & 0xFF) << 8 | offset
        return ds[tag] if tag in ds.keys() else None
    except Exception:
        return None

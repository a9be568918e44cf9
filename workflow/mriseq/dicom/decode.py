"""The walker's raw values as the field dict: numbers, text, UIDs and the vendor private values.

:func:`decode_raw` turns what :func:`mriseq.dicom.walker.walk_file` collected ({tag: (VR, bytes)})
into the same field dict the pydicom fallback builds (:mod:`mriseq.dicom.fallback`): one number
per ``num`` field, a list for ``nums``, stripped text and UIDs, the vendor b-value and its source,
a Siemens mosaic's slice count. It runs once per file on ~40 values, so the common value shapes
(one decimal string, one binary number, a backslash-separated list) take a direct conversion and
anything else the general one (:func:`mriseq.dicom.fields.as_numbers`), which gives the same
result for them.
"""

from __future__ import annotations

import struct
from typing import Any

import pydicom.charset

from mriseq.dicom.fields import (
    B_VALUE_CONVENTIONAL,
    B_VALUE_PRIVATE,
    B_VALUE_STANDARD,
    BINARY,
    CONVENTIONAL_B_VALUES,
    FIELDS,
    MOSAIC_CREATORS,
    MOSAIC_GROUP,
    MOSAIC_OFFSET,
    PRESENCE_TAGS,
    PRIVATE_B_VALUES,
    PRIVATE_GROUPS,
    SIMPLE_CHARSETS,
    as_numbers,
    b_value_vendor,
    clean_text,
    decode_text,
    is_number,
    vendor_b_value,
)

# One binary value of each binary VR, unpacked without building a format per call.
_ONE_BINARY = {vr: struct.Struct(fmt) for vr, fmt in BINARY.items()}


def decode_raw(raw: dict[int, tuple[bytes, bytes]]) -> dict[str, Any]:
    """The field dict of the raw values :func:`~mriseq.dicom.walker.walk_file` collected."""
    charset_raw = raw.get(0x00080005)
    charset = clean_text(charset_raw[1], "latin-1") if charset_raw else ""
    encoding = SIMPLE_CHARSETS.get(charset.split("\\")[0].strip() if charset else "")
    encodings = None
    if not encoding:
        try:
            encodings = pydicom.charset.convert_encodings(charset.split("\\"))
        except (LookupError, ValueError):  # a damaged SpecificCharacterSet: read as latin-1
            encoding = "latin-1"
    out: dict[str, Any] = {}
    fields, one_binary = FIELDS, _ONE_BINARY
    for tag, (vr, value) in raw.items():
        spec = fields.get(tag)
        if spec is None:
            continue
        key, kind, default_vr = spec
        if kind == "num":
            binary = one_binary.get(vr or default_vr)
            try:
                # float() takes a decimal string's bytes as they are (blanks around included)
                # and refuses what as_numbers reads otherwise: NULs, several values, nothing.
                out[key] = float(value) if binary is None else float(binary.unpack(value)[0])
            except (ValueError, struct.error):
                numbers = as_numbers(vr or default_vr, value)
                out[key] = numbers[0] if numbers else None
        elif kind == "nums":
            try:
                if (vr or default_vr) in one_binary:
                    raise ValueError
                out[key] = [float(part) for part in value.split(b"\\")]
            except ValueError:
                out[key] = as_numbers(vr or default_vr, value)
        elif kind == "uid":
            out[key] = value.rstrip(b"\x00 ").decode("latin-1", "replace").strip() or None
        elif encoding:  # an empty value is None, as the pydicom reader gives it
            out[key] = value.decode(encoding, "replace").strip("\x00 ").strip() or None
        else:
            out[key] = decode_text(value, encoding, encodings) or None
    if is_number(out.get("b_value")):
        out["b_value_source"] = B_VALUE_STANDARD
    else:
        out["b_value"], out["b_value_source"] = _private_b_value(raw, out.get("manufacturer"))
    # Only an image flagged MOSAIC can be one: others skip the private-block lookup.
    mosaic = "MOSAIC" in (out.get("image_type") or "").upper()
    out["mosaic_images"] = _private_mosaic_images(raw) if mosaic else None
    if out.get("sop_class_uid") is None and out.get("media_sop_class_uid"):
        out["sop_class_uid"] = out["media_sop_class_uid"]
    for tag, key in PRESENCE_TAGS.items():
        out[key] = tag in raw
    return out


def _private_b_value(raw, manufacturer) -> tuple[float | None, str | None]:
    """(b-value, source) from a vendor's private element, or (None, None): first in the block of
    its creator, else, the creator removed, in the vendor's usual block (``CONVENTIONAL_B_VALUES``,
    only where the Manufacturer names the vendor and no other creator owns that block)."""
    creators = [tag for tag in raw if tag >> 16 in PRIVATE_GROUPS and 0x10 <= tag & 0xFFFF < 0x100]
    for group, offset, creator, implicit_vr in PRIVATE_B_VALUES:
        for tag in creators:
            if tag >> 16 != group:
                continue
            block = tag & 0xFF
            if clean_text(raw[tag][1], "latin-1") == creator:
                value = raw.get(group << 16 | block << 8 | offset)
                if value is not None:
                    number = vendor_b_value(group, as_numbers(_vr(value[0], implicit_vr),
                                                              value[1]))
                    if number is not None:
                        return number, B_VALUE_PRIVATE
    conventional = CONVENTIONAL_B_VALUES.get(b_value_vendor(manufacturer))
    if conventional is not None:
        creator_tag, tag, implicit_vr = conventional
        creator, value = raw.get(creator_tag), raw.get(tag)
        if value is not None and (creator is None or not clean_text(creator[1], "latin-1")):
            number = vendor_b_value(tag >> 16, as_numbers(_vr(value[0], implicit_vr), value[1]))
            if number is not None:
                return number, B_VALUE_CONVENTIONAL
    return None, None


def _vr(vr: bytes, implicit_vr: bytes) -> bytes:
    # An implicit-VR file names no VR, and UN (what a converter writes for a private element it
    # has no dictionary entry for) keeps the bytes as the vendor wrote them: read as its VR,
    # the way the fallback reads the bytes pydicom leaves for UN.
    return implicit_vr if vr in (b"", b"UN") else vr


def _private_mosaic_images(raw) -> float | None:
    """NumberOfImagesInMosaic from the block of a Siemens creator in group 0019, or None."""
    for tag, (_, value) in raw.items():
        if tag >> 16 != MOSAIC_GROUP or not 0x10 <= tag & 0xFFFF < 0x100:
            continue
        if clean_text(value, "latin-1") not in MOSAIC_CREATORS:
            continue
        element = raw.get(MOSAIC_GROUP << 16 | (tag & 0xFF) << 8 | MOSAIC_OFFSET)
        if element is not None:
            vr = element[0] if element[0] not in (b"", b"UN") else b"US"  # Siemens writes US
            numbers = as_numbers(vr, element[1])
            if numbers:
                return numbers[0]
    return None

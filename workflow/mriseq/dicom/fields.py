"""What the scan reads from a header, and how raw values become plain Python values.

Both readers (the fast element walker and the pydicom fallback) fill the same field dict from the
same table, so that a file gives one row whichever reader took it; the table, the vendor private
tags and the value conversions are therefore kept here, apart from either reader.
"""

from __future__ import annotations

import math
import struct

import pydicom.charset

# Tags read by both paths: tag -> (key, kind, implicit-VR default). kind: text | uid | num | nums.
FIELDS: dict[int, tuple[str, str, bytes]] = {
    0x00020002: ("media_sop_class_uid", "uid", b"UI"),
    0x00020010: ("transfer_syntax", "uid", b"UI"),
    0x00080005: ("charset", "text", b"CS"),
    0x00080008: ("image_type", "text", b"CS"),
    0x00080016: ("sop_class_uid", "uid", b"UI"),
    0x00080018: ("sop_instance_uid", "uid", b"UI"),
    0x00080032: ("acquisition_time", "text", b"TM"),
    0x00080060: ("modality", "text", b"CS"),
    0x00080070: ("manufacturer", "text", b"LO"),
    0x0008103E: ("series_description", "text", b"LO"),
    0x00100020: ("patient_id", "text", b"LO"),
    0x00180010: ("contrast_agent", "text", b"LO"),
    0x00180020: ("scanning_sequence", "text", b"CS"),
    0x00180021: ("sequence_variant", "text", b"CS"),
    0x00180022: ("scan_options", "text", b"CS"),
    0x00180023: ("mr_acquisition_type", "text", b"CS"),
    0x00180024: ("sequence_name", "text", b"SH"),
    0x00180050: ("slice_thickness", "num", b"DS"),
    0x00180086: ("echo_numbers", "num", b"IS"),
    0x00180088: ("spacing_between_slices", "num", b"DS"),
    0x00180080: ("repetition_time", "num", b"DS"),
    0x00180081: ("echo_time", "num", b"DS"),
    0x00180082: ("inversion_time", "num", b"DS"),
    0x00180087: ("field_strength", "num", b"DS"),
    0x00181030: ("protocol_name", "text", b"LO"),
    0x00181060: ("trigger_time", "num", b"DS"),
    0x00181164: ("imager_pixel_spacing", "nums", b"DS"),
    0x00180091: ("echo_train_length", "num", b"IS"),
    0x00181314: ("flip_angle", "num", b"DS"),
    0x00189005: ("pulse_sequence_name", "text", b"SH"),
    0x00189087: ("b_value", "num", b"FD"),
    0x0020000D: ("study_instance_uid", "uid", b"UI"),
    0x0020000E: ("series_instance_uid", "uid", b"UI"),
    0x00200011: ("series_number", "num", b"IS"),
    0x00200012: ("acquisition_number", "num", b"IS"),
    0x00200013: ("instance_number", "num", b"IS"),
    0x00200032: ("ipp", "nums", b"DS"),
    0x00200037: ("iop", "nums", b"DS"),
    0x00200100: ("temporal_position", "num", b"IS"),
    0x00209056: ("stack_id", "text", b"SH"),
    0x00280002: ("samples_per_pixel", "num", b"US"),
    0x00280004: ("photometric", "text", b"CS"),
    0x00280006: ("planar_configuration", "num", b"US"),
    0x00280008: ("n_frames", "num", b"IS"),
    0x00280010: ("rows", "num", b"US"),
    0x00280011: ("columns", "num", b"US"),
    0x00280030: ("pixel_spacing", "nums", b"DS"),
    0x00280100: ("bits_allocated", "num", b"US"),
    0x00280101: ("bits_stored", "num", b"US"),
    0x00280103: ("pixel_representation", "num", b"US"),
    0x00281052: ("rescale_intercept", "num", b"DS"),
    0x00281053: ("rescale_slope", "num", b"DS"),
}
# Vendor b-values in private tags, used when DiffusionBValue is absent: (group, element offset,
# private creator, VR when the file is implicit VR) -> the element lives at (group, block << 8 |
# offset) of that creator's block. GE writes the b-value as the first of four IS values and, on
# some software versions, adds 10^9 to it (taken off by ``vendor_b_value``).
PRIVATE_B_VALUES = ((0x0019, 0x0C, "SIEMENS MR HEADER", b"IS"),
                    (0x0043, 0x39, "GEMS_PARM_01", b"IS"),
                    (0x2001, 0x03, "Philips Imaging DD 001", b"FL"))
GE_B_VALUE_OFFSET = 1_000_000_000
# Anonymisers often delete private creator elements and keep the elements they own. A vendor's
# software always opens its block at 0x10, so where the creator element of that block is absent
# (or empty) and the Manufacturer names the vendor, its b-value element is read there: vendor ->
# (creator tag, b-value tag, VR when the file does not say). Another creator at that tag means
# another owner: nothing is read.
CONVENTIONAL_B_VALUES = {"siemens": (0x00190010, 0x0019100C, b"IS"),
                         "ge": (0x00430010, 0x00431039, b"IS")}
# Where a file's b-value came from (the files manifest's ``b_value_source``; None: no b-value).
B_VALUE_STANDARD = "standard"  # DiffusionBValue (0018,9087), top level or enhanced MR's sequence
B_VALUE_PRIVATE = "private"  # a vendor's private element in the block of its creator
B_VALUE_CONVENTIONAL = "private_conventional"  # creator removed: the vendor's usual block
# Siemens mosaics: NumberOfImagesInMosaic (US) at (0019, block << 8 | 0x0A) of a Siemens creator's
# block; only images whose ImageType says MOSAIC are cut into slices.
MOSAIC_GROUP, MOSAIC_OFFSET = 0x0019, 0x0A
MOSAIC_CREATORS = frozenset({"SIEMENS MR HEADER", "SIEMENS CSA HEADER"})
PRIVATE_GROUPS = {group for group, _, _, _ in PRIVATE_B_VALUES} | {MOSAIC_GROUP}
PRIVATE_OFFSETS = {offset for _, offset, _, _ in PRIVATE_B_VALUES} | {MOSAIC_OFFSET}

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
DIRECTORY_RECORDS = 0x00041220
# Sequences whose presence, not content, matters: a DICOMDIR's records; a Modality LUT (the
# preprocess stage then lets pydicom apply it instead of reading the pixels directly).
PRESENCE_TAGS = {DIRECTORY_RECORDS: "dicomdir", 0x00283000: "modality_lut"}
UNDEFINED = 0xFFFFFFFF  # an undefined value length (sequences, encapsulated pixel data)

IMPLICIT_LE = "1.2.840.10008.1.2"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
# Enhanced / legacy-converted enhanced MR keep geometry in functional groups: pydicom reads them.
ENHANCED_MR_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.4.4"})

BINARY = {b"US": "<H", b"SS": "<h", b"UL": "<I", b"SL": "<l", b"FL": "<f", b"FD": "<d"}
BINARY_SIZES = {vr: struct.calcsize(fmt) for vr, fmt in BINARY.items()}
SIMPLE_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1",
                   "ISO_IR 192": "utf-8"}


# ----------------------------------------------------------------------------------------------
# Raw bytes (the walker; the fallback where pydicom leaves a private value as bytes)


def clean_text(value: bytes, encoding: str) -> str:
    return value.decode(encoding, "replace").strip("\x00 ").strip()


def decode_text(value, encoding, encodings):
    if encoding:
        return clean_text(value, encoding)
    try:
        return pydicom.charset.decode_bytes(value, encodings, set()).strip("\x00 ").strip()
    except Exception:  # an odd character set never stops the scan
        return clean_text(value, "latin-1")


def as_numbers(vr: bytes, value: bytes) -> list[float]:
    """The numbers of a raw value: binary VRs unpacked, text VRs split at backslashes (NaN for a
    part that is not a number)."""
    fmt = BINARY.get(vr)
    if fmt is not None:
        size = BINARY_SIZES[vr]
        count = len(value) // size
        return [float(v) for v in struct.unpack(f"<{count}{fmt[1]}", value[:count * size])]
    text = value.decode("latin-1").strip("\x00 ")
    if "\\" not in text:  # one value, the common case
        try:
            return [float(text)]
        except ValueError:
            return [math.nan] if text.strip() else []
    if not text.strip():
        return []
    numbers = []
    for part in text.split("\\"):
        try:
            numbers.append(float(part))
        except ValueError:
            numbers.append(math.nan)
    return numbers


def vendor_b_value(group: int, numbers) -> float | None:
    """The b-value among a private element's numbers (its first), GE's 10^9 offset removed."""
    if not numbers or not math.isfinite(numbers[0]):
        return None
    value = numbers[0]
    if group == 0x0043 and value >= GE_B_VALUE_OFFSET:
        value = value % GE_B_VALUE_OFFSET
    return value


def b_value_vendor(manufacturer: str | None) -> str | None:
    """``siemens`` or ``ge`` when the Manufacturer names that vendor (the ones whose b-value
    element is read without its creator, :data:`CONVENTIONAL_B_VALUES`), else None."""
    name = (manufacturer or "").strip().upper()
    if "SIEMENS" in name:
        return "siemens"
    # "GE MEDICAL SYSTEMS", "GE Healthcare", "GE_MEDICAL": GE as a word, never a substring.
    if name == "GE" or name.startswith(("GE ", "GE_")) or "GENERAL ELECTRIC" in name:
        return "ge"
    return None


def is_number(value) -> bool:
    """Whether a field value is a number, not None or NaN (a b-value that counts)."""
    return value is not None and value == value


# ----------------------------------------------------------------------------------------------
# pydicom values (the fallback; mosaic checks on a dataset)


def normalise(value, kind):
    """A pydicom element value as the field dict holds it: ``num`` a float or None, ``nums`` a
    list of floats, text and UIDs stripped strings or None (multi-values joined by backslashes)."""
    if value is None or value == "" or value == b"":
        return [] if kind == "nums" else None
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    if kind in ("num", "nums"):
        items = list(value) if is_multi(value) else [value]
        numbers = []
        for item in items:
            try:
                numbers.append(float(item))
            except (TypeError, ValueError):
                numbers.append(float("nan"))
        return numbers if kind == "nums" else (numbers[0] if numbers else None)
    if is_multi(value):
        return "\\".join(str(v) for v in value).strip() or None
    text = str(value).strip("\x00 ").strip()
    return text or None


def is_multi(value):
    return isinstance(value, list | tuple) or type(value).__name__ == "MultiValue"


def as_int(value):
    """``value`` as an int, None when it is missing, not a number or NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number:  # NaN
        return None
    return int(number)

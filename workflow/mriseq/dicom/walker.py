"""The fast path: a minimal DICOM element walker over the head of a file.

The scan is parser-bound, and a full ``pydicom.dcmread`` spends most of its time on elements the
scan never looks at (vendor private blocks, nested sequences). The walker handles explicit and
implicit VR little endian, the transfer syntaxes of nearly every MR archive, decodes only the
~40 wanted tags and skips every other value by its length, which makes it several times faster.
Whatever it does not handle (big endian, deflate, invalid VRs, undefined-length UN, odd nesting,
enhanced multi-frame functional groups) it declines with :class:`Decline`, and the pydicom
fallback (:mod:`mriseq.dicom.fallback`) reads the file instead; a walk is never a guess.
"""

from __future__ import annotations

import struct
from typing import Any

import pydicom.charset

from mriseq.dicom.fields import (
    BIG_ENDIAN,
    DEFLATED,
    FIELDS,
    IMPLICIT_LE,
    MOSAIC_CREATORS,
    MOSAIC_GROUP,
    MOSAIC_OFFSET,
    PIXEL_TAGS,
    PRESENCE_TAGS,
    PRIVATE_B_VALUES,
    PRIVATE_GROUPS,
    PRIVATE_OFFSETS,
    SIMPLE_CHARSETS,
    UNDEFINED,
    as_numbers,
    clean_text,
    decode_text,
    vendor_b_value,
)

MAX_NESTING = 32
_LAST_WANTED_GROUP = max(PRIVATE_GROUPS)
_CHECKED_GROUPS = PRIVATE_GROUPS | {0x0002}  # per-element checks only in these groups
_EXPLICIT_HEADER = struct.Struct("<HH2sH")
_IMPLICIT_HEADER = struct.Struct("<HHI")
_UINT32 = struct.Struct("<I")
_WANTED_TAGS = frozenset(FIELDS) | frozenset(PRESENCE_TAGS)
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_LONG_VRS = frozenset(
    {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV", b"SV", b"UV"}
)
_SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
     b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
_VALID_VRS = _LONG_VRS | _SHORT_VRS


class Decline(Exception):
    """The fast walker does not handle this file; pydicom takes over."""


class NeedMore(Exception):
    """The head buffer ended inside the header; read more of the file."""


class NotDicom(Exception):
    """Neither a DICOM preamble nor a DICOM element at the start: not worth a pydicom read."""


def fragments_complete(handle, offset: int, size: int, limit: int = 1_000_000) -> bool:
    """Whether encapsulated pixel data's items end in a sequence delimiter inside the file."""
    pos = offset
    for _ in range(limit):
        if pos + 8 > size:
            return False
        handle.seek(pos)
        group, element, length = struct.unpack("<HHI", handle.read(8))
        tag = group << 16 | element
        if tag == _SEQ_END:
            return True
        if tag != _ITEM or length == UNDEFINED:
            return False
        pos += 8 + length
    return False


def walk_file(buf: bytes, total: int, read_more=None
              ) -> tuple[dict[int, tuple[bytes, bytes]], tuple | None]:
    """Wanted raw values {tag: (vr, bytes)} and pixel data (tag, length, value offset) or None.

    ``buf`` is the head of a file of ``total`` bytes (the whole file when equal). When the walk
    reaches the end of a partial head, ``read_more(buf)`` (if given) returns a longer head and the
    walk resumes where it stopped (re-walking from the start cost ~30 % of a Siemens file's scan);
    without it, or inside a sequence, ``NeedMore`` is raised.
    """
    complete = len(buf) >= total
    n = len(buf)
    pos = 0
    has_preamble = n >= 132 and buf[128:132] == b"DICM"
    if has_preamble:
        pos = 132
    raw: dict[int, tuple[bytes, bytes]] = {}
    # File meta information: group 0002, always explicit VR little endian.
    while pos + 6 <= n and buf[pos:pos + 2] == b"\x02\x00":
        pos = _element(buf, pos, True, raw, complete, meta=True)
    if not has_preamble and pos == 0:
        if n < 8:
            raise NotDicom("shorter than one data element and no DICOM preamble")
        group = buf[0] | buf[1] << 8
        if buf[0] << 8 | buf[1] in (0x0002, 0x0008):  # a big-endian dataset without file meta
            raise Decline("big endian without file meta")
        if group not in (0x0000, 0x0004, 0x0008):
            raise NotDicom("no DICM preamble and no DICOM element at the start")
    ts = raw.get(0x00020010, (b"", b""))[1].rstrip(b"\x00 ").decode("latin-1", "replace")
    if ts in (BIG_ENDIAN, DEFLATED):
        raise Decline("big endian or deflated dataset")
    if ts == IMPLICIT_LE:
        explicit = False
    elif ts:
        explicit = True
    else:  # no file meta: guess the way pydicom does, from whether a VR follows the first tag
        explicit = pos + 6 <= n and buf[pos + 4:pos + 6] in _VALID_VRS
    pixel = None
    unpack_explicit, unpack_implicit = _EXPLICIT_HEADER.unpack_from, _IMPLICIT_HEADER.unpack_from
    unpack_uint32 = _UINT32.unpack_from
    jump_tried = False
    limit = n - 12  # while pos <= limit a whole element header lies inside the buffer
    while True:
        if pos > limit:  # the end of the buffer: read more of the file, or stop at its end
            if not complete:
                if read_more is None:
                    raise NeedMore
                buf = read_more(buf)
                n = len(buf)
                complete, limit, jump_tried = n >= total, n - 12, False
                continue
            if pos >= n:
                break
            if pos + 8 > n:
                raise Decline("file ends inside an element header")
        if explicit:
            group, element, vr, length = unpack_explicit(buf, pos)
            if vr in _SHORT_VRS:
                start = pos + 8
            elif vr in _LONG_VRS:
                if pos + 12 > n:
                    raise Decline("truncated")
                (length,) = unpack_uint32(buf, pos + 8)
                start = pos + 12
            else:
                raise Decline(f"invalid VR at offset {pos}")
        else:
            group, element, length = unpack_implicit(buf, pos)
            vr = b""
            start = pos + 8
        if group > _LAST_WANTED_GROUP:
            tag = group << 16 | element
            if tag in PIXEL_TAGS:
                pixel = _pixel_header(buf, pos, explicit, tag)
                break
            if not jump_tried:
                # Nothing wanted lies between here and the pixel data: jump to it when the jump
                # verifies (its declared length ends the file), else keep walking.
                jump_tried = True
                pixel = _jump_to_pixel_data(buf, pos, explicit, total)
                if pixel is not None:
                    break
                if not complete:
                    limit = -1  # read more, then try the jump again
                    continue
            if group == 0xFFFE:
                raise Decline("item tag inside the dataset")
        elif group in _CHECKED_GROUPS:
            if group == 0x0002:
                raise Decline("file-meta tag inside the dataset")
            if length != UNDEFINED and (element >> 8 == 0 or (element & 0xFF) in PRIVATE_OFFSETS):
                end = start + length  # a vendor b-value, a mosaic's slice count, their creator
                if end > n:
                    if complete:
                        raise Decline("value beyond the end of the file")
                    limit = -1
                    continue
                raw[group << 16 | element] = (vr, buf[start:end])
        if length == UNDEFINED:
            if vr == b"UN" or (explicit and vr != b"SQ"):
                raise Decline("undefined length outside a sequence")
            if group << 16 | element in PRESENCE_TAGS:
                raw[group << 16 | element] = (b"SQ", b"")
            pos = _skip_sequence(buf, start, explicit, complete, 1)
            continue
        end = start + length
        tag = group << 16 | element
        if tag in _WANTED_TAGS:
            if tag in PRESENCE_TAGS:
                raw[tag] = (b"SQ", b"")
            elif end > n:
                if complete:
                    raise Decline("value beyond the end of the file")
                limit = -1
                continue
            else:
                raw[tag] = (vr, buf[start:end])
        pos = end
    return raw, pixel


def _jump_to_pixel_data(buf, pos, explicit, total):
    """The pixel data element found by byte search, if its header is consistent with the file."""
    found = buf.find(b"\xe0\x7f\x10\x00", pos)
    while found != -1:
        header = _pixel_header(buf, found, explicit, 0x7FE00010)
        _, length, value_offset = header
        if explicit and buf[found + 4:found + 6] not in (b"OB", b"OW"):
            header = None
        elif length == UNDEFINED:
            if buf[value_offset:value_offset + 4] != b"\xfe\xff\x00\xe0":
                header = None
        elif length is None or value_offset + length != total:
            header = None
        if header is not None:
            return header
        found = buf.find(b"\xe0\x7f\x10\x00", found + 1)
    return None


def _element(buf, pos, explicit, raw, complete, meta=False, depth=0):
    """Walk one element at ``pos``; store it if wanted; return the position after it."""
    n = len(buf)
    if pos + 8 > n:
        raise Decline("truncated") if complete else NeedMore
    tag = (buf[pos] | buf[pos + 1] << 8) << 16 | buf[pos + 2] | buf[pos + 3] << 8
    if explicit:
        vr = buf[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > n:
                raise Decline("truncated") if complete else NeedMore
            (length,) = struct.unpack_from("<I", buf, pos + 8)
            start = pos + 12
        elif vr in _VALID_VRS:
            (length,) = struct.unpack_from("<H", buf, pos + 6)
            start = pos + 8
        else:
            raise Decline(f"invalid VR at offset {pos}")
    else:
        vr = b""
        (length,) = struct.unpack_from("<I", buf, pos + 4)
        start = pos + 8
    if length == UNDEFINED:
        if meta or vr == b"UN" or depth >= MAX_NESTING or (explicit and vr != b"SQ"):
            raise Decline("undefined length outside a sequence")
        return _skip_sequence(buf, start, explicit, complete, depth + 1)
    end = start + length
    if depth == 0 and (tag in FIELDS or tag >> 16 in PRIVATE_GROUPS):
        if end > n:
            raise Decline("value beyond the end of the file") if complete else NeedMore
        raw[tag] = (vr, buf[start:end])
    return end


def _skip_sequence(buf, pos, explicit, complete, depth):
    """Skip an undefined-length sequence's items; return the position after its delimiter."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise Decline("sequence runs past the end") if complete else NeedMore
        tag = (buf[pos] | buf[pos + 1] << 8) << 16 | buf[pos + 2] | buf[pos + 3] << 8
        (length,) = struct.unpack_from("<I", buf, pos + 4)
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise Decline("unexpected tag inside a sequence")
        if length != UNDEFINED:
            pos += length
            continue
        while True:  # undefined-length item: elements until the item delimiter
            if pos + 8 > n:
                raise Decline("item runs past the end") if complete else NeedMore
            tag = (buf[pos] | buf[pos + 1] << 8) << 16 | buf[pos + 2] | buf[pos + 3] << 8
            if tag == _ITEM_END:
                pos += 8
                break
            pos = _element(buf, pos, explicit, {}, complete, depth=depth)


def _pixel_header(buf, pos, explicit, tag):
    n = len(buf)
    if explicit:
        vr = buf[pos + 4:pos + 6]
        if vr in _LONG_VRS or vr not in _VALID_VRS:
            if pos + 12 > n:
                return (tag, None, pos)
            (length,) = struct.unpack_from("<I", buf, pos + 8)
            return (tag, length, pos + 12)
        (length,) = struct.unpack_from("<H", buf, pos + 6)
        return (tag, length, pos + 8)
    if pos + 8 > n:
        return (tag, None, pos)
    (length,) = struct.unpack_from("<I", buf, pos + 4)
    return (tag, length, pos + 8)


def decode_raw(raw: dict[int, tuple[bytes, bytes]]) -> dict[str, Any]:
    """The field dict of the raw values :func:`walk_file` collected."""
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
    fields = FIELDS
    for tag, (vr, value) in raw.items():
        spec = fields.get(tag)
        if spec is None:
            continue
        key, kind, default_vr = spec
        if kind == "num":
            numbers = as_numbers(vr or default_vr, value)
            out[key] = numbers[0] if numbers else None
        elif kind == "nums":
            out[key] = as_numbers(vr or default_vr, value)
        elif kind == "uid":
            out[key] = value.rstrip(b"\x00 ").decode("latin-1", "replace").strip() or None
        elif encoding:  # an empty value is None, as the pydicom reader gives it
            out[key] = value.decode(encoding, "replace").strip("\x00 ").strip() or None
        else:
            out[key] = decode_text(value, encoding, encodings) or None
    if out.get("b_value") is None:
        out["b_value"] = _private_b_value(raw)
    # Only an image flagged MOSAIC can be one: others skip the private-block lookup.
    mosaic = "MOSAIC" in (out.get("image_type") or "").upper()
    out["mosaic_images"] = _private_mosaic_images(raw) if mosaic else None
    if out.get("sop_class_uid") is None and out.get("media_sop_class_uid"):
        out["sop_class_uid"] = out["media_sop_class_uid"]
    for tag, key in PRESENCE_TAGS.items():
        out[key] = tag in raw
    return out


def _private_b_value(raw):
    creators = [tag for tag in raw if tag >> 16 in PRIVATE_GROUPS and 0x10 <= tag & 0xFFFF < 0x100]
    for group, offset, creator, implicit_vr in PRIVATE_B_VALUES:
        for tag in creators:
            if tag >> 16 != group:
                continue
            block = tag & 0xFF
            if clean_text(raw[tag][1], "latin-1") == creator:
                value = raw.get(group << 16 | block << 8 | offset)
                if value is not None:
                    number = vendor_b_value(group, as_numbers(value[0] or implicit_vr, value[1]))
                    if number is not None:
                        return number
    return None


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


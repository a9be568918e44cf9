"""The fast path: a minimal DICOM element walker over the head of a file.

The scan is parser-bound, and a full ``pydicom.dcmread`` spends most of its time on elements the
scan never looks at (vendor private blocks, nested sequences). The walker handles implicit and
explicit VR little endian, the transfer syntaxes of nearly every MR archive, and explicit VR big
endian; it keeps the raw bytes of only the ~50 wanted tags (:mod:`mriseq.dicom.decode` turns them
into fields) and skips every other value by its length, which makes it several times faster.
Whatever it does not handle (deflate, invalid VRs, undefined-length UN, odd nesting, enhanced
multi-frame functional groups) it declines with :class:`Decline`, and the pydicom fallback
(:mod:`mriseq.dicom.fallback`) reads the file instead; a walk is never a guess.
"""

from __future__ import annotations

import struct

from mriseq.dicom.fields import (
    BIG_ENDIAN,
    BINARY,
    BINARY_SIZES,
    DEFLATED,
    ENHANCED_MR_CLASSES,
    FIELDS,
    IMPLICIT_LE,
    PIXEL_TAGS,
    PRESENCE_TAGS,
    PRIVATE_GROUPS,
    PRIVATE_OFFSETS,
    UNDEFINED,
)

MAX_NESTING = 32
_LAST_WANTED_GROUP = max(PRIVATE_GROUPS)
_EXPLICIT_HEADER = struct.Struct("<HHHH")  # group, element, VR as a number, short length
_IMPLICIT_HEADER = struct.Struct("<HHI")
_UINT32 = struct.Struct("<I")
_EXPLICIT_HEADER_BE, _UINT32_BE = struct.Struct(">HHHH"), struct.Struct(">I")
_WANTED_TAGS = frozenset(FIELDS) | frozenset(PRESENCE_TAGS)
_SOP_CLASS = 0x00080016
# Wanted tags whose raw value is kept as it is (not a presence-only sequence, not the SOP class).
_PLAIN_TAGS = _WANTED_TAGS - frozenset(PRESENCE_TAGS) - {_SOP_CLASS}
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_LONG_VRS = frozenset(
    {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV", b"SV", b"UV"}
)
_SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
     b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
_VALID_VRS = _LONG_VRS | _SHORT_VRS
# The VRs as the explicit header's third 16-bit number: a set of small ints hashes cheaper than
# one of 2-byte strings, once per element.
_SHORT_VR_CODES = frozenset(vr[0] | vr[1] << 8 for vr in _SHORT_VRS)
_LONG_VR_CODES = frozenset(vr[0] | vr[1] << 8 for vr in _LONG_VRS)
_VR_CODES = {"<": (_SHORT_VR_CODES, _LONG_VR_CODES),
             ">": (frozenset(vr[0] << 8 | vr[1] for vr in _SHORT_VRS),
                   frozenset(vr[0] << 8 | vr[1] for vr in _LONG_VRS))}
_ENHANCED_UIDS = frozenset(uid.encode() for uid in ENHANCED_MR_CLASSES)
# What the walk does with an element, by its group (one index per element instead of a chain of
# set lookups): _SKIP nothing but step over it (most groups); _STANDARD look its tag up among the
# wanted tags; _PRIVATE keep a vendor group's creators, b-value and mosaic elements; _BEYOND past
# the last wanted group, where only the pixel data is looked for; _META a file-meta tag inside
# the dataset, declined.
_SKIP, _STANDARD, _PRIVATE, _BEYOND, _META = range(5)
_GROUP_ACTION = bytearray(0x10000)
for _tag in _WANTED_TAGS:
    _GROUP_ACTION[_tag >> 16] = _STANDARD
for _group in PRIVATE_GROUPS:
    _GROUP_ACTION[_group] = _PRIVATE
_GROUP_ACTION[_LAST_WANTED_GROUP + 1:] = bytes([_BEYOND]) * (0xFFFF - _LAST_WANTED_GROUP)
_GROUP_ACTION[0x0002] = _META


class Decline(Exception):
    """The fast walker does not handle this file; pydicom takes over."""


class NeedMore(Exception):
    """The head buffer ended inside the header; read more of the file."""


class NotDicom(Exception):
    """Neither a DICOM preamble nor a DICOM element at the start: not worth a pydicom read."""


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
    pos = _file_meta(buf, pos, raw, complete)
    if not has_preamble and pos == 0:
        if n < 8:
            raise NotDicom("shorter than one data element and no DICOM preamble")
        group = buf[0] | buf[1] << 8
        if buf[0] << 8 | buf[1] in (0x0002, 0x0008):  # a big-endian dataset without file meta
            raise Decline("big endian without file meta")
        if group not in (0x0000, 0x0004, 0x0008):
            raise NotDicom("no DICM preamble and no DICOM element at the start")
    ts = raw.get(0x00020010, (b"", b""))[1].rstrip(b"\x00 ").decode("latin-1", "replace")
    if ts == DEFLATED:
        raise Decline("deflated dataset")
    if ts == IMPLICIT_LE:
        explicit = False
    elif ts:
        explicit = True
    else:  # no file meta: guess the way pydicom does, from whether a VR follows the first tag
        explicit = pos + 6 <= n and buf[pos + 4:pos + 6] in _VALID_VRS
    # Explicit VR big endian (retired, still in old archives) differs only in byte order.
    order = ">" if ts == BIG_ENDIAN else "<"
    pixel = None
    unpack_explicit = (_EXPLICIT_HEADER_BE if order == ">" else _EXPLICIT_HEADER).unpack_from
    unpack_implicit = _IMPLICIT_HEADER.unpack_from
    unpack_uint32 = (_UINT32_BE if order == ">" else _UINT32).unpack_from
    short_vrs, long_vrs = _VR_CODES[order]
    actions = _GROUP_ACTION
    wanted, plain = _WANTED_TAGS, _PLAIN_TAGS
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
        # The common elements leave the loop early: those of a group with nothing wanted
        # (action 0), the unwanted ones of a standard group (action 1) and, with a short VR, the
        # wanted ones kept as they are. The rest, rare, take the general path after this.
        if explicit:
            group, element, vr_code, length = unpack_explicit(buf, pos)
            if vr_code in short_vrs:  # a 16-bit length, never undefined
                start = pos + 8
                end = start + length
                action = actions[group]
                if not action:
                    pos = end
                    continue
                if action == 1:
                    tag = group << 16 | element
                    if tag not in wanted:
                        pos = end
                        continue
                    if end <= n and tag in plain:
                        raw[tag] = (buf[pos + 4:pos + 6], buf[start:end])
                        pos = end
                        continue
            elif vr_code in long_vrs:
                if pos + 12 > n:
                    raise Decline("truncated")
                (length,) = unpack_uint32(buf, pos + 8)
                start = pos + 12
                action = actions[group]
                if action < 2 and length != 0xFFFFFFFF and (
                        not action or group << 16 | element not in wanted):
                    pos = start + length
                    continue
            else:
                raise Decline(f"invalid VR at offset {pos}")
            vr = buf[pos + 4:pos + 6]
        else:
            group, element, length = unpack_implicit(buf, pos)
            start = pos + 8
            action = actions[group]
            if action < 2 and length != 0xFFFFFFFF and (
                    not action or group << 16 | element not in wanted):
                pos = start + length
                continue
            vr = b""
        if action == _BEYOND:
            tag = group << 16 | element
            if tag in PIXEL_TAGS:
                pixel = _pixel_header(buf, pos, explicit, tag, order)
                break
            if not jump_tried:
                # Nothing wanted lies between here and the pixel data: jump to it when the jump
                # verifies (its declared length ends the file), else keep walking.
                jump_tried = True
                pixel, refuted = _jump_to_pixel_data(buf, pos, explicit, total, order)
                if pixel is not None:
                    break
                if not complete and not refuted:
                    limit = -1  # the pixel data lies further on: read more, then jump again
                    continue
                # A pixel data tag here that fails the check (trailing elements follow it, or
                # it lies inside a value): walking on reaches the pixel data as pydicom does,
                # where reading on for the jump read a 6 MB file to its end.
            if group == 0xFFFE:
                raise Decline("item tag inside the dataset")
        elif action == _PRIVATE:
            if length != UNDEFINED and (element >> 8 == 0 or (element & 0xFF) in PRIVATE_OFFSETS):
                end = start + length  # a vendor b-value, a mosaic's slice count, their creator
                if end > n:
                    if complete:
                        raise Decline("value beyond the end of the file")
                    limit = -1
                    continue
                raw[group << 16 | element] = (vr, buf[start:end])
        elif action == _META:
            raise Decline("file-meta tag inside the dataset")
        if length == UNDEFINED:
            if vr == b"UN" or (explicit and vr != b"SQ"):
                raise Decline("undefined length outside a sequence")
            if group << 16 | element in PRESENCE_TAGS:
                raw[group << 16 | element] = (b"SQ", b"")
            pos = _skip_sequence(buf, start, explicit, complete, 1, order)
            continue
        end = start + length
        if action == _STANDARD:
            tag = group << 16 | element
            if tag in wanted:
                if tag in PRESENCE_TAGS:
                    raw[tag] = (b"SQ", b"")
                elif end > n:
                    if complete:
                        raise Decline("value beyond the end of the file")
                    limit = -1
                    continue
                else:
                    value = raw[tag] = (vr, buf[start:end])
                    if tag == _SOP_CLASS and value[1].rstrip(b"\x00 ") in _ENHANCED_UIDS:
                        # The reader declines enhanced MR after the walk (pydicom reads its
                        # functional groups): no need to walk the rest of a long header first.
                        raise Decline("enhanced multi-frame functional groups")
        pos = end
    if order == ">":
        _little_endian_values(raw)
        if pixel is not None and pixel[1] == UNDEFINED:
            raise Decline("encapsulated pixel data in a big-endian dataset")
    return raw, pixel


def _little_endian_values(raw) -> None:
    """Byte-swap a big-endian dataset's binary values in place, so that they decode as the
    little-endian ones do. A UN value's layout is unknown, so such a file is declined."""
    for tag, (vr, value) in raw.items():
        if vr == b"UN":
            raise Decline("a UN value in a big-endian dataset")
        code = BINARY.get(vr)
        if code is not None and tag >> 16 != 0x0002:
            count = len(value) // BINARY_SIZES[vr]
            items = struct.unpack_from(f">{count}{code[1]}", value)
            raw[tag] = (vr, struct.pack(f"<{count}{code[1]}", *items)
                        + value[count * BINARY_SIZES[vr]:])


def _file_meta(buf, pos, raw, complete) -> int:
    """Walk the file meta information (group 0002, always explicit VR little endian) from
    ``pos``, keep its wanted values, return the position after it."""
    n = len(buf)
    unpack = _EXPLICIT_HEADER.unpack_from
    while pos + 6 <= n and buf[pos] == 2 and buf[pos + 1] == 0:
        if pos + 12 <= n:  # the usual element is walked here, anything else by _element
            _, element, vr_code, length = unpack(buf, pos)
            start = 0
            if vr_code in _SHORT_VR_CODES:
                start = pos + 8
            elif vr_code in _LONG_VR_CODES:
                (length,) = _UINT32.unpack_from(buf, pos + 8)
                start = pos + 12
            if start and length != UNDEFINED and start + length <= n:
                if 0x00020000 | element in FIELDS:
                    raw[0x00020000 | element] = (buf[pos + 4:pos + 6], buf[start:start + length])
                pos = start + length
                continue
        pos = _element(buf, pos, True, raw, complete, meta=True)
    return pos


def _jump_to_pixel_data(buf, pos, explicit, total, order="<") -> tuple[tuple | None, bool]:
    """(the pixel data element found by byte search, if its header is consistent with the file,
    else None; whether the buffer holds a pixel data tag after ``pos`` that more of the file
    cannot make consistent)."""
    # A candidate counts as refuted only with its header and a first item tag in the buffer:
    # one nearer the end may yet verify when more of the file is read.
    last_refutable = len(buf) - (16 if explicit else 12)
    refuted = False
    pattern, item = (b"\x7f\xe0\x00\x10", b"\xff\xfe\xe0\x00") if order == ">" else (
        b"\xe0\x7f\x10\x00", b"\xfe\xff\x00\xe0")
    found = buf.find(pattern, pos)
    while found != -1:
        header = _pixel_header(buf, found, explicit, 0x7FE00010, order)
        _, length, value_offset = header
        if explicit and buf[found + 4:found + 6] not in (b"OB", b"OW"):
            header = None
        elif length == UNDEFINED:
            if buf[value_offset:value_offset + 4] != item:
                header = None
        elif length is None or value_offset + length != total:
            header = None
        if header is not None:
            return header, refuted
        refuted = refuted or found <= last_refutable
        found = buf.find(pattern, found + 1)
    return None, refuted


def _element(buf, pos, explicit, raw, complete, meta=False, depth=0, order="<"):
    """Walk one element at ``pos``; store it if wanted; return the position after it."""
    n = len(buf)
    if pos + 8 > n:
        raise Decline("truncated") if complete else NeedMore
    tag = _tag(buf, pos, order)
    if explicit:
        vr = buf[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > n:
                raise Decline("truncated") if complete else NeedMore
            (length,) = struct.unpack_from(order + "I", buf, pos + 8)
            start = pos + 12
        elif vr in _VALID_VRS:
            (length,) = struct.unpack_from(order + "H", buf, pos + 6)
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
        return _skip_sequence(buf, start, explicit, complete, depth + 1, order)
    end = start + length
    if depth == 0 and (tag in FIELDS or tag >> 16 in PRIVATE_GROUPS):
        if end > n:
            raise Decline("value beyond the end of the file") if complete else NeedMore
        raw[tag] = (vr, buf[start:end])
    return end


def _skip_sequence(buf, pos, explicit, complete, depth, order="<"):
    """Skip an undefined-length sequence's items; return the position after its delimiter."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise Decline("sequence runs past the end") if complete else NeedMore
        tag = _tag(buf, pos, order)
        (length,) = struct.unpack_from(order + "I", buf, pos + 4)
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
            if _tag(buf, pos, order) == _ITEM_END:
                pos += 8
                break
            pos = _element(buf, pos, explicit, {}, complete, depth=depth, order=order)


def _tag(buf, pos, order) -> int:
    group, element = struct.unpack_from(order + "HH", buf, pos)
    return group << 16 | element


def _pixel_header(buf, pos, explicit, tag, order="<"):
    n = len(buf)
    if explicit:
        vr = buf[pos + 4:pos + 6]
        if vr in _LONG_VRS or vr not in _VALID_VRS:
            if pos + 12 > n:
                return (tag, None, pos)
            (length,) = struct.unpack_from(order + "I", buf, pos + 8)
            return (tag, length, pos + 12)
        (length,) = struct.unpack_from(order + "H", buf, pos + 6)
        return (tag, length, pos + 8)
    if pos + 8 > n:
        return (tag, None, pos)
    (length,) = struct.unpack_from("<I", buf, pos + 4)
    return (tag, length, pos + 8)

"""Read the header fields mriseq needs from one DICOM file, fast, and never crash on bad input.

``read_header(path)`` returns ``HeaderResult``: either ``fields`` (a dict of plain Python values,
identifiers still raw: the caller pseudonymises them) or a ``reason`` code plus a one-line message.

Two readers share one validation step:

* a fast path: a minimal element walker over the file head (explicit/implicit VR little endian,
  the transfer syntaxes of nearly every MR archive). It decodes only the ~40 wanted tags and skips
  every other value by its length, so it is several times faster than ``pydicom.dcmread`` (the scan
  is parser-bound);
* a fallback: ``pydicom.dcmread(force=True, defer_size=...)`` for everything the walker declines
  (big endian, deflate, enhanced multi-frame functional groups, wrong VRs, undefined-length UN, odd
  nesting). Any exception there becomes a reject, never a crash.

A gzip-compressed file (``*.dcm.gz``) is inflated in memory and read the same way; its
``pixel_offset`` is -1, since offsets refer to the inflated stream and preprocessing inflates it
again.

Enhanced multi-frame MR (one file, many frames) is one row with ``n_frames`` = NumberOfFrames;
geometry and timing come from the shared functional groups (else the first frame's per-frame
groups), ``ImagePositionPatient`` from the first frame. The preprocess stage expands the frames.

A Siemens mosaic (EPI, DWI: one image holding a grid of slices, ImageType MOSAIC) is one row too;
``mosaic_images`` carries its slice count, NumberOfImagesInMosaic (0019,xx0A) in the Siemens
private block, and is 0 for every other image. The preprocess stage cuts the grid into its slices.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import stat
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import pydicom
import pydicom.charset
from pydicom import uid as dicom_uid

HEAD_BYTES = 32768  # most MR headers end well inside this; larger ones trigger a full read
MAX_FULL_READ = 64 * 1024 * 1024  # beyond this the fast path gives up and pydicom seeks instead
MAX_INFLATED = 256 * 1024 * 1024  # a gzip-compressed file inflating beyond this is rejected
MAX_NESTING = 32

# Reason codes of rejected files (written to rejects.parquet; documented in config/README.md).
REASONS = {
    "empty_file": "the file has zero bytes",
    "unreadable": "the file cannot be opened or read (permissions, I/O error)",
    "not_regular_file": "a FIFO, socket or device node",
    "broken_link": "a symbolic link whose target does not exist or loops",
    "directory_link": "a symbolic link to a directory (not followed, so a tree cannot loop)",
    "undecodable_name": "the path is not valid UTF-8 (cannot be carried in the Parquet tables)",
    "not_dicom": "no DICOM structure found",
    "parse_error": "a DICOM header that pydicom cannot parse",
    "dicomdir": "a DICOMDIR media directory, not an image",
    "non_image": "a non-image SOP class (report, presentation state, raw data, spectroscopy)",
    "no_pixel_data": "a DICOM object without pixel data",
    "not_mr": "Modality is not MR (or missing on a non-MR SOP class)",
    "missing_uid": "SOPInstanceUID or SeriesInstanceUID missing",
    "missing_dimensions": "Rows or Columns missing or zero",
    "implausible_size": "Rows x Columns x Frames above scan.max_pixels",
    "unsupported_pixel_format": "not a single-sample (greyscale) image or an unusual BitsAllocated",
    "unsupported_transfer_syntax": "a transfer syntax no installed decoder handles",
    "truncated": "the file ends before the declared pixel data does",
    "pixel_length_mismatch": "declared pixel data shorter than Rows x Columns x Frames",
    "duplicate_sop_instance": "a second file with an already seen SOPInstanceUID",
    "geometry_mismatch": "Rows/Columns differ from the rest of the series",
    "gzip_error": "a gzip-compressed file that cannot be inflated (corrupt, truncated, too large)",
    "blank_image": "preprocessing: no frame has contrast (all zero, constant or blanked pixels)",
    "reader_error": "an unexpected error inside a reader; the message carries the exception",
}

# Tags read by both paths: tag -> (key, kind, implicit-VR default). kind: text | uid | num | nums.
_FIELDS: dict[int, tuple[str, str, bytes]] = {
    0x00020002: ("media_sop_class_uid", "uid", b"UI"),
    0x00020010: ("transfer_syntax", "uid", b"UI"),
    0x00080005: ("charset", "text", b"CS"),
    0x00080008: ("image_type", "text", b"CS"),
    0x00080016: ("sop_class_uid", "uid", b"UI"),
    0x00080018: ("sop_instance_uid", "uid", b"UI"),
    0x00080060: ("modality", "text", b"CS"),
    0x00080070: ("manufacturer", "text", b"LO"),
    0x0008103E: ("series_description", "text", b"LO"),
    0x00100020: ("patient_id", "text", b"LO"),
    0x00180010: ("contrast_agent", "text", b"LO"),
    0x00180020: ("scanning_sequence", "text", b"CS"),
    0x00180021: ("sequence_variant", "text", b"CS"),
    0x00180022: ("scan_options", "text", b"CS"),
    0x00180050: ("slice_thickness", "num", b"DS"),
    0x00180088: ("spacing_between_slices", "num", b"DS"),
    0x00180080: ("repetition_time", "num", b"DS"),
    0x00180081: ("echo_time", "num", b"DS"),
    0x00180082: ("inversion_time", "num", b"DS"),
    0x00180087: ("field_strength", "num", b"DS"),
    0x00181164: ("imager_pixel_spacing", "nums", b"DS"),
    0x00180091: ("echo_train_length", "num", b"IS"),
    0x00181314: ("flip_angle", "num", b"DS"),
    0x00189087: ("b_value", "num", b"FD"),
    0x0020000D: ("study_instance_uid", "uid", b"UI"),
    0x0020000E: ("series_instance_uid", "uid", b"UI"),
    0x00200011: ("series_number", "num", b"IS"),
    0x00200013: ("instance_number", "num", b"IS"),
    0x00200032: ("ipp", "nums", b"DS"),
    0x00200037: ("iop", "nums", b"DS"),
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
# some software versions, adds 10^9 to it (taken off by ``_vendor_b_value``).
_PRIVATE_B_VALUES = ((0x0019, 0x0C, "SIEMENS MR HEADER", b"IS"),
                     (0x0043, 0x39, "GEMS_PARM_01", b"IS"),
                     (0x2001, 0x03, "Philips Imaging DD 001", b"FL"))
_GE_B_VALUE_OFFSET = 1_000_000_000
# Siemens mosaics: NumberOfImagesInMosaic (US) at (0019, block << 8 | 0x0A) of a Siemens creator's
# block; only images whose ImageType says MOSAIC are cut into slices.
_MOSAIC_GROUP, _MOSAIC_OFFSET = 0x0019, 0x0A
_MOSAIC_CREATORS = frozenset({"SIEMENS MR HEADER", "SIEMENS CSA HEADER"})
_PRIVATE_GROUPS = {group for group, _, _, _ in _PRIVATE_B_VALUES} | {_MOSAIC_GROUP}
_PRIVATE_OFFSETS = {offset for _, offset, _, _ in _PRIVATE_B_VALUES} | {_MOSAIC_OFFSET}
_LAST_WANTED_GROUP = max(_PRIVATE_GROUPS)
_CHECKED_GROUPS = _PRIVATE_GROUPS | {0x0002}  # per-element checks only in these groups
_EXPLICIT_HEADER = struct.Struct("<HH2sH")
_IMPLICIT_HEADER = struct.Struct("<HHI")
_UINT32 = struct.Struct("<I")

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_DIRECTORY_RECORDS = 0x00041220
# Sequences whose presence, not content, matters: a DICOMDIR's records; a Modality LUT (the
# preprocess stage then lets pydicom apply it instead of reading the pixels directly).
_PRESENCE_TAGS = {_DIRECTORY_RECORDS: "dicomdir", 0x00283000: "modality_lut"}
_WANTED_TAGS = frozenset(_FIELDS) | frozenset(_PRESENCE_TAGS)
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset(
    {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV", b"SV", b"UV"}
)
_SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
     b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
_VALID_VRS = _LONG_VRS | _SHORT_VRS
_BINARY = {b"US": "<H", b"SS": "<h", b"UL": "<I", b"SL": "<l", b"FL": "<f", b"FD": "<d"}
_BINARY_SIZES = {vr: struct.calcsize(fmt) for vr, fmt in _BINARY.items()}
_SIMPLE_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1",
                    "ISO_IR 192": "utf-8"}

_GZIP_MAGIC = b"\x1f\x8b"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = "1.2.840.10008.1.2.1.99"
# Transfer syntaxes the preprocess stage can decode (pydicom native + pylibjpeg + gdcm).
DECODABLE_TRANSFER_SYNTAXES = frozenset(
    str(ts)
    for group in (
        dicom_uid.UncompressedTransferSyntaxes,
        dicom_uid.JPEGTransferSyntaxes,
        dicom_uid.JPEGLSTransferSyntaxes,
        dicom_uid.JPEG2000TransferSyntaxes,
        dicom_uid.RLETransferSyntaxes,
    )
    for ts in group
)
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_MR_CLASSES = {"1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1",
               "1.2.840.10008.5.1.4.1.1.4.4"}
# Enhanced / legacy-converted enhanced MR keep geometry in functional groups: pydicom reads them.
ENHANCED_MR_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.4.4"})
# SOP class prefixes of objects that never hold an image: SR, presentation states, raw data, MR
# spectroscopy, waveforms, encapsulated documents, key objects.
_NON_IMAGE_CLASSES = ("1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.11.",
                      "1.2.840.10008.5.1.4.1.1.66", "1.2.840.10008.5.1.4.1.1.4.2",
                      "1.2.840.10008.5.1.4.1.1.9.", "1.2.840.10008.5.1.4.1.1.104.")


class _Decline(Exception):
    """The fast walker does not handle this file; pydicom takes over."""


class _NeedMore(Exception):
    """The head buffer ended inside the header; read more of the file."""


@dataclass
class HeaderResult:
    fields: dict[str, Any] | None = None
    reason: str | None = None
    message: str = ""
    reader: str = "fast"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason is None


def reject(reason: str, message: str, reader: str = "") -> HeaderResult:
    return HeaderResult(reason=reason, message=message, reader=reader)


# ----------------------------------------------------------------------------------------------
# Entry point


def read_header(path: str | os.PathLike, max_pixels: int = 1 << 24) -> HeaderResult:
    """Header fields of one file, or a reject. Never raises for anything the file contains."""
    try:
        st = os.stat(path)
    except OSError as error:
        if os.path.islink(path):
            return reject("broken_link", f"symbolic link target unavailable: {error.strerror}")
        return reject("unreadable", f"cannot stat: {error.strerror or error}")
    if stat.S_ISDIR(st.st_mode):
        return reject("directory_link", "symbolic link to a directory; not followed")
    if not stat.S_ISREG(st.st_mode):
        return reject("not_regular_file", "not a regular file")
    size = st.st_size
    if size == 0:
        return reject("empty_file", "zero bytes")
    gzipped = False
    try:
        # Unbuffered: the head is one read() call and no 8 KB buffer is allocated per file.
        with open(path, "rb", buffering=0) as handle:
            buf = handle.read(HEAD_BYTES)
            if buf[:2] == _GZIP_MAGIC:
                # Gzip-compressed DICOM (*.dcm.gz, as some toolkits ship test data) is read from
                # its inflated bytes; preprocessing inflates it again (pixel_offset -1).
                handle.seek(0)
                inflated = _inflate(handle)
                if isinstance(inflated, HeaderResult):
                    return inflated
                gzipped, size = True, len(inflated)
                result = _read_opened(io.BytesIO(inflated), inflated, size,
                                      lambda: io.BytesIO(inflated))
            else:
                # The fallback gets a handle of its own: pydicom may close what it is given, and
                # the fragment check still reads through ``handle``.
                result = _read_opened(handle, buf, size, lambda: open(path, "rb"))
    except OSError as error:
        return reject("unreadable", f"cannot read: {error.strerror or error}")
    if isinstance(result, HeaderResult):
        return result
    fields, pixel, reader = result
    validated = _validate(fields, pixel, size, max_pixels, reader)
    if gzipped and validated.ok:
        validated.fields["pixel_offset"] = validated.fields["pixel_length"] = -1
    return validated


def _inflate(handle) -> bytes | HeaderResult:
    """The inflated bytes of a gzip stream, or a ``gzip_error`` reject."""
    try:
        with gzip.GzipFile(fileobj=handle) as stream:
            data = stream.read(MAX_INFLATED + 1)
    except (OSError, EOFError, zlib.error) as error:
        return reject("gzip_error", one_line(f"gzip stream cannot be inflated: {error}"), "gzip")
    if len(data) > MAX_INFLATED:
        return reject("gzip_error", f"inflates to more than {MAX_INFLATED >> 20} MB", "gzip")
    if not data:
        return reject("empty_file", "gzip stream of zero bytes", "gzip")
    return data


def _read_opened(handle, buf: bytes, size: int, reopen):
    """(fields, pixel, reader) of an open file whose head ``buf`` has been read, or a reject.
    ``reopen()`` gives pydicom a fresh handle on the same bytes."""

    def read_more(head: bytes) -> bytes:
        # Double the head rather than read the rest: the pixel data that follows a long
        # header is not needed, and reads of >= 128 KB cost a fresh mmap (~100 us) each.
        if len(head) >= MAX_FULL_READ:
            raise _Decline("header larger than the full-read limit")
        more = handle.read(len(head))
        if not more:
            raise _Decline("file shorter than its size")
        return head + more

    try:
        try:
            raw, pixel = _walk_file(buf, size, read_more)
        except _NeedMore:  # inside a sequence at the buffer's end: walk the whole file
            if size > MAX_FULL_READ:
                raise _Decline("header larger than the full-read limit") from None
            handle.seek(0)
            raw, pixel = _walk_file(handle.read(), size)
        fields = _decode_fast(raw)
        if fields.get("sop_class_uid") in ENHANCED_MR_CLASSES:
            raise _Decline("enhanced multi-frame functional groups")
        reader = "fast"
    except _NotDicom as error:
        return reject("not_dicom", str(error), "fast")
    except (_Decline, _NeedMore, struct.error):
        with reopen() as fallback:
            result = _read_with_pydicom(fallback, size)
        if isinstance(result, HeaderResult):
            return result
        fields, pixel = result
        reader = "pydicom"
    if pixel is not None and pixel[1] == _UNDEFINED:
        if not _fragments_complete(handle, pixel[2], size):
            pixel = (pixel[0], None, pixel[2])
    return fields, pixel, reader



class _NotDicom(Exception):
    pass


def _fragments_complete(handle, offset: int, size: int, limit: int = 1_000_000) -> bool:
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
        if tag != _ITEM or length == _UNDEFINED:
            return False
        pos += 8 + length
    return False


# ----------------------------------------------------------------------------------------------
# Fast path: a minimal element walker


def _walk_file(buf: bytes, total: int, read_more=None
               ) -> tuple[dict[int, tuple[bytes, bytes]], tuple | None]:
    """Wanted raw values {tag: (vr, bytes)} and pixel data (tag, length, value offset) or None.

    ``buf`` is the head of a file of ``total`` bytes (the whole file when equal). When the walk
    reaches the end of a partial head, ``read_more(buf)`` (if given) returns a longer head and the
    walk resumes where it stopped (re-walking from the start cost ~30 % of a Siemens file's scan);
    without it, or inside a sequence, ``_NeedMore`` is raised.
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
            raise _NotDicom("shorter than one data element and no DICOM preamble")
        group = buf[0] | buf[1] << 8
        if buf[0] << 8 | buf[1] in (0x0002, 0x0008):  # a big-endian dataset without file meta
            raise _Decline("big endian without file meta")
        if group not in (0x0000, 0x0004, 0x0008):
            raise _NotDicom("no DICM preamble and no DICOM element at the start")
    ts = raw.get(0x00020010, (b"", b""))[1].rstrip(b"\x00 ").decode("latin-1", "replace")
    if ts in (_BIG_ENDIAN, _DEFLATED):
        raise _Decline("big endian or deflated dataset")
    if ts == _IMPLICIT_LE:
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
                    raise _NeedMore
                buf = read_more(buf)
                n = len(buf)
                complete, limit, jump_tried = n >= total, n - 12, False
                continue
            if pos >= n:
                break
            if pos + 8 > n:
                raise _Decline("file ends inside an element header")
        if explicit:
            group, element, vr, length = unpack_explicit(buf, pos)
            if vr in _SHORT_VRS:
                start = pos + 8
            elif vr in _LONG_VRS:
                if pos + 12 > n:
                    raise _Decline("truncated")
                (length,) = unpack_uint32(buf, pos + 8)
                start = pos + 12
            else:
                raise _Decline(f"invalid VR at offset {pos}")
        else:
            group, element, length = unpack_implicit(buf, pos)
            vr = b""
            start = pos + 8
        if group > _LAST_WANTED_GROUP:
            tag = group << 16 | element
            if tag in _PIXEL_TAGS:
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
                raise _Decline("item tag inside the dataset")
        elif group in _CHECKED_GROUPS:
            if group == 0x0002:
                raise _Decline("file-meta tag inside the dataset")
            if length != _UNDEFINED and (element >> 8 == 0 or (element & 0xFF) in _PRIVATE_OFFSETS):
                end = start + length  # a vendor b-value, a mosaic's slice count, their creator
                if end > n:
                    if complete:
                        raise _Decline("value beyond the end of the file")
                    limit = -1
                    continue
                raw[group << 16 | element] = (vr, buf[start:end])
        if length == _UNDEFINED:
            if vr == b"UN" or (explicit and vr != b"SQ"):
                raise _Decline("undefined length outside a sequence")
            if group << 16 | element in _PRESENCE_TAGS:
                raw[group << 16 | element] = (b"SQ", b"")
            pos = _skip_sequence(buf, start, explicit, complete, 1)
            continue
        end = start + length
        tag = group << 16 | element
        if tag in _WANTED_TAGS:
            if tag in _PRESENCE_TAGS:
                raw[tag] = (b"SQ", b"")
            elif end > n:
                if complete:
                    raise _Decline("value beyond the end of the file")
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
        elif length == _UNDEFINED:
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
        raise _Decline("truncated") if complete else _NeedMore
    tag = (buf[pos] | buf[pos + 1] << 8) << 16 | buf[pos + 2] | buf[pos + 3] << 8
    if explicit:
        vr = buf[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > n:
                raise _Decline("truncated") if complete else _NeedMore
            (length,) = struct.unpack_from("<I", buf, pos + 8)
            start = pos + 12
        elif vr in _VALID_VRS:
            (length,) = struct.unpack_from("<H", buf, pos + 6)
            start = pos + 8
        else:
            raise _Decline(f"invalid VR at offset {pos}")
    else:
        vr = b""
        (length,) = struct.unpack_from("<I", buf, pos + 4)
        start = pos + 8
    if length == _UNDEFINED:
        if meta or vr == b"UN" or depth >= MAX_NESTING or (explicit and vr != b"SQ"):
            raise _Decline("undefined length outside a sequence")
        return _skip_sequence(buf, start, explicit, complete, depth + 1)
    end = start + length
    if depth == 0 and (tag in _FIELDS or tag >> 16 in _PRIVATE_GROUPS):
        if end > n:
            raise _Decline("value beyond the end of the file") if complete else _NeedMore
        raw[tag] = (vr, buf[start:end])
    return end


def _skip_sequence(buf, pos, explicit, complete, depth):
    """Skip an undefined-length sequence's items; return the position after its delimiter."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _Decline("sequence runs past the end") if complete else _NeedMore
        tag = (buf[pos] | buf[pos + 1] << 8) << 16 | buf[pos + 2] | buf[pos + 3] << 8
        (length,) = struct.unpack_from("<I", buf, pos + 4)
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Decline("unexpected tag inside a sequence")
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # undefined-length item: elements until the item delimiter
            if pos + 8 > n:
                raise _Decline("item runs past the end") if complete else _NeedMore
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


def _decode_fast(raw: dict[int, tuple[bytes, bytes]]) -> dict[str, Any]:
    charset_raw = raw.get(0x00080005)
    charset = _text(charset_raw[1], "latin-1") if charset_raw else ""
    encoding = _SIMPLE_CHARSETS.get(charset.split("\\")[0].strip() if charset else "")
    encodings = None if encoding else pydicom.charset.convert_encodings(charset.split("\\"))
    out: dict[str, Any] = {}
    fields = _FIELDS
    for tag, (vr, value) in raw.items():
        spec = fields.get(tag)
        if spec is None:
            continue
        key, kind, default_vr = spec
        if kind == "num":
            numbers = _numbers(vr or default_vr, value)
            out[key] = numbers[0] if numbers else None
        elif kind == "nums":
            out[key] = _numbers(vr or default_vr, value)
        elif kind == "uid":
            out[key] = value.rstrip(b"\x00 ").decode("latin-1", "replace").strip() or None
        elif encoding:
            out[key] = value.decode(encoding, "replace").strip("\x00 ").strip()
        else:
            out[key] = _decode_text(value, encoding, encodings)
    if out.get("b_value") is None:
        out["b_value"] = _private_b_value(raw)
    # Only an image flagged MOSAIC can be one: others skip the private-block lookup.
    mosaic = "MOSAIC" in (out.get("image_type") or "").upper()
    out["mosaic_images"] = _private_mosaic_images(raw) if mosaic else None
    if out.get("sop_class_uid") is None and out.get("media_sop_class_uid"):
        out["sop_class_uid"] = out["media_sop_class_uid"]
    for tag, key in _PRESENCE_TAGS.items():
        out[key] = tag in raw
    return out


def _private_b_value(raw):
    creators = [tag for tag in raw if tag >> 16 in _PRIVATE_GROUPS and 0x10 <= tag & 0xFFFF < 0x100]
    for group, offset, creator, implicit_vr in _PRIVATE_B_VALUES:
        for tag in creators:
            if tag >> 16 != group:
                continue
            block = tag & 0xFF
            if _text(raw[tag][1], "latin-1") == creator:
                value = raw.get(group << 16 | block << 8 | offset)
                if value is not None:
                    number = _vendor_b_value(group, _numbers(value[0] or implicit_vr, value[1]))
                    if number is not None:
                        return number
    return None


def _private_mosaic_images(raw) -> float | None:
    """NumberOfImagesInMosaic from the block of a Siemens creator in group 0019, or None."""
    for tag, (_, value) in raw.items():
        if tag >> 16 != _MOSAIC_GROUP or not 0x10 <= tag & 0xFFFF < 0x100:
            continue
        if _text(value, "latin-1") not in _MOSAIC_CREATORS:
            continue
        element = raw.get(_MOSAIC_GROUP << 16 | (tag & 0xFF) << 8 | _MOSAIC_OFFSET)
        if element is not None:
            vr = element[0] if element[0] not in (b"", b"UN") else b"US"  # Siemens writes US
            numbers = _numbers(vr, element[1])
            if numbers:
                return numbers[0]
    return None


def mosaic_images(image_type: str | None, count, rows: int, columns: int, frames: int) -> int:
    """Slices held by a Siemens mosaic: ``count`` (NumberOfImagesInMosaic) when ImageType says
    MOSAIC and the ``ceil(sqrt(count))``-square grid fits the single frame, else 0 (not a mosaic,
    or a count that cannot describe this image)."""
    n = _as_int(count)
    if not n or n < 1 or frames != 1 or not image_type:
        return 0
    if "MOSAIC" not in {value.strip().upper() for value in str(image_type).split("\\")}:
        return 0
    grid = mosaic_grid(n)
    return n if grid <= rows and grid <= columns else 0


def mosaic_grid(n: int) -> int:
    """Tiles per side of a mosaic of ``n`` slices: ``ceil(sqrt(n))``, exactly."""
    side = math.isqrt(n)
    return side if side * side == n else side + 1


def dataset_mosaic_images(ds) -> int:
    """:func:`mosaic_images` of a pydicom dataset (0 when it is not a Siemens mosaic)."""
    try:
        rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        return 0
    image_type = _normalise(_safe_value(ds, 0x00080008), "text")
    return mosaic_images(image_type, _private_mosaic_images_ds(ds), rows, columns, frames)


def _vendor_b_value(group: int, numbers) -> float | None:
    """The b-value among a private element's numbers (its first), GE's 10^9 offset removed."""
    if not numbers or not math.isfinite(numbers[0]):
        return None
    value = numbers[0]
    if group == 0x0043 and value >= _GE_B_VALUE_OFFSET:
        value = value % _GE_B_VALUE_OFFSET
    return value


def _text(value: bytes, encoding: str) -> str:
    return value.decode(encoding, "replace").strip("\x00 ").strip()


def _decode_text(value, encoding, encodings):
    if encoding:
        return _text(value, encoding)
    try:
        return pydicom.charset.decode_bytes(value, encodings, set()).strip("\x00 ").strip()
    except Exception:  # an odd character set never stops the scan
        return _text(value, "latin-1")


def _numbers(vr: bytes, value: bytes) -> list[float]:
    fmt = _BINARY.get(vr)
    if fmt is not None:
        size = _BINARY_SIZES[vr]
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


# ----------------------------------------------------------------------------------------------
# Fallback: pydicom


def _read_with_pydicom(handle, size):
    """(fields, pixel) read by pydicom, or a reject; every exception becomes ``parse_error``."""
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(handle, force=True, defer_size=1024)
            fields = _fields_from_dataset(ds)
            pixel = None
            for tag in _PIXEL_TAGS:
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


def _fields_from_dataset(ds) -> dict[str, Any]:
    out: dict[str, Any] = {"_elements": len(ds) > 0}
    meta = getattr(ds, "file_meta", None)
    for tag, (key, kind, _) in _FIELDS.items():
        source = meta if tag >> 16 == 0x0002 else ds
        value = _safe_value(source, tag)
        out[key] = _normalise(value, kind)
    if meta is not None and out.get("transfer_syntax") is None:
        out["transfer_syntax"] = None
    if out.get("sop_class_uid") is None and out.get("media_sop_class_uid"):
        out["sop_class_uid"] = out["media_sop_class_uid"]
    for tag, key in _PRESENCE_TAGS.items():
        out[key] = tag in ds
    if 0x52009229 in ds or 0x52009230 in ds:
        _enhanced_fields(ds, out)
    if out.get("b_value") is None:
        out["b_value"] = _private_b_value_ds(ds)
    mosaic = "MOSAIC" in (out.get("image_type") or "").upper()
    out["mosaic_images"] = _private_mosaic_images_ds(ds) if mosaic else None
    return out


def _safe_value(source, tag):
    if source is None:
        return None
    try:
        elem = source.get(tag)
        return None if elem is None else elem.value
    except Exception:
        return None


def _normalise(value, kind):
    if value is None or value == "" or value == b"":
        return [] if kind == "nums" else None
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    if kind in ("num", "nums"):
        items = list(value) if _is_multi(value) else [value]
        numbers = []
        for item in items:
            try:
                numbers.append(float(item))
            except (TypeError, ValueError):
                numbers.append(float("nan"))
        return numbers if kind == "nums" else (numbers[0] if numbers else None)
    if _is_multi(value):
        return "\\".join(str(v) for v in value).strip() or None
    text = str(value).strip("\x00 ").strip()
    return text or None


def _is_multi(value):
    return isinstance(value, list | tuple) or type(value).__name__ == "MultiValue"


def _first_item(ds, *keywords):
    """Walk nested single-item sequences by keyword; None when any step is missing."""
    node = ds
    for keyword in keywords:
        try:
            seq = node.get(keyword)
            if not seq:
                return None
            node = seq[0]
        except Exception:
            return None
    return node


def _enhanced_fields(ds, out):
    """Geometry and timing of enhanced multi-frame MR from its functional groups."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        orientation = _first_item(ds, groups, "PlaneOrientationSequence")
        if orientation is not None and not out.get("iop"):
            out["iop"] = _normalise(orientation.get("ImageOrientationPatient"), "nums")
        position = _first_item(ds, groups, "PlanePositionSequence")
        if position is not None and not out.get("ipp"):
            out["ipp"] = _normalise(position.get("ImagePositionPatient"), "nums")
        measures = _first_item(ds, groups, "PixelMeasuresSequence")
        if measures is not None:
            if not out.get("pixel_spacing"):
                out["pixel_spacing"] = _normalise(measures.get("PixelSpacing"), "nums")
            if out.get("slice_thickness") is None:
                out["slice_thickness"] = _normalise(measures.get("SliceThickness"), "num")
            if out.get("spacing_between_slices") is None:
                out["spacing_between_slices"] = _normalise(
                    measures.get("SpacingBetweenSlices"), "num")
        timing = _first_item(ds, groups, "MRTimingAndRelatedParametersSequence")
        if timing is not None:
            if out.get("repetition_time") is None:
                out["repetition_time"] = _normalise(timing.get("RepetitionTime"), "num")
            if out.get("flip_angle") is None:
                out["flip_angle"] = _normalise(timing.get("FlipAngle"), "num")
            if out.get("echo_train_length") is None:
                out["echo_train_length"] = _normalise(timing.get("EchoTrainLength"), "num")
        echo = _first_item(ds, groups, "MREchoSequence")
        if echo is not None and out.get("echo_time") is None:
            out["echo_time"] = _normalise(echo.get("EffectiveEchoTime"), "num")
        diffusion = _first_item(ds, groups, "MRDiffusionSequence")
        if diffusion is not None and out.get("b_value") is None:
            out["b_value"] = _normalise(diffusion.get("DiffusionBValue"), "num")


def _private_b_value_ds(ds):
    for group, offset, creator, implicit_vr in _PRIVATE_B_VALUES:
        try:
            elem = ds.private_block(group, creator)[offset]
            value = elem.value
        except Exception:
            continue
        if isinstance(value, bytes):  # VR UN (creator unknown to pydicom's dictionary)
            numbers = _numbers(implicit_vr, value)
        else:
            numbers = _normalise(value, "nums")
        number = _vendor_b_value(group, numbers)
        if number is not None:
            return number
    return None


def _private_mosaic_images_ds(ds) -> float | None:
    for creator in sorted(_MOSAIC_CREATORS):
        try:
            value = ds.private_block(_MOSAIC_GROUP, creator)[_MOSAIC_OFFSET].value
        except Exception:
            continue
        if isinstance(value, bytes):  # VR UN (creator unknown to pydicom's dictionary)
            numbers = _numbers(b"US", value)
        else:
            numbers = _normalise(value, "nums")
        if numbers:
            return numbers[0]
    return None


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------------------------
# Validation shared by both readers


def _validate(fields, pixel, size, max_pixels, reader) -> HeaderResult:
    sop_class = fields.get("sop_class_uid") or ""
    if fields.get("dicomdir") or fields.get("media_sop_class_uid") == _DICOMDIR_CLASS:
        return reject("dicomdir", "DICOMDIR media directory", reader)
    if sop_class.startswith(_NON_IMAGE_CLASSES):
        return reject("non_image", f"non-image SOP class {sop_class}", reader)
    if pixel is None:
        if not any(fields.get(k) for k in ("sop_class_uid", "sop_instance_uid", "modality")):
            return reject("not_dicom", "no SOP class, SOP instance or modality", reader)
        return reject("no_pixel_data", "no PixelData element", reader)
    modality = (fields.get("modality") or "").upper()
    if modality != "MR" and not (not modality and sop_class in _MR_CLASSES):
        return reject("not_mr", f"Modality {modality or 'missing'!r}", reader)
    if not fields.get("sop_instance_uid") or not fields.get("series_instance_uid"):
        return reject("missing_uid", "SOPInstanceUID or SeriesInstanceUID missing", reader)
    rows, columns = _as_int(fields.get("rows")), _as_int(fields.get("columns"))
    frames = _as_int(fields.get("n_frames")) or 1
    if not rows or not columns or rows < 0 or columns < 0 or frames < 1:
        return reject("missing_dimensions", f"Rows {rows}, Columns {columns}", reader)
    if rows * columns * frames > max_pixels:
        return reject("implausible_size",
                      f"{rows} x {columns} x {frames} exceeds scan.max_pixels {max_pixels}", reader)
    samples = _as_int(fields.get("samples_per_pixel")) or 1
    bits = _as_int(fields.get("bits_allocated")) or 16
    if samples != 1 or bits not in (1, 8, 16, 32, 64):
        return reject("unsupported_pixel_format",
                      f"SamplesPerPixel {samples}, BitsAllocated {bits}", reader)
    ts = fields.get("transfer_syntax") or (_IMPLICIT_LE if reader == "fast" else None)
    if ts and ts not in DECODABLE_TRANSFER_SYNTAXES:
        return reject("unsupported_transfer_syntax", f"transfer syntax {ts!r}", reader)
    tag, length, value_offset = pixel
    if ts == _DEFLATED:  # offsets refer to the inflated stream; pydicom has read it whole
        length = _UNDEFINED if length is None else length
        size = max(size, value_offset + (0 if length == _UNDEFINED else length))
    if length is None:
        return reject("truncated", "file ends inside the pixel data", reader)
    if length == _UNDEFINED:
        if value_offset + 8 > size:
            return reject("truncated", "encapsulated pixel data has no fragments", reader)
    else:
        if value_offset + length > size:
            return reject("truncated",
                          f"pixel data declares {length} bytes, {size - value_offset} present",
                          reader)
        if tag == 0x7FE00010:
            expected = (rows * columns * frames * bits + 7) // 8
            if length < expected:
                return reject("pixel_length_mismatch",
                              f"pixel data {length} bytes, {rows}x{columns}x{frames} needs "
                              f"{expected}", reader)
    fields = dict(fields)
    fields["rows"], fields["columns"], fields["n_frames"] = rows, columns, frames
    fields["mosaic_images"] = mosaic_images(fields.get("image_type"), fields.get("mosaic_images"),
                                            rows, columns, frames)
    fields["transfer_syntax"] = ts
    # Where the native pixels lie, so that preprocessing reads them without parsing the header
    # again; -1 where the stream must go through a decoder (encapsulated, float, deflated).
    native = tag == 0x7FE00010 and length != _UNDEFINED and ts != _DEFLATED
    fields["pixel_offset"] = value_offset if native else -1
    fields["pixel_length"] = length if native else -1
    fields.pop("_elements", None)
    return HeaderResult(fields=fields, reader=reader)


def _as_int(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number:  # NaN
        return None
    return int(number)

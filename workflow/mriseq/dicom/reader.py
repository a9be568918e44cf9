"""The scan's header reader: open one file, walk it fast, fall back to pydicom, validate.

``read_header(path)`` returns :class:`~mriseq.dicom.reasons.HeaderResult`: either ``fields`` (a
dict of plain Python values, identifiers still raw: the caller pseudonymises them) or a
``reason`` code plus a one-line message. It never raises for anything a file contains, so one
odd file cannot fail a shard.

The head of the file is read once and handed to the fast walker (:mod:`mriseq.dicom.walker`);
what the walker declines is read by pydicom (:mod:`mriseq.dicom.fallback`), and both results go
through the same validation (:mod:`mriseq.dicom.validate`).

A gzip-compressed file (``*.dcm.gz``) is inflated in memory and read the same way; its
``pixel_offset`` is -1, since offsets refer to the inflated stream and preprocessing inflates it
again.

Enhanced multi-frame MR (one file, many frames) is one row with ``n_frames`` = NumberOfFrames;
pydicom reads it, and geometry and timing come from its first frame's functional groups
(per-frame over shared, :mod:`mriseq.geometry`). The preprocess stage expands the frames.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import zlib

from mriseq.dicom.decode import decode_raw
from mriseq.dicom.fallback import read_with_pydicom
from mriseq.dicom.fields import ENHANCED_MR_CLASSES, UNDEFINED
from mriseq.dicom.reasons import HeaderResult, one_line, reject
from mriseq.dicom.validate import validate_fields
from mriseq.dicom.walker import (
    Decline,
    NeedMore,
    NotDicom,
    walk_file,
)

HEAD_BYTES = 32768  # most MR headers end well inside this; larger ones trigger a full read
MAX_FULL_READ = 64 * 1024 * 1024  # beyond this the fast path gives up and pydicom seeks instead
MAX_INFLATED = 256 * 1024 * 1024  # a gzip-compressed file inflating beyond this is rejected
GZIP_MAGIC = b"\x1f\x8b"
_ITEM, _SEQ_END = 0xFFFEE000, 0xFFFEE0DD  # item and sequence delimitation tags


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
            if buf[:2] == GZIP_MAGIC:
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
    validated = validate_fields(fields, pixel, size, max_pixels, reader)
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
            raise Decline("header larger than the full-read limit")
        more = handle.read(len(head))
        if not more:
            raise Decline("file shorter than its size")
        return head + more

    try:
        try:
            raw, pixel = walk_file(buf, size, read_more)
        except NeedMore:  # inside a sequence at the buffer's end: walk the whole file
            if size > MAX_FULL_READ:
                raise Decline("header larger than the full-read limit") from None
            handle.seek(0)
            raw, pixel = walk_file(handle.read(), size)
        fields = decode_raw(raw)
        if fields.get("sop_class_uid") in ENHANCED_MR_CLASSES:
            raise Decline("enhanced multi-frame functional groups")
        reader = "fast"
    except NotDicom as error:
        return reject("not_dicom", str(error), "fast")
    except (Decline, NeedMore, struct.error):
        with reopen() as fallback:
            result = read_with_pydicom(fallback, size)
        if isinstance(result, HeaderResult):
            return result
        fields, pixel = result
        reader = "pydicom"
    if pixel is not None and pixel[1] == UNDEFINED:
        if not fragments_complete(handle, pixel[2], size):
            pixel = (pixel[0], None, pixel[2])
    return fields, pixel, reader


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

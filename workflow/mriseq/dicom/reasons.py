"""Why a file is rejected: the reason codes and the result type every reader returns.

The codes are the vocabulary of ``rejects.parquet`` (documented in config/README.md) for the scan
and the preprocess stage alike, so they live apart from any one reader. A reader never raises for
what a file contains: it returns a :class:`HeaderResult` holding either the fields or a reason
code plus a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

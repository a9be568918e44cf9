"""The checks both readers' fields go through, and the Siemens mosaic rule.

One validation step after either reader keeps the reject reasons independent of which reader took
a file: a file is an MR image with UIDs, dimensions, a greyscale pixel format, a transfer syntax
the preprocess stage can decode and pixel data that fits in the file, or it is rejected with the
first reason that applies. What passes also records where its native pixels lie, so that
preprocessing can read them without parsing the header again.

A Siemens mosaic (EPI, DWI: one image holding a grid of slices, ImageType MOSAIC) is one row;
``mosaic_images`` carries its slice count, NumberOfImagesInMosaic in the Siemens private block,
and is 0 for every other image. The same rule decides for the decoder
(:func:`dataset_mosaic_images`), so that scan and preprocessing agree on which files are mosaics.
"""

from __future__ import annotations

import math

from pydicom import uid as dicom_uid

from mriseq.dicom.fallback import private_mosaic_images_ds, safe_value
from mriseq.dicom.fields import DEFLATED, IMPLICIT_LE, UNDEFINED, as_int, normalise
from mriseq.dicom.reasons import HeaderResult, reject

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
# SOP class prefixes of objects that never hold an image: SR, presentation states, raw data, MR
# spectroscopy, waveforms, encapsulated documents, key objects.
_NON_IMAGE_CLASSES = ("1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.11.",
                      "1.2.840.10008.5.1.4.1.1.66", "1.2.840.10008.5.1.4.1.1.4.2",
                      "1.2.840.10008.5.1.4.1.1.9.", "1.2.840.10008.5.1.4.1.1.104.")


def validate_fields(fields, pixel, size, max_pixels, reader) -> HeaderResult:
    """The fields of a readable image, completed (dimensions, mosaic slices, where the native
    pixels lie), or the first reject that applies. ``pixel`` is (tag, declared length, value
    offset) of the pixel data element, or None; ``size`` the file's size in bytes."""
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
    rows, columns = as_int(fields.get("rows")), as_int(fields.get("columns"))
    frames = as_int(fields.get("n_frames")) or 1
    if not rows or not columns or rows < 0 or columns < 0 or frames < 1:
        return reject("missing_dimensions", f"Rows {rows}, Columns {columns}", reader)
    if rows * columns * frames > max_pixels:
        return reject("implausible_size",
                      f"{rows} x {columns} x {frames} exceeds scan.max_pixels {max_pixels}", reader)
    samples = as_int(fields.get("samples_per_pixel")) or 1
    bits = as_int(fields.get("bits_allocated")) or 16
    if samples != 1 or bits not in (1, 8, 16, 32, 64):
        return reject("unsupported_pixel_format",
                      f"SamplesPerPixel {samples}, BitsAllocated {bits}", reader)
    ts = fields.get("transfer_syntax") or (IMPLICIT_LE if reader == "fast" else None)
    if ts and ts not in DECODABLE_TRANSFER_SYNTAXES:
        return reject("unsupported_transfer_syntax", f"transfer syntax {ts!r}", reader)
    tag, length, value_offset = pixel
    if ts == DEFLATED:  # offsets refer to the inflated stream; pydicom has read it whole
        length = UNDEFINED if length is None else length
        size = max(size, value_offset + (0 if length == UNDEFINED else length))
    if length is None:
        return reject("truncated", "file ends inside the pixel data", reader)
    if length == UNDEFINED:
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
    native = tag == 0x7FE00010 and length != UNDEFINED and ts != DEFLATED
    fields["pixel_offset"] = value_offset if native else -1
    fields["pixel_length"] = length if native else -1
    fields.pop("_elements", None)
    return HeaderResult(fields=fields, reader=reader)



# ----------------------------------------------------------------------------------------------
# Siemens mosaics


def mosaic_images(image_type: str | None, count, rows: int, columns: int, frames: int) -> int:
    """Slices held by a Siemens mosaic: ``count`` (NumberOfImagesInMosaic) when ImageType says
    MOSAIC and the ``ceil(sqrt(count))``-square grid fits the single frame, else 0 (not a mosaic,
    or a count that cannot describe this image)."""
    n = as_int(count)
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
    image_type = normalise(safe_value(ds, 0x00080008), "text")
    return mosaic_images(image_type, private_mosaic_images_ds(ds), rows, columns, frames)


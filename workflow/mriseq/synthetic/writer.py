"""Real Part-10 DICOM files for the synthetic series (pydicom), and the deliberately broken ones."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.tag import Tag
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    SecondaryCaptureImageStorage,
)

from mriseq.synthetic.vendors import private_b_value_tags

IMPLEMENTATION_UID = "1.2.826.0.1.3680043.10.1234.1"  # mriseq synthetic generator
IMPLEMENTATION_VERSION = "MRISEQ_SYN_1"


def uid(rng: np.random.Generator) -> str:
    """A random UUID-derived UID (2.25.<128-bit integer>), reproducible from ``rng``."""
    return "2.25." + str(int.from_bytes(rng.bytes(16), "big") >> 1)


def new_dataset(sop_class: str, transfer_syntax: str) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    return ds


def set_pixels(ds: Dataset, pixels: np.ndarray, bits_stored: int = 16) -> None:
    pixels = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<"))
    ds.Rows, ds.Columns = (int(v) for v in pixels.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = min(bits_stored, ds.BitsAllocated)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()


def write(ds: Dataset, path: Path, sop_instance_uid: str) -> None:
    ds.SOPInstanceUID = sop_instance_uid
    ds.file_meta.MediaStorageSOPInstanceUID = sop_instance_uid
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


# Elements that change from file to file inside a series; every other element is encoded once.
_PER_FILE = frozenset(
    Tag(k) for k in ("SOPInstanceUID", "InstanceNumber", "ImagePositionPatient", "SliceLocation",
                     "AcquisitionNumber", "ContentTime", "AcquisitionTime", "WindowCenter",
                     "WindowWidth", "PixelData", "Rows", "Columns", "PixelSpacing", "BitsStored",
                     "HighBit", "DiffusionBValue", "SequenceName")
) | frozenset(Tag(t) for t in private_b_value_tags())  # a DWI file's b-value


class SeriesWriter:
    """Writes the files of one series from a template dataset, encoding the elements that are
    the same for every file only once (pydicom's per-element encoding dominates write time).
    The output is a standard Part-10 file: preamble, ``DICM``, File Meta group, data set."""

    def __init__(self, ds: Dataset, part10: bool = True):
        self.ds = ds
        # part10=False: a bare implicit-VR data set without preamble and File Meta group, as
        # some old archives hold (readers need force=True).
        self.part10 = part10
        ts = ds.file_meta.TransferSyntaxUID
        self.implicit = ts == ImplicitVRLittleEndian
        self.encoder = None
        if ts.is_compressed:
            from pydicom.pixels import get_encoder

            self.encoder = get_encoder(ts)
        self._cache: dict = {}

    def _fp(self) -> DicomBytesIO:
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = self.implicit
        return fp

    def write(self, path: Path, sop_instance_uid: str, pixels: np.ndarray) -> None:
        ds = self.ds
        ds.SOPInstanceUID = sop_instance_uid
        ds.file_meta.MediaStorageSOPInstanceUID = sop_instance_uid
        set_pixels(ds, pixels, ds.get("BitsStored", 16))
        ds["PixelData"].VR = "OW" if pixels.dtype.itemsize > 1 else "OB"
        if self.encoder is not None:
            from pydicom.encaps import encapsulate

            frame = self.encoder.encode(
                pixels, rows=ds.Rows, columns=ds.Columns, samples_per_pixel=1,
                bits_allocated=ds.BitsAllocated, bits_stored=ds.BitsStored,
                pixel_representation=0, photometric_interpretation="MONOCHROME2",
                number_of_frames=1)
            ds.PixelData = encapsulate([frame])
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
        parts = []
        if self.part10:
            meta = self._fp()
            write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
            parts = [b"\0" * 128, b"DICM", meta.getvalue()]
        for elem in ds:  # iteration is in tag order
            if elem.tag in _PER_FILE:
                fp = self._fp()
                write_data_element(fp, elem)
                parts.append(fp.getvalue())
                continue
            cached = self._cache.get(elem.tag)
            if cached is None:
                fp = self._fp()
                write_data_element(fp, elem)
                cached = self._cache[elem.tag] = fp.getvalue()
            parts.append(cached)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(parts))


def transfer_syntax(vendor: str, rng: np.random.Generator) -> str:
    """Mostly uncompressed explicit VR; older GE archives often implicit VR; a few series
    compressed losslessly (RLE everywhere, JPEG 2000 in Canon exports). Encoding costs 20–60 ms
    per image, so compression stays rare."""
    roll = rng.random()
    if roll < 0.05:
        return RLELossless
    if vendor == "canon" and roll < 0.12:
        return JPEG2000Lossless
    if vendor == "ge" and roll < 0.5:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian


def secondary_capture(rng: np.random.Generator, header: dict) -> Dataset:
    """A non-MR object (a screen capture of a report) inside an MR study."""
    ds = new_dataset(SecondaryCaptureImageStorage, ExplicitVRLittleEndian)
    for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                "StudyDate", "StudyTime", "AccessionNumber", "StudyID"):
        setattr(ds, key, header[key])
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.SeriesInstanceUID = uid(rng)
    ds.SeriesNumber = 999
    ds.SeriesDescription = "Dose Report"
    ds.InstanceNumber = 1
    set_pixels(ds, (rng.random((64, 96)) * 255).astype(np.uint8), 8)
    return ds


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG preview (what PACS exports leave next to DICOM files): not DICOM."""
    from PIL import Image

    img = image.astype(np.float32)
    img = (255 * img / max(float(img.max()), 1.0)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()

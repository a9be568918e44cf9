"""A corpus of malformed and unusual files, each with the outcome the scan must produce.

``build_corpus(root)`` writes one patient-like directory per kind under ``root`` and returns
``{relative path: expected}`` where expected is ``"ok"`` (a valid files row) or a reject reason
code. Kinds that depend on the platform (an unreadable file when running as root) say so.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pydicom
import pydicom.fileset
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    RLELossless,
    generate_uid,
)

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"

# Identifiers written into every corpus file; the privacy test looks for them in the outputs.
PATIENT_NAME = "Hostile^Harriet^Q"
PATIENT_ID = "HOSTILE-4711-ID"
PATIENT_BIRTH_DATE = "19551231"


def part10_dataset(sop_class_uid=MRImageStorage, transfer_syntax=ExplicitVRLittleEndian) -> Dataset:
    """An empty dataset with File Meta, SOP Class and a fresh SOP Instance UID (shared by the
    test and benchmark file writers)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class_uid, meta.MediaStorageSOPInstanceUID
    return ds


def mr_dataset(rows: int = 16, columns: int = 16, series_uid: str | None = None,
               instance: int = 1, iop=(1, 0, 0, 0, 1, 0), **overrides) -> Dataset:
    """A realistic MR image: vendor tags, private blocks, a sequence, 16-bit pixels."""
    ds = part10_dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.StudyDate = "20240102"
    ds.Modality = "MR"
    ds.Manufacturer = "SIEMENS"
    ds.InstitutionName = "Hostile General Hospital"
    ds.SeriesDescription = "t2_haste_tra_mbh"
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = PATIENT_BIRTH_DATE
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = ["SK", "SP"]
    ds.ScanOptions = "PFP"
    ds.SliceThickness = "6"
    ds.RepetitionTime = "1400"
    ds.EchoTime = "92"
    ds.MagneticFieldStrength = "1.5"
    ds.EchoTrainLength = "128"
    ds.FlipAngle = "160"
    ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x08, "CS", "IMAGE NUM 4")
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = "5"
    ds.InstanceNumber = str(instance)
    ds.ImagePositionPatient = [-180.0, -150.0, 6.0 * instance]
    ds.ImageOrientationPatient = list(iop)
    ref = Dataset()
    ref.ReferencedSOPClassUID = MRImageStorage
    ref.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedImageSequence = Sequence([ref])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.PixelSpacing = [1.4, 1.4]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", b"\x01" * 600)
    ds.PixelData = (np.arange(rows * columns, dtype=np.uint16) % 4096).tobytes()
    for keyword, value in overrides.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return ds


def save(ds: Dataset, path: Path, implicit: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


def _nested(depth: int) -> Dataset:
    item = Dataset()
    item.CodeValue = "X"
    for _ in range(depth):
        outer = Dataset()
        outer.ContentSequence = Sequence([item])
        item = outer
    return item


def _enhanced(path: Path) -> None:
    ds = mr_dataset(ImageOrientationPatient=None, ImagePositionPatient=None, PixelSpacing=None,
                    SliceThickness=None, EchoTime=None, RepetitionTime=None, FlipAngle=None)
    ds.SOPClassUID = ENHANCED_MR
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_MR
    ds.NumberOfFrames = 3
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # coronal
    shared.PlaneOrientationSequence = Sequence([orient])
    measures = Dataset()
    measures.PixelSpacing = [1.2, 1.2]
    measures.SliceThickness = 4
    shared.PixelMeasuresSequence = Sequence([measures])
    timing = Dataset()
    timing.RepetitionTime = 4.2
    timing.FlipAngle = 12
    shared.MRTimingAndRelatedParametersSequence = Sequence([timing])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k in range(3):
        frame = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [-150.0, 10.0 * k, 100.0]
        frame.PlanePositionSequence = Sequence([position])
        echo = Dataset()
        echo.EffectiveEchoTime = 1.9
        frame.MREchoSequence = Sequence([echo])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.zeros((3, 16, 16), np.uint16).tobytes()
    save(ds, path)


def _big_endian(path: Path) -> None:
    ds = mr_dataset()
    ds.PixelData = np.frombuffer(ds.PixelData, np.uint16).byteswap().tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, little_endian=False, implicit_vr=False, enforce_file_format=True)


def _raw_element_file(path: Path, patch) -> None:
    """Write a valid file, then patch its bytes (for wrong VRs and bad lengths)."""
    save(mr_dataset(), path)
    data = bytearray(path.read_bytes())
    patch(data)
    path.write_bytes(bytes(data))


def _wrong_vr(data: bytearray) -> None:
    # EchoTime (0018,0081) DS -> an unknown VR 'ZZ': the fast walker declines, pydicom copes.
    at = data.find(struct.pack("<HH", 0x0018, 0x0081) + b"DS")
    data[at + 4:at + 6] = b"ZZ"


def _short_pixels(data: bytearray) -> None:
    # Declare (and keep) only half the pixel bytes: length consistent with file, too short.
    at = data.rfind(struct.pack("<HH", 0x7FE0, 0x0010) + b"OW")
    (length,) = struct.unpack_from("<I", data, at + 8)
    struct.pack_into("<I", data, at + 8, length // 2)
    del data[at + 12 + length // 2:]


def build_corpus(root: Path) -> dict[str, str]:
    """Write the corpus under ``root``; return {relative path: expected outcome}."""
    root = Path(root)
    expected: dict[str, str] = {}

    def put(rel: str, outcome: str) -> Path:
        expected[rel] = outcome
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    save(mr_dataset(), put("p01_valid/explicit.dcm", "ok"))
    save(mr_dataset(), put("p02_implicit/implicit.dcm", "ok"), implicit=True)
    # No preamble, no file meta: the bare dataset as many archives hold it.
    raw = mr_dataset()
    path = put("p03_no_preamble/IM0001", "ok")
    del raw.file_meta
    raw.preamble = None
    pydicom.dcmwrite(path, raw, implicit_vr=True, little_endian=True)
    put("p04_empty/empty.dcm", "empty_file").write_bytes(b"")
    save(mr_dataset(rows=64, columns=64), put("p05_truncated/cut.dcm", "truncated"))
    cut = root / "p05_truncated/cut.dcm"
    cut.write_bytes(cut.read_bytes()[:-3000])
    put("p06_text/readme.txt", "not_dicom").write_text("not a DICOM file\n" * 20)
    put("p06_text/junk.bin", "not_dicom").write_bytes(np.random.default_rng(0).bytes(5000))
    no_pixels = mr_dataset(PixelData=None)
    save(no_pixels, put("p07_no_pixels/header_only.dcm", "no_pixel_data"))
    ct = mr_dataset(Modality="CT", SOPClassUID=CT_IMAGE)
    ct.file_meta.MediaStorageSOPClassUID = CT_IMAGE
    save(ct, put("p08_ct/ct.dcm", "not_mr"))
    fs = pydicom.fileset.FileSet()
    fs.add(mr_dataset(StudyTime="101500", StudyID="1"))
    dicomdir_root = root / "p09_dicomdir"
    fs.write(dicomdir_root)
    for path in sorted(dicomdir_root.rglob("*")):
        if path.is_file():
            rel = str(path.relative_to(root))
            expected[rel] = "dicomdir" if path.name == "DICOMDIR" else "ok"
    sr = mr_dataset(PixelData=None, Modality="SR", SOPClassUID=BASIC_TEXT_SR, Rows=None,
                    Columns=None)
    sr.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    save(sr, put("p10_sr/report.dcm", "non_image"))
    _raw_element_file(put("p11_wrong_vr/wrong_vr.dcm", "ok"), _wrong_vr)
    undefined = mr_dataset()
    undefined.ReferencedImageSequence.is_undefined_length = True
    undefined.ReferencedImageSequence[0].is_undefined_length_sequence_item = True
    save(undefined, put("p12_undefined_length/undef.dcm", "ok"), implicit=True)
    huge = mr_dataset(rows=16, columns=16, Rows=65535, Columns=65535)
    save(huge, put("p13_huge/huge.dcm", "implausible_size"))
    nested = mr_dataset()
    nested.ContentSequence = Sequence([_nested(60)])
    save(nested, put("p14_nested/deep.dcm", "ok"))
    bad_ts = mr_dataset()
    bad_ts.file_meta.TransferSyntaxUID = "1.2.3.4.5.6.7"
    path = put("p15_bad_transfer_syntax/bad_ts.dcm", "unsupported_transfer_syntax")
    bad_ts.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=True)
    rle = mr_dataset(rows=32, columns=32)
    rle.compress(RLELossless)
    save(rle, put("p16_compressed/rle.dcm", "ok"))
    _big_endian(put("p17_big_endian/be.dcm", "ok"))
    deflated = mr_dataset()
    deflated.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    save(deflated, put("p18_deflated/deflated.dcm", "ok"))
    loop_dir = root / "p19_links"
    loop_dir.mkdir(parents=True)
    os.symlink("self_loop", loop_dir / "self_loop")
    expected["p19_links/self_loop"] = "broken_link"
    os.symlink("..", loop_dir / "up")
    expected["p19_links/up"] = "directory_link"
    os.symlink("missing.dcm", loop_dir / "dangling")
    expected["p19_links/dangling"] = "broken_link"
    path = put("p20_unreadable/locked.dcm", "unreadable" if os.geteuid() != 0 else "ok")
    save(mr_dataset(), path)
    path.chmod(0)
    name = os.fsdecode(b"p21_names/caf\xe9.dcm")
    save(mr_dataset(), root / name)
    expected[name] = "undecodable_name"
    save(mr_dataset(SpecificCharacterSet="ISO_IR 144", SeriesDescription="Т2 аксиал"),
         put("p22_charset/cyrillic.dcm", "ok"))
    save(mr_dataset(SpecificCharacterSet="ISO 2022 IR 999"), put("p22_charset/bogus.dcm", "ok"))
    save(mr_dataset(ImageOrientationPatient=None, ImagePositionPatient=None, EchoTime=None,
                    RepetitionTime=None, SeriesDescription=None, PixelSpacing=None,
                    Manufacturer=None, PatientID=None, StudyInstanceUID=None),
         put("p23_sparse/minimal.dcm", "ok"))
    _enhanced(put("p24_enhanced/multiframe.dcm", "ok"))
    series = generate_uid()
    twin = mr_dataset(series_uid=series, instance=1)
    save(twin, put("p25_duplicates/a.dcm", "ok"))
    save(twin, put("p25_duplicates/b.dcm", "duplicate_sop_instance"))
    series = generate_uid()
    for k in range(3):
        save(mr_dataset(series_uid=series, instance=k + 1), put(f"p26_geometry/{k}.dcm", "ok"))
    save(mr_dataset(rows=20, columns=16, series_uid=series, instance=9),
         put("p26_geometry/odd.dcm", "geometry_mismatch"))
    _raw_element_file(put("p27_short_pixels/short.dcm", "pixel_length_mismatch"), _short_pixels)
    color = mr_dataset(SamplesPerPixel=3, PhotometricInterpretation="RGB", PlanarConfiguration=0)
    color.PixelData = np.zeros((16, 16, 3), np.uint16).tobytes()
    save(color, put("p28_color/rgb.dcm", "unsupported_pixel_format"))
    save(mr_dataset(SeriesInstanceUID=None), put("p29_no_uid/no_series.dcm", "missing_uid"))
    os.mkfifo(put("p30_fifo/pipe", "not_regular_file"))
    big_header = mr_dataset()
    big_header.private_block(0x0019, "SIEMENS MR HEADER").add_new(0x50, "OB", b"\x02" * 70000)
    save(big_header, put("p31_big_header/csa.dcm", "ok"))
    ge = mr_dataset(Manufacturer="GE MEDICAL SYSTEMS")
    ge.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(0x39, "IS",
                                                                    ["800", "8", "0", "0"])
    save(ge, put("p32_ge_bvalue/dwi.dcm", "ok"))
    save(mr_dataset(), put("p33_no_extension/IMAGE", "ok"))
    return expected

"""Scan throughput on a realistic cohort vs a naive single-process pydicom loop (make bench-scan).

Builds (once, cached under /tmp) a cohort of >= 20,000 MR files, then times, in the same run and on
the same warm page cache:
  naive: for every file pydicom.dcmread(path, stop_before_pixels=True, force=True), one process;
  scan:  mriseq.scan.manifests.scan_shard over the whole cohort (listing, header reads in scan.workers
         processes, pseudonymisation, QC checks and the Parquet writes included).

The cohort (what one file looks like; pydicom takes 0.4-1 ms per real file):
  * six series templates in vendor style, built with the synthetic generator's own header code
    (mriseq.synthetic.writer.new_dataset / SeriesWriter, mriseq.synthetic.vendors):
    Siemens 256² and 192² (DWI, b-value in SIEMENS MR HEADER), GE 256² implicit VR and 128²,
    Philips 256², Canon 192²; all uncompressed 16-bit, 1 frame;
  * 106-108 standard top-level elements (patient / study / series / equipment / MR acquisition /
    image pixel modules, window, procedure-step and request attributes) including 4 sequences:
    ReferencedImageSequence (3 items, undefined length as Siemens writes it),
    ProcedureCodeSequence with a nested code sequence, RequestAttributesSequence and
    ReferencedPerformedProcedureStepSequence;
  * vendor private blocks, 11-98 private elements per file: Siemens CSA image header (0029,1010 OB,
    10 KB, "SV10" layout) and CSA series header (0029,1020 OB, 24 KB, with an ASCII
    MrPhoenixProtocol), SIEMENS MR HEADER (0019,xx / 0051,xx); GE GEMS_IDEN/ACQU/RELA/IMAG/PARM
    blocks with a 4 KB OB table and the b-value in (0043,xx39); Philips 2001/2005 blocks with a
    private per-frame sequence (2005,xx0F) and an 8 KB OB; Canon 0029/700D blocks with a 6 KB OB;
  * headers (up to the pixel data) of 8.5 KB (GE, Canon) to 38 KB (Siemens: beyond the scan's
    32 KB first read), files of 41-170 KB; 117-204 top-level elements in all;
  * 40 files per series (fresh SOP/series UIDs, instance numbers and slice positions per file),
    8 series per patient directory.
The cache is keyed by COHORT_VERSION and the file count: a changed template rebuilds the cohort.
Then the real-DICOM corpus (``tests/realcorpus``: every file, kept or rejected, the list repeated
to at least --real-files), timed in the same run three ways: mriseq's header reader
(``mriseq.scan.manifests.scan_file``, one process and --workers processes), the naive full
``pydicom.dcmread(stop_before_pixels=True)`` loop, and ``pydicom.dcmread(specific_tags=...)``
restricted to the tags the scan reads (pydicom's own way of reading less).
Usage: python tests/benchmarks/bench_scan.py [--files N] [--workers W] [--root DIR]
       [--real-files N] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mriseq.scan.manifests import scan_shard  # noqa: E402
from mriseq.synthetic import vendors  # noqa: E402
from mriseq.synthetic import writer as synthetic_writer  # noqa: E402

COHORT_VERSION = 3  # bump when a template changes: the cached cohort is rebuilt
PER_SERIES = 40
SERIES_PER_PATIENT = 8
# (vendor, matrix, transfer syntax, family, b-value)
TEMPLATES = (
    ("siemens", 256, ExplicitVRLittleEndian, "fse", None),
    ("ge", 256, ImplicitVRLittleEndian, "ssfse", None),
    ("philips", 256, ExplicitVRLittleEndian, "vibe", None),
    ("siemens", 192, ExplicitVRLittleEndian, "dwi", 800.0),
    ("ge", 128, ExplicitVRLittleEndian, "dual", None),
    ("canon", 192, ExplicitVRLittleEndian, "fse", None),
)


def _filler(rng: np.random.Generator, size: int) -> bytes:
    return rng.integers(0, 256, size, dtype=np.uint8).tobytes()


def _csa(rng: np.random.Generator, size: int, protocol: bool = False) -> bytes:
    """A Siemens-CSA-like blob: SV10 magic, tag records with names, then padding / ASCII text."""
    head = b"SV10\x04\x03\x02\x01" + (90).to_bytes(4, "little") + b"M\x00\x00\x00"
    names = (b"EchoLinePosition", b"ProtocolSliceNumber", b"SliceNormalVector", b"B_value",
             b"BandwidthPerPixelPhaseEncode", b"MosaicRefAcqTimes", b"ImaAbsTablePosition",
             b"RealDwellTime")
    records = b"".join(name.ljust(64, b"\x00") + b"\x01\x00\x00\x00FD\x00\x00" + bytes(12)
                       for name in names)
    body = head + records
    if protocol:
        lines = [f"sKSpace.lBaseResolution\t = {256 + i % 3}\n"
                 f"sRXSPEC.alDwellTime[{i}]\t = {i * 7}\n" for i in range(400)]
        body += b"### ASCCONV BEGIN ###\n" + "".join(lines).encode() + b"### ASCCONV END ###\n"
    return (body + _filler(rng, max(0, size - len(body))))[:size]


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _private(ds: Dataset, group: int, creator: str, elements: list[tuple[int, str, object]]):
    block = ds.private_block(group, creator, create=True)
    for offset, vr, value in elements:
        block.add_new(offset, vr, value)


def _vendor_private(ds: Dataset, vendor: str, rng: np.random.Generator, b_value) -> None:
    if vendor == "siemens":
        _private(ds, 0x0019, "SIEMENS MR HEADER", [
            (0x08, "CS", "IMAGE NUM 4"), (0x09, "LO", "1.0"), (0x0B, "DS", "40"),
            (0x0C, "IS", str(int(b_value or 0))), (0x0D, "CS", "DIRECTIONAL"),
            (0x0F, "SH", "FAST"), (0x11, "SH", "No"), (0x12, "SL", [0, 0, 1200]),
            (0x13, "SL", [0, 0, 1200]), (0x14, "IS", ["0", "0", "0"]),
            (0x15, "FD", [0.0, 0.0, 1.0]),
            (0x17, "DS", "1"), (0x18, "DS", "3900"), (0x27, "FD", [0.0] * 6),
            (0x28, "FD", 25.5), (0x29, "FD", [0.0, 72.5, 145.0, 217.5]),
        ])
        _private(ds, 0x0029, "SIEMENS CSA HEADER", [
            (0x08, "CS", "IMAGE NUM 4"), (0x09, "LO", "20240101"),
            (0x10, "OB", _csa(rng, 10_240)), (0x18, "CS", "MR"), (0x19, "LO", "20240101"),
            (0x20, "OB", _csa(rng, 24_576, protocol=True)),
        ])
        _private(ds, 0x0051, "SIEMENS MR HEADER", [
            (0x08, "CS", "IMAGE NUM 4"), (0x09, "LO", "1.0"), (0x0A, "LO", "TA 00.18"),
            (0x0B, "SH", "256p*256"), (0x0C, "LO", "FoV 380*380"), (0x0E, "LO", "Tra"),
            (0x0F, "LO", "BO1,2;SP3-5"), (0x11, "LO", "p2"), (0x12, "SH", "TP 0"),
            (0x13, "SH", "+LPH"), (0x16, "LO", "p2 M/ND/NORM"), (0x17, "SH", "6.0"),
            (0x19, "LO", "A1/PFP/FS"),
        ])
    elif vendor == "ge":
        _private(ds, 0x0009, "GEMS_IDEN_01", [
            (0x01, "LO", "GE_GENESIS_FF"), (0x02, "SH", "MR1"), (0x04, "SH", "MRS1"),
            (0x27, "SL", 1700000000), (0xE3, "UI", "1.2.840.113619.2.1.1")])
        _private(ds, 0x0019, "GEMS_ACQU_01", [
            (i, vr, v) for i, (vr, v) in enumerate([
                ("SS", 1), ("SL", 11), ("DS", "380"), ("DS", "12.5"), ("SS", 0), ("SS", 2),
                ("DS", "-120.3"), ("SS", 16), ("LO", "ssfse"), ("DS", "0.0"), ("SS", 1),
                ("SS", 256), ("SS", 192), ("SS", 0), ("DS", "62.5"), ("DS", "1"), ("SS", 5),
                ("SS", 3), ("DS", "127.7"), ("SL", 1), ("SS", 0), ("DS", "4.4"),
                ("DS", "20"), ("SS", 8), ("DS", "0.5"), ("SS", 128), ("SS", 2), ("SS", 1),
            ], start=0x10)])
        _private(ds, 0x0021, "GEMS_RELA_01", [
            (0x03, "SS", 1), (0x35, "SS", 1), (0x36, "SS", 0), (0x37, "SS", 12),
            (0x4F, "SS", 24), (0x50, "SS", 0), (0x51, "DS", "0"), (0x52, "DS", "0"),
            (0x53, "DS", "0"), (0x56, "SL", 0), (0x57, "SL", 0), (0x58, "SL", 0),
            (0x59, "SL", 0), (0x5A, "SL", 0), (0x5B, "DS", "0"), (0x5C, "DS", "0"),
            (0x5D, "DS", "0"), (0x5E, "DS", "0"), (0x5F, "DS", "0")])
        _private(ds, 0x0027, "GEMS_IMAG_01", [
            (0x06, "SL", 1), (0x10, "SS", 5), (0x30, "SH", "ssfse"), (0x31, "SS", 0),
            (0x32, "SS", 1), (0x33, "UL", 0), (0x35, "SS", 1), (0x40, "SH", "I"),
            (0x41, "FL", -120.3), (0x60, "FL", 380.0), (0x61, "FL", 380.0)])
        _private(ds, 0x0043, "GEMS_PARM_01", [
            (0x01, "SS", 0), (0x02, "SS", 0), (0x06, "SS", 0), (0x07, "SS", 0),
            (0x08, "SS", 0), (0x0A, "SS", 1), (0x0B, "DS", "0.0"), (0x0C, "DS", "0.0"),
            (0x0D, "DS", "0.0"), (0x0E, "DS", "0.0"), (0x10, "US", 0), (0x11, "US", 1),
            (0x12, "SS", [3, 0, 0]), (0x13, "SS", [0, 0, 0, 0, 0]), (0x14, "SS", [0, 0, 0]),
            (0x1C, "SS", 0), (0x1D, "SS", 0), (0x1E, "DS", "0"), (0x1F, "SL", 0),
            (0x20, "DS", "0"), (0x21, "SS", 0), (0x29, "OB", _filler(rng, 4096)),
            (0x2A, "OB", _filler(rng, 600)), (0x2C, "SS", 0), (0x2D, "SH", "0"),
            (0x2F, "SS", 0), (0x30, "SS", 0), (0x32, "SS", 1), (0x39, "IS",
            [str(int(b_value or 0)), "0", "0", "0"]), (0x6F, "DS", ["0", "0", "0", "0"]),
        ])
    elif vendor == "philips":
        _private(ds, 0x2001, "Philips Imaging DD 001", [
            (0x01, "FL", 0.0), (0x02, "FL", 0.0), (0x03, "FL", 0.0), (0x08, "IS", "1"),
            (0x09, "FL", 0.0), (0x0A, "IS", "12"), (0x0B, "CS", "TRANSVERSAL"),
            (0x10, "CS", "NO"), (0x11, "FL", 0.0), (0x12, "CS", "Y"), (0x13, "SL", 1),
            (0x14, "SL", 1), (0x16, "SL", 0), (0x17, "SL", 1), (0x18, "SL", 24),
            (0x1A, "FL", [0.0, 0.0, 0.0]), (0x1B, "FL", [0.0, 0.0, 0.0]), (0x1C, "CS", "N"),
            (0x1D, "LO", "T1W_mDixon"), (0x21, "CS", "N"), (0x22, "FL", 0.0), (0x23, "DS", "12"),
            (0x24, "CS", "N"), (0x25, "SH", "0"), (0x5F, "SQ", Sequence([_code("1", "P", "x")])),
            (0x60, "SL", 24), (0x61, "CS", "N"), (0x62, "CS", "N"), (0x63, "CS", "NO"),
            (0x6B, "CS", "ORIGINAL"),
        ])
        frames = []
        for k in range(3):
            item = Dataset()
            item.add_new(0x20050010, "LO", "Philips MR Imaging DD 001")
            for off in range(0x30, 0x48):
                item.add_new(0x20051000 | off, "FL", float(k + off))
            frames.append(item)
        _private(ds, 0x2005, "Philips MR Imaging DD 001", [
            *[(off, "FL", float(off)) for off in range(0x00, 0x2C)],
            (0x2D, "SS", 0), (0x2E, "CS", "NO"), (0x30, "FL", [0.0, 0.0]),
            (0x40, "OB", _filler(rng, 8192)), (0x0F, "SQ", Sequence(frames)),
        ])
    else:  # canon
        _private(ds, 0x0029, "TOSHIBA_MEC_MR3", [
            (0x01, "OB", _filler(rng, 6144)), (0x02, "LO", "V6.0"), (0x03, "SS", 0),
            (0x04, "FL", [0.0, 0.0, 0.0]), (0x05, "SH", "FSE2D")])
        _private(ds, 0x700D, "TOSHIBA_MEC_MR3", [
            (0x00, "LO", "ABDOMEN"), (0x01, "SS", 1), (0x02, "FD", 0.0), (0x08, "SH", "x")])


def template(index: int, vendor: str, matrix: int, transfer_syntax: str, family: str, b_value,
             rng: np.random.Generator) -> Dataset:
    """One vendor-style MR series template (pixel data set per file by the writer)."""
    ds = synthetic_writer.new_dataset(MRImageStorage, transfer_syntax)
    manufacturer, model = vendors.manufacturer(rng, vendor, 3.0)
    date = "20240102"
    ds.SpecificCharacterSet = "ISO_IR 100"
    style = vendors.header_style(vendor, vendors.header_kind(family, ""), index)
    ds.ImageType = list(style.image_type)
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, "101530.125000"
    ds.InstanceCreatorUID = "1.3.12.2.1107.5.2"
    for key in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        setattr(ds, key, date)
    for key in ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"):
        setattr(ds, key, "101500.000000")
    ds.AccessionNumber = f"ACC{index:08d}"
    ds.Modality = "MR"
    ds.Manufacturer = manufacturer
    ds.InstitutionName = "Synthetic General Hospital"
    ds.InstitutionAddress = "1 Hospital Road, Synthtown"
    ds.ReferringPhysicianName = "Referrer^Rita"
    ds.StationName = "MRC35123"
    ds.StudyDescription = "MRI ABDOMEN WO/W CONTRAST"
    procedure = _code("MRABD", "L", "MRI ABDOMEN WO/W CONTRAST")
    procedure.ConceptNameCodeSequence = Sequence([_code("RPID1234", "RADLEX", "MR ABDOMEN")])
    ds.ProcedureCodeSequence = Sequence([procedure])
    ds.SeriesDescription = vendors.description(rng, vendor, "t2", "axial")
    ds.InstitutionalDepartmentName = "Radiology"
    ds.PerformingPhysicianName = "Performer^Paul"
    ds.OperatorsName = "Operator^Olga"
    ds.ManufacturerModelName = model
    step = Dataset()
    step.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"
    step.ReferencedSOPInstanceUID = synthetic_writer.uid(rng)
    ds.ReferencedPerformedProcedureStepSequence = Sequence([step])
    references = []
    for _ in range(3):
        ref = Dataset()
        ref.ReferencedSOPClassUID = MRImageStorage
        ref.ReferencedSOPInstanceUID = synthetic_writer.uid(rng)
        references.append(ref)
    ds.ReferencedImageSequence = Sequence(references)
    ds["ReferencedImageSequence"].is_undefined_length = True
    for ref in ds.ReferencedImageSequence:
        ref.is_undefined_length_sequence_item = True
    ds.PatientName = f"Bench^Patient^{index}"
    ds.PatientID = f"BENCH{index:06d}"
    ds.PatientBirthDate, ds.PatientSex, ds.PatientAge = "19600101", "F", "064Y"
    ds.PatientSize, ds.PatientWeight = "1.68", "71"
    ds.PatientIdentityRemoved = "NO"
    ds.BodyPartExamined = "ABDOMEN"
    ds.ScanningSequence = list(style.scanning_sequence)
    ds.SequenceVariant = list(style.sequence_variant)
    ds.ScanOptions = list(style.scan_options)
    ds.SequenceName = style.name(b_value or 0, (0, b_value or 0), 128)
    ds.MRAcquisitionType = style.mr_acquisition_type
    ds.AngioFlag = "N"
    ds.SliceThickness = "6"
    ds.RepetitionTime, ds.EchoTime = "1600", "92"
    if family == "dwi":
        ds.RepetitionTime, ds.EchoTime = "5200", "61"
    ds.NumberOfAverages = "1"
    ds.ImagingFrequency = "123.25"
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.MagneticFieldStrength = "3"
    ds.SpacingBetweenSlices = "7.2"
    ds.NumberOfPhaseEncodingSteps = str(int(matrix * 0.8))
    ds.EchoTrainLength = "1" if family == "dwi" else "128"
    ds.PercentSampling, ds.PercentPhaseFieldOfView = "100", "81.25"
    ds.PixelBandwidth = "710"
    ds.DeviceSerialNumber = "35123"
    ds.SoftwareVersions = "syngo MR XA20"
    ds.ProtocolName = ds.SeriesDescription
    ds.TransmitCoilName = "Body"
    ds.AcquisitionMatrix = [0, matrix, int(matrix * 0.8), 0]
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.FlipAngle = "150"
    ds.VariableFlipAngleFlag = "N"
    ds.SAR, ds.dBdt = "0.81", "0"
    ds.B1rms = 1.2
    ds.PatientPosition = "FFS"
    if b_value is not None:
        ds.DiffusionBValue = float(b_value)
        ds.DiffusionGradientOrientation = [0.0, 0.0, 1.0]
    ds.StudyInstanceUID = synthetic_writer.uid(rng)
    ds.SeriesInstanceUID = synthetic_writer.uid(rng)
    ds.StudyID = "1"
    ds.SeriesNumber = 3 + index
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [-190.0, -170.5, 120.0]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.FrameOfReferenceUID = synthetic_writer.uid(rng)
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = "120.0"
    ds.ImageComments = "bench"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [380 / matrix, 380 / matrix]
    ds.add_new(0x00280106, "US", 0)  # Smallest/LargestImagePixelValue: US or SS by dictionary
    ds.add_new(0x00280107, "US", 4095)
    ds.WindowCenter, ds.WindowWidth = "900", "2000"
    ds.WindowCenterWidthExplanation = "Algo1"
    ds.RequestingPhysician = "Referrer^Rita"
    ds.RequestedProcedureDescription = "MRI ABDOMEN WO/W CONTRAST"
    ds.PerformedProcedureStepStartDate = date
    ds.PerformedProcedureStepStartTime = "101500"
    ds.PerformedProcedureStepID = "MR12345"
    ds.PerformedProcedureStepDescription = "MRI ABDOMEN WO/W CONTRAST"
    request = Dataset()
    request.RequestedProcedureID = "RP0001"
    request.ScheduledProcedureStepID = "SPS0001"
    request.ScheduledProcedureStepDescription = "MRI ABDOMEN"
    request.ScheduledProtocolCodeSequence = Sequence([_code("MRABD", "L", "MR abdomen")])
    ds.RequestAttributesSequence = Sequence([request])
    ds.PresentationLUTShape = "IDENTITY"
    _vendor_private(ds, vendor, rng, b_value)
    return ds


def build_cohort(root: Path, n_files: int) -> list[str]:
    """The patient directories of a cached cohort of ``n_files`` files (built when missing)."""
    marker = root / f".complete-v{COHORT_VERSION}-{n_files}"
    if not marker.exists():
        # Only ever clear a directory this benchmark built (it holds one of our markers).
        if any(p.name.startswith(".complete-") for p in root.iterdir()):
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        rng = np.random.default_rng(2024)
        specs = [(i, *spec) for i, spec in enumerate(TEMPLATES)]
        pixels = {m: rng.integers(0, 4096, (m, m), dtype=np.uint16)
                  for m in {spec[1] for spec in TEMPLATES}}
        n_series = (n_files + PER_SERIES - 1) // PER_SERIES
        written = 0
        for s in range(n_series):
            index, vendor, matrix, ts, family, b_value = specs[s % len(specs)]
            ds = template(index, vendor, matrix, ts, family, b_value, rng)
            ds.SeriesInstanceUID = synthetic_writer.uid(rng)
            ds.SeriesNumber = s + 1
            patient = s // SERIES_PER_PATIENT
            ds.PatientID = f"BENCH{patient:06d}"
            writer = synthetic_writer.SeriesWriter(ds)
            folder = root / f"patient_{patient:04d}" / f"series_{s:05d}"
            for k in range(min(PER_SERIES, n_files - written)):
                ds.InstanceNumber = k + 1
                ds.ImagePositionPatient = [-190.0, -170.5, 120.0 - 7.2 * k]
                ds.SliceLocation = f"{120.0 - 7.2 * k:.1f}"
                writer.write(folder / f"IM{k:05d}.dcm", synthetic_writer.uid(rng), pixels[matrix])
                written += 1
        marker.write_text("ok\n")
    return sorted(e for e in os.listdir(root) if not e.startswith("."))


def describe(paths: list[str]) -> str:
    """Median file size, header size and top-level element count of a sample of the cohort."""
    sample = paths[:: max(1, len(paths) // 12)]
    sizes, headers, counts, private = [], [], [], []
    for path in sample:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        sizes.append(os.path.getsize(path))
        full = pydicom.dcmread(path, force=True, defer_size=1)
        headers.append(full["PixelData"].file_tell)
        counts.append(len(ds))
        private.append(sum(1 for tag in ds.keys() if tag.is_private))
    return (f"sample of {len(sample)}: file {min(sizes) // 1024}-{max(sizes) // 1024} KB, header "
            f"{min(headers) // 1024}-{max(headers) // 1024} KB, {min(counts)}-{max(counts)} "
            f"top-level elements ({min(private)}-{max(private)} private)")


def _pydicom_loop(paths: list[Path], **kwargs) -> float:
    """files/s of pydicom.dcmread over ``paths``; files pydicom cannot parse count as read."""
    import warnings

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            try:
                pydicom.dcmread(path, force=True, **kwargs)
            except Exception:  # noqa: BLE001 - broken corpus files: pydicom gives up on them
                pass
    return len(paths) / (time.perf_counter() - start)


def _scan_loop(archive: Path, items: list[tuple[str, str]], workers: int) -> float:
    """files/s of mriseq's per-file scan (header read, validation, pseudonyms) in ``workers``
    processes, as the scan job runs it."""
    import multiprocessing

    from mriseq.scan.manifests import _CHUNK, _scan_chunk

    chunks = [(str(archive), items[i:i + _CHUNK], "s000", b"bench", 1 << 24, 0.8)
              for i in range(0, len(items), _CHUNK)]
    start = time.perf_counter()
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for _ in pool.imap(_scan_chunk, chunks):
                pass
    else:
        for chunk in chunks:
            _scan_chunk(chunk)
    return len(items) / (time.perf_counter() - start)


def real_corpus_benchmark(workers: int, at_least: int, rounds: int = 2) -> None:
    from mriseq.dicom.fields import FIELDS, PRIVATE_B_VALUES
    from real_corpus import all_files, corpus_or_none, repeated

    archive = corpus_or_none()
    if archive is None:
        return
    distinct = all_files(archive)
    items = repeated(distinct, at_least)
    paths = [archive / rel for _, rel in items]
    # What the scan needs, as pydicom tags: its fields plus the vendor b-value elements and their
    # private creators in the first 16 private blocks (where vendors put them).
    tags = sorted(FIELDS) + [group << 16 | element for group, offset, _, _ in PRIVATE_B_VALUES
                              for block in range(0x10, 0x20)
                              for element in (block, block << 8 | offset)]
    best: dict[str, float] = {}
    for _ in range(rounds):  # alternate, keep each variant's best (the machine may be shared)
        for name, run in (("naive", lambda: _pydicom_loop(paths, stop_before_pixels=True)),
                          ("specific", lambda: _pydicom_loop(paths, specific_tags=tags)),
                          ("scan1", lambda: _scan_loop(archive, items, 1)),
                          ("scanN", lambda: _scan_loop(archive, items, workers))):
            best[name] = max(best.get(name, 0.0), run())
    print(f"\nreal-DICOM corpus {archive}: {len(items)} files ({len(distinct)} distinct, every "
          f"file of the corpus, kept or rejected), best of {rounds} rounds")
    print(f"  naive pydicom.dcmread(stop_before_pixels=True):  {best['naive']:8,.0f} files/s")
    print(f"  pydicom.dcmread(specific_tags=<scan's tags>):    {best['specific']:8,.0f} files/s")
    for name, label in (("scan1", "1 process"), ("scanN", f"{workers} processes")):
        print(f"  mriseq scan, {label:12s}:                   {best[name]:8,.0f} files/s  -> "
              f"{best[name] / best['naive']:.1f}x naive, "
              f"{best[name] / best['specific']:.1f}x specific_tags")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "mriseq-bench-scan"))
    parser.add_argument("--real-files", type=int, default=20000)
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if not args.skip_synthetic:
        synthetic_benchmark(args)
    real_corpus_benchmark(args.workers, args.real_files)


def synthetic_benchmark(args) -> None:
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]  # other jobs on the machine share the cores: say so
    t0 = time.perf_counter()
    entries = build_cohort(root, args.files)
    paths = [str(p) for e in entries for p in sorted((root / e).rglob("*.dcm"))]
    print(f"cohort: {len(paths)} files in {len(entries)} patient dirs under {root} "
          f"(ready in {time.perf_counter() - t0:.1f} s); {describe(paths)}")

    start = time.perf_counter()
    for path in paths:
        pydicom.dcmread(path, stop_before_pixels=True, force=True)
    naive = len(paths) / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        scan_shard(str(root), entries, f"{out}/files.parquet", f"{out}/rejects.parquet", "s000",
                   "MRISEQ_PSEUDONYM_KEY", "bench", workers=args.workers)
        fast = len(paths) / (time.perf_counter() - start)
        n_ok = len(pd.read_parquet(f"{out}/files.parquet", columns=["path"]))
        n_rejected = len(pd.read_parquet(f"{out}/rejects.parquet", columns=["path"]))
    if n_ok != len(paths) or n_rejected:
        raise SystemExit(f"scan accepted {n_ok} of {len(paths)} files ({n_rejected} rejected)")
    print(f"scan: {fast:,.0f} files/s ({args.workers} workers) vs naive pydicom loop "
          f"{naive:,.0f} files/s = {fast / naive:.1f}x  [{os.cpu_count()} CPUs visible, load "
          f"average {load:.1f} before the run]")


if __name__ == "__main__":
    main()

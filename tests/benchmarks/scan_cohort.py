"""The vendor-style series templates of the synthetic cohort that bench_scan.py times.

What one file of the cohort looks like (standard modules, sequences, vendor private blocks of
realistic size) is described in bench_scan.py's docstring; :func:`template` builds it with the
synthetic generator's own header code. A change here must bump bench_scan.COHORT_VERSION.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import MRImageStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mriseq.synthetic import vendors  # noqa: E402
from mriseq.synthetic import writer as synthetic_writer  # noqa: E402


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

"""An archive of hand-built DICOM series in the vendors' layouts, each with the volumes a reader
names in it: the truth the volume rules are checked against (tests/unit/test_volume_archive.py,
``make bench-volumes``).

Every series is written as real Part-10 files (pydicom) the way its scanner stores it:

* Siemens DTI: a b=0 pass and one pass per direction at b=1000, a new AcquisitionNumber per pass,
  SequenceName ``*ep_b1000#<n>``, the b-value in the SIEMENS MR HEADER private block: 1 volume.
* Siemens DWI with its derived ADC stack in the same series: 2 volumes (b-values stay together).
* Philips BOLD: one pass per time point numbered by TemporalPositionIdentifier: 1 volume.
* GE multiphase fMRI: 10 passes of an echo-planar sequence, TemporalPositionIdentifier: 1 volume.
* Siemens pASL: label/control pairs, ImageType ASL: 1 volume.
* GE LAVA dynamic: pre, arterial, portal, delayed passes, TemporalPositionIdentifier: 4 volumes.
* Siemens VIBE dynamic told apart only by AcquisitionTime (a 3D pass shares one time): 4 volumes.
* a dual-echo series: 2 volumes; a 3-plane localizer: 3 volumes.
* an enhanced multi-frame file holding two stacks (StackID per frame): 2 volumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hostile.corpus import ENHANCED_MR, mr_dataset, save
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

AXIAL = (1, 0, 0, 0, 1, 0)
CORONAL = (1, 0, 0, 0, 0, -1)
SAGITTAL = (0, 1, 0, 0, 0, -1)


@dataclass(frozen=True)
class ArchiveSeries:
    name: str
    volumes: int  # what a reader names in it
    write: Callable[[Path, str, int], int]  # (folder, series UID, scale) -> files written


def _passes(folder: Path, uid: str, n_positions: int, n_passes: int, per_pass, *,
            iop=AXIAL, start: int = 0, **fixed) -> int:
    """Write ``n_passes`` passes over ``n_positions`` slices; ``per_pass(p)`` gives the pass's
    header values (keywords), ``fixed`` those of every file."""
    for p in range(n_passes):
        for s in range(n_positions):
            instance = start + p * n_positions + s + 1
            ds = mr_dataset(series_uid=uid, instance=instance, iop=iop, **fixed, **per_pass(p))
            ds.ImagePositionPatient = _position(iop, 6.0 * s)
            save(ds, folder / f"{instance:05d}.dcm")
    return n_positions * n_passes


def _position(iop, offset: float) -> list[float]:
    normal = np.cross(iop[:3], iop[3:])
    return [float(v) for v in np.array([-180.0, -150.0, 20.0]) + offset * normal]


def _siemens_b_value(ds: Dataset, b: float) -> None:
    ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", str(int(b)))


def siemens_dti(folder: Path, uid: str, scale: int) -> int:
    directions = 12 * scale
    n = 0
    for p in range(directions + 1):
        b = 0 if p == 0 else 1000
        for s in range(6):
            ds = mr_dataset(series_uid=uid, instance=p * 6 + s + 1, ScanningSequence="EP",
                            SequenceVariant=["SK", "SP"], SeriesDescription="ep2d_diff_mddw_12",
                            ImageType=["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE", "ND", "NORM"],
                            SequenceName=f"*ep_b{b}" + (f"#{p}" if p else ""),
                            AcquisitionNumber=str(p + 1), EchoTime="89", RepetitionTime="3600")
            _siemens_b_value(ds, b)
            ds.ImagePositionPatient = _position(AXIAL, 6.0 * s)
            save(ds, folder / f"{p * 6 + s + 1:05d}.dcm")
            n += 1
    return n


def siemens_dwi_with_adc(folder: Path, uid: str, scale: int) -> int:
    n = 0
    kinds = [(0, "DIFFUSION\\NONE"), (400, "DIFFUSION\\NONE"), (800, "DIFFUSION\\NONE"),
             (None, "DIFFUSION\\ADC")]
    for p, (b, kind) in enumerate(kinds):
        for s in range(5):
            original = "ORIGINAL" if b is not None else "DERIVED"
            ds = mr_dataset(series_uid=uid, instance=p * 5 + s + 1, ScanningSequence="EP",
                            SeriesDescription="ep2d_diff_b0_400_800",
                            ImageType=[original, "PRIMARY", *kind.split("\\"), "ND"],
                            AcquisitionNumber="1", EchoTime="70", RepetitionTime="4000")
            if b is not None:
                _siemens_b_value(ds, b)
            ds.ImagePositionPatient = _position(AXIAL, 6.0 * s)
            save(ds, folder / f"{p * 5 + s + 1:05d}.dcm")
            n += 1
    return n


def philips_bold(folder: Path, uid: str, scale: int) -> int:
    return _passes(folder, uid, 4, 40 * scale,
                   lambda p: {"TemporalPositionIdentifier": str(p + 1),
                              "AcquisitionNumber": str(p + 1)},
                   Manufacturer="Philips Medical Systems", ScanningSequence="GR",
                   ImageType=["ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"],
                   SeriesDescription="fMRI_rest", EchoTime="30", RepetitionTime="2000")


def ge_multiphase_fmri(folder: Path, uid: str, scale: int) -> int:
    return _passes(folder, uid, 4, 10,
                   lambda p: {"TemporalPositionIdentifier": str(p + 1)},
                   Manufacturer="GE MEDICAL SYSTEMS", ScanningSequence="EP",
                   ImageType=["ORIGINAL", "PRIMARY", "OTHER"], SeriesDescription="fMRI motor",
                   EchoTime="30", RepetitionTime="2000")


def siemens_asl(folder: Path, uid: str, scale: int) -> int:
    return _passes(folder, uid, 6, 2, lambda p: {"AcquisitionNumber": str(p + 1)},
                   ScanningSequence="EP", ImageType=["ORIGINAL", "PRIMARY", "ASL", "NONE"],
                   SeriesDescription="pasl_kidney", EchoTime="12", RepetitionTime="2500")


def ge_lava_dynamic(folder: Path, uid: str, scale: int) -> int:
    return _passes(folder, uid, 8, 4, lambda p: {"TemporalPositionIdentifier": str(p + 1)},
                   Manufacturer="GE MEDICAL SYSTEMS", ScanningSequence="GR",
                   ImageType=["ORIGINAL", "PRIMARY", "OTHER"], SequenceName="efgre3d",
                   SeriesDescription="Ax LAVA multiphase", EchoTime="1.7", RepetitionTime="3.9")


def siemens_vibe_by_acquisition_time(folder: Path, uid: str, scale: int) -> int:
    times = ["101502.250000", "101540.500000", "101615.000000", "101810.750000"]
    return _passes(folder, uid, 8, 4, lambda p: {"AcquisitionTime": times[p]},
                   ScanningSequence="GR", SequenceName="*fl3d1",
                   ImageType=["ORIGINAL", "PRIMARY", "M", "ND", "NORM"], AcquisitionNumber="1",
                   SeriesDescription="t1_vibe_fs_dyn", EchoTime="1.3", RepetitionTime="3.7")


def dual_echo(folder: Path, uid: str, scale: int) -> int:
    return _passes(folder, uid, 8, 2, lambda p: {"EchoTime": ["2.38", "4.76"][p],
                                                 "EchoNumbers": str(p + 1)},
                   ScanningSequence="GR", SeriesDescription="t1_fl2d_opp-in_tra",
                   RepetitionTime="150")


def localizer(folder: Path, uid: str, scale: int) -> int:
    n = 0
    for plane in (SAGITTAL, CORONAL, AXIAL):
        n += _passes(folder, uid, 3, 1, lambda p: {}, iop=plane, start=n,
                     SeriesDescription="localizer", ScanningSequence="GR", EchoTime="1.6",
                     RepetitionTime="3.6")
    return n


def enhanced_two_stacks(folder: Path, uid: str, scale: int) -> int:
    """One enhanced MR file, an axial and a coronal stack of 3 frames each."""
    ds = mr_dataset(series_uid=uid, ImageOrientationPatient=None, ImagePositionPatient=None,
                    PixelSpacing=None, SliceThickness=None, EchoTime=None, RepetitionTime=None,
                    FlipAngle=None, Manufacturer="Philips Medical Systems",
                    SeriesDescription="sBTFE_survey")
    ds.SOPClassUID = ENHANCED_MR
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_MR
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [1.2, 1.2]
    measures.SliceThickness = 4
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for stack, plane in (("1", AXIAL), ("2", CORONAL)):
        for k in range(3):
            frame = Dataset()
            content = Dataset()
            content.StackID = stack
            content.InStackPositionNumber = k + 1
            frame.FrameContentSequence = Sequence([content])
            position = Dataset()
            position.ImagePositionPatient = _position(plane, 8.0 * k)
            frame.PlanePositionSequence = Sequence([position])
            orientation = Dataset()
            orientation.ImageOrientationPatient = list(plane)
            frame.PlaneOrientationSequence = Sequence([orientation])
            echo = Dataset()
            echo.EffectiveEchoTime = 1.9
            frame.MREchoSequence = Sequence([echo])
            frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.NumberOfFrames = len(frames)
    rng = np.random.default_rng(0)
    ds.PixelData = rng.integers(0, 4000, (len(frames), 16, 16), dtype=np.uint16).tobytes()
    save(ds, folder / "00001.dcm")
    return 1


SERIES = [
    ArchiveSeries("siemens_dti", 1, siemens_dti),
    ArchiveSeries("siemens_dwi_with_adc", 2, siemens_dwi_with_adc),
    ArchiveSeries("philips_bold", 1, philips_bold),
    ArchiveSeries("ge_multiphase_fmri", 1, ge_multiphase_fmri),
    ArchiveSeries("siemens_asl", 1, siemens_asl),
    ArchiveSeries("ge_lava_dynamic", 4, ge_lava_dynamic),
    ArchiveSeries("siemens_vibe_by_acquisition_time", 4, siemens_vibe_by_acquisition_time),
    ArchiveSeries("dual_echo", 2, dual_echo),
    ArchiveSeries("localizer", 3, localizer),
    ArchiveSeries("enhanced_two_stacks", 2, enhanced_two_stacks),
]


def build_archive(root: Path, scale: int = 1) -> dict[str, tuple[str, int, int]]:
    """Write every series under ``root/patient01/<name>/``; return name -> (SeriesInstanceUID,
    volumes a reader names, files written)."""
    truth = {}
    for series in SERIES:
        uid = generate_uid()
        files = series.write(Path(root) / "patient01" / series.name, uid, scale)
        truth[series.name] = (uid, series.volumes, files)
    return truth

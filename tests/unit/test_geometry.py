"""The shared slice geometry (mriseq.geometry) and model provenance (mriseq.provenance).

The scan, the decoder and the synthetic generator all take normals, positions, plane labels and
functional-group items from ``mriseq.geometry``; these tests pin the one precedence (per-frame
functional groups over shared ones) through both the scan's pydicom reader and the decoder, and
the arithmetic each of them has always used.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile.corpus import ENHANCED_MR, mr_dataset, save  # noqa: E402
from mriseq.dicom import read_header  # noqa: E402
from mriseq.dicom.pixels import decode, frame_positions, pixel_spacing  # noqa: E402
from mriseq.geometry import (  # noqa: E402
    frame_position,
    functional_item,
    header_orientation,
    orientation_label,
    plane_normal,
    position_along,
    slice_normal,
)
from mriseq.provenance import config_hash, derive_seed, package_versions  # noqa: E402

AXIAL = [1, 0, 0, 0, 1, 0]
CORONAL = [1, 0, 0, 0, 0, -1]


def test_normal_position_and_label():
    assert slice_normal(AXIAL) == (0.0, 0.0, 1.0)
    assert slice_normal(CORONAL) == (0.0, 1.0, 0.0)
    assert position_along(slice_normal(CORONAL), [-150.0, 20.0, 100.0]) == 20.0
    assert math.isnan(position_along(None, [0.0, 0.0, 0.0]))
    assert orientation_label(slice_normal(CORONAL)) == header_orientation(CORONAL) == "coronal"
    assert orientation_label(None) == "unknown"
    for unusable in (None, [], [1, 0, 0], [0] * 6, "1\\0\\0\\0\\1\\0", ["a"] * 6, 1.0):
        assert slice_normal(unusable) is None
        assert header_orientation(unusable) == "unknown"


def test_decoder_position_is_the_unrescaled_normal():
    """The decoder projects IPP on row × column as written, with NumPy, as it always has; the
    scan uses the unit normal. They differ only by the normal's length."""
    iop = [0.999848, 0.017452, 0.0, -0.017452, 0.999848, 0.0]
    ipp = [-120.5, 33.25, 71.125]
    cosines = np.asarray(iop, dtype=float).reshape(2, 3)
    expected = float(np.dot(np.asarray(ipp, dtype=float), np.cross(cosines[0], cosines[1])))
    assert frame_position(iop, ipp) == expected
    assert plane_normal(iop) == tuple(np.cross(cosines[0], cosines[1]))
    assert position_along(slice_normal(iop), ipp) == pytest.approx(expected, abs=1e-4)
    assert math.isnan(frame_position(None, ipp)) and math.isnan(frame_position(iop, None))
    assert math.isnan(frame_position(iop, [1.0, 2.0]))
    assert frame_position([0] * 6, ipp) == 0.0  # a zero normal projects everything to 0


def _groups_in_both_places(path: Path) -> Path:
    """Enhanced MR whose shared groups say axial, 2 mm pixels, TR 5 and whose per-frame groups
    say coronal, 0.8 mm pixels (TR and flip angle only in the shared group)."""
    ds = mr_dataset(ImageOrientationPatient=None, ImagePositionPatient=None, PixelSpacing=None,
                    SliceThickness=None, RepetitionTime=None, FlipAngle=None)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = ENHANCED_MR
    ds.NumberOfFrames = 2

    def item(**values) -> Sequence:
        inner = Dataset()
        for keyword, value in values.items():
            setattr(inner, keyword, value)
        return Sequence([inner])

    shared = Dataset()
    shared.PlaneOrientationSequence = item(ImageOrientationPatient=AXIAL)
    shared.PixelMeasuresSequence = item(PixelSpacing=[2.0, 2.0], SliceThickness=5)
    shared.MRTimingAndRelatedParametersSequence = item(RepetitionTime=5.0, FlipAngle=10)
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k in range(2):
        frame = Dataset()
        frame.PlaneOrientationSequence = item(ImageOrientationPatient=CORONAL)
        frame.PlanePositionSequence = item(ImagePositionPatient=[-150.0, 10.0 * k + 3, 100.0])
        frame.PixelMeasuresSequence = item(PixelSpacing=[0.8, 0.8])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.zeros((2, 16, 16), np.uint16).tobytes()
    return save(ds, path)


def test_per_frame_groups_override_shared_ones(tmp_path):
    path = _groups_in_both_places(tmp_path / "both.dcm")
    header = read_header(path)
    assert header.ok and header.reader == "pydicom"
    fields = header.fields
    assert fields["iop"] == [float(v) for v in CORONAL]
    assert header_orientation(fields["iop"]) == "coronal"
    assert fields["pixel_spacing"] == [0.8, 0.8]
    # What the per-frame item lacks comes from the shared one.
    assert fields["slice_thickness"] == 5.0 and fields["repetition_time"] == 5.0
    assert fields["ipp"] == [-150.0, 3.0, 100.0]

    ds = pydicom.dcmread(path)
    assert list(functional_item(ds, 1, "PlaneOrientationSequence").ImageOrientationPatient) \
        == CORONAL
    assert functional_item(ds, 1, "MRTimingAndRelatedParametersSequence").RepetitionTime == 5.0
    assert functional_item(ds, 5, "PlanePositionSequence") is None  # no such frame
    assert functional_item(mr_dataset(), 0, "PlaneOrientationSequence") is None  # classic
    # The decoder reads the same items: positions along the coronal normal, per-frame spacing.
    np.testing.assert_array_equal(frame_positions(ds, 2), [3.0, 13.0])
    assert pixel_spacing(ds) == (0.8, 0.8)
    np.testing.assert_array_equal(decode(path).positions, [3.0, 13.0])


def test_provenance_is_stable():
    """Seeds and hashes recorded in every model's metadata.json must not drift between
    versions: a changed value would retrain every model of an unchanged config."""
    assert derive_seed(7, "sequence", 0) == 1733069284
    assert derive_seed(7, "hist_rf/orientation", 3) == 1280455679
    assert config_hash("sequence", ["a", "b"], 7, {"epochs": 2}) == "1bfa8d1f49d4a18c"
    versions = package_versions()
    assert versions["python"] and versions["numpy"] == np.__version__
    assert "no-such-package" not in package_versions(("no-such-package",))

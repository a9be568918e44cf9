"""Unit tests of decoding (mriseq.dicom.pixels) and shard preprocessing (mriseq.tensors).

DICOM inputs are written here with pydicom and re-encoded with gdcm into every supported transfer
syntax, or taken from pydicom's bundled test files. Blank images (all zero, constant, blanked) and
Siemens mosaics are built by hand, so that what each frame must become is known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydicom
import pytest
from hostile.corpus import part10_dataset
from mriseq.dicom import REASONS
from mriseq.dicom.pixels import DecodeError, decode, decode_native, native_layout, split_mosaic
from mriseq.scan.headers import scan_file
from mriseq.scan.tables import files_frame
from mriseq.tensors.frames import (
    preprocess_frames,
    process_file,
    resize_frames,
    target_shape,
    window_bounds,
    window_frames,
)
from mriseq.tensors.merge import merge_tensors
from mriseq.tensors.shard import preprocess_shard
from mriseq.tensors.tables import INDEX_COLUMNS, REJECT_COLUMNS
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    EnhancedMRImageStorage,
    MRImageStorage,
)

gdcm = pytest.importorskip("gdcm")


def phantom(rows=64, columns=64, peak=3000, seed=0):
    """A smooth 'body' with an 'organ' and noise: enough structure for windowing and resizing."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :columns]
    body = ((yy - rows / 2) / (rows * 0.4)) ** 2 + ((xx - columns / 2) / (columns * 0.45)) ** 2 < 1
    organ = ((yy - rows * 0.4) / (rows * 0.15)) ** 2 + ((xx - columns * 0.4) / (columns * 0.2)) ** 2
    image = body * 0.5 * peak + (organ < 1) * 0.4 * peak + rng.normal(0, peak * 0.02, body.shape)
    return np.clip(image, 0, peak).astype(np.uint16)


def write_mr(path, pixels, *, z=0.0, instance=1, photometric="MONOCHROME2", slope=None,
             intercept=None, bits_stored=12, signed=False, spacing=(1.5, 1.5), **attrs):
    ds = part10_dataset(MRImageStorage)
    ds.PatientID, ds.Modality = "P1", "MR"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4", "1.2.3.4.5"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0.0, 0.0, float(z)]
    ds.PixelSpacing = list(spacing)
    ds.InstanceNumber = instance
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated = 8 if pixels.dtype.itemsize == 1 else 16
    ds.BitsStored = min(bits_stored, ds.BitsAllocated)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(signed)
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def gdcm_transcode(src, dst, syntax):
    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    return dst


TS = gdcm.TransferSyntax
# (name, gdcm syntax, expected UID, 8-bit source, lossless)
SYNTAXES = [
    ("implicit_le", TS.ImplicitVRLittleEndian, "1.2.840.10008.1.2", False, True),
    ("big_endian", TS.ExplicitVRBigEndian, "1.2.840.10008.1.2.2", False, True),
    ("deflate", TS.DeflatedExplicitVRLittleEndian, "1.2.840.10008.1.2.1.99", False, True),
    ("rle", TS.RLELossless, "1.2.840.10008.1.2.5", False, True),
    ("jpeg_baseline", TS.JPEGBaselineProcess1, "1.2.840.10008.1.2.4.50", True, False),
    ("jpeg_extended", TS.JPEGExtendedProcess2_4, "1.2.840.10008.1.2.4.51", True, False),
    ("jpeg_lossless", TS.JPEGLosslessProcess14, "1.2.840.10008.1.2.4.57", False, True),
    ("jpeg_lossless_sv1", TS.JPEGLosslessProcess14_1, "1.2.840.10008.1.2.4.70", False, True),
    ("jpeg_ls_lossless", TS.JPEGLSLossless, "1.2.840.10008.1.2.4.80", False, True),
    ("jpeg_ls_near_lossless", TS.JPEGLSNearLossless, "1.2.840.10008.1.2.4.81", False, False),
    ("jpeg2000_lossless", TS.JPEG2000Lossless, "1.2.840.10008.1.2.4.90", False, True),
    ("jpeg2000", TS.JPEG2000, "1.2.840.10008.1.2.4.91", False, False),
]


@pytest.mark.parametrize(("name", "syntax", "uid", "eight_bit", "lossless"), SYNTAXES,
                         ids=[s[0] for s in SYNTAXES])
def test_every_transfer_syntax_decodes(tmp_path, name, syntax, uid, eight_bit, lossless):
    pixels = phantom(peak=250 if eight_bit else 3000)
    pixels = pixels.astype(np.uint8) if eight_bit else pixels
    source = write_mr(tmp_path / "src.dcm", pixels, bits_stored=8 if eight_bit else 12)
    encoded = gdcm_transcode(source, tmp_path / f"{name}.dcm", syntax)
    assert pydicom.dcmread(encoded).file_meta.TransferSyntaxUID == uid
    image = decode(encoded)
    assert image.frames.shape == (1, *pixels.shape) and image.frames.dtype == np.float32
    error = np.abs(image.frames[0] - pixels.astype(np.float32))
    if lossless:
        assert error.max() == 0
    else:
        assert error.mean() < 0.02 * pixels.max()


MR_SMALL_VARIANTS = ["MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
                     "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                     "MR_small_jpeg_ls_lossless.dcm"]


@pytest.mark.parametrize("name", MR_SMALL_VARIANTS)
def test_bundled_mr_small_variants_match_reference(name):
    reference = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    image = decode(get_testdata_file(name))
    np.testing.assert_array_equal(image.frames[0], reference.astype(np.float32))
    # MR_small is signed 16-bit: the native fast path must agree with pydicom.
    np.testing.assert_array_equal(decode(get_testdata_file("MR_small.dcm")).frames[0],
                                  reference.astype(np.float32))


def test_bundled_deflate_and_12bit_jpeg_extended():
    deflated = decode(get_testdata_file("image_dfl.dcm"))
    assert deflated.frames.shape == (1, 512, 512)
    extended = decode(get_testdata_file("JPGExtended.dcm"))
    assert extended.frames.shape == (1, 1024, 256) and extended.frames.max() > 0


def test_undecodable_files_raise_decode_error_with_reason(tmp_path):
    with pytest.raises(DecodeError) as broken:
        decode(get_testdata_file("JPEG-lossy.dcm"))  # corrupt 12-bit JPEG stream
    assert broken.value.reason == "decode_error"
    with pytest.raises(DecodeError) as missing:
        decode(tmp_path / "nope.dcm")
    assert missing.value.reason == "file_missing"
    path = write_mr(tmp_path / "nopix.dcm", phantom(8, 8))
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(DecodeError) as no_pixels:
        decode(path)
    assert no_pixels.value.reason == "no_pixel_data"


@pytest.mark.parametrize("signed", [False, True])
def test_fast_path_masks_high_bits_like_pydicom(tmp_path, signed):
    pixels = phantom(16, 16, peak=2000).astype(np.int16 if signed else np.uint16)
    if signed:
        pixels[0, :4] = [-5, -2048, 2047, 0]
    raw = pixels.view(np.uint16) & 0x0FFF
    raw[1, :3] |= 0xF000  # garbage above BitsStored = 12
    path = write_mr(tmp_path / "bits.dcm", raw.view(np.int16) if signed else raw, signed=signed)
    expected = pydicom.dcmread(path).pixel_array.astype(np.float32)
    np.testing.assert_array_equal(decode(path).frames[0], expected)
    if signed:
        assert decode(path).frames[0, 0, 1] == -2048


def test_rescale_slope_intercept_applied(tmp_path):
    pixels = phantom(16, 16)
    path = write_mr(tmp_path / "rescale.dcm", pixels, slope=2.5, intercept=-100)
    np.testing.assert_allclose(decode(path).frames[0], pixels * 2.5 - 100, rtol=1e-6)


def test_monochrome1_is_inverted(tmp_path):
    pixels = phantom(64, 64)
    mono2 = decode(write_mr(tmp_path / "m2.dcm", pixels))
    mono1 = decode(write_mr(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1"))
    np.testing.assert_array_equal(mono1.frames, -mono2.frames)
    out2 = preprocess_frames(mono2.frames, size=32)
    out1 = preprocess_frames(mono1.frames, size=32)
    body = out2 > 0  # outside the padded area the brightness order is reversed
    assert np.abs(out1[body].astype(int) - (255 - out2[body].astype(int))).max() <= 1


def test_rgb_becomes_luma():
    path = get_testdata_file("SC_rgb_jpeg_gdcm.dcm")  # JPEG lossless RGB
    rgb = pydicom.dcmread(path).pixel_array.astype(np.float32)
    image = decode(path)
    np.testing.assert_allclose(image.frames[0], rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-3)


def write_enhanced(path, frames, positions, slopes):
    """An Enhanced MR multi-frame object with per-frame position and rescale."""
    ds = part10_dataset(EnhancedMRImageStorage)
    ds.Modality = "MR"
    shared = Dataset()
    orientation, measures = Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # coronal
    measures.PixelSpacing = [1.0, 1.0]
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for position, slope in zip(positions, slopes, strict=True):
        item, plane, transform = Dataset(), Dataset(), Dataset()
        plane.ImagePositionPatient = [0.0, float(position), 0.0]
        transform.RescaleSlope, transform.RescaleIntercept = slope, 0
        item.PlanePositionSequence = Sequence([plane])
        item.PixelValueTransformationSequence = Sequence([transform])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = frames.shape[1:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = frames.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_enhanced_multiframe_positions_and_per_frame_rescale(tmp_path):
    frames = np.stack([phantom(16, 16, seed=i) for i in range(3)])
    path = write_enhanced(tmp_path / "enh.dcm", frames, positions=[20.0, 0.0, 10.0],
                          slopes=[1.0, 2.0, 0.5])
    image = decode(path)
    assert image.frames.shape == (3, 16, 16)
    np.testing.assert_allclose(image.frames, frames * np.array([1.0, 2.0, 0.5])[:, None, None])
    # IOP rows (1,0,0) × columns (0,0,-1) = (0,1,0): the position is the y coordinate.
    np.testing.assert_allclose(image.positions, [20.0, 0.0, 10.0])
    assert image.pixel_spacing == (1.0, 1.0)


# ---------------------------------------------------------------- image transform


def triangle_weights(n_in, n_out):
    """Reference definition of the antialiased linear filter: support widens with the factor."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centers = (np.arange(n_out) + 0.5) * scale
    weights = np.clip(1 - np.abs(np.arange(n_in)[None] + 0.5 - centers[:, None]) / support, 0, None)
    return weights / weights.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(("shape", "out"), [((256, 256), (32, 32)), ((260, 320), (26, 32)),
                                            ((40, 30), (64, 48))])
def test_resize_is_the_antialiased_triangle_filter(shape, out):
    image = phantom(*shape).astype(np.float32)
    expected = triangle_weights(shape[0], out[0]) @ image @ triangle_weights(shape[1], out[1]).T
    np.testing.assert_allclose(resize_frames(image[None], *out)[0], expected, atol=0.05)


def test_resize_does_not_alias():
    checker = (np.indices((256, 256)).sum(axis=0) % 2).astype(np.float32)
    # A pixel-level checkerboard has no content below the new Nyquist limit: it must become gray,
    # where point sampling would return all 0 or all 1.
    assert np.abs(resize_frames(checker[None], 32, 32) - 0.5).max() < 0.02


def test_window_bounds_match_numpy_percentile():
    values = np.random.default_rng(3).normal(size=(4, 1000)).astype(np.float32)
    low, high = window_bounds(values, (0.5, 99.5))
    expected = np.percentile(values, [0.5, 99.5], axis=1)
    np.testing.assert_allclose(low, expected[0], rtol=1e-5)
    np.testing.assert_allclose(high, expected[1], rtol=1e-5)


def test_target_shape_pad_keeps_physical_aspect():
    assert target_shape(256, 128, 32, "pad") == (32, 16)
    assert target_shape(128, 256, 32, "pad", spacing=(2.0, 1.0)) == (32, 32)
    assert target_shape(256, 128, 32, "stretch") == (32, 32)


def test_preprocess_frames_pad_window_and_dtypes():
    frames = np.stack([phantom(128, 64).astype(np.float32)])
    padded = preprocess_frames(frames, size=32, aspect="pad")
    assert padded.shape == (1, 32, 32) and padded.dtype == np.uint8
    assert (padded[0, :, :8] == 0).all() and (padded[0, :, 24:] == 0).all()
    assert padded.max() == 255
    stretched = preprocess_frames(frames, size=32, aspect="stretch")
    assert (stretched[0, :, :8] > 0).any()
    half = preprocess_frames(frames, size=32, dtype="float16")
    assert half.dtype == np.float16 and 0 <= half.min() and half.max() == 1
    np.testing.assert_allclose(half.astype(np.float32) * 255, padded, atol=1.0)
    constant = preprocess_frames(np.full((2, 20, 20), 7.0, np.float32), size=16)
    assert (constant == 0).all()


def test_window_frames_says_which_frames_are_blank():
    frames = np.stack([phantom(32, 32).astype(np.float32), np.zeros((32, 32), np.float32),
                       np.full((32, 32), 7.0, np.float32)])
    windowed = window_frames(frames, size=16)
    assert windowed.blank.tolist() == [False, True, True]
    np.testing.assert_allclose(windowed.level[1:], [0.0, 7.0], atol=1e-3)
    assert (windowed.tensors[1:] == 0).all() and windowed.tensors[0].max() == 255
    # Blanked as anonymised files are: a few stray pixels are not contrast (below the window).
    blanked = np.zeros((1, 64, 64), np.float32)
    blanked[0, 3, 5] = blanked[0, 40, 7] = 4095.0
    assert window_frames(blanked, size=128).blank.all()


def test_epi_matrix_fills_the_full_range_and_keeps_its_aspect():
    epi = phantom(64, 64, peak=900).astype(np.float32)[None]
    square = preprocess_frames(epi, size=128, spacing=(3.0, 3.0))
    assert square.shape == (1, 128, 128) and square.dtype == np.uint8
    assert square.min() == 0 and square.max() == 255
    assert (square[0] > 0).any(axis=0).all()  # no padded column: the field of view is square
    # 64 x 64 at 4 x 3 mm: 256 mm high, 192 mm wide, so 128 x 96 with 16 black columns each side.
    wide = preprocess_frames(epi, size=128, spacing=(4.0, 3.0))
    assert (wide[0, :, :16] == 0).all() and (wide[0, :, 112:] == 0).all()
    assert (wide[0, :, 16:112] > 0).any(axis=0).all() and wide.max() == 255


def test_frames_of_different_scales_are_each_windowed_to_their_own_range():
    base = phantom(48, 48).astype(np.float32)
    stack = np.stack([base * 0.01, base, base * 40.0])  # one multi-frame file, three scales
    tensors = preprocess_frames(stack, size=32)
    for frame in tensors:
        assert frame.min() == 0 and frame.max() == 255
    assert np.abs(tensors.astype(int) - tensors[1].astype(int)).max() <= 1


# ---------------------------------------------------------------- blank images


def scanned_record(path):
    """The scan-manifest row of one file, as the preprocess job gets it from the scan."""
    ok, row = scan_file(str(path.parent), ".", path.name, "s000", b"key", 1 << 24, 0.8)
    assert ok, row
    return next(files_frame([row]).itertuples(index=False))


def process(path, layout=None, size=32):
    return process_file((str(path), None, layout), size=size, aspect="pad",
                        window_percentiles=(0.5, 99.5), dtype="uint8")


@pytest.mark.parametrize(("value", "shown"), [(0, "value 0"), (700, "value 700")])
def test_zero_and_constant_images_are_blank_image_rejects(tmp_path, value, shown):
    path = write_mr(tmp_path / "blank.dcm", np.full((40, 32), value, np.uint16))
    layout = native_layout(scanned_record(path))
    assert layout is not None
    for result in (process(path), process(path, layout)):  # pydicom and the native path
        assert result[:2] == ("reject", "blank_image")
        assert "the only frame is blank" in result[2] and shown in result[2]
    assert "blank_image" in REASONS


def test_a_multiframe_file_keeps_its_frames_with_contrast(tmp_path):
    frames = np.stack([phantom(16, 16, seed=1), np.zeros((16, 16), np.uint16),
                       phantom(16, 16, seed=2)])
    path = write_enhanced(tmp_path / "enh.dcm", frames, positions=[0.0, 5.0, 10.0],
                          slopes=[1, 1, 1])
    status, tensors, positions, frame_numbers, n_blank = process(path)
    assert status == "ok" and n_blank == 1
    assert tensors.shape == (2, 32, 32) and list(frame_numbers) == [0, 2]
    np.testing.assert_allclose(positions, [0.0, 10.0])
    expected = preprocess_frames(frames[[0, 2]].astype(np.float32), size=32, spacing=(1.0, 1.0))
    np.testing.assert_array_equal(tensors, expected)
    everything_blank = write_enhanced(tmp_path / "zeros.dcm", np.zeros((3, 16, 16), np.uint16),
                                      positions=[0.0, 5.0, 10.0], slopes=[1, 1, 1])
    status, reason, message = process(everything_blank)
    assert (status, reason) == ("reject", "blank_image")
    assert "all 3 frames are blank" in message and "value 0" in message


# ---------------------------------------------------------------- shard job


def make_shard(tmp_path, n=6):
    """A raw dir with one series whose file names run against the slice order, one enhanced
    multi-frame series, and an undecodable file; plus the shard's files.parquet."""
    raw = tmp_path / "raw"
    (raw / "patient_a").mkdir(parents=True)
    rows = []
    for i in range(n):
        z = float((n - 1 - i) * 5)  # file name order is the reverse of the position order
        name = f"patient_a/img{i:02d}.dcm"
        write_mr(raw / name, phantom(48, 40, seed=i), z=z, instance=i + 1)
        rows.append({"path": name, "series_key": "s" * 16, "sop_key": f"{i:016x}",
                     "n_frames": 1, "slice_position": z, "instance_number": float(i + 1)})
    write_enhanced(raw / "patient_a/enh.dcm", np.stack([phantom(16, 16, seed=9)] * 3),
                   positions=[5.0, -5.0, 0.0], slopes=[1, 1, 1])
    rows.append({"path": "patient_a/enh.dcm", "series_key": "e" * 16, "sop_key": "e" * 16,
                 "n_frames": 3, "slice_position": 5.0, "instance_number": 1.0})
    broken = pydicom.dcmread(get_testdata_file("JPEG-lossy.dcm"))
    broken.save_as(raw / "patient_a/broken.dcm")
    rows.append({"path": "patient_a/broken.dcm", "series_key": "b" * 16, "sop_key": "b" * 16,
                 "n_frames": 1, "slice_position": np.nan, "instance_number": np.nan})
    files = pd.DataFrame(rows).assign(shard="s001", patient_key="p" * 16, study_key="t" * 16,
                                      transfer_syntax=None)
    files_path = tmp_path / "s001.files.parquet"
    files.to_parquet(files_path)
    return raw, files_path


def run_shard(tmp_path, raw, files_path, tag, **settings):
    out = tmp_path / tag
    paths = [out / "s001.npy", out / "s001.index.parquet", out / "s001.rejects.parquet"]
    counts = preprocess_shard(files_path, raw, *paths, **{"size": 32, **settings})
    return counts, paths


def test_preprocess_shard_outputs_order_rejects_and_determinism(tmp_path):
    raw, files_path = make_shard(tmp_path)
    counts, (npy, index_path, rejects_path) = run_shard(tmp_path, raw, files_path, "one")
    assert counts == {"files": 8, "slices": 9, "rejects": 1, "blank_frames": 0}
    tensors = np.load(npy, mmap_mode="r")
    assert isinstance(tensors, np.memmap)
    assert tensors.shape == (9, 32, 32) and tensors.dtype == np.uint8
    index = pd.read_parquet(index_path)
    assert list(index.columns) == list(INDEX_COLUMNS)
    assert sorted(index["row"]) == list(range(9))
    plain = index[index["series_key"] == "s" * 16].sort_values("slice_index")
    # Ordered along the normal, not by file name: slice 0 is the most inferior (z = 0).
    assert list(plain["slice_position"]) == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert list(plain["path"]) == [f"patient_a/img{i:02d}.dcm" for i in reversed(range(6))]
    enhanced = index[index["series_key"] == "e" * 16].sort_values("slice_index")
    assert list(enhanced["frame"]) == [1, 2, 0]
    rejects = pd.read_parquet(rejects_path)
    assert list(rejects.columns) == list(REJECT_COLUMNS)
    assert rejects.iloc[0][["path", "stage", "reason"]].tolist() == [
        "patient_a/broken.dcm", "preprocess", "decode_error"]
    # Each row holds the image of its file: row order and index agree.
    first = plain.iloc[0]
    expected = preprocess_frames(decode(raw / first["path"]).frames, size=32,
                                 spacing=(1.5, 1.5))
    np.testing.assert_array_equal(tensors[first["row"]], expected[0])
    # Same input, same bytes; two worker processes give the same result as one.
    _, (npy2, index2, _) = run_shard(tmp_path, raw, files_path, "two", workers=2)
    assert npy.read_bytes() == npy2.read_bytes()
    pd.testing.assert_frame_equal(index, pd.read_parquet(index2))


def test_preprocess_shard_float16_and_bad_settings(tmp_path):
    raw, files_path = make_shard(tmp_path, n=2)
    _, (npy, _, _) = run_shard(tmp_path, raw, files_path, "half", dtype="float16", size=16)
    tensors = np.load(npy)
    assert tensors.dtype == np.float16 and tensors.shape == (5, 16, 16)
    with pytest.raises(ValueError, match="preprocess.window_percentiles"):
        run_shard(tmp_path, raw, files_path, "bad", window_percentiles=[99, 1])


def test_preprocess_shard_with_no_files(tmp_path):
    files_path = tmp_path / "s002.files.parquet"
    pd.DataFrame({c: pd.Series(dtype="str") for c in
                  ["path", "series_key", "patient_key", "sop_key"]}).to_parquet(files_path)
    out = tmp_path / "out"
    counts = preprocess_shard(files_path, tmp_path, out / "a.npy", out / "a.parquet",
                              out / "r.parquet", size=16)
    assert counts == {"files": 0, "slices": 0, "rejects": 0, "blank_frames": 0}
    assert np.load(out / "a.npy").shape == (0, 16, 16)
    assert list(pd.read_parquet(out / "a.parquet").columns) == list(INDEX_COLUMNS)


def test_merge_tensors_drops_scan_rejects_and_joins_labels(tmp_path):
    raw, files_path = make_shard(tmp_path, n=3)
    _, (_, index_path, rejects_path) = run_shard(tmp_path, raw, files_path, "m")
    manifest_rejects = tmp_path / "manifest_rejects.parquet"
    pd.DataFrame({"path": ["patient_a/img00.dcm"], "shard": ["s001"], "stage": ["scan"],
                  "reason": ["duplicate_sop_instance"], "message": ["dup"]}
                 ).to_parquet(manifest_rejects)
    series = tmp_path / "series.parquet"
    pd.DataFrame({"series_key": ["s" * 16, "e" * 16], "patient_key": ["p" * 16] * 2,
                  "label_sequence": ["t2", None], "label_orientation": ["axial", None],
                  "label_contrast": ["pre", None]}).to_parquet(series)
    out = tmp_path / "merged"
    merged = merge_tensors([index_path], [rejects_path], manifest_rejects, series,
                           out / "index.parquet", out / "qc_summary.csv", out / "rejects.parquet")
    assert "patient_a/img00.dcm" not in set(merged["path"])
    assert len(merged) == 2 + 3
    assert (merged.loc[merged["series_key"] == "s" * 16, "label_sequence"] == "t2").all()
    assert merged.loc[merged["series_key"] == "e" * 16, "label_sequence"].isna().all()
    plain = merged[merged["series_key"] == "s" * 16].sort_values("slice_index")
    assert list(plain["slice_index"]) == [0, 1]
    qc = pd.read_csv(out / "qc_summary.csv").set_index("reason")["count"]
    assert qc["decode_error"] == 1 and qc["excluded_by_scan"] == 1
    assert qc["files_total"] == 5 and qc["files_ok"] == 3 and qc["slices_ok"] == 5
    assert qc["blank_frames"] == 0
    assert len(pd.read_parquet(out / "rejects.parquet")) == 1


def test_blank_frames_never_reach_the_tensors_and_are_counted(tmp_path):
    """A blank file is a reject, a partly blank multi-frame file keeps its other frames under
    their true frame numbers, and the QC summary and shard counts say how many were skipped."""
    raw, files_path = make_shard(tmp_path, n=2)
    write_mr(raw / "patient_a/zero.dcm", np.zeros((48, 40), np.uint16), z=50.0, instance=9)
    write_enhanced(raw / "patient_a/partly.dcm",
                   np.stack([np.full((16, 16), 300, np.uint16), phantom(16, 16, seed=3),
                             np.zeros((16, 16), np.uint16), phantom(16, 16, seed=4)]),
                   positions=[0.0, 5.0, 10.0, 15.0], slopes=[1, 1, 1, 1])
    files = pd.read_parquet(files_path)
    extra = pd.DataFrame([
        {"path": "patient_a/zero.dcm", "series_key": "s" * 16, "sop_key": "z" * 16,
         "n_frames": 1, "slice_position": 50.0, "instance_number": 9.0},
        {"path": "patient_a/partly.dcm", "series_key": "q" * 16, "sop_key": "q" * 16,
         "n_frames": 4, "slice_position": 0.0, "instance_number": 1.0}]).assign(
        shard="s001", patient_key="p" * 16, study_key="t" * 16, transfer_syntax=None)
    pd.concat([files, extra], ignore_index=True).to_parquet(files_path)
    counts, (npy, index_path, rejects_path) = run_shard(tmp_path, raw, files_path, "blank")
    index, rejects = pd.read_parquet(index_path), pd.read_parquet(rejects_path)
    assert counts == {"files": 6, "slices": 2 + 3 + 2, "rejects": 2, "blank_frames": 2}
    assert set(index["path"]).isdisjoint(rejects["path"])
    assert set(index["path"]) | set(rejects["path"]) == set(files["path"]) | set(extra["path"])
    blank = rejects.set_index("path").loc["patient_a/zero.dcm"]
    assert blank["reason"] == "blank_image" and "value 0" in blank["message"]
    partly = index[index["path"] == "patient_a/partly.dcm"].sort_values("row")
    assert list(partly["frame"]) == [1, 3] and (partly["blank_frames"] == 2).all()
    assert list(partly["slice_position"]) == [5.0, 15.0] and list(partly["slice_index"]) == [0, 1]
    assert (index.loc[index["path"] != "patient_a/partly.dcm", "blank_frames"] == 0).all()
    tensors = np.load(npy)
    assert len(tensors) == len(index) and all(tensors[r].max() == 255 for r in index["row"])

    manifest_rejects = tmp_path / "none.parquet"
    pd.DataFrame({c: pd.Series(dtype="str") for c in REJECT_COLUMNS}).to_parquet(manifest_rejects)
    series = tmp_path / "series.parquet"
    pd.DataFrame({"series_key": ["s" * 16, "e" * 16, "q" * 16], "patient_key": ["p" * 16] * 3,
                  "label_sequence": ["t2", None, None]}).to_parquet(series)
    out = tmp_path / "merged"
    merge_tensors([index_path], [rejects_path], manifest_rejects, series, out / "index.parquet",
                  out / "qc_summary.csv", out / "rejects.parquet")
    qc = pd.read_csv(out / "qc_summary.csv").set_index("reason")["count"]
    assert qc["blank_image"] == 1 and qc["blank_frames"] == 2 and qc["decode_error"] == 1
    assert qc["files_ok"] + len(rejects) == qc["files_total"] == 6


# ---------------------------------------------------------------- Siemens mosaics


def write_mosaic(path, tiles, grid, *, n=None, creator="SIEMENS CSA HEADER",
                 image_type=("ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"), implicit=False):
    """A Siemens mosaic: ``tiles`` (n, h, w) laid out row by row on a ``grid`` × ``grid`` canvas
    (the unused tiles black), NumberOfImagesInMosaic in the private block of ``creator``."""
    count, rows, columns = tiles.shape
    canvas = np.zeros((grid * rows, grid * columns), np.uint16)
    for k, tile in enumerate(tiles):
        top, left = divmod(k, grid)
        canvas[top * rows:(top + 1) * rows, left * columns:(left + 1) * columns] = tile
    attrs = {"ImageType": list(image_type), "SpacingBetweenSlices": "4", "SliceThickness": "3"}
    write_mr(path, canvas, z=10.0, **attrs)
    ds = pydicom.dcmread(path)
    ds.private_block(0x0019, creator, create=True).add_new(0x0A, "US", n or count)
    if implicit:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


def mosaic_tiles(n=9, rows=32, columns=32):
    return np.stack([phantom(rows, columns, peak=400 * (k + 1), seed=k) for k in range(n)])


@pytest.mark.parametrize("implicit", [False, True])
def test_a_siemens_mosaic_becomes_its_tiles_on_both_paths(tmp_path, implicit):
    tiles = mosaic_tiles()
    path = write_mosaic(tmp_path / "epi.dcm", tiles, 3, implicit=implicit)
    record = scanned_record(path)
    assert record.mosaic_images == 9 and (record.rows, record.columns) == (96, 96)
    layout = native_layout(record)
    assert layout is not None and layout.mosaic_images == 9
    for image in (decode(path), decode_native(path, layout)):
        assert image.frames.shape == (9, 32, 32)
        for k in range(9):  # tile k is the k-th block, row by row
            top, left = divmod(k, 3)
            np.testing.assert_array_equal(image.frames[k], tiles[k].astype(np.float32))
            assert (image.frames[k] == pydicom.dcmread(path).pixel_array[
                top * 32:(top + 1) * 32, left * 32:(left + 1) * 32]).all()
        # Tile k lies k slice spacings (SpacingBetweenSlices 4 mm) from the mosaic's position.
        np.testing.assert_allclose(image.positions, 10.0 + 4.0 * np.arange(9))
        assert image.pixel_spacing == (1.5, 1.5)
    for result in (process(path), process(path, layout)):
        status, tensors, positions, frame_numbers, n_blank = result
        assert status == "ok" and n_blank == 0 and list(frame_numbers) == list(range(9))
        expected = preprocess_frames(tiles.astype(np.float32), size=32, spacing=(1.5, 1.5))
        np.testing.assert_array_equal(tensors, expected)  # each tile windowed on its own


def test_a_mosaic_keeps_its_first_n_tiles_and_skips_blank_ones(tmp_path):
    tiles = mosaic_tiles(7)
    tiles[5] = 0  # a slice outside the body
    path = write_mosaic(tmp_path / "seven.dcm", tiles, 3)  # 3 x 3 grid, 2 empty tiles
    layout = native_layout(scanned_record(path))
    for result in (process(path), process(path, layout)):
        status, tensors, positions, frame_numbers, n_blank = result
        assert status == "ok" and len(tensors) == 6 and n_blank == 1
        assert list(frame_numbers) == [0, 1, 2, 3, 4, 6]
        np.testing.assert_allclose(positions, 10.0 + 4.0 * np.array([0, 1, 2, 3, 4, 6]))


def test_only_a_siemens_mosaic_is_cut(tmp_path):
    tiles = mosaic_tiles(4)
    other_vendor = write_mosaic(tmp_path / "anon.dcm", tiles, 2, creator="Anon")
    not_mosaic = write_mosaic(tmp_path / "plain.dcm", tiles, 2,
                              image_type=("ORIGINAL", "PRIMARY", "M", "ND"))
    too_many = write_mosaic(tmp_path / "many.dcm", tiles[:, :2, :2], 2, n=40000)
    for path in (other_vendor, not_mosaic, too_many):
        record = scanned_record(path)
        assert record.mosaic_images == 0
        assert decode(path).frames.shape == (1, record.rows, record.columns)
        assert decode_native(path, native_layout(record)).frames.shape[0] == 1


def test_split_mosaic_drops_what_whole_tiles_do_not_cover():
    image = np.arange(100 * 98, dtype=np.float32).reshape(100, 98)
    tiles = split_mosaic(image, 8)  # 3 x 3 grid of 33 x 32 tiles, two rows/columns left over
    assert tiles.shape == (8, 33, 32)
    np.testing.assert_array_equal(tiles[4], image[33:66, 32:64])
    np.testing.assert_array_equal(tiles[7], image[66:99, 32:64])
    with pytest.raises(DecodeError) as error:
        split_mosaic(np.zeros((2, 2), np.float32), 9)
    assert error.value.reason == "geometry_mismatch"

"""Real scanner files: the scan and preprocess stages on the registry-built real-DICOM corpus.

The corpus (``tests/realcorpus``: pydicom's and pydicom-data's test files, dcm-classifier's
Siemens protocol, nibabel's and heudiconv's DICOM test data) holds classic and enhanced MR of
several vendors, compressed and uncompressed, big endian, gzip-compressed, broken and non-MR files.
Synthetic files cannot stand in for it: they never produced the crashes and lost fields these
tests guard against. Every expectation is computed independently with a full pydicom parse.
The same corpus through the workflow's rules: tests/workflow/test_real_corpus_workflow.py.

Locally the corpus is skipped when it is neither cached nor downloadable; under CI it must build.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from mriseq.dicom import REASONS
from mriseq.geometry import header_orientation
from mriseq.scan.privacy import pseudonym
from mriseq.scan.shard import scan_files
from mriseq.tensors.frames import preprocess_frames
from mriseq.tensors.shard import preprocess_shard
from realcorpus import files as corpus

KEY = b"real-corpus-key"
SIZE = 128
WINDOW = (0.5, 99.5)
# Compressed enhanced multi-frame MR that once crashed the scan job (a closed file handle).
ENHANCED_COMPRESSED = ["pydicom-data/emri_small_jpeg_2k_lossless.dcm",
                       "pydicom-data/emri_small_jpeg_ls_lossless.dcm",
                       "pydicom-data/emri_small_RLE.dcm"]
# Gzip-compressed real files (a Philips enhanced MPRAGE, Siemens DWI at b 0 and 1000): frames.
GZIPPED = {"nibabel/nicom/tests/data/philips_mprage.dcm.gz": 176,
           "nibabel/nicom/tests/data/siemens_dwi_0.dcm.gz": 1,
           "nibabel/nicom/tests/data/siemens_dwi_1000.dcm.gz": 1}
# Siemens mosaics with their NumberOfImagesInMosaic and tile size. The two gzip-compressed DWI
# mosaics hold only zeros (their pixels were stripped for the test data): blank, all 48 tiles.
MOSAICS = {"heudiconv/axasc35.dcm": (35, 64, 64),
           "heudiconv/b0dwiForFmap/b0dwi_for_fmap+00001.dcm": (81, 152, 150),
           "nibabel/nicom/tests/data/0.dcm": (48, 36, 36),
           "nibabel/nicom/tests/data/siemens_dwi_0.dcm.gz": (48, 128, 128),
           "nibabel/nicom/tests/data/siemens_dwi_1000.dcm.gz": (48, 128, 128)}
BLANK_MOSAICS = {"nibabel/nicom/tests/data/siemens_dwi_0.dcm.gz",
                 "nibabel/nicom/tests/data/siemens_dwi_1000.dcm.gz"}


@pytest.fixture(scope="session")
def archive(real_corpus) -> Path:
    """The real-DICOM corpus (``real_corpus`` in tests/conftest.py)."""
    return real_corpus


@pytest.fixture(scope="session")
def scanned(archive):
    """The shard scan: per-file reads plus the shard checks (duplicates, mixed sizes)."""
    files, rejects = scan_files(archive, sorted(os.listdir(archive)), "s000", KEY, workers=2)
    return files, rejects


@pytest.fixture(scope="session")
def read_each(archive):
    """Every file read on its own (see ``realcorpus.files.read_each``)."""
    return corpus.read_each(archive, KEY)


@pytest.fixture(scope="session")
def preprocessed(archive, read_each, tmp_path_factory):
    files, _ = read_each
    out = tmp_path_factory.mktemp("real-tensors")
    manifest = out / "s000.files.parquet"
    files.to_parquet(manifest, index=False)
    preprocess_shard(manifest, archive, out / "s000.npy", out / "s000.index.parquet",
                     out / "s000.rejects.parquet", size=SIZE, window_percentiles=WINDOW,
                     workers=2)
    return (np.load(out / "s000.npy", mmap_mode="r"), pd.read_parquet(out / "s000.index.parquet"),
            pd.read_parquet(out / "s000.rejects.parquet"))


# ---------------------------------------------------------------- the scan


def test_corpus_is_real_and_varied(archive, scanned):
    files, rejects = scanned
    assert len(corpus.corpus_files(archive)) > 500
    assert set(files["path"].str.split("/").str[0]) >= {"pydicom-data", "pydicom-test-files",
                                                        "dcm-classifier", "nibabel"}
    manufacturers = " ".join(files["manufacturer"].dropna().str.upper())
    for vendor in ("SIEMENS", "GE", "PHILIPS"):
        assert vendor in manufacturers
    assert (files["n_frames"] > 1).any(), "enhanced multi-frame MR must be in the corpus"


def test_every_file_lands_in_exactly_one_table_with_a_specific_reason(archive, scanned):
    files, rejects = scanned
    listed = {rel for _, rel in corpus.corpus_files(archive)}
    kept, rejected = set(files["path"]), set(rejects["path"])
    assert not kept & rejected
    assert kept | rejected == listed
    assert len(files) + len(rejects) == len(listed)
    assert set(rejects["reason"]) <= set(REASONS)
    # reader_error means a reader bug met a real file: none may be left.
    assert "reader_error" not in set(rejects["reason"]), rejects[rejects.reason == "reader_error"]
    # Gzip-compressed DICOM is read (see below); nibabel's Siemens mosaics share a series with
    # 256² files, so only the shard's series checks may set them aside.
    gzipped = rejects[rejects["path"].str.endswith(".gz")]
    assert gzipped["reason"].isin(["geometry_mismatch", "duplicate_sop_instance"]).all(), gzipped
    assert rejects["message"].str.len().gt(0).all()


def test_compressed_enhanced_multiframe_is_read(read_each):
    files, rejects = read_each
    frames = dict(zip(files["path"], files["n_frames"], strict=True))
    for path in ENHANCED_COMPRESSED:
        assert frames.get(path) == 10, f"{path}: {rejects[rejects.path == path].to_dict()}"
    for path, n in GZIPPED.items():
        assert frames.get(path) == n, f"{path}: {rejects[rejects.path == path].to_dict()}"


def _number(value):
    """A header value as float (first of several); None when absent or not a number."""
    if value is None or value == "":
        return None
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _functional(ds, sequence: str, keyword: str):
    """keyword from the dataset itself, else the first frame's per-frame, else the shared
    functional group's ``sequence`` item (per-frame groups override shared ones)."""
    if keyword in ds and ds[keyword].value not in (None, ""):
        return ds[keyword].value
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        items = ds.get(groups)
        if items and sequence in items[0] and items[0][sequence].value:
            inner = items[0][sequence][0]
            if keyword in inner and inner[keyword].value not in (None, ""):
                return inner[keyword].value
    return None


def _private_b_value(ds):
    for group, offset, creator in ((0x0019, 0x0C, "SIEMENS MR HEADER"),
                                   (0x0043, 0x39, "GEMS_PARM_01"),
                                   (0x2001, 0x03, "Philips Imaging DD 001")):
        try:
            value = ds.private_block(group, creator)[offset].value
        except (KeyError, ValueError):
            continue
        if isinstance(value, bytes):  # VR UN in an implicit-VR file
            fmt = "<f" if group == 0x2001 else None
            value = np.frombuffer(value[:4], fmt)[0] if fmt else value.decode().split("\\")[0]
        number = _number(value)
        if number is not None:
            return number % 1_000_000_000 if group == 0x0043 else number
    return None


def _dcmread(path: Path):
    """pydicom's full parse (of the inflated bytes for a gzip-compressed file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path.name.endswith(".gz"):
            return pydicom.dcmread(io.BytesIO(gzip.decompress(path.read_bytes())), force=True)
        return pydicom.dcmread(path, force=True)


def reference_fields(path: Path) -> dict:
    """The fields the scan must report, from pydicom's full parse of the file."""
    ds = _dcmread(path)
    b_value = _number(_functional(ds, "MRDiffusionSequence", "DiffusionBValue"))
    return {
        "rows": int(ds.Rows), "columns": int(ds.Columns),
        "n_frames": int(_number(ds.get("NumberOfFrames")) or 1),
        "echo_time": _number(_functional(ds, "MREchoSequence", "EchoTime")
                             or _functional(ds, "MREchoSequence", "EffectiveEchoTime")),
        "repetition_time": _number(_functional(ds, "MRTimingAndRelatedParametersSequence",
                                               "RepetitionTime")),
        "inversion_time": _number(ds.get("InversionTime")),
        "flip_angle": _number(_functional(ds, "MRTimingAndRelatedParametersSequence",
                                          "FlipAngle")),
        "b_value": b_value if b_value is not None else _private_b_value(ds),
        "header_orientation": header_orientation(
            _functional(ds, "PlaneOrientationSequence", "ImageOrientationPatient"), 0.8),
        "series_key": pseudonym(str(ds.SeriesInstanceUID), KEY),
        "sequence_name": _text(ds.get("SequenceName") or ds.get("PulseSequenceName")),
        "mr_acquisition_type": _text(ds.get("MRAcquisitionType")),
        "protocol_name": _text(ds.get("ProtocolName")),
    }


def _text(value):
    """A text value as the scan reports it: stripped, None when empty."""
    text = str(value).strip("\x00 ").strip() if value is not None else ""
    return text or None


def _same(a, b) -> bool:
    if isinstance(b, float) or isinstance(a, float):
        a = None if a is None or (isinstance(a, float) and math.isnan(a)) else a
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


def test_scan_fields_equal_a_full_pydicom_parse(archive, read_each):
    files, _ = read_each
    mismatches = []
    for row in files.itertuples(index=False):
        expected = reference_fields(archive / row.path)
        for key, value in expected.items():
            got = getattr(row, key)
            got = None if got is pd.NA else got
            if not _same(got, value):
                mismatches.append(f"{row.path}: {key} scan {got!r}, pydicom {value!r}")
    assert not mismatches, "\n".join(mismatches[:40])


def test_real_diffusion_files_carry_their_b_values(read_each):
    """The corpus's real DWI is Siemens (b-values in DiffusionBValue or (0019,xx0C)); Philips and
    GE private b-values are covered by hand-built headers in test_scan.py."""
    files, _ = read_each
    siemens = files[files["manufacturer"].str.upper().str.contains("SIEMENS", na=False)]
    assert {0.0, 1000.0, 1500.0} <= set(siemens["b_value"].dropna())


# ---------------------------------------------------------------- preprocessing


def _mosaic_count(ds) -> int:
    """NumberOfImagesInMosaic of a Siemens mosaic read by pydicom, 0 for any other image."""
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    if "MOSAIC" not in image_type:
        return 0
    for creator in ("SIEMENS MR HEADER", "SIEMENS CSA HEADER"):
        try:
            value = ds.private_block(0x0019, creator)[0x0A].value
        except KeyError:
            continue
        return int(np.frombuffer(value[:2], "<u2")[0]) if isinstance(value, bytes) else int(value)
    return 0


def _tiles(image: np.ndarray, n: int) -> np.ndarray:
    """The first n tiles of a mosaic, row by row, each image side split into ceil(sqrt(n))."""
    grid = math.ceil(math.sqrt(n))
    height, width = image.shape[0] // grid, image.shape[1] // grid
    return np.stack([image[(k // grid) * height:(k // grid + 1) * height,
                           (k % grid) * width:(k % grid + 1) * width] for k in range(n)])


def _reference_images(path: Path) -> np.ndarray | None:
    """pydicom's pixel_array with rescale (per frame where the file has functional groups) and
    MONOCHROME1 inversion, a Siemens mosaic cut into its tiles, through the same resize and
    window (blank frames all black); None where pydicom cannot decode."""
    ds = _dcmread(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pixels = ds.pixel_array
        except Exception:  # noqa: BLE001 - no decoder or broken data: not a reference
            return None
    frames = int(_number(ds.get("NumberOfFrames")) or 1)
    arr = np.asarray(pixels, dtype=np.float32).reshape(frames, int(ds.Rows), int(ds.Columns))
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    for i in range(frames):
        source = ds
        for groups, index in ((per_frame, i), (ds.get("SharedFunctionalGroupsSequence"), 0)):
            if groups and index < len(groups) and groups[index].get(
                    "PixelValueTransformationSequence"):
                source = groups[index].PixelValueTransformationSequence[0]
                break
        slope = _number(source.get("RescaleSlope"))
        intercept = _number(source.get("RescaleIntercept"))
        arr[i] = arr[i] * np.float32(1.0 if slope is None else slope) + np.float32(intercept or 0)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        arr = -arr
    if _mosaic_count(ds):
        arr = _tiles(arr[0], _mosaic_count(ds))
    spacing = _functional(ds, "PixelMeasuresSequence", "PixelSpacing")
    spacing = tuple(float(v) for v in spacing) if spacing else None
    return preprocess_frames(arr, size=SIZE, window_percentiles=WINDOW,
                             spacing=spacing if spacing and min(spacing) > 0 else None)


def test_preprocessed_images_equal_pydicom_pixel_array(archive, read_each, preprocessed):
    """Every frame (mosaic tile) with contrast is in the index, equal to pydicom's pixels
    through the same transform; every frame without is skipped, a file with nothing else is a
    ``blank_image`` reject (the corpus's anonymised Siemens protocol is blanked throughout)."""
    files, _ = read_each
    tensors, index, rejects = preprocessed
    assert set(index["path"]) | set(rejects["path"]) == set(files["path"])
    assert set(index["path"]).isdisjoint(rejects["path"])
    assert "reader_error" not in set(rejects["reason"]), rejects
    reasons = rejects.set_index("path")["reason"].to_dict()
    compared, blank, failures = 0, 0, []
    for row in files.itertuples(index=False):
        expected = _reference_images(archive / row.path)
        if expected is None:
            continue
        with_contrast = np.flatnonzero(expected.reshape(len(expected), -1).max(axis=1) > 0)
        frames = index[index["path"] == row.path].sort_values("frame")
        if not len(with_contrast):
            blank += 1
            if reasons.get(row.path) != "blank_image":
                failures.append(f"{row.path}: blank, but {reasons.get(row.path, 'in the index')}")
            continue
        if row.path in reasons:
            failures.append(f"{row.path}: pydicom decodes it, preprocessing rejected it "
                            f"({reasons[row.path]})")
            continue
        assert list(frames["frame"]) == list(with_contrast), f"{row.path}: frames missing"
        assert (frames["blank_frames"] == len(expected) - len(with_contrast)).all(), row.path
        got = np.asarray(tensors[frames["row"].to_numpy()], dtype=np.int16)
        worst = int(np.abs(got - expected[with_contrast].astype(np.int16)).max())
        if worst > 1:
            failures.append(f"{row.path}: differs by {worst} grey levels")
        compared += 1
    assert not failures, "\n".join(failures)
    assert compared > 40 and blank > 400
    assert rejects["reason"].eq("blank_image").sum() == blank


def test_siemens_mosaics_become_their_tiles(archive, read_each, preprocessed):
    """Real mosaics: one slice per tile (NumberOfImagesInMosaic of them), each with contrast,
    ordered along the normal one slice spacing apart; the stripped DWI mosaics are blank."""
    files, _ = read_each
    tensors, index, rejects = preprocessed
    by_path = files.set_index("path")
    for path, (n, height, width) in MOSAICS.items():
        ds = _dcmread(archive / path)
        assert by_path.at[path, "mosaic_images"] == _mosaic_count(ds) == n
        if path in BLANK_MOSAICS:
            reject = rejects.set_index("path").loc[path]
            assert reject["reason"] == "blank_image" and "all 48 frames" in reject["message"]
            continue
        tiles = index[index["path"] == path].sort_values("frame")
        assert list(tiles["frame"]) == list(range(n)), path
        assert all(np.asarray(tensors[r]).max() == 255 for r in tiles["row"]), path
        spacing = float(ds.SpacingBetweenSlices)
        np.testing.assert_allclose(np.diff(tiles["slice_position"]), spacing, rtol=1e-6)
        assert _tiles(ds.pixel_array, n).shape[1:] == (height, width)
    # A mosaic without its count (anonymised away) stays one image.
    anonymised = files[files["image_type"].str.contains("MOSAIC", na=False)
                       & files["path"].str.startswith("dcm-classifier")]
    assert len(anonymised) and (anonymised["mosaic_images"] == 0).all()


def test_native_files_are_read_without_pydicom(archive, read_each, monkeypatch, tmp_path):
    """Classic uncompressed files never reach pydicom in the preprocess job."""
    import mriseq.dicom.pixels
    import mriseq.tensors.frames

    files, _ = read_each
    native = files[(files["pixel_offset"] >= 0) & files["transfer_syntax"].isin(
        ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]) & (files["n_frames"] == 1)]
    assert len(native) > 100
    # The blanked protocol would fill the sample: take what has pixels, mosaics among them.
    blanked = native["path"].str.startswith("dcm-classifier")
    native = pd.concat([native[~blanked], native[blanked].head(5)])
    assert (native["mosaic_images"] > 0).sum() >= 4

    def no_parse(*args, **kwargs):
        raise AssertionError("pydicom parse on a native file")

    monkeypatch.setattr(mriseq.tensors.frames, "decode", no_parse)
    monkeypatch.setattr(mriseq.dicom.pixels.pydicom, "dcmread", no_parse)
    manifest = tmp_path / "s001.files.parquet"
    native.head(50).to_parquet(manifest, index=False)
    counts = preprocess_shard(manifest, archive, tmp_path / "t.npy", tmp_path / "i.parquet",
                              tmp_path / "r.parquet", size=SIZE, workers=1)
    rejects = pd.read_parquet(tmp_path / "r.parquet")
    assert counts["files"] == len(native) and rejects["reason"].eq("blank_image").all()
    assert counts["rejects"] == 5 and counts["slices"] > counts["files"]


# ---------------------------------------------------------------- defence in depth


def test_an_escaping_reader_exception_is_a_reject_not_a_crash(archive, monkeypatch, tmp_path):
    import mriseq.scan.headers
    import mriseq.tensors.frames

    def broken(*args, **kwargs):
        raise RuntimeError("reader bug")

    monkeypatch.setattr(mriseq.scan.headers, "read_header", broken)
    files, rejects = scan_files(archive, ["nibabel"], "s000", KEY, workers=1)
    assert len(files) == 0 and len(rejects) > 0
    assert rejects["reason"].eq("reader_error").all()
    assert rejects["message"].str.contains("RuntimeError: reader bug").all()

    monkeypatch.undo()
    files, _ = scan_files(archive, ["nibabel"], "s000", KEY, workers=1)
    monkeypatch.setattr(mriseq.tensors.frames, "decode", broken)
    monkeypatch.setattr(mriseq.tensors.frames, "decode_native", broken)
    manifest = tmp_path / "s000.files.parquet"
    files.to_parquet(manifest, index=False)
    counts = preprocess_shard(manifest, archive, tmp_path / "t.npy", tmp_path / "i.parquet",
                              tmp_path / "r.parquet", size=16, workers=1)
    rejects = pd.read_parquet(tmp_path / "r.parquet")
    assert counts["slices"] == 0 and len(rejects) == len(files)
    assert rejects["reason"].eq("reader_error").all()

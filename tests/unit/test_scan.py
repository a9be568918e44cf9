"""Scan / QC unit tests: the hostile corpus, the invariant, orientation, reader parity, fuzzing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile.corpus import build_corpus, mr_dataset, save  # noqa: E402
from mriseq import dicom  # noqa: E402
from mriseq.dicom.fallback import read_with_pydicom  # noqa: E402
from mriseq.dicom.validate import validate_fields  # noqa: E402
from mriseq.geometry import header_orientation  # noqa: E402
from mriseq.scan.headers import count_files, printable_path  # noqa: E402
from mriseq.scan.manifests import merge_manifests, series_table  # noqa: E402
from mriseq.scan.shard import scan_files, scan_shard  # noqa: E402

KEY = b"test-key"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    expected = build_corpus(root)
    yield root, expected
    for path in root.rglob("*"):  # let pytest clean up the unreadable file
        if not path.is_symlink() and path.is_file():
            path.chmod(0o644)


@pytest.fixture(scope="module")
def scanned(corpus):
    root, _ = corpus
    return scan_files(root, sorted(os.listdir(root)), "s000", KEY, workers=2)


def test_corpus_has_at_least_20_kinds(corpus):
    _, expected = corpus
    assert len({rel.split("/")[0] for rel in expected}) >= 20
    assert len(set(expected.values())) >= 15


def test_every_hostile_file_gets_its_expected_outcome(corpus, scanned):
    _, expected = corpus
    files, rejects = scanned
    got = {path: "ok" for path in files["path"]}
    for path, reason in zip(rejects["path"], rejects["reason"], strict=True):
        assert path not in got, f"{path} is in both files and rejects"
        got[path] = reason
    assert {printable_path(rel): outcome for rel, outcome in expected.items()} == got


def test_invariant_every_file_in_exactly_one_table(corpus, scanned):
    root, _ = corpus
    files, rejects = scanned
    paths = list(files["path"]) + list(rejects["path"])
    assert len(paths) == len(set(paths)) == count_files(root)
    on_disk = sum(len(names) + sum(os.path.islink(os.path.join(d, n)) for n in dirs)
                  for d, dirs, names in os.walk(root))
    assert len(paths) == on_disk


def test_rows_carry_decoded_headers(scanned):
    files, _ = scanned
    row = files.set_index("path")
    assert row.at["p22_charset/cyrillic.dcm", "series_description"] == "Т2 аксиал"
    assert row.at["p32_ge_bvalue/dwi.dcm", "b_value"] == 800.0
    enhanced = row.loc["p24_enhanced/multiframe.dcm"]
    assert (enhanced.n_frames, enhanced.header_orientation) == (3, "coronal")
    assert enhanced.repetition_time == pytest.approx(4.2) and enhanced.echo_time == 1.9
    sparse = row.loc["p23_sparse/minimal.dcm"]
    assert sparse.header_orientation == "unknown" and np.isnan(sparse.echo_time)
    assert row.at["p17_big_endian/be.dcm", "rows"] == 16
    assert row.at["p16_compressed/rle.dcm", "transfer_syntax"] == "1.2.840.10008.1.2.5"
    assert files["sop_key"].str.fullmatch(r"[0-9a-f]{16}").all()


@pytest.mark.parametrize(
    ("iop", "expected"),
    [
        ([1, 0, 0, 0, 1, 0], "axial"),
        ([1, 0, 0, 0, 0, -1], "coronal"),
        ([0, 1, 0, 0, 0, -1], "sagittal"),
        ([1, 0, 0, 0, 0.7071, 0.7071], "oblique"),
        ([1, 0, 0, 0, 0.8, 0.6], "oblique"),  # |n_z| = 0.8 - epsilon side, see next
        ([1, 0, 0, 0, 0.6, 0.8], "coronal"),  # |n_y| = 0.8 >= tolerance 0.8
        (None, "unknown"),
        ([0, 0, 0, 0, 0, 0], "unknown"),
        ([1, 0, 0], "unknown"),
    ],
)
def test_header_orientation(iop, expected):
    if expected == "oblique" and iop[4] == 0.8:
        # the normal is (0, -0.6, 0.8): dominant z at exactly 0.8 is axial; 0.79 is oblique
        assert header_orientation(iop, 0.8) == "axial"
        assert header_orientation(iop, 0.81) == "oblique"
        return
    assert header_orientation(iop, 0.8) == expected


def test_fast_reader_matches_pydicom(tmp_path):
    paths = [save(mr_dataset(instance=3), tmp_path / "e.dcm"),
             save(mr_dataset(instance=4), tmp_path / "i.dcm", implicit=True)]
    for path in paths:
        fast = dicom.read_header(path)
        assert fast.reader == "fast" and fast.ok
        with open(path, "rb") as handle:
            fields, pixel = read_with_pydicom(handle, path.stat().st_size)
        slow = validate_fields(fields, pixel, path.stat().st_size, 1 << 24, "pydicom")
        assert slow.ok
        def present(fields):
            return {k: v for k, v in fields.items() if v not in (None, []) and k != "b_value"}

        assert present(fast.fields) == present(slow.fields)


def test_max_pixels_is_a_parameter(tmp_path):
    save(mr_dataset(rows=32, columns=32), tmp_path / "p" / "a.dcm")
    assert dicom.read_header(tmp_path / "p" / "a.dcm", max_pixels=1024).ok
    result = dicom.read_header(tmp_path / "p" / "a.dcm", max_pixels=1023)
    assert result.reason == "implausible_size"


_TEMPLATE = None


def _template() -> bytes:
    global _TEMPLATE
    if _TEMPLATE is None:
        import io

        buffer = io.BytesIO()
        mr_dataset().save_as(buffer, enforce_file_format=True)
        _TEMPLATE = buffer.getvalue()
    return _TEMPLATE


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_bytes_never_crash_the_reader(tmp_path, data):
    raw = bytearray(_template())
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "zero_run"]))
        at = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[at:]
            if not raw:
                break
        elif op == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            raw[at:at + 8] = b"\xff" * 8
    path = tmp_path / "fuzz.dcm"
    path.write_bytes(bytes(raw))
    result = dicom.read_header(path)
    assert result.ok or result.reason in dicom.REASONS
    if result.ok:
        assert result.fields["rows"] * result.fields["columns"] <= 1 << 24


def test_scan_shard_and_merge_write_the_manifests(tmp_path):
    raw = tmp_path / "raw"
    series_uid = "1.2.3.4.5.6.7.8.9"
    for k in range(3):
        save(mr_dataset(series_uid=series_uid, instance=k + 1), raw / "pat_a" / f"{k}.dcm")
    save(mr_dataset(iop=(1, 0, 0, 0, 0, -1)), raw / "pat_b" / "x.dcm")
    (raw / "pat_b" / "notes.txt").write_text("hello")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"SeriesInstanceUID,sequence,orientation,contrast\n{series_uid},t2,axial,pre\n")
    out = tmp_path / "out"
    for shard, entries in (("s000", ["pat_a"]), ("s001", ["pat_b"])):
        scan_shard(str(raw), entries, out / f"{shard}.files.parquet",
                   out / f"{shard}.rejects.parquet", shard, "NO_SUCH_ENV", "k")
    merge_manifests([out / "s000.files.parquet", out / "s001.files.parquet"],
                    [out / "s000.rejects.parquet", out / "s001.rejects.parquet"],
                    out / "files.parquet", out / "series.parquet", out / "volumes.parquet",
                    out / "rejects.parquet", out / "qc_summary.csv", labels_path=str(labels),
                    key_env="NO_SUCH_ENV", key="k")
    files = pd.read_parquet(out / "files.parquet")
    series = pd.read_parquet(out / "series.parquet").set_index("series_dir")
    rejects = pd.read_parquet(out / "rejects.parquet")
    qc = pd.read_csv(out / "qc_summary.csv").set_index("reason")["count"]
    assert len(files) + len(rejects) == count_files(raw) == 5
    assert series.at["pat_a", "n_files"] == 3 and series.at["pat_a", "label_sequence"] == "t2"
    assert pd.isna(series.at["pat_b", "label_sequence"])
    assert series.at["pat_b", "header_orientation"] == "coronal"
    assert (qc["files_ok"], qc["files_total"], qc["not_dicom"]) == (4, 5, 1)
    assert qc["series_labelled"] == 1 and qc["series_without_label"] == 1
    # One kind of image per series: each series is one volume, keyed like its series.
    volumes = pd.read_parquet(out / "volumes.parquet").set_index("series_dir")
    assert (qc["volumes_total"], qc["series_with_several_volumes"]) == (2, 0)
    assert (volumes["volume_key"] == volumes["series_key"]).all()
    assert volumes.at["pat_a", "label_sequence"] == "t2" and volumes.at["pat_a", "n_files"] == 3
    assert set(files["volume_key"]) == set(volumes["volume_key"])


def test_cross_shard_duplicates_are_rejected_by_the_merge(tmp_path):
    raw = tmp_path / "raw"
    twin = mr_dataset()
    save(twin, raw / "a" / "1.dcm")
    shutil.copy(raw / "a" / "1.dcm", tmp_path / "copy.dcm")
    (raw / "b").mkdir()
    shutil.copy(tmp_path / "copy.dcm", raw / "b" / "1.dcm")
    out = tmp_path / "out"
    for shard, entry in (("s000", "a"), ("s001", "b")):
        scan_shard(str(raw), [entry], out / f"{shard}.f.parquet", out / f"{shard}.r.parquet",
                   shard, "NO_SUCH_ENV", "k")
    merge_manifests([out / "s000.f.parquet", out / "s001.f.parquet"],
                    [out / "s000.r.parquet", out / "s001.r.parquet"], out / "files.parquet",
                    out / "series.parquet", out / "volumes.parquet", out / "rejects.parquet",
                    out / "qc.csv", key="k")
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert list(rejects["path"]) == ["b/1.dcm"]
    assert list(rejects["reason"]) == ["duplicate_sop_instance"]


@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize("vendor, group, creator, vr, value, expected", [
    ("Philips", 0x2001, "Philips Imaging DD 001", "FL", 800.0, 800.0),
    ("GE", 0x0043, "GEMS_PARM_01", "IS", ["1000000500", "8", "0", "0"], 500.0),
    ("GE", 0x0043, "GEMS_PARM_01", "IS", ["1000", "8", "0", "0"], 1000.0),
    ("Siemens", 0x0019, "SIEMENS MR HEADER", "IS", "50", 50.0),
])
def test_private_b_values_of_each_vendor(tmp_path, implicit, vendor, group, creator, vr, value,
                                         expected):
    """Vendor b-values without DiffusionBValue, read alike by the fast walker and by the pydicom
    fallback (each run on the same file), explicit and implicit VR."""
    ds = mr_dataset()
    ds.Manufacturer = vendor
    ds.private_block(group, creator, create=True).add_new(
        {0x2001: 0x03, 0x0043: 0x39, 0x0019: 0x0C}[group], vr, value)
    path = save(ds, tmp_path / "dwi.dcm", implicit=implicit)
    fast = dicom.read_header(path)
    assert fast.ok and fast.reader == "fast"
    assert fast.fields["b_value"] == expected
    with open(path, "rb") as handle:
        fields, _ = read_with_pydicom(handle, path.stat().st_size)
    assert fields["b_value"] == expected


@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize("creator, image_type, count, rows, expected", [
    ("SIEMENS MR HEADER", ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"], 9, 96, 9),
    ("SIEMENS CSA HEADER", ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE", "ND", "MOSAIC"], 35, 384,
     35),
    ("SIEMENS MR HEADER", ["ORIGINAL", "PRIMARY", "M", "ND"], 9, 96, 0),  # not a mosaic
    ("Anon", ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"], 9, 96, 0),  # not a Siemens block
    ("SIEMENS MR HEADER", ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"], 400, 16, 0),  # 20² > 16
    ("SIEMENS MR HEADER", ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"], None, 96, 0),  # no count
])
def test_mosaic_images_read_alike_by_both_readers(tmp_path, implicit, creator, image_type, count,
                                                  rows, expected):
    """NumberOfImagesInMosaic (0019,xx0A) counts only in a Siemens creator's block of an image
    whose ImageType says MOSAIC, and only when its grid fits the image."""
    ds = mr_dataset(rows=rows, columns=rows, ImageType=image_type)
    ds.SpacingBetweenSlices = "3.6"
    if count is not None:
        ds.private_block(0x0019, creator, create=True).add_new(0x0A, "US", count)
    path = save(ds, tmp_path / "mosaic.dcm", implicit=implicit)
    fast = dicom.read_header(path)
    assert fast.ok and fast.reader == "fast"
    with open(path, "rb") as handle:
        fields, pixel = read_with_pydicom(handle, path.stat().st_size)
    slow = validate_fields(fields, pixel, path.stat().st_size, 1 << 24, "pydicom")
    assert fast.fields["mosaic_images"] == slow.fields["mosaic_images"] == expected
    assert fast.fields["spacing_between_slices"] == slow.fields["spacing_between_slices"] == 3.6
    assert dicom.dataset_mosaic_images(pydicom.dcmread(path)) == expected
    files, _ = scan_files(tmp_path, ["mosaic.dcm"], "s000", KEY)
    assert files["mosaic_images"].tolist() == [expected]
    assert files["mosaic_images"].dtype == "int64"


def test_series_slices_count_a_mosaics_tiles(tmp_path):
    series_uid = "1.2.3.4.5.6.7.8.10"
    for k in range(2):
        ds = mr_dataset(rows=96, columns=96, series_uid=series_uid, instance=k + 1,
                        ImageType=["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"])
        ds.private_block(0x0019, "SIEMENS MR HEADER").add_new(0x0A, "US", 9)
        save(ds, tmp_path / "pat" / f"{k}.dcm")
    files, _ = scan_files(tmp_path, ["pat"], "s000", KEY)
    assert series_table(files)["n_slices"].tolist() == [18]


def test_gzip_compressed_dicom_is_read_transparently(tmp_path):
    import gzip

    from mriseq.dicom.pixels import decode

    plain = save(mr_dataset(), tmp_path / "a.dcm")
    packed = tmp_path / "a.dcm.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    direct, inflated = dicom.read_header(plain), dicom.read_header(packed)
    assert inflated.ok and inflated.reader == "fast"
    # Same fields; the pixel offset refers to the inflated stream, so preprocessing decodes it.
    assert inflated.fields["pixel_offset"] == -1
    same = {k: v for k, v in inflated.fields.items() if not k.startswith("pixel_")}
    assert same == {k: v for k, v in direct.fields.items() if not k.startswith("pixel_")}
    np.testing.assert_array_equal(decode(packed).frames, decode(plain).frames)

    broken = tmp_path / "b.dcm.gz"
    broken.write_bytes(packed.read_bytes()[: len(packed.read_bytes()) // 2])
    result = dicom.read_header(broken)
    assert result.reason == "gzip_error" and "inflated" in result.message


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_honour_the_umask(tmp_path, umask, mode):
    from mriseq.io import save_npy, write_json, write_parquet

    old = os.umask(umask)
    try:
        write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
        write_json({"a": 1}, tmp_path / "t.json")
        save_npy(np.zeros(2), tmp_path / "t.npy")
    finally:
        os.umask(old)
    for name in ("t.parquet", "t.json", "t.npy"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("overrides", [
    {},
    {"ImageType": ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"], "mosaic": 9},
    {"DiffusionBValue": 800.0},
    {"philips_b_value": 500.0},
])
def test_big_endian_files_are_walked_like_pydicom_reads_them(tmp_path, overrides):
    """Explicit VR big endian: the walker reads it (binary values byte-swapped) into the same
    fields as the pydicom fallback."""
    from pydicom.uid import ExplicitVRBigEndian

    overrides = dict(overrides)
    mosaic, philips = overrides.pop("mosaic", None), overrides.pop("philips_b_value", None)
    ds = mr_dataset(rows=96, columns=96, **overrides)
    if mosaic:
        ds.private_block(0x0019, "SIEMENS MR HEADER").add_new(0x0A, "US", mosaic)
    if philips:
        ds.private_block(0x2001, "Philips Imaging DD 001", create=True).add_new(0x03, "FL",
                                                                                philips)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    path = tmp_path / "be.dcm"
    ds.save_as(path, enforce_file_format=True)
    fast = dicom.read_header(path)
    assert fast.ok and fast.reader == "fast"
    with open(path, "rb") as handle:
        fields, pixel = read_with_pydicom(handle, path.stat().st_size)
    slow = validate_fields(fields, pixel, path.stat().st_size, 1 << 24, "pydicom")

    def present(fields):
        return {k: v for k, v in fields.items() if v not in (None, [])}

    assert present(fast.fields) == present(slow.fields)
    assert (fast.fields["rows"], fast.fields["b_value"]) == (
        96, overrides.get("DiffusionBValue", philips))


def test_pixel_data_before_trailing_elements_is_walked_to(tmp_path, monkeypatch):
    """Pixel data that does not end the file (a trailing padding element follows it) fails the
    jump's check: the walk goes on to it instead of reading the whole file for the jump."""
    import mriseq.dicom.reader as reader

    ds = mr_dataset(rows=512, columns=512)
    ds.PresentationLUTShape = "IDENTITY"  # (2050,0020): past the last wanted group
    path = save(ds, tmp_path / "padded.dcm")
    padding = b"\xfc\xff\xfc\xffOB\x00\x00" + (64).to_bytes(4, "little") + bytes(64)
    path.write_bytes(path.read_bytes() + padding)
    heads = []
    walk = reader.walk_file

    def spy(buf, total, read_more=None):
        heads.append(len(buf))
        return walk(buf, total, lambda head: heads.append(len(head) * 2) or read_more(head))

    monkeypatch.setattr(reader, "walk_file", spy)
    result = dicom.read_header(path)
    assert result.ok and result.reader == "fast"
    with open(path, "rb") as handle:
        _, pixel = read_with_pydicom(handle, path.stat().st_size)
    assert (result.fields["pixel_offset"], result.fields["pixel_length"]) == (pixel[2], pixel[1])
    assert max(heads) < path.stat().st_size // 4  # the 32 KB head, not the whole 512 KB file

"""Vendor b-values with and without their private creator, read alike by both header readers.

Anonymisers often delete private creator elements and keep the elements they own. The scan then
reads a Siemens (0019,100C) or GE (0043,1039) b-value by the vendor's convention (block 0x10) when
the Manufacturer names the vendor and no other creator owns that block, and records where each
b-value came from in ``b_value_source``. Every case is a hand-built file written to disk in both
little-endian VR encodings; the fast walker and the pydicom fallback must each return the expected
value and source. In explicit VR a private element whose creator a converter did not know is
often written as UN: its bytes are the vendor's text, read as the vendor's VR (never guessed as
binary numbers).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile.corpus import mr_dataset, save  # noqa: E402
from mriseq import dicom  # noqa: E402
from mriseq.dicom.fallback import read_with_pydicom  # noqa: E402
from mriseq.dicom.fields import b_value_vendor  # noqa: E402
from mriseq.scan.manifests import merge_manifests  # noqa: E402
from mriseq.scan.shard import scan_files, scan_shard  # noqa: E402
from mriseq.scan.tables import FILE_DTYPES, with_file_columns  # noqa: E402

KEY = b"b-value-key"
SIEMENS, GE = "SIEMENS", "GE MEDICAL SYSTEMS"
SIEMENS_TAG, GE_TAG = 0x0019100C, 0x00431039
GE_VALUES = ["1000", "8", "0", "0"]
CONVENTIONAL, PRIVATE = "private_conventional", "private"

# (id, Manufacturer, creator at (gggg,0010): None = removed, b-value tag, VR, value,
#  expected b-value, expected source)
CASES = [
    ("siemens-creator-IS", SIEMENS, "SIEMENS MR HEADER", SIEMENS_TAG, "IS", "1000", 1000.0,
     PRIVATE),
    ("siemens-creator-UN", SIEMENS, "SIEMENS MR HEADER", SIEMENS_TAG, "UN", b"50", 50.0, PRIVATE),
    ("siemens-no-creator-IS", SIEMENS, None, SIEMENS_TAG, "IS", "1000", 1000.0, CONVENTIONAL),
    ("siemens-no-creator-DS", SIEMENS, None, SIEMENS_TAG, "DS", "1500.0", 1500.0, CONVENTIONAL),
    ("siemens-no-creator-UN-text", SIEMENS, None, SIEMENS_TAG, "UN", b"800 ", 800.0,
     CONVENTIONAL),
    ("siemens-no-creator-UN-binary", SIEMENS, None, SIEMENS_TAG, "UN", b"\xe8\x03\x00\x00", None,
     None),
    ("siemens-empty-creator", SIEMENS, "", SIEMENS_TAG, "IS", "1000", 1000.0, CONVENTIONAL),
    ("siemens-healthineers-name", "Siemens Healthineers", None, SIEMENS_TAG, "IS", "0", 0.0,
     CONVENTIONAL),
    ("siemens-foreign-creator", SIEMENS, "GEMS_ACQU_01", SIEMENS_TAG, "IS", "1000", None, None),
    ("siemens-tag-philips-file", "Philips Medical Systems", None, SIEMENS_TAG, "IS", "1000",
     None, None),
    ("siemens-tag-ge-file", GE, None, SIEMENS_TAG, "IS", "1000", None, None),
    ("siemens-tag-no-manufacturer", None, None, SIEMENS_TAG, "IS", "1000", None, None),
    ("ge-creator", GE, "GEMS_PARM_01", GE_TAG, "IS", GE_VALUES, 1000.0, PRIVATE),
    ("ge-no-creator", GE, None, GE_TAG, "IS", GE_VALUES, 1000.0, CONVENTIONAL),
    ("ge-no-creator-offset", "GE Healthcare", None, GE_TAG, "IS",
     ["1000000500", "8", "0", "0"], 500.0, CONVENTIONAL),
    ("ge-no-creator-UN", GE, None, GE_TAG, "UN", b"1000\\8\\0\\0", 1000.0, CONVENTIONAL),
    ("ge-foreign-creator", GE, "ACME_PARM 1.0", GE_TAG, "IS", GE_VALUES, None, None),
    ("ge-tag-siemens-file", SIEMENS, None, GE_TAG, "IS", GE_VALUES, None, None),
]


def dwi_dataset(manufacturer, creator, tag, vr, value, standard=None):
    """An MR file with one vendor b-value element, its block's creator as given (None: none)."""
    ds = mr_dataset()
    for existing in [t for t in ds.keys() if t.group == 0x0019]:  # mr_dataset's Siemens block
        del ds[existing]
    if manufacturer is None:
        del ds.Manufacturer
    else:
        ds.Manufacturer = manufacturer
    if creator is not None:
        ds.add_new(tag & 0xFFFF0000 | 0x0010, "LO", creator)
    ds.add_new(tag, vr, value)
    if standard is not None:
        ds.DiffusionBValue = standard
    return ds


def both_readers(path: Path) -> dict[str, tuple]:
    """(b_value, b_value_source) as the fast walker and as the pydicom fallback read ``path``."""
    fast = dicom.read_header(path)
    assert fast.ok and fast.reader == "fast", fast.message
    with open(path, "rb") as handle:
        fields, _ = read_with_pydicom(handle, path.stat().st_size)
    return {"fast": (fast.fields["b_value"], fast.fields["b_value_source"]),
            "pydicom": (fields["b_value"], fields["b_value_source"])}


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_vendor_b_value_with_and_without_its_creator(tmp_path, case, implicit):
    _, manufacturer, creator, tag, vr, value, expected, source = case
    path = save(dwi_dataset(manufacturer, creator, tag, vr, value), tmp_path / "dwi.dcm",
                implicit=implicit)
    assert both_readers(path) == {"fast": (expected, source), "pydicom": (expected, source)}


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_diffusion_b_value_wins_over_a_private_element(tmp_path, implicit):
    path = save(dwi_dataset(SIEMENS, None, SIEMENS_TAG, "IS", "1000", standard=50.0),
                tmp_path / "dwi.dcm", implicit=implicit)
    assert set(both_readers(path).values()) == {(50.0, "standard")}


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_a_nan_diffusion_b_value_leaves_the_private_element(tmp_path, implicit):
    """DiffusionBValue NaN is no b-value: the vendor's element, as in a file without it."""
    path = save(dwi_dataset(GE, None, GE_TAG, "IS", GE_VALUES, standard=math.nan),
                tmp_path / "dwi.dcm", implicit=implicit)
    assert set(both_readers(path).values()) == {(1000.0, CONVENTIONAL)}


def test_a_file_without_b_value_has_no_source(tmp_path):
    ds = mr_dataset()
    path = save(ds, tmp_path / "t2.dcm")
    assert set(both_readers(path).values()) == {(None, None)}


@pytest.mark.parametrize("name, vendor", [
    ("SIEMENS", "siemens"), ("Siemens Healthineers", "siemens"), (" siemens ", "siemens"),
    ("GE MEDICAL SYSTEMS", "ge"), ("GE Healthcare", "ge"), ("GE", "ge"),
    ("GE_MEDICAL", "ge"), ("General Electric", "ge"), ("Philips", None), ("GEMINI", None),
    ("Hitachi Medical Healthcare", None), ("CANON_MEC", None), ("", None), (None, None),
])
def test_b_value_vendor_names_siemens_and_ge_only(name, vendor):
    assert b_value_vendor(name) == vendor


def test_manifests_carry_the_b_value_source(tmp_path):
    """``b_value_source`` is a string column of the shard and merged files tables; a shard table
    written before the column existed merges with the column null."""
    raw = tmp_path / "raw"
    layouts = {"standard": (SIEMENS, None, SIEMENS_TAG, "IS", "1000", 800.0),
               "private": (SIEMENS, "SIEMENS MR HEADER", SIEMENS_TAG, "IS", "1000", None),
               "conventional": (GE, None, GE_TAG, "IS", GE_VALUES, None),
               "foreign": (GE, "ACME_PARM 1.0", GE_TAG, "IS", GE_VALUES, None)}
    series_uid = "1.2.3.4.5.6.7.8.11"
    for k, (name, layout) in enumerate(layouts.items()):
        ds = dwi_dataset(*layout[:5], standard=layout[5])
        ds.SeriesInstanceUID, ds.InstanceNumber = series_uid, k + 1
        save(ds, raw / "pat" / f"{name}.dcm", implicit=k % 2 == 1)
    files, rejects = scan_files(raw, ["pat"], "s000", KEY)
    assert rejects.empty and files["b_value_source"].dtype == "string"
    got = dict(zip(files["path"], zip(files["b_value"], files["b_value_source"], strict=True),
                   strict=True))
    assert got["pat/standard.dcm"] == (800.0, "standard")
    assert got["pat/private.dcm"] == (1000.0, "private")
    assert got["pat/conventional.dcm"] == (1000.0, CONVENTIONAL)
    assert math.isnan(got["pat/foreign.dcm"][0]) and got["pat/foreign.dcm"][1] is pd.NA

    out = tmp_path / "out"
    scan_shard(str(raw), ["pat"], out / "s000.files.parquet", out / "s000.rejects.parquet",
               "s000", "NO_SUCH_ENV", "k")
    old = pd.read_parquet(out / "s000.files.parquet").drop(columns="b_value_source")
    old["shard"] = "s001"
    old["sop_key"] = old["sop_key"] + "-old"
    old.to_parquet(out / "s001.files.parquet", index=False)
    pd.read_parquet(out / "s000.rejects.parquet").to_parquet(out / "s001.rejects.parquet")
    merge_manifests([out / "s000.files.parquet", out / "s001.files.parquet"],
                    [out / "s000.rejects.parquet", out / "s001.rejects.parquet"],
                    out / "files.parquet", out / "series.parquet", out / "volumes.parquet",
                    out / "rejects.parquet", out / "qc_summary.csv", key_env="NO_SUCH_ENV",
                    key="k")
    merged = pd.read_parquet(out / "files.parquet")
    assert merged["b_value_source"].dtype == FILE_DTYPES["b_value_source"] == "string"
    by_shard = merged.groupby("shard")["b_value_source"]
    assert sorted(by_shard.get_group("s000").dropna()) == sorted(
        ["standard", "private", CONVENTIONAL])
    assert by_shard.get_group("s001").isna().all()
    series = pd.read_parquet(out / "series.parquet")
    assert series["b_value"].max() == 1000.0
    assert "b_value_source" in with_file_columns(old).columns

"""Tests for the synthetic cohort generator (mriseq.synthetic): files, labels, broken files,
physics and determinism. The cohorts here are tiny; the rule itself runs in ``tiny_cohorts``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import yaml
from mriseq.synthetic.cohort import BROKEN_KINDS, generate_cohort, raw_dir_of
from mriseq.synthetic.geometry import orientation_label
from mriseq.synthetic.layout import patient_entries
from mriseq.synthetic.phantom import build_phantom
from mriseq.synthetic.signal import Protocol, in_phase_te, render_volume, tissue_signals
from mriseq.synthetic.tissues import INDEX
from mriseq.taxonomy import DEFAULT_TAXONOMY
from pydicom.errors import InvalidDicomError

REPO = Path(__file__).resolve().parents[1]
LABEL_MAP = yaml.safe_load((REPO / "resources" / "dlds_label_map.yaml").read_text())

GENERIC = {"layout": "generic", "patients": 3, "seed": 5, "vendors": ["siemens", "ge", "philips"],
           "field_strengths": [1.5, 3.0], "slices_per_series": [2, 3], "oblique_fraction": 0.3,
           "misleading_description_fraction": 0.1, "empty_description_fraction": 0.1,
           "broken_files": True}
DLDS = {**GENERIC, "layout": "dlds", "patients": 2, "seed": 6, "vendors": ["canon"],
        "slices_per_series": [2, 2], "oblique_fraction": 0.0, "noise_scale": 1.5}


def _generate(root: Path, cohort: dict, workers: int = 1) -> Path:
    out = root / "cohort"
    generate_cohort(str(out), cohort, DEFAULT_TAXONOMY, str(root / "montage.png"),
                    str(root / "class_counts.csv"), workers=workers)
    return out


@pytest.fixture(scope="module")
def generic(tmp_path_factory) -> Path:
    return _generate(tmp_path_factory.mktemp("generic"), GENERIC, workers=2)


@pytest.fixture(scope="module")
def dlds(tmp_path_factory) -> Path:
    return _generate(tmp_path_factory.mktemp("dlds"), DLDS)


def _files(raw: Path) -> list[Path]:
    return sorted(p for p in raw.rglob("*") if p.is_file())


def _headers(raw: Path, broken: pd.DataFrame) -> dict[str, pydicom.Dataset]:
    skip = set(broken["path"])
    # force=True: a few legacy series are bare data sets without preamble or File Meta group.
    return {str(p.relative_to(raw)): pydicom.dcmread(p, stop_before_pixels=True, force=True)
            for p in _files(raw) if str(p.relative_to(raw)) not in skip}


def test_labels_sheet_matches_files(generic):
    raw = raw_dir_of(generic, "generic")
    labels = pd.read_csv(generic / "labels.csv")
    broken = pd.read_csv(generic / "broken.csv")
    headers = _headers(raw, broken)
    uids = pd.Series([ds.SeriesInstanceUID for ds in headers.values()])
    assert set(uids) == set(labels["SeriesInstanceUID"])
    assert {"SeriesInstanceUID", "sequence", "orientation", "contrast"} <= set(labels.columns)
    # Good files per series = labelled slices (a truncated slice is listed as broken instead).
    counts = uids.value_counts()
    for row in labels.itertuples():
        assert counts[row.SeriesInstanceUID] == row.n_slices, row.SeriesDescription
    # Every file of the cohort lies under exactly the predicted top-level entries.
    entries = set(patient_entries("generic", GENERIC["patients"]))
    assert {p.relative_to(raw).parts[0] for p in _files(raw)} == entries


def test_every_class_present_and_orientation_from_geometry(generic):
    labels = pd.read_csv(generic / "labels.csv")
    for task, classes in DEFAULT_TAXONOMY.items():
        assert set(labels[task]) <= set(classes)
    assert set(labels["sequence"]) == set(DEFAULT_TAXONOMY["sequence"])
    assert set(labels["orientation"]) == {"axial", "coronal", "sagittal", "oblique"}
    assert set(labels["contrast"]) == {"pre", "post"}
    post = labels["contrast"] == "post"
    assert set(labels.loc[post, "sequence"]) == {"t1_arterial", "t1_portal", "t1_delayed"}
    # The orientation label is the plane of the slice normal in ImageOrientationPatient.
    raw = raw_dir_of(generic, "generic")
    broken = pd.read_csv(generic / "broken.csv")
    truth = labels.set_index("SeriesInstanceUID")
    for ds in _headers(raw, broken).values():
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        assert orientation_label(normal) == truth.loc[ds.SeriesInstanceUID, "orientation"]


def test_class_counts_and_montage(generic):
    counts = pd.read_csv(generic.parent / "class_counts.csv")
    labels = pd.read_csv(generic / "labels.csv")
    seq = counts[counts["task"] == "sequence"].set_index("class")
    assert list(seq.index) == DEFAULT_TAXONOMY["sequence"]
    assert (seq["slices"] > 0).all()
    assert seq["slices"].sum() == labels["n_slices"].sum()
    png = (generic.parent / "montage.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_broken_files_of_every_kind(generic):
    raw = raw_dir_of(generic, "generic")
    broken = pd.read_csv(generic / "broken.csv")
    assert set(broken["kind"]) == set(BROKEN_KINDS)
    good = _headers(raw, broken)
    by_sop = {ds.SOPInstanceUID: path for path, ds in good.items()}
    for row in broken.itertuples():
        path = raw / row.path
        assert path.is_file(), row.path
        if row.kind == "zero_bytes":
            assert path.stat().st_size == 0
        elif row.kind == "not_dicom":
            with pytest.raises(InvalidDicomError):
                pydicom.dcmread(path)
        elif row.kind == "truncated":
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            expected = ds.Rows * ds.Columns * ds.BitsAllocated // 8
            assert path.stat().st_size < expected
        elif row.kind == "no_pixel_data":
            ds = pydicom.dcmread(path)
            assert ds.Modality == "MR" and "PixelData" not in ds
        elif row.kind == "not_mr":
            assert pydicom.dcmread(path).Modality != "MR"
        elif row.kind == "duplicate_sop_instance":
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            twin = by_sop[ds.SOPInstanceUID]
            assert twin != row.path and twin < row.path  # the later path is the broken one
        elif row.kind == "geometry_mismatch":
            ds = pydicom.dcmread(path, force=True)
            others = [h for h in good.values() if h.SeriesInstanceUID == ds.SeriesInstanceUID]
            assert others and all((h.Rows, h.Columns) != (ds.Rows, ds.Columns) for h in others)
            assert ds.pixel_array.shape == (ds.Rows, ds.Columns)


def test_headers_are_real_and_identities_listed(generic):
    raw = raw_dir_of(generic, "generic")
    broken = pd.read_csv(generic / "broken.csv")
    patients = pd.read_csv(generic / "patients.csv", dtype=str)
    headers = _headers(raw, broken)
    names = {str(ds.PatientName) for ds in headers.values() if ds.Modality == "MR"}
    assert names == set(patients["PatientName"])
    manufacturers = {ds.Manufacturer for ds in headers.values()}
    assert len(manufacturers) >= 2
    one = next(pydicom.dcmread(raw / p) for p, ds in headers.items()
               if "TransferSyntaxUID" in ds.file_meta)
    assert one.file_meta.MediaStorageSOPInstanceUID == one.SOPInstanceUID
    assert one.pixel_array.shape == (one.Rows, one.Columns)
    dwi = [ds for ds in headers.values() if "DiffusionBValue" in ds]
    assert len({float(ds.DiffusionBValue) for ds in dwi}) >= 2
    adc = [ds for ds in headers.values() if "ADC" in ds.ImageType]
    assert adc and all(ds.ImageType[0] == "DERIVED" for ds in adc)
    # Legacy series (bare implicit-VR data sets) decode once the transfer syntax is supplied.
    labels = pd.read_csv(generic / "labels.csv")
    legacy = set(labels.loc[~labels["part10"], "SeriesInstanceUID"])
    assert legacy, "the test cohort should hold a legacy series"
    for path, ds in headers.items():
        assert ("TransferSyntaxUID" not in ds.file_meta) == (ds.SeriesInstanceUID in legacy)
        if ds.SeriesInstanceUID in legacy:
            full = pydicom.dcmread(raw / path, force=True)
            full.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
            assert full.pixel_array.shape == (full.Rows, full.Columns)


def test_dlds_layout_and_key(dlds):
    raw = raw_dir_of(dlds, "dlds")
    key = pd.read_csv(dlds / "SeriesClassificationKey.csv")
    assert list(key.columns) == ["DLDS", "Series", "Label"]
    assert key["DLDS"].dtype.kind == "i" and key["Series"].dtype.kind == "i"
    assert set(key["Label"]) <= set(LABEL_MAP) and {"F", "L"} <= set(key["Label"])
    types = pd.read_csv(dlds / "SequenceTypes.csv")
    assert list(types.columns) == ["Label", "Series Description"]
    folders = {(int(p.parent.name), int(p.name)) for p in raw.glob("*/*") if p.is_dir()}
    keyed = set(zip(key["DLDS"], key["Series"], strict=True))
    assert len(keyed - folders) == 1 and len(folders - keyed) == 1
    assert {p.name for p in raw.iterdir()} == set(patient_entries("dlds", DLDS["patients"]))
    assert all(p.suffix == ".dicom" for p in _files(raw))
    # Letters agree with the physics labels through the shipped label map.
    truth = pd.read_csv(dlds / "labels.csv")
    for row in truth[truth["keyed"]].itertuples():
        entry = LABEL_MAP[row.letter]
        if entry.get("exclude"):
            continue
        assert entry["sequence"] == row.sequence and entry["contrast"] == row.contrast
        assert entry["orientation"] in (None, row.orientation)


def test_same_seed_gives_identical_files(tmp_path):
    one = {**GENERIC, "patients": 1, "slices_per_series": [1, 2], "broken_files": False}
    a = _generate(tmp_path / "a", one, workers=1)
    b = _generate(tmp_path / "b", one, workers=2)

    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in _files(root)}

    assert digest(a) == digest(b)
    c = _generate(tmp_path / "c", {**one, "seed": one["seed"] + 1})
    assert digest(a) != digest(c)


# Physics of the signal model: the label-defining contrasts come from the equations.

def test_opposed_phase_cancels_mixed_fat_water():
    for field in (1.5, 3.0):
        te_in = in_phase_te(field)
        inphase = tissue_signals(Protocol("gre", te=te_in, tr=150, flip=70, field=field))
        opposed = tissue_signals(Protocol("gre", te=te_in / 2, tr=150, flip=70, field=field))
        # A voxel half liver, half subcutaneous fat.
        mix_in = abs(inphase[INDEX["liver"]] + inphase[INDEX["fat_sc"]]) / 2
        mix_opp = abs(opposed[INDEX["liver"]] + opposed[INDEX["fat_sc"]]) / 2
        assert mix_opp < 0.5 * mix_in
        assert abs(opposed[INDEX["liver"]]) == pytest.approx(abs(inphase[INDEX["liver"]]), rel=0.1)


def test_contrast_phases_and_sequences_differ_physically():
    def sig(**kw):
        s = tissue_signals(Protocol("gre", te=1.8, tr=4, flip=12, fat_suppression=0.95, **kw))
        return {k: abs(s[INDEX[k]]) for k in ("aorta", "portal_vein", "liver", "fat_sc")}

    pre, art = sig(phase="pre"), sig(phase="arterial", arterial_timing=0.2)
    portal, late = sig(phase="portal"), sig(phase="delayed")
    assert art["aorta"] > 3 * pre["aorta"] and art["aorta"] > 1.5 * art["portal_vein"]
    assert portal["portal_vein"] > art["portal_vein"] and portal["liver"] > art["liver"]
    assert late["aorta"] < portal["aorta"]
    t2 = tissue_signals(Protocol("fse", te=90, tr=5000))
    t2fs = tissue_signals(Protocol("fse", te=90, tr=5000, fat_suppression=0.95))
    assert abs(t2fs[INDEX["fat_sc"]]) < 0.2 * abs(t2[INDEX["fat_sc"]])
    b0 = tissue_signals(Protocol("dwi", te=70, tr=5000, fat_suppression=0.95, b=0))
    b800 = tissue_signals(Protocol("dwi", te=70, tr=5000, fat_suppression=0.95, b=800))
    ratio = abs(b800[INDEX["liver"]]) / abs(b0[INDEX["liver"]])
    assert ratio < np.exp(-0.8 * 1.0) and abs(b800[INDEX["aorta"]]) < 0.01 * abs(b0[INDEX["aorta"]])
    mrcp = tissue_signals(Protocol("fse", te=700, tr=6000, fat_suppression=0.95))
    assert abs(mrcp[INDEX["bile_duct"]]) > 20 * abs(mrcp[INDEX["liver"]])


def test_phantom_is_seeded_and_varies_between_patients():
    a = build_phantom(np.random.default_rng([1, 0]))
    b = build_phantom(np.random.default_rng([1, 0]))
    c = build_phantom(np.random.default_rng([1, 1]))
    assert np.array_equal(a.tissue_index, b.tissue_index) and np.array_equal(a.weight, b.weight)
    assert not np.array_equal(a.tissue_index, c.tissue_index)
    liver = (a.tissue_index[0] == INDEX["liver"]).sum() * a.voxel_mm ** 3 / 1e6
    assert 0.8 < liver < 3.5  # litres: an adult liver
    vol = render_volume(a, Protocol("fse", te=90, tr=5000))
    assert vol.shape == a.shape and np.isfinite(vol).all()


@pytest.mark.parametrize("syntax", ["ExplicitVRLittleEndian", "ImplicitVRLittleEndian",
                                    "RLELossless", "JPEG2000Lossless"])
def test_series_writer_round_trips_pixels(tmp_path, syntax):
    from mriseq.synthetic.dicomio import SeriesWriter, new_dataset
    from pydicom import uid as uids

    ds = new_dataset(uids.MRImageStorage, getattr(uids, syntax))
    ds.Modality, ds.PatientName, ds.BitsStored = "MR", "DOE^JANE", 12
    writer = SeriesWriter(ds)
    rng = np.random.default_rng(0)
    for i in range(2):
        pixels = rng.integers(0, 4096, size=(64 + i, 72), dtype=np.uint16)
        writer.write(tmp_path / f"{i}.dcm", f"1.2.3.{i}", pixels)
        back = pydicom.dcmread(tmp_path / f"{i}.dcm")
        assert back.file_meta.TransferSyntaxUID == getattr(uids, syntax)
        assert back.SOPInstanceUID == f"1.2.3.{i}" and str(back.PatientName) == "DOE^JANE"
        assert np.array_equal(back.pixel_array, pixels)


def test_stir_nulls_fat():
    from mriseq.synthetic.signal import stir_ti

    for field in (1.5, 3.0):
        stir = tissue_signals(Protocol("fse", te=60, tr=6000, field=field, ti=stir_ti(field)))
        t2 = tissue_signals(Protocol("fse", te=60, tr=6000, field=field))
        assert abs(stir[INDEX["fat_sc"]]) < 0.2 * abs(t2[INDEX["fat_sc"]])
        assert abs(stir[INDEX["bile_duct"]]) > 0.5 * abs(t2[INDEX["bile_duct"]])


@pytest.mark.slow
def test_rule_writes_cohorts_montage_and_counts(tiny_cohorts):
    """The real rule on config/test.yaml: both cohorts, their montages and class counts."""
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    for name, cohort in config["synthetic"]["cohorts"].items():
        out = tiny_cohorts / "resources" / "synthetic" / name
        raw = raw_dir_of(out, cohort["layout"])
        assert sorted(p.name for p in raw.iterdir()) == patient_entries(cohort["layout"],
                                                                        cohort["patients"])
        counts = pd.read_csv(tiny_cohorts / "results" / "synthetic" / name / "class_counts.csv")
        seq = counts[counts["task"] == "sequence"]
        assert (seq["slices"] > 0).all() and len(seq) == len(config["taxonomy"]["sequence"])
        montage = tiny_cohorts / "results" / "synthetic" / name / "montage.png"
        assert montage.read_bytes().startswith(b"\x89PNG")
        assert set(pd.read_csv(out / "broken.csv")["kind"]) == set(BROKEN_KINDS)
    assert (tiny_cohorts / "logs" / "synthetic" / "internal.log").is_file()

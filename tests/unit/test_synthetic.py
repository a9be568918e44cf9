"""Tests for the synthetic cohort generator (mriseq.synthetic): files, labels, broken files,
physics and determinism, balanced (``full``) and archive-like (``archive``) cohorts. The cohorts
here are tiny; the rule itself runs in ``tiny_cohorts``
(tests/workflow/test_synthetic_workflow.py)."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import yaml
from mriseq.dicom.fields import GE_B_VALUE_OFFSET, PRIVATE_B_VALUES
from mriseq.geometry import header_orientation
from mriseq.synthetic import vendors
from mriseq.synthetic.cohort import BROKEN_KINDS, _broken_assignment, generate_cohort, raw_dir_of
from mriseq.synthetic.examination import plan_examination
from mriseq.synthetic.layout import patient_entries
from mriseq.synthetic.merged_series import (
    DIXON_COMPONENT,
    IMAGE_PLANE_TOLERANCE,
    SELECTOR_COLUMNS,
)
from mriseq.synthetic.patient import generate_patient
from mriseq.synthetic.phantom import build_phantom
from mriseq.synthetic.plan import plan_patient
from mriseq.synthetic.prescription import PatientContext
from mriseq.synthetic.protocols import PROTOCOLS, STACKS
from mriseq.synthetic.signal import Protocol, in_phase_te, render_volume, tissue_signals
from mriseq.synthetic.tissues import INDEX
from mriseq.taxonomy import DEFAULT_TAXONOMY
from pydicom.errors import InvalidDicomError

REPO = Path(__file__).resolve().parents[2]
LABEL_MAP = yaml.safe_load((REPO / "resources" / "dlds_label_map.yaml").read_text())

GENERIC = {"layout": "generic", "patients": 3, "seed": 5, "vendors": ["siemens", "ge", "philips"],
           "field_strengths": [1.5, 3.0], "slices_per_series": [2, 3], "oblique_fraction": 0.3,
           "misleading_description_fraction": 0.1, "empty_description_fraction": 0.1,
           "broken_files": True}
DLDS = {**GENERIC, "layout": "dlds", "patients": 2, "seed": 6, "vendors": ["canon"],
        "slices_per_series": [2, 2], "oblique_fraction": 0.0, "noise_scale": 1.5}
# Archive-like protocols; few slices per series so that rendering stays quick.
ARCHIVE = {**GENERIC, "protocols": "archive", "patients": 3, "seed": 3, "slices_per_series": [1, 6],
           "broken_files": False}
# Series of several volumes: every vendor, and (seed 5) a Siemens 2D localizer (merged) as well as
# a Siemens 3D scout (its planes separate series); few slices so that rendering stays quick.
VOLUMES = {**GENERIC, "patients": 5, "seed": 5, "vendors": ["siemens", "ge", "philips", "canon"],
           "slices_per_series": [2, 2]}
DUAL = ("t1_opposed", "t1_inphase")
DYNAMIC_PHASES = ("t1_pre", "t1_arterial", "t1_portal", "t1_delayed")


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


@pytest.fixture(scope="module")
def volumes(tmp_path_factory) -> Path:
    return _generate(tmp_path_factory.mktemp("volumes"), VOLUMES, workers=2)


def _files(raw: Path) -> list[Path]:
    return sorted(p for p in raw.rglob("*") if p.is_file())


def _headers(raw: Path, broken: pd.DataFrame) -> dict[str, pydicom.Dataset]:
    skip = set(broken["path"])
    # force=True: a few legacy series are bare data sets without preamble or File Meta group.
    return {str(p.relative_to(raw)): pydicom.dcmread(p, stop_before_pixels=True, force=True)
            for p in _files(raw) if str(p.relative_to(raw)) not in skip}


def _plane(ds) -> str:
    return header_orientation([float(v) for v in ds.ImageOrientationPatient],
                              IMAGE_PLANE_TOLERANCE)


def _volume_row(ds, rows: pd.DataFrame) -> pd.Series:
    """The labels row of a file: its series' one row or, in a series of several volumes, the row
    whose selector columns the file's header matches (the selectors of labels.csv)."""
    if len(rows) == 1:
        return rows.iloc[0]
    match = np.ones(len(rows), dtype=bool)
    if rows["EchoTime"].notna().any():
        match &= np.isclose(rows["EchoTime"].astype(float), float(ds.EchoTime))
    if rows["TemporalPosition"].notna().any():
        match &= (rows["TemporalPosition"] == int(ds.TemporalPositionIdentifier)).to_numpy()
    if rows["ImageType"].notna().any():
        match &= (rows["ImageType"] == "\\".join(ds.ImageType)).to_numpy()
    if rows["ImagePlane"].notna().any():
        match &= (rows["ImagePlane"] == _plane(ds)).to_numpy()
    (index,) = np.flatnonzero(match)
    return rows.iloc[index]


def _by_series(headers: dict[str, pydicom.Dataset]) -> dict[str, list[tuple[str, pydicom.Dataset]]]:
    out: dict[str, list] = {}
    for path, ds in headers.items():
        out.setdefault(ds.SeriesInstanceUID, []).append((path, ds))
    return out


def _assert_letters_follow_the_physics(truth: pd.DataFrame) -> None:
    """Every keyed DLDS letter maps, through the shipped label map, to the simulated labels."""
    for row in truth[truth["keyed"]].itertuples():
        entry = LABEL_MAP[row.letter]
        if entry.get("exclude"):
            continue
        assert entry["sequence"] == row.sequence and entry["contrast"] == row.contrast
        assert entry["orientation"] in (None, row.orientation)


def test_labels_sheet_matches_files(generic):
    raw = raw_dir_of(generic, "generic")
    labels = pd.read_csv(generic / "labels.csv")
    broken = pd.read_csv(generic / "broken.csv")
    headers = _headers(raw, broken)
    uids = pd.Series([ds.SeriesInstanceUID for ds in headers.values()])
    assert set(uids) == set(labels["SeriesInstanceUID"])
    assert {"SeriesInstanceUID", "sequence", "orientation", "contrast", *SELECTOR_COLUMNS,
            "volumes_in_series"} <= set(labels.columns)
    # One row per volume: a series of several volumes has a row for each, in one folder.
    rows_of = dict(tuple(labels.groupby("SeriesInstanceUID")))
    assert (labels["volumes_in_series"] > 1).any(), "the test cohort should merge volumes"
    for uid, rows in rows_of.items():
        assert (rows["volumes_in_series"] == len(rows)).all(), uid
        assert rows["series_dir"].nunique() == 1 and rows["SeriesNumber"].nunique() == 1
        if len(rows) == 1:
            assert rows[list(SELECTOR_COLUMNS)].isna().all(axis=None), uid
    # Good files per volume = labelled slices (a truncated slice is listed as broken instead).
    counts = Counter()
    for path, ds in headers.items():
        rows = rows_of[ds.SeriesInstanceUID]
        assert Path(path).parent == Path(rows["series_dir"].iloc[0]), path
        counts[_volume_row(ds, rows).name] += 1
    for index, row in labels.iterrows():
        assert counts[index] == row.n_slices, row.SeriesDescription
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
    rows_of = dict(tuple(labels.groupby("SeriesInstanceUID")))
    for ds in _headers(raw, broken).values():
        iop = [float(v) for v in ds.ImageOrientationPatient]
        row = _volume_row(ds, rows_of[ds.SeriesInstanceUID])
        assert header_orientation(iop) == row["orientation"]


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


def test_headers_are_real_and_identities_listed(generic, volumes):
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
    b_values = {_b_value(ds) for ds in headers.values()} - {None}
    assert len(b_values) >= 2
    adc = [ds for ds in headers.values() if "ADC" in ds.ImageType]
    assert adc and all(ds.ImageType[0] == "DERIVED" for ds in adc)
    # Legacy series (bare implicit-VR data sets) decode once the transfer syntax is supplied. A
    # series of several volumes is encoded as its first volume: all legacy or none.
    seen = 0
    for cohort in (generic, volumes):
        raw = raw_dir_of(cohort, "generic")
        labels = pd.read_csv(cohort / "labels.csv")
        legacy = set(labels.loc[~labels["part10"], "SeriesInstanceUID"])
        assert legacy.isdisjoint(labels.loc[labels["part10"], "SeriesInstanceUID"])
        for path, ds in _headers(raw, pd.read_csv(cohort / "broken.csv")).items():
            assert ("TransferSyntaxUID" not in ds.file_meta) == (ds.SeriesInstanceUID in legacy)
            if ds.SeriesInstanceUID in legacy:
                full = pydicom.dcmread(raw / path, force=True)
                full.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
                assert full.pixel_array.shape == (full.Rows, full.Columns)
                seen += 1
    assert seen, "the test cohorts should hold a legacy series"


def _b_value(ds) -> float | None:
    """A file's b-value wherever its vendor put it (DiffusionBValue or a private element)."""
    if "DiffusionBValue" in ds:
        return float(ds.DiffusionBValue)
    for group, offset, creator, _ in PRIVATE_B_VALUES:
        try:
            value = ds.private_block(group, creator)[offset].value
        except KeyError:
            continue
        first = value[0] if isinstance(value, pydicom.multival.MultiValue) else value
        return float(first) % GE_B_VALUE_OFFSET
    return None


def test_headers_follow_the_vendor_conventions_table(generic):
    raw = raw_dir_of(generic, "generic")
    headers = _headers(raw, pd.read_csv(generic / "broken.csv"))
    vendor_of = {name: vendor for vendor, (name, _) in vendors.MANUFACTURERS.items()}
    table = vendors.conventions()
    for path, ds in headers.items():
        if ds.Modality != "MR":
            continue
        styles = [style for kind in table[vendor_of[ds.Manufacturer]].values() for style in kind]
        image_types = {style.image_type for style in styles} | {
            style.reformat_image_type for style in styles}
        image_type = tuple(ds.ImageType)
        if ds.Manufacturer == "Philips" and "EchoNumbers" in ds:
            # A Dixon volume: the style's ImageType and its IP or OP component.
            assert image_type[-1] in DIXON_COMPONENT.values(), path
            image_type = image_type[:-1]
        assert image_type in image_types, path
        assert ds.MRAcquisitionType in {"2D", "3D"}, path
        assert "SequenceName" in ds and "ScanOptions" in ds, path
    # Every DWI file carries its b-value where its vendor puts it (Siemens and GE: privately only,
    # as the real files do in some styles); the scan finds it in each place.
    labels = pd.read_csv(generic / "labels.csv")
    dwi_series = set(labels.loc[labels["sequence"].eq("dwi"), "SeriesInstanceUID"])
    dwi = [ds for ds in headers.values() if ds.SeriesInstanceUID in dwi_series]
    assert dwi and all(_b_value(ds) is not None for ds in dwi)
    assert all(ds.SequenceName == f"*ep_b{int(_b_value(ds))}t" for ds in dwi
               if ds.Manufacturer == "SIEMENS")


KINDS = {"localizer", "t2", "t2_fs", "stir", "dwi", "adc", "dual", "vibe", "bssfp", "mrcp"}


def test_vendor_conventions_table_is_complete_and_sourced():
    table = vendors.conventions()
    assert set(table) - {"sources"} == set(vendors.MANUFACTURERS)
    for vendor in vendors.MANUFACTURERS:
        assert set(table[vendor]) == KINDS, vendor
        for kind, styles in table[vendor].items():
            for style in styles:
                where = f"{vendor}/{kind}"
                assert style.weight > 0 and style.image_type, where
                assert style.mr_acquisition_type in {"2D", "3D"}, where
                assert style.sources and set(style.sources) <= set(table["sources"]), where
                assert set(style.b_value_tags) <= {"standard", "private"}, where
                style.name(800, (0, 800), 15)  # only known template fields
    for family in ("ssfse", "fse", "dwi", "adc", "dual", "vibe", "bssfp", "mrcp"):
        assert vendors.header_kind(family, "t2") in KINDS
    assert vendors.header_kind("fse", "t2_fs", inversion_time=150.0) == "stir"
    assert vendors.header_kind("bssfp", "localizer") == "localizer"


def test_rows_cited_from_the_real_siemens_study_match_it():
    """The dcm-classifier Siemens study's trace DWI, ADC, T2 TSE and 3D scout, as its headers say
    (the header-model check in test_real_headers reads the files themselves)."""
    cited = {kind: [s for s in styles if "dcmc" in s.sources]
             for kind, styles in vendors.conventions()["siemens"].items()}
    dwi, adc, t2 = cited["dwi"][0], cited["adc"][0], cited["t2"][0]
    scout = cited["localizer"][0]
    assert "\\".join(dwi.image_type) == "DERIVED\\PRIMARY\\DIFFUSION\\TRACEW\\NORM\\DIS2D"
    assert (dwi.name(0), dwi.name(1000)) == ("*ep_b0t", "*ep_b1000t")
    assert adc.name(1000, (0, 1000)) == "*ep_b0_1000" and "ADC" in adc.image_type
    assert t2.name(etl=15) == "*tse2d1_15" and t2.scan_options == ()
    assert scout.sequence_name == "*fl3d1_ns" and scout.mr_acquisition_type == "3D"
    assert scout.reformat_image_type[:3] == ("DERIVED", "PRIMARY", "MPR")


def test_header_style_is_fixed_per_key_and_varies_across_keys():
    first = vendors.header_style("siemens", "localizer", "study-1")
    assert all(vendors.header_style("siemens", "localizer", "study-1") == first for _ in range(3))
    styles = {vendors.header_style("siemens", "localizer", f"study-{i}").sequence_name
              for i in range(40)}
    assert styles == {s.sequence_name for s in vendors.conventions()["siemens"]["localizer"]}


# Series of several volumes (mriseq.synthetic.merged_series), one labels row per volume.

def _volume_series(cohort: Path) -> tuple[pd.DataFrame, dict, dict]:
    """A cohort's labels, its rows by series UID, and each series' (path, header) pairs."""
    labels = pd.read_csv(cohort / "labels.csv")
    raw = raw_dir_of(cohort, "generic")
    headers = _headers(raw, pd.read_csv(cohort / "broken.csv"))
    return labels, dict(tuple(labels.groupby("SeriesInstanceUID"))), _by_series(headers)


def _merged(rows_of: dict, vendors_: tuple[str, ...], sequences) -> dict[str, pd.DataFrame]:
    """Series of those vendors with more than one volume, all of them of ``sequences``."""
    return {uid: rows for uid, rows in rows_of.items()
            if len(rows) > 1 and rows["vendor"].iloc[0] in vendors_
            and rows["sequence"].isin(sequences).all()}


def test_dual_echo_volumes_share_a_series(volumes):
    labels, rows_of, files_of = _volume_series(volumes)
    merged = _merged(rows_of, ("siemens", "ge"), DUAL)
    assert {rows["vendor"].iloc[0] for rows in merged.values()} == {"siemens", "ge"}
    for uid, rows in merged.items():
        assert len(rows) == 2 and (rows["volumes_in_series"] == 2).all()
        by_te = rows.sort_values("EchoTime")
        assert list(by_te["sequence"]) == list(DUAL)  # the opposed-phase echo is the shorter
        assert rows["TemporalPosition"].isna().all() and rows["ImageType"].isna().all()
        files = [ds for _, ds in files_of[uid]]
        assert sorted({float(ds.EchoTime) for ds in files}) == pytest.approx(
            list(by_te["EchoTime"]))
        for ds in files:
            row = _volume_row(ds, rows)
            assert int(ds.EchoNumbers) == 1 + DUAL.index(row["sequence"])
        # One series: one number and description, instance numbers running on across echoes.
        assert len({(ds.SeriesNumber, ds.SeriesDescription) for ds in files}) == 1
        instances = sorted(int(ds.InstanceNumber) for ds in files)
        assert len(set(instances)) == len(instances) and max(instances) <= rows["n_files"].sum()
    # Canon writes each echo as a series of its own.
    canon = labels[labels["vendor"].eq("canon") & labels["sequence"].isin(DUAL)]
    assert len(canon) and (canon["volumes_in_series"] == 1).all()


def test_philips_dixon_volumes_told_apart_by_image_type(volumes):
    _, rows_of, files_of = _volume_series(volumes)
    merged = _merged(rows_of, ("philips",), DUAL)
    assert merged, "the test cohort should hold a Philips patient"
    for uid, rows in merged.items():
        assert len(rows) == 2 and rows["EchoTime"].notna().all()
        for row in rows.itertuples():
            assert row.ImageType.split("\\")[-1] == DIXON_COMPONENT[row.sequence]
        for _, ds in files_of[uid]:
            row = _volume_row(ds, rows)
            assert "\\".join(ds.ImageType) == row["ImageType"]
            assert float(ds.EchoTime) == pytest.approx(row["EchoTime"])
            assert int(ds.EchoNumbers) == 1 + DUAL.index(row["sequence"])


def test_dynamic_phases_share_a_series(volumes):
    labels, rows_of, files_of = _volume_series(volumes)
    merged = _merged(rows_of, ("ge", "philips"), DYNAMIC_PHASES)
    assert {rows["vendor"].iloc[0] for rows in merged.values()} == {"ge", "philips"}
    for uid, rows in merged.items():
        n = len(rows)
        # Rows in acquisition order: temporal positions 1..N, phases in their order.
        assert list(rows["TemporalPosition"]) == list(range(1, n + 1))
        phases = [DYNAMIC_PHASES.index(s) for s in rows["sequence"]]
        assert phases == sorted(phases) and (rows["orientation"] == rows["orientation"].iloc[0]
                                             ).all()
        assert rows["EchoTime"].isna().all() and rows["ImagePlane"].isna().all()
        files = [ds for _, ds in files_of[uid]]
        assert {int(ds.TemporalPositionIdentifier) for ds in files} == set(range(1, n + 1))
        for ds in files:
            assert int(ds.NumberOfTemporalPositions) == n
            assert int(ds.AcquisitionNumber) == int(ds.TemporalPositionIdentifier)
            # A shared header: the agent of its post-contrast phases is on every file.
            assert "ContrastBolusAgent" in ds
        # One stack: every phase on the same slice positions.
        positions = {tuple(ds.ImagePositionPatient) for ds in files}
        assert len(positions) == rows["n_files"].max()
    # Other stacks of the dynamic sequence, and the other vendors, stay series of their own.
    single = labels[labels["sequence"].isin(DYNAMIC_PHASES) & labels["TemporalPosition"].isna()]
    assert (single["volumes_in_series"] == 1).all()
    assert set(single["vendor"]) >= {"siemens", "canon"}


def test_three_plane_localizer_in_one_series(volumes):
    labels, rows_of, files_of = _volume_series(volumes)
    merged = _merged(rows_of, tuple(vendors.MANUFACTURERS), ("localizer",))
    assert {rows["vendor"].iloc[0] for rows in merged.values()} == set(vendors.MANUFACTURERS)
    for uid, rows in merged.items():
        assert sorted(rows["ImagePlane"]) == ["axial", "coronal", "sagittal"]
        assert list(rows["ImagePlane"]) == list(rows["orientation"])
        planes = Counter(_plane(ds) for _, ds in files_of[uid])
        assert planes == Counter(dict(zip(rows["ImagePlane"], rows["n_slices"], strict=True)))
    # A Siemens 3D scout keeps its reformatted planes as series of their own.
    scouts = {uid for uid, files in files_of.items()
              if any(ds.SequenceName == "*fl3d1_ns" for _, ds in files)}
    assert scouts, "the test cohort should hold a Siemens 3D scout"
    rows = labels[labels["SeriesInstanceUID"].isin(scouts)]
    assert len(rows) == 3 * rows["patient"].nunique() and (rows["volumes_in_series"] == 1).all()


def test_merging_volumes_keeps_every_draw(volumes, tmp_path):
    """Merging rewrites headers only: written as separate series, the same cohort has the same
    files (SOP Instance UIDs, names, pixels) and the same per-plan labels, and a merged series'
    UID is its first volume's."""
    broken = _broken_assignment(VOLUMES["patients"], VOLUMES["seed"], VOLUMES["broken_files"])
    raw = tmp_path / "separate"
    results = [generate_patient(index, entry, str(raw), VOLUMES, tuple(broken.get(index, ())),
                                merge_volumes=False)
               for index, entry in enumerate(patient_entries("generic", VOLUMES["patients"]))]

    def files(root: Path, broken_paths: set[str]) -> Counter:
        """(SOP Instance UID, file name, digest of the decoded pixels) of the good files. Names
        without the extension: a merged series' files take its first volume's."""
        out = Counter()
        for p in _files(root):
            if str(p.relative_to(root)) in broken_paths:
                continue
            ds = pydicom.dcmread(p, force=True)
            if "TransferSyntaxUID" not in ds.file_meta:  # a bare legacy data set
                ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
            pixels = np.ascontiguousarray(ds.pixel_array).tobytes()
            out[ds.SOPInstanceUID, p.stem, hashlib.sha256(pixels).hexdigest()] += 1
        return out

    merged_files = files(raw_dir_of(volumes, "generic"),
                         set(pd.read_csv(volumes / "broken.csv")["path"]))
    assert merged_files == files(raw, {item["path"] for r in results for item in r.broken})
    merged = pd.read_csv(volumes / "labels.csv")
    plain = pd.DataFrame([row for r in results for row in r.series])
    columns = ["patient", "sequence", "orientation", "contrast", "n_files", "n_slices"]
    assert list(merged[columns].itertuples(index=False)) == list(
        plain[columns].itertuples(index=False))
    assert (plain["volumes_in_series"] == 1).all() and plain["SeriesInstanceUID"].is_unique
    for uid, rows in merged.groupby("SeriesInstanceUID"):
        assert plain.loc[rows.index[0], "SeriesInstanceUID"] == uid


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
    _assert_letters_follow_the_physics(truth)


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


LABEL_COLUMNS = ("SeriesInstanceUID", "sequence", "orientation", "contrast", "SeriesNumber",
                 "SeriesDescription", "n_slices")
# A row per volume: the columns that say which volume of its series a row labels.
VOLUME_COLUMNS = (*LABEL_COLUMNS, *SELECTOR_COLUMNS, "volumes_in_series")


def _label_digest(rows, columns: tuple[str, ...] = LABEL_COLUMNS) -> str:
    """A digest of what labels rows say (rows of labels.csv as read by csv.DictReader, or
    PatientResult.series rows), independent of CSV number formatting. The UIDs come from the
    generator's random stream after every earlier series was rendered, so the digest changes
    when any draw does."""
    text = "\n".join("|".join(str(row[c]) for c in columns) for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def _sheet(labels_csv: Path) -> list[dict]:
    with open(labels_csv, newline="") as fh:
        return list(csv.DictReader(fh))


def test_full_protocols_cohort_unchanged(tmp_path):
    """``protocols: full`` (the default) is the balanced cohort as generated before archive mode
    existed: same draws, same files.

    Written as separate series (``merge_volumes=False``), its labels are still the ones pinned
    then. Storing dual-echo, dynamic and localizer volumes in one series changed the sheet, not
    a draw: rows of one series share its first volume's UID, number and description and carry
    selector columns, so the cohort's labels.csv has a digest of its own (pinned when merging
    came; it covers every row's labels and selectors)."""
    tiny = {**GENERIC, "patients": 2, "slices_per_series": [1, 2]}
    broken = _broken_assignment(tiny["patients"], tiny["seed"], tiny["broken_files"])
    separate = [row for index, entry in enumerate(patient_entries("generic", tiny["patients"]))
                for row in generate_patient(index, entry, str(tmp_path / "separate"), tiny,
                                            tuple(broken.get(index, ())),
                                            merge_volumes=False).series]
    assert _label_digest(separate) == (
        "05f3a042c49fa82aa1e49a4a7d139fd52de624fef4f8449f4995bc80043d1b84")
    out = _generate(tmp_path / "default", tiny)
    sheet = _sheet(out / "labels.csv")
    assert [(r["sequence"], r["n_slices"]) for r in sheet] == [
        (r["sequence"], str(r["n_slices"])) for r in separate]
    assert _label_digest(sheet, VOLUME_COLUMNS) == (
        "827ececb02b89cca604b56278c0c97c261252f6be00957a7490ed0ad478bb862")
    assert "protocol" not in pd.read_csv(out / "patients.csv").columns
    implicit = plan_examination(1, tiny)
    explicit = plan_examination(1, {**tiny, "protocols": "full"})
    assert [(p.sequence, p.orientation, p.geometry.orientation, len(p.geometry.offsets))
            for p in implicit.plans] == [(p.sequence, p.orientation, p.geometry.orientation,
                                          len(p.geometry.offsets)) for p in explicit.plans]
    assert implicit.rng.random() == explicit.rng.random()


@pytest.fixture(scope="module")
def archive_plans() -> list[tuple[PatientContext, list]]:
    """Archive-mode plans of 40 patients over the full slice range (plans only, nothing rendered;
    one phantom shared, since only its outline and organ positions steer the geometry)."""
    phantom = build_phantom(np.random.default_rng([99, 0]))
    out = []
    for i in range(40):
        rng = np.random.default_rng([17, i])
        vendor = ("siemens", "ge", "philips")[i % 3]
        ctx = PatientContext(rng=rng, phantom=phantom, field=(1.5, 3.0)[i % 2], vendor=vendor,
                             slices=(1, 200), oblique_fraction=0.1, gadoxetate=i % 4 == 0,
                             archive=True)
        out.append((ctx, plan_patient(ctx)))
    return out


def test_archive_protocols_vary_and_classes_are_imbalanced(archive_plans):
    assert len({ctx.examination.name for ctx, _ in archive_plans}) >= 3
    classes = [{p.sequence for p in plans} for _, plans in archive_plans]
    everything = set(DEFAULT_TAXONOMY["sequence"])
    assert set().union(*classes) == everything
    assert any(c != everything for c in classes)
    assert any("mrcp" not in c for c in classes) and any("mrcp" in c for c in classes)
    post = {"t1_arterial", "t1_portal", "t1_delayed"}
    assert any(not c & post for c in classes) and any(post <= c for c in classes)
    assert any("dwi" not in c for c in classes)
    # MRCP and T2 fat-sat in a minority of patients; T2 in (nearly) all of them.
    for rare in ("mrcp", "t2_fs"):
        assert sum(rare in c for c in classes) < len(classes) / 2
    series = Counter(p.sequence for _, plans in archive_plans for p in plans)
    assert max(series.values()) >= 5 * min(series.values())
    # Motion repeats and multi-phase dynamics: some patient has 2+ axial T2 or arterial phases.
    per_patient = [Counter((p.sequence, p.plane) for p in plans) for _, plans in archive_plans]
    assert any(c[("t2", "axial")] >= 2 for c in per_patient)
    assert any(c[("t1_arterial", "axial")] >= 2 for c in per_patient)
    assert any(c[("dwi", "axial")] >= 2 for c in per_patient)


def test_archive_slice_counts_and_geometry(archive_plans):
    counts = [len(p.geometry.offsets) for _, plans in archive_plans for p in plans]
    assert min(counts) >= 1 and max(counts) <= 200
    assert min(counts) <= 5 and max(counts) >= 100 and len(set(counts)) >= 40
    for _, plans in archive_plans:
        for p in plans:
            geo = p.geometry
            n = len(geo.offsets)
            family = {"bssfp": "localizer", "vibe": None, "mrcp": None}.get(p.family, "2d")
            if family:
                assert STACKS[family].slices[0] <= n <= STACKS[family].slices[1], p.family
            extent = float(np.ptp(geo.offsets)) if n > 1 else 0.0
            # Coverage a plane can span of the abdomen; steps no thinner than contiguous slices
            # (thick MRCP slabs overlap on purpose).
            assert extent <= 281, (p.sequence, p.plane, n, extent)
            if n > 1 and p.family != "mrcp":
                assert np.diff(geo.offsets).min() >= geo.thickness - 1e-6
    # The same clipped to a cohort's narrower range.
    phantom = archive_plans[0][0].phantom
    ctx = PatientContext(rng=np.random.default_rng([17, 0]), phantom=phantom, field=1.5,
                         vendor="ge", slices=(3, 4), oblique_fraction=0.1, archive=True)
    assert {len(p.geometry.offsets) for p in plan_patient(ctx)} <= {3, 4}


def test_archive_adc_follows_its_dwi(archive_plans):
    seen = 0
    for _, plans in archive_plans:
        for i, p in enumerate(plans):
            assert (p.source is not None) == (p.family == "adc")
            if p.family == "adc":
                dwi = plans[p.source]
                assert p.source == i - 1 and dwi.family == "dwi"
                assert dwi.geometry is p.geometry and dwi.b_values == p.b_values
                seen += 1
        # Two b-value sets of one patient are different series with different b-values.
        b_sets = [p.b_values for p in plans if p.family == "dwi"]
        assert len(set(b_sets)) == len(b_sets)
    assert seen >= 20


def test_protocol_table_is_consistent():
    known = {"localizer", "t2_coronal", "t2_axial", "t2_sagittal", "t2_fs", "mrcp_slab",
             "mrcp_3d", "dwi", "dual", "t1_pre", "t1_arterial", "t1_portal", "t1_portal_coronal",
             "t1_delayed", "t1_delayed_coronal", "t1_delayed_sagittal", "t1_delayed_thin"}
    for protocol in PROTOCOLS:
        assert {item.series for item in protocol.items} <= known, protocol.name
        # Every examination acquires something, whatever the draws.
        assert any(item.probability >= 1 for item in protocol.items), protocol.name
        assert all(0 < item.probability <= 1 and sum(item.repeats) > 0
                   for item in protocol.items)
    for vendor in ("siemens", "ge", "philips", "canon"):
        assert sum(p.vendor_weights.get(vendor, 0) for p in PROTOCOLS) > 0


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return _generate(tmp_path_factory.mktemp("archive"), ARCHIVE, workers=2)


def test_archive_cohort_labels_match_plan_and_files(archive):
    labels = pd.read_csv(archive / "labels.csv")
    patients = pd.read_csv(archive / "patients.csv")
    assert set(patients["protocol"]) <= {p.name for p in PROTOCOLS}
    lo, hi = ARCHIVE["slices_per_series"]
    for index, entry in enumerate(patient_entries("generic", ARCHIVE["patients"])):
        plans = plan_examination(index, ARCHIVE).plans
        rows = labels[labels["patient"] == entry]
        expected = [(p.sequence, p.orientation, p.contrast,
                     len(p.geometry.offsets) * (len(p.b_values) if p.family == "dwi" else 1))
                    for p in plans]
        assert list(zip(rows["sequence"], rows["orientation"], rows["contrast"],
                        rows["n_slices"], strict=True)) == expected
        assert all(lo <= len(p.geometry.offsets) <= hi for p in plans)
    # Every file is listed; ADC series lie on their DWI's slices (same orientation, positions).
    raw = raw_dir_of(archive, "generic")
    headers = _headers(raw, pd.read_csv(archive / "broken.csv"))
    uids = pd.Series([ds.SeriesInstanceUID for ds in headers.values()])
    # Volumes of one series share its UID: its files are the slices of all its rows.
    assert uids.value_counts().to_dict() == (
        labels.groupby("SeriesInstanceUID")["n_slices"].sum().to_dict())
    geometry: dict[str, set] = {}
    for ds in headers.values():
        geometry.setdefault(ds.SeriesInstanceUID, set()).add(
            (tuple(ds.ImageOrientationPatient), tuple(ds.ImagePositionPatient),
             ds.Rows, ds.Columns))
    rows = list(labels.itertuples())
    adc = [(i, r) for i, r in enumerate(rows) if r.sequence == "adc"]
    assert adc, "the test cohort should hold a DWI with its ADC"
    for i, row in adc:
        dwi = rows[i - 1]
        assert dwi.sequence == "dwi" and dwi.patient == row.patient
        assert geometry[row.SeriesInstanceUID] == geometry[dwi.SeriesInstanceUID]


def test_archive_cohort_is_deterministic(archive, tmp_path):
    again = _generate(tmp_path / "again", ARCHIVE, workers=1)
    # One worker here, two for the fixture: the files do not depend on the worker count.
    assert (again / "labels.csv").read_bytes() == (archive / "labels.csv").read_bytes()
    assert (again / "patients.csv").read_bytes() == (archive / "patients.csv").read_bytes()


def test_archive_dlds_letters_follow_the_physics(tmp_path):
    cohort = {**DLDS, "protocols": "archive", "patients": 3, "slices_per_series": [1, 3]}
    out = _generate(tmp_path, cohort)
    truth = pd.read_csv(out / "labels.csv")
    assert (~truth["keyed"]).sum() == 1  # the repeated series the key forgot
    _assert_letters_follow_the_physics(truth)


def test_archive_config_is_the_default_with_an_archive_cohort():
    from snakemake.utils import validate

    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    archive = yaml.safe_load((REPO / "config" / "archive.yaml").read_text())
    # validate() fills in defaults: check a copy, compare the keys as written.
    validate(yaml.safe_load((REPO / "config" / "archive.yaml").read_text()),
             str(REPO / "workflow" / "schemas" / "config.schema.yaml"))

    def keys(node, prefix=""):
        if not isinstance(node, dict):
            return {prefix}
        return {k for key, value in node.items() for k in keys(value, f"{prefix}.{key}")}

    cohort = archive["synthetic"]["cohorts"]["internal"]
    # Beside the cohort, the archive recipe turns slices for the plane task (config/README.md).
    assert keys(archive) - keys(default) == {".synthetic.cohorts.internal.protocols",
                                             ".train.augmentation.quarter_turns"}
    assert archive["train"]["augmentation"]["quarter_turns"] == ["orientation"]
    assert keys(default) <= keys(archive)
    assert cohort["protocols"] == "archive" and cohort["slices_per_series"] == [1, 200]
    assert cohort["patients"] == default["synthetic"]["cohorts"]["internal"]["patients"]
    assert archive["synthetic"]["cohorts"]["dlds"] == default["synthetic"]["cohorts"]["dlds"]


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
    from mriseq.synthetic.writer import SeriesWriter, new_dataset
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

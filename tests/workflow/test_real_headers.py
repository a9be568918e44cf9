"""The header model meets a real scanner: trained on the synthetic cohort, tested on a real study.

The real study is dcm-classifier's anonymised Siemens protocol from the real-DICOM corpus
(``tests/realcorpus``): 15 series, pixels blanked, headers intact. Its reference classes come from
the headers, read as a radiographer would: series 1 is a 3D non-selective scout (``*fl3d1_ns``,
128 slices) and 2–4 its MPRs (``DERIVED\\PRIMARY\\MPR``): localizers; 5 is the diffusion trace
(``DIFFUSION\\TRACEW``, b 0 and 1000); 6 its ADC map (``DIFFUSION\\ADC``); 11 a T2 TSE
(``*tse2d1_15``, TE 90, TR 4000). The other series are brain sequences outside the taxonomy (SWI,
FLAIR) or T1 spin echoes; they are predicted and shown, not scored.

The model is the header family as the default demo configures it (forest size, class weighting),
trained on the demo's internal cohort settings with two slices a series (the header is the same in
every slice of a series, so more slices would add rows, not information). Because the study's
pixels are blank, the check goes straight from ``files.parquet`` rows to header features
(:func:`mriseq.features.header.file_features`), as predict mode on a header-only archive would.
Generating that cohort and training the forests takes about a minute: a workflow-tier test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hostile.corpus import mr_dataset, save
from mriseq.features.header import file_features
from mriseq.features.tables import feature_columns
from mriseq.models.forest.model import feature_matrix, fit_forest, probabilities
from mriseq.predict.series import series_predictions
from mriseq.scan.layouts.registry import join_labels
from mriseq.scan.shard import scan_files
from mriseq.scan.volumes import assign_volumes, volume_table
from mriseq.synthetic.cohort import LABEL_MAP, generate_cohort
from pydicom.uid import generate_uid

REPO = Path(__file__).resolve().parents[2]
KEY = b"real-header-check"
STUDY = "dcm-classifier/anonymized_testing_data/anonymized_data"
# Series folder -> class, for the series whose class is in the taxonomy (see the module docstring).
EXPECTED = {"1": "localizer", "2": "localizer", "3": "localizer", "4": "localizer",
            "5": "dwi", "6": "adc", "11": "t2"}


def _demo_config() -> dict:
    with (REPO / "config" / "config.yaml").open() as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def header_model(tmp_path_factory):
    """A header forest per task, trained on every file of a synthetic cohort (demo settings)."""
    config = _demo_config()
    cohort = dict(config["synthetic"]["cohorts"]["internal"], slices_per_series=[2, 2],
                  broken_files=False)
    out = tmp_path_factory.mktemp("header-cohort")
    generate_cohort(str(out / "cohort"), cohort, config["taxonomy"], str(out / "montage.png"),
                    str(out / "class_counts.csv"), workers=2)
    raw = out / "cohort" / "dicom"
    files, _ = scan_files(raw, sorted(os.listdir(raw)), "s000", KEY, workers=2)
    files = assign_volumes(files)  # the cohort stores some volumes together, as scanners do
    volumes, _ = join_labels(volume_table(files), str(out / "cohort" / "labels.csv"), "generic",
                             config["taxonomy"], str(LABEL_MAP), True, KEY)
    labels = files[["volume_key"]].merge(volumes, on="volume_key", how="left")
    features = file_features(files)
    columns = feature_columns(features)
    x = feature_matrix(features, columns)
    models = {}
    for task, classes in config["taxonomy"].items():
        y = labels[f"label_{task}"]
        keep = y.notna().to_numpy()
        codes = pd.Categorical(y[keep], categories=classes).codes
        forest, _ = fit_forest(x[keep], codes, len(classes), seed=config["seed"],
                               baselines=config["baselines"],
                               class_weighting=config["train"]["class_weighting"],
                               max_class_weight=config["train"]["max_class_weight"], threads=2)
        models[task] = {"model": forest, "feature_columns": columns, "classes": classes}
    return models


@pytest.fixture(scope="module")
def study(real_corpus):
    root = Path(real_corpus) / STUDY
    files, rejects = scan_files(root, sorted(os.listdir(root)), "s000", KEY, workers=2)
    assert rejects.empty, rejects[["path", "reason"]]
    return files


def _vote(bundle: dict, files: pd.DataFrame, groups: pd.Series) -> pd.Series:
    """Per group (a series folder, a volume): the class most of its files get (files vote, as
    slices do)."""
    features = file_features(files)
    predicted = probabilities(bundle, feature_matrix(features, bundle["feature_columns"]))
    names = pd.Series(np.asarray(bundle["classes"])[predicted.argmax(axis=1)], index=files.index)
    return names.groupby(groups).agg(lambda v: v.mode().iloc[0])


def test_header_model_classifies_the_real_siemens_study(header_model, study):
    folder = study["series_dir"].str.split("/").str[0]
    table = pd.DataFrame({task: _vote(bundle, study, folder)
                          for task, bundle in header_model.items()})
    table.index.name = "series"
    table = table.loc[sorted(table.index, key=int)]
    table.insert(0, "expected", pd.Series(EXPECTED).reindex(table.index).fillna("(not scored)"))
    scored = table.loc[list(EXPECTED)]
    right = scored["expected"].eq(scored["sequence"])
    classes = sorted(set(scored["expected"]) | set(scored["sequence"]))
    confusion = pd.crosstab(scored["expected"], scored["sequence"]).reindex(
        index=sorted(set(scored["expected"])), columns=classes, fill_value=0)
    report = (f"\nreal Siemens study, volume level (header RF trained on the synthetic cohort):\n"
              f"{table.to_string()}\n\nsequence confusion (rows expected, columns predicted):\n"
              f"{confusion.to_string()}\n{int(right.sum())}/{len(right)} scored volumes right\n")
    print(report)
    assert right.all(), report


def _scan_volumes(raw: Path) -> pd.DataFrame:
    files, rejects = scan_files(raw, sorted(os.listdir(raw)), "s000", KEY)
    assert rejects.empty, rejects[["path", "reason"]]
    return assign_volumes(files)


def test_a_chaos_like_dual_echo_series_is_two_volumes_in_and_opposed(header_model, tmp_path):
    """CHAOS's Philips T1-DUAL stores both echoes of a breath-hold under one SeriesInstanceUID:
    opposed phase at TE 2.3 ms and in phase at TE 4.6 ms (1.5 T)."""
    uid = generate_uid()
    for echo, te in enumerate((2.3, 4.6), start=1):
        for n in range(8):
            instance = 8 * (echo - 1) + n + 1
            ds = mr_dataset(series_uid=uid, instance=instance, Manufacturer="Philips",
                            SeriesDescription="T1-DUAL", ProtocolName="T1-DUAL",
                            ImageType=["ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"],
                            ScanningSequence="GR", SequenceVariant="SP", ScanOptions="",
                            MRAcquisitionType="2D", EchoTime=str(te), RepetitionTime="150",
                            FlipAngle="70", EchoTrainLength="1", EchoNumbers=str(echo),
                            SliceThickness="8", ImagePositionPatient=[-180.0, -150.0, 9.0 * n])
            save(ds, tmp_path / "raw" / "chaos" / f"{instance:03d}.dcm")
    files = _scan_volumes(tmp_path / "raw")
    volumes = volume_table(files).set_index("volume_key")
    assert len(volumes) == 2 and set(volumes["volume_split"]) == {"echo"}
    predicted = _vote(header_model["sequence"], files, files["volume_key"])
    by_te = dict(zip(volumes["echo_time"], predicted.reindex(volumes.index), strict=True))
    print(f"\nCHAOS-like dual echo, header RF per volume: {by_te}")
    assert by_te == {2.3: "t1_opposed", 4.6: "t1_inphase"}


def test_predict_mode_lists_a_three_plane_localizer_as_three_planes(header_model, tmp_path):
    """A GE 3-Plane Loc: one series, three slices in each plane; predict mode gives one row per
    plane, each with the plane the (synthetic-trained) header model predicts."""
    uid, planes = generate_uid(), {"axial": (1, 0, 0, 0, 1, 0), "coronal": (1, 0, 0, 0, 0, -1),
                                   "sagittal": (0, 1, 0, 0, 0, -1)}
    instance = 0
    for iop in planes.values():
        for n in range(3):
            instance += 1
            ds = mr_dataset(series_uid=uid, instance=instance, iop=iop,
                            Manufacturer="GE MEDICAL SYSTEMS", SeriesDescription="3-Plane Loc",
                            ImageType=["ORIGINAL", "PRIMARY", "OTHER"], ScanningSequence="GR",
                            SequenceVariant="SS", ScanOptions="FAST_GEMS", SequenceName="fgre",
                            MRAcquisitionType="2D", EchoTime="1.6", RepetitionTime="3.8",
                            FlipAngle="60", EchoTrainLength="1", SliceThickness="8",
                            ImagePositionPatient=[-10.0 * n, -10.0 * n, -10.0 * n])
            save(ds, tmp_path / "raw" / "loc" / f"{instance:03d}.dcm")
    files = _scan_volumes(tmp_path / "raw")
    files_path, volumes_path = tmp_path / "files.parquet", tmp_path / "volumes.parquet"
    files.to_parquet(files_path)
    volume_table(files).to_parquet(volumes_path)
    features = file_features(files)
    predictions = {}
    for task in ("sequence", "orientation"):
        bundle = header_model[task]
        p = probabilities(bundle, feature_matrix(features, bundle["feature_columns"]))
        table = files[["volume_key", "series_key", "patient_key"]].assign(
            shard="s000", row=np.arange(len(files)), slice_index=0, fold=0, y_true=None,
            y_pred=np.asarray(bundle["classes"])[p.argmax(axis=1)])
        for i, name in enumerate(bundle["classes"]):
            table[f"p_{name}"] = p[:, i]
        predictions[task] = str(tmp_path / f"{task}.parquet")
        table.to_parquet(predictions[task])
    taxonomy = {t: header_model[t]["classes"] for t in ("sequence", "orientation")}
    rows = series_predictions(predictions, taxonomy, str(volumes_path), str(files_path))
    shown = rows[["volume_key", "volume_split", "header_orientation", "sequence", "orientation"]]
    print(f"\n3-plane localizer in predict mode:\n{shown.to_string()}")
    assert len(rows) == 3 and rows["series_key"].nunique() == 1
    assert set(rows["volume_split"]) == {"plane"} and (rows["volumes_in_series"] == 3).all()
    assert sorted(rows["orientation"]) == ["axial", "coronal", "sagittal"]
    assert (rows["orientation"] == rows["header_orientation"]).all()
    assert (rows["sequence"] == "localizer").all()

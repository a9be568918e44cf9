"""Volumes inside a series: each splitting rule on hand-built series, and labels per volume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mriseq.scan.layouts.base import LabelOptions
from mriseq.scan.layouts.generic import join_generic_labels
from mriseq.scan.privacy import pseudonym
from mriseq.scan.volumes import assign_volumes, check_rules, sample_slices, volume_table
from mriseq.taxonomy import DEFAULT_TAXONOMY

KEY = b"volumes-test"


def series(n_files: int, uid: str = "1.2.3", **columns) -> pd.DataFrame:
    """A files table of one series: ``columns`` are per-file lists or one value for all."""
    base = {"path": [f"{uid}/{i:03d}.dcm" for i in range(n_files)],
            "series_key": pseudonym(uid, KEY), "patient_key": "p1", "study_key": "s1",
            "shard": "s000", "series_dir": uid, "instance_number": np.arange(1, n_files + 1.0),
            "n_frames": 1, "header_orientation": "axial", "image_type": "ORIGINAL\\PRIMARY\\M",
            "echo_time": 80.0, "echo_numbers": np.nan, "temporal_position": np.nan,
            "trigger_time": np.nan, "acquisition_number": 1.0, "stack_id": None,
            "slice_position": np.arange(n_files, dtype=float) * 5.0,
            "series_description": "", "mosaic_images": 0}
    base.update(columns)
    return pd.DataFrame({k: v if np.ndim(v) else [v] * n_files for k, v in base.items()})


def volumes_of(files: pd.DataFrame, rules=None) -> pd.DataFrame:
    return assign_volumes(files, rules)


def test_an_ordinary_series_is_one_volume_keyed_like_its_series():
    # Siemens 2D: every slice its own AcquisitionNumber, but no position repeats.
    files = volumes_of(series(20, acquisition_number=np.arange(1, 21.0)))
    assert files["volume_key"].nunique() == 1
    assert (files["volume_key"] == files["series_key"]).all()
    assert (files["volume_split"] == "").all()


def test_dual_echo_splits_by_echo_time_into_two_volumes_in_echo_order():
    positions = np.tile(np.arange(10) * 6.0, 2)
    te = np.repeat([2.3, 4.6], 10)  # CHAOS-like Philips T1-DUAL: opposed, then in phase
    files = volumes_of(series(20, echo_time=te, slice_position=positions))
    volumes = volume_table(files)
    assert len(volumes) == 2 and set(volumes["volume_split"]) == {"echo"}
    assert list(volumes.sort_values("volume_index")["echo_time"]) == [2.3, 4.6]
    assert list(volumes["volume_key"]) == [f"{files['series_key'][0]}.{i}" for i in (1, 2)]
    assert (volumes["n_slices"] == 10).all() and (volumes["volumes_in_series"] == 2).all()


def test_echo_numbers_win_over_echo_time():
    files = volumes_of(series(4, echo_numbers=[1.0, 2.0, 1.0, 2.0],
                              echo_time=[2.21, 4.42, 2.2, 4.4],
                              slice_position=[0.0, 0.0, 5.0, 5.0]))
    assert files.groupby("volume_key").size().tolist() == [2, 2]


def test_dixon_images_split_by_their_distinguishing_image_type():
    kinds = ["IP", "OP", "W", "F"]
    image_type = [f"ORIGINAL\\PRIMARY\\M_FFE\\M\\FFE\\{k}" for k in np.repeat(kinds, 3)]
    files = volumes_of(series(12, image_type=image_type, echo_time=[2.3] * 12,
                              slice_position=np.tile([0.0, 4.0, 8.0], 4)))
    volumes = volume_table(files)
    assert len(volumes) == 4 and set(volumes["volume_split"]) == {"image_type"}


def test_vendor_flags_and_original_vs_derived_alone_do_not_split():
    image_type = ["ORIGINAL\\PRIMARY\\M\\ND\\NORM", "DERIVED\\PRIMARY\\M\\NORM\\DIS2D"] * 3
    files = volumes_of(series(6, image_type=image_type))
    assert files["volume_key"].nunique() == 1


def test_dwi_b_values_stay_one_volume_but_a_derived_adc_stack_splits():
    positions = np.tile(np.arange(5) * 6.0, 3)
    trace = "DERIVED\\PRIMARY\\DIFFUSION\\TRACEW\\NORM\\DIS2D"
    dwi = series(15, image_type=trace, slice_position=positions,
                 b_value=np.repeat([0.0, 400.0, 800.0], 5))
    assert volumes_of(dwi)["volume_key"].nunique() == 1
    adc = "DERIVED\\PRIMARY\\DIFFUSION\\ADC\\NORM\\DIS2D"
    with_adc = series(20, image_type=[trace] * 15 + [adc] * 5,
                      slice_position=np.tile(np.arange(5) * 6.0, 4))
    volumes = volume_table(volumes_of(with_adc))
    assert sorted(volumes["n_files"]) == [5, 15]
    assert set(volumes["volume_split"]) == {"image_type"}


@pytest.mark.parametrize("column", ["temporal_position", "trigger_time", "acquisition_number"])
def test_multiphase_dynamic_splits_by_time_where_positions_repeat(column):
    phases = np.repeat([1.0, 2.0, 3.0, 4.0], 8)
    files = volumes_of(series(32, **{column: phases},
                              slice_position=np.tile(np.arange(8) * 3.0, 4)))
    volumes = volume_table(files)
    assert len(volumes) == 4 and set(volumes["volume_split"]) == {"temporal"}
    assert (volumes["n_files"] == 8).all()


def test_three_plane_localizer_splits_by_plane_and_unknowns_join_the_majority():
    planes = ["coronal"] * 3 + ["sagittal"] * 3 + ["axial"] * 2 + ["unknown"]
    files = volumes_of(series(9, header_orientation=planes, slice_position=[0.0] * 9))
    volumes = volume_table(files)
    assert sorted(volumes["header_orientation"]) == ["axial", "coronal", "sagittal"]
    assert volumes.set_index("header_orientation").loc["coronal", "n_files"] == 4


def test_stacks_split_and_rules_can_be_switched_off():
    stacks = series(6, stack_id=["1", "1", "1", "2", "2", "2"],
                    slice_position=[0.0, 5.0, 10.0, 0.0, 5.0, 10.0])
    assert volumes_of(stacks)["volume_key"].nunique() == 2
    assert volumes_of(stacks, ["plane", "echo"])["volume_key"].nunique() == 1
    dual = series(4, echo_time=[2.3, 4.6, 2.3, 4.6], slice_position=[0.0, 0.0, 5.0, 5.0])
    assert volumes_of(dual, [r for r in check_rules(None) if r != "echo"])[
        "volume_key"].nunique() == 1
    with pytest.raises(ValueError, match="Unknown volume rule"):
        check_rules(["echoes"])


def test_rules_compose_one_series_split_twice():
    # A multiphase dual-echo series: two echoes at each of two time points.
    files = volumes_of(series(8, echo_time=np.tile([2.3, 4.6], 4),
                              temporal_position=np.repeat([1.0, 2.0], 4),
                              slice_position=np.tile([0.0, 0.0, 5.0, 5.0], 2)))
    volumes = volume_table(files)
    assert len(volumes) == 4 and set(volumes["volume_split"]) == {"echo+temporal"}


def _sheet(tmp_path, rows: list[dict]) -> str:
    path = tmp_path / "labels.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def _join(tmp_path, files: pd.DataFrame, rows: list[dict]):
    options = LabelOptions(DEFAULT_TAXONOMY, "", True, KEY)
    return join_generic_labels(volume_table(files), _sheet(tmp_path, rows), options)


def test_labels_select_volumes_by_echo_time_and_default_to_the_series_row(tmp_path):
    dual = volumes_of(series(20, uid="9.9", echo_time=np.repeat([2.3, 4.6], 10),
                             slice_position=np.tile(np.arange(10) * 6.0, 2)))
    base = {"SeriesInstanceUID": "9.9", "orientation": "axial", "contrast": "pre"}
    rows = [{**base, "sequence": "t1_opposed", "EchoTime": "2.30"},
            {**base, "sequence": "t1_inphase", "EchoTime": "4.6"}]
    labelled, qc = _join(tmp_path, dual, rows)
    by_te = labelled.set_index("echo_time")["label_sequence"]
    assert (by_te[2.3], by_te[4.6]) == ("t1_opposed", "t1_inphase")
    assert qc["volumes_without_label"] == 0 and qc["label_without_volume"] == 0
    # A series-level row labels the volumes no selector row picks.
    rows = [{**base, "sequence": "t1_opposed", "EchoTime": "2.3"},
            {**base, "sequence": "t1_inphase", "EchoTime": ""}]
    labelled, _ = _join(tmp_path, dual, rows)
    assert sorted(labelled["label_sequence"]) == ["t1_inphase", "t1_opposed"]


def test_the_sheets_subset_reaches_the_volumes_it_labels(tmp_path):
    dual = volumes_of(series(20, uid="9.9", echo_time=np.repeat([2.3, 4.6], 10),
                             slice_position=np.tile(np.arange(10) * 6.0, 2)))
    base = {"SeriesInstanceUID": "9.9", "orientation": "axial", "contrast": "pre"}
    rows = [{**base, "sequence": "t1_opposed", "EchoTime": "2.3", "Subset": ""},
            {**base, "sequence": "t1_inphase", "EchoTime": "4.6",
             "Subset": "misleading_description"}]
    labelled, _ = _join(tmp_path, dual, rows)
    by_te = labelled.set_index("echo_time")["subset"]
    assert pd.isna(by_te[2.3]) and by_te[4.6] == "misleading_description"
    # A sheet without the column leaves every subset empty.
    labelled, _ = _join(tmp_path, dual, [{k: v for k, v in r.items() if k != "Subset"}
                                         for r in rows])
    assert labelled["subset"].isna().all()


def test_labels_select_by_plane_temporal_position_and_image_type(tmp_path):
    loc = series(6, uid="7.1", header_orientation=np.repeat(["coronal", "sagittal", "axial"], 2),
                 slice_position=[0.0, 5.0] * 3)
    dyn = series(6, uid="7.2", temporal_position=np.repeat([1.0, 2.0, 3.0], 2),
                 slice_position=[0.0, 5.0] * 3)
    dixon = series(4, uid="7.3", image_type=["ORIGINAL\\PRIMARY\\M_FFE\\M\\FFE\\IP"] * 2
                   + ["ORIGINAL\\PRIMARY\\M_FFE\\M\\FFE\\OP"] * 2, slice_position=[0.0, 5.0] * 2)
    files = volumes_of(pd.concat([loc, dyn, dixon], ignore_index=True))
    rows = [{"SeriesInstanceUID": "7.1", "sequence": "localizer", "orientation": p,
             "contrast": "pre", "ImagePlane": p} for p in ("coronal", "sagittal", "axial")]
    rows += [{"SeriesInstanceUID": "7.2", "sequence": s, "orientation": "axial",
              "contrast": c, "TemporalPosition": t}
             for t, s, c in ((1, "t1_pre", "pre"), (2, "t1_arterial", "post"),
                             (3, "t1_portal", "post"))]
    rows += [{"SeriesInstanceUID": "7.3", "sequence": s, "orientation": "axial",
              "contrast": "pre", "ImageType": f"original\\primary\\m_ffe\\m\\ffe\\{k}"}
             for k, s in (("IP", "t1_inphase"), ("OP", "t1_opposed"))]
    labelled, qc = _join(tmp_path, files, rows)
    assert qc["volumes_without_label"] == 0 and qc["label_without_volume"] == 0
    loc_rows = labelled[labelled["series_dir"] == "7.1"]
    assert (loc_rows["label_orientation"] == loc_rows["header_orientation"]).all()
    dyn_rows = labelled[labelled["series_dir"] == "7.2"].sort_values("temporal_position")
    assert list(dyn_rows["label_sequence"]) == ["t1_pre", "t1_arterial", "t1_portal"]
    dixon_rows = labelled[labelled["series_dir"] == "7.3"].sort_values("volume_index")
    assert list(dixon_rows["label_sequence"]) == ["t1_inphase", "t1_opposed"]


def test_a_selector_that_matches_nothing_is_counted(tmp_path):
    dual = volumes_of(series(4, uid="5.5", echo_time=[2.3, 4.6, 2.3, 4.6],
                             slice_position=[0.0, 0.0, 5.0, 5.0]))
    rows = [{"SeriesInstanceUID": "5.5", "sequence": "t1_opposed", "orientation": "axial",
             "contrast": "pre", "EchoTime": "9.9"}]
    labelled, qc = _join(tmp_path, dual, rows)
    assert labelled["label_sequence"].isna().all()
    assert qc["label_without_volume"] == 1 and qc["volumes_without_label"] == 2


def test_sizes_are_checked_per_volume_not_per_series():
    from mriseq.scan.shard import shard_checks

    planes = np.repeat(["coronal", "sagittal", "axial"], 3)
    survey = series(9, header_orientation=planes, slice_position=[0.0, 5.0, 10.0] * 3,
                    rows=np.repeat([256, 224, 160], 3), columns=np.repeat([256, 224, 256], 3),
                    sop_key=[f"sop{i}" for i in range(9)])
    kept, rejects = shard_checks(survey)
    assert len(kept) == 9 and rejects.empty  # each plane has its own matrix
    odd = survey.assign(header_orientation="axial", rows=[256] * 8 + [320], columns=256,
                        slice_position=np.arange(9) * 5.0)
    kept, rejects = shard_checks(odd)
    assert len(kept) == 8 and list(rejects["reason"]) == ["geometry_mismatch"]
    assert "in a volume of 256x256" in rejects["message"].iloc[0]


def test_sorted_links_give_each_volume_of_a_split_series_its_own_files(tmp_path):
    from mriseq.predict.series import sorted_links

    raw = tmp_path / "raw"
    (raw / "series_a").mkdir(parents=True)
    (raw / "series_b").mkdir()
    files = pd.DataFrame({"path": ["series_a/1.dcm", "series_a/2.dcm", "series_a/3.dcm",
                                   "series_b/1.dcm"],
                          "volume_key": ["k.1", "k.2", "k.1", "m"]})
    for path in files["path"]:
        (raw / path).write_bytes(b"x")
    files.to_parquet(tmp_path / "files.parquet")
    table = pd.DataFrame({"volume_key": ["k.1", "k.2", "m"], "series_key": ["k", "k", "m"],
                          "volumes_in_series": [2, 2, 1],
                          "series_dir": ["series_a", "series_a", "series_b"],
                          "sequence": ["t1_opposed", "t1_inphase", "t2"],
                          "orientation": ["axial"] * 3, "contrast": ["pre"] * 3})
    table.to_parquet(tmp_path / "series.parquet")
    out = tmp_path / "sorted"
    assert sorted_links(str(tmp_path / "series.parquet"), raw, out,
                        str(tmp_path / "files.parquet")) == 3
    opposed = out / "t1_opposed" / "axial_pre" / "k.1"
    assert opposed.is_dir() and not opposed.is_symlink()
    assert sorted(p.resolve().name for p in opposed.iterdir()) == ["1.dcm", "3.dcm"]
    assert [p.resolve() for p in (out / "t1_inphase" / "axial_pre" / "k.2").iterdir()] == [
        (raw / "series_a" / "2.dcm").resolve()]
    whole = out / "t2" / "axial_pre" / "m"
    assert whole.is_symlink() and whole.resolve() == (raw / "series_b").resolve()


def test_an_acquisition_number_per_slice_is_no_time_point():
    # Two echoes at each position (the echo rule switched off) and AcquisitionNumber counting
    # the slices: the numbers do not tell passes apart, so nothing splits by time.
    files = series(8, echo_time=np.tile([2.3, 4.6], 4),
                   acquisition_number=np.repeat(np.arange(1, 5.0), 2),
                   slice_position=np.repeat(np.arange(4) * 6.0, 2))
    assert volumes_of(files, ["temporal"])["volume_key"].nunique() == 1
    assert volumes_of(files)["volume_key"].nunique() == 2  # the echo rule still splits it
    # Every file its own number while positions repeat: no split either.
    lonely = series(6, acquisition_number=np.arange(1, 7.0), slice_position=[0.0, 5.0, 10.0] * 2)
    assert volumes_of(lonely, ["temporal"])["volume_key"].nunique() == 1


def test_sampling_keeps_evenly_spaced_slices_of_each_volume():
    # Files listed out of position order; a dual-echo series is two volumes of 10 slices.
    dual = series(20, uid="5.5", echo_time=np.repeat([2.3, 4.6], 10),
                  slice_position=np.tile(np.arange(10)[::-1] * 6.0, 2))
    small = series(3, uid="5.6")
    files = pd.concat([dual, small], ignore_index=True)
    kept = sample_slices(files, 4)
    keyed = assign_volumes(kept)
    assert keyed.groupby("volume_key").size().tolist() == [4, 4, 3]  # 3 <= 4: all kept
    # Centres of 4 equal parts of 10 positions: 1, 3, 6, 8 (the ends left out), per echo.
    for te in (2.3, 4.6):
        positions = sorted(kept.loc[kept["echo_time"] == te, "slice_position"] / 6.0)
        assert positions == [1.0, 3.0, 6.0, 8.0]
    assert list(kept.index) == sorted(kept.index)  # rows keep their order
    assert sample_slices(files, 0) is files

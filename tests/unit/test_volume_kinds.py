"""Repeated passes of a series: one acquisition (diffusion, functional, perfusion) stays one
volume, the phases of a contrast dynamic split, on files tables in the vendors' layouts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mriseq.scan.timing import seconds_of_day, series_offsets
from mriseq.scan.volumes import assign_volumes, sample_slices, volume_table
from test_volumes import series


def passes(n_positions: int, n_passes: int, **columns) -> pd.DataFrame:
    """A series of ``n_passes`` passes over ``n_positions`` slice positions, pass after pass;
    ``columns`` may be per-pass lists (repeated over the pass's files) or per-file values."""
    n = n_positions * n_passes
    per_file = {}
    for name, value in columns.items():
        if np.ndim(value) and len(value) == n_passes:
            value = np.repeat(np.asarray(value), n_positions)
        per_file[name] = value
    return series(n, slice_position=np.tile(np.arange(n_positions) * 5.0, n_passes), **per_file)


def volumes(files: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return volume_table(assign_volumes(files, **kwargs))


def test_siemens_dti_with_an_acquisition_number_per_direction_is_one_volume():
    # 1 b=0 + 20 directions at b=1000, each pass a new AcquisitionNumber (Siemens ep2d_diff).
    b = [0.0] + [1000.0] * 20
    files = passes(10, 21, acquisition_number=np.arange(1, 22.0), b_value=b,
                   image_type="ORIGINAL\\PRIMARY\\DIFFUSION\\NONE\\ND\\NORM",
                   sequence_name=["*ep_b0"] + [f"*ep_b1000#{i}" for i in range(1, 21)])
    table = volumes(files)
    assert len(table) == 1 and table["n_repetitions"].tolist() == [21]
    # The earlier rule (every repeated pass a phase) cut it into one volume per direction.
    assert len(volumes(files, max_dynamic_phases=None)) == 21


def test_dti_without_b_values_in_the_header_is_kept_by_its_sequence_name_or_image_type():
    by_name = passes(4, 7, acquisition_number=np.arange(1, 8.0),
                     sequence_name=["*ep_b0"] + [f"*ep_b800#{i}" for i in range(1, 7)])
    assert len(volumes(by_name)) == 1
    by_type = passes(4, 7, acquisition_number=np.arange(1, 8.0),
                     image_type="ORIGINAL\\PRIMARY\\DIFFUSION\\NONE")
    assert len(volumes(by_type)) == 1


def test_a_siemens_mosaic_dti_run_is_one_volume():
    # One mosaic file per direction, all at one position: 13 passes of one "slice".
    files = series(13, slice_position=0.0, acquisition_number=np.arange(1, 14.0),
                   mosaic_images=30, b_value=[0.0] + [1000.0] * 12,
                   image_type="ORIGINAL\\PRIMARY\\DIFFUSION\\NONE\\ND\\MOSAIC")
    table = volumes(files)
    assert len(table) == 1 and table["n_repetitions"].tolist() == [13]


def test_a_philips_bold_run_numbered_by_temporal_position_is_one_volume():
    files = passes(8, 75, temporal_position=np.arange(1, 76.0),
                   image_type="ORIGINAL\\PRIMARY\\M_FFE\\M\\FFE")
    table = volumes(files)
    assert len(table) == 1 and table["n_repetitions"].tolist() == [75]


def test_a_ge_fmri_of_ten_passes_is_kept_by_its_image_type():
    # Ten passes is within what a dynamic may hold; the ImageType names the series functional.
    files = passes(6, 10, temporal_position=np.arange(1, 11.0),
                   image_type="ORIGINAL\\PRIMARY\\FMRI\\EPI")
    assert len(volumes(files)) == 1


def test_asl_label_control_pairs_are_one_volume():
    files = passes(6, 2, acquisition_number=[1.0, 2.0],
                   image_type="ORIGINAL\\PRIMARY\\ASL\\NONE")
    assert len(volumes(files)) == 1


def test_the_phases_of_a_contrast_dynamic_still_split_one_volume_each():
    files = passes(12, 4, temporal_position=[1.0, 2.0, 3.0, 4.0],
                   image_type="ORIGINAL\\PRIMARY\\OTHER", sequence_name="efgre3d")
    table = volumes(files)
    assert len(table) == 4 and set(table["volume_split"]) == {"temporal"}
    assert (table["n_repetitions"] == 1).all()


def test_more_passes_than_a_dynamic_has_are_one_acquisition_and_the_limit_is_a_setting():
    files = passes(5, 12, acquisition_number=np.arange(1, 13.0))
    assert len(volumes(files)) == 1
    assert len(volumes(files, max_dynamic_phases=12)) == 12


def test_dynamics_told_apart_only_by_acquisition_time_split():
    # A 3D dynamic (Siemens VIBE): every slice of a phase shares its AcquisitionTime; the
    # scan keeps it as the offset from the series' first acquisition.
    files = passes(10, 4, acquisition_offset=[0.0, 25.0, 60.0, 180.0])
    table = volumes(files)
    assert len(table) == 4 and set(table["volume_split"]) == {"temporal"}


def test_a_2d_pass_with_an_acquisition_time_per_slice_is_no_time_point():
    # A 2D dual-pass series: each slice its own time, so time cannot number the passes.
    files = passes(6, 2, acquisition_offset=np.arange(12) * 1.5)
    assert len(volumes(files)) == 1


def test_sampling_a_repeated_acquisition_steps_through_its_passes():
    files = passes(20, 8, acquisition_number=np.arange(1, 9.0), b_value=[0.0] + [1000.0] * 7)
    files["pass"] = np.repeat(np.arange(8), 20)
    kept = sample_slices(files, 8)
    assert len(kept) == 8
    assert sorted(kept["pass"]) == list(range(8))  # every direction, not the first pass only
    assert kept["slice_position"].nunique() == 8  # and spread along the slice normal


def test_acquisition_time_becomes_an_offset_within_its_series():
    assert seconds_of_day("101502.25") == 36902.25
    assert seconds_of_day("10:15:02") == 36902.0  # the old ACR-NEMA form
    assert np.isnan(seconds_of_day("")) and np.isnan(seconds_of_day("2515")) \
        and np.isnan(seconds_of_day(None))
    files = pd.DataFrame({"series_key": ["a", "a", "b", "b", "b"],
                          "acquisition_offset": [seconds_of_day(t) for t in (
                              "101502", "101540", "235950", "000010", None)]})
    offsets = series_offsets(files)
    assert offsets.tolist()[:4] == [0.0, 38.0, 0.0, 20.0]  # series b runs past midnight
    assert np.isnan(offsets.iloc[4])

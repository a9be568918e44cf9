"""Header features: vendor codes become vendor-neutral reader terms, on hand-built headers of each
vendor's style (values as the scan writes them into files.parquet)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mriseq.features.header import (
    coded_terms,
    description_terms,
    fat_water_phase,
    file_features,
    sequence_name_terms,
    vocabulary,
)

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
CORONAL = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]

# One fat-suppressed FSE T2 and one trace DWI per vendor, written the way each vendor writes them.
HEADERS = [
    {"vendor": "siemens", "kind": "t2_fs", "manufacturer": "SIEMENS",
     "image_type": "ORIGINAL\\PRIMARY\\M\\NORM\\DIS2D", "scanning_sequence": "SE",
     "sequence_variant": "SK\\SP\\OSP", "scan_options": "FS", "sequence_name": "*tse2d1_15",
     "mr_acquisition_type": "2D", "series_description": "t2_tse_fs_tra", "protocol_name": ""},
    {"vendor": "ge", "kind": "t2_fs", "manufacturer": "GE MEDICAL SYSTEMS",
     "image_type": "ORIGINAL\\PRIMARY\\OTHER", "scanning_sequence": "SE",
     "sequence_variant": "SK\\SS", "scan_options": "FAST_GEMS\\SAT_GEMS\\FS",
     "sequence_name": "frfse", "mr_acquisition_type": "2D",
     "series_description": "Ax T2 FRFSE FS", "protocol_name": ""},
    {"vendor": "philips", "kind": "t2_fs", "manufacturer": "Philips",
     "image_type": "ORIGINAL\\PRIMARY\\M_SE\\M\\SE", "scanning_sequence": "SE",
     "sequence_variant": "SK", "scan_options": "FS", "sequence_name": "",
     "mr_acquisition_type": "2D", "series_description": "T2W_TSE_SPAIR_TRA",
     "protocol_name": "T2W_TSE_SPAIR_TRA"},
    {"vendor": "canon", "kind": "t2_fs", "manufacturer": "CANON_MEC",
     "image_type": "ORIGINAL\\PRIMARY\\OTHER", "scanning_sequence": "SE",
     "sequence_variant": "SK", "scan_options": "FASE\\FS", "sequence_name": "FSE2D",
     "mr_acquisition_type": "2D", "series_description": "T2W_FatSat_AX", "protocol_name": ""},
    {"vendor": "siemens", "kind": "dwi", "manufacturer": "SIEMENS",
     "image_type": "DERIVED\\PRIMARY\\DIFFUSION\\TRACEW\\NORM\\DIS2D", "scanning_sequence": "EP",
     "sequence_variant": "SK\\SP", "scan_options": "FS", "sequence_name": "*ep_b1000t",
     "mr_acquisition_type": "2D", "series_description": "", "protocol_name": ""},
    {"vendor": "ge", "kind": "dwi", "manufacturer": "GE MEDICAL SYSTEMS",
     "image_type": "ORIGINAL\\PRIMARY\\OTHER", "scanning_sequence": "EP",
     "sequence_variant": "SS\\SK", "scan_options": "EPI_GEMS\\SAT_GEMS", "sequence_name": "epi2",
     "mr_acquisition_type": "2D", "series_description": "Ax DWI b50 b800", "protocol_name": ""},
]


def _files(rows, iop=AXIAL):
    frame = pd.DataFrame(rows)
    for i, value in enumerate(iop):
        frame[f"iop_{i}"] = value
    frame["header_orientation"] = "axial"
    frame["echo_time"], frame["repetition_time"] = 90.0, 4000.0
    frame["contrast_agent"] = False
    return frame


@pytest.mark.parametrize("value, expected", [
    ("DERIVED\\PRIMARY\\DIFFUSION\\TRACEW\\NORM\\DIS2D", {"derived", "primary", "diffusion",
                                                          "trace"}),
    ("DERIVED\\PRIMARY\\DIFFUSION\\ADC\\NORM\\DIS2D", {"derived", "primary", "diffusion", "adc"}),
    ("DERIVED\\PRIMARY\\MPR\\NORM\\DIS2D", {"derived", "primary", "reformat"}),
    ("ORIGINAL\\PRIMARY\\M_FFE\\M\\FFE", {"original", "primary", "magnitude", "gradient_echo"}),
    ("ORIGINAL\\PRIMARY\\OTHER", {"original", "primary"}),
    ("", set()),
])
def test_image_type_components_become_terms(value, expected):
    assert coded_terms(value, vocabulary()["image_type"]) == expected


def test_ge_scan_options_lose_their_suffix():
    table = vocabulary()["scan_options"]
    assert coded_terms("FAST_GEMS\\SAT_GEMS\\FS", table) == {"fast", "spatial_sat", "fat_sat"}
    assert coded_terms("SAT2\\FS", table) == {"spatial_sat", "fat_sat"}
    assert coded_terms("PFP\\FS", table) == {"partial_fourier", "fat_sat"}


@pytest.mark.parametrize("name, expected", [
    ("*tse2d1_15", {"stem_tse", "dim_2d"}),
    ("*fl3d1_ns", {"stem_fl", "dim_3d", "flag_ns"}),
    ("*ep_b1000t", {"stem_ep"}),
    ("*ep_b0_1000", {"stem_ep"}),
    ("ep_b1000#1", {"stem_ep"}),
    ("*h2d1_256", {"stem_h", "dim_2d"}),
    ("efgre3d", {"stem_efgre", "dim_3d"}),
    ("FASE2D", {"stem_fase", "dim_2d"}),
    ("fse-xl", {"stem_fse", "flag_xl"}),
    ("SE_EPI", {"stem_se", "flag_epi"}),
    ("", set()),
    (None, set()),
])
def test_sequence_name_stems(name, expected):
    assert sequence_name_terms(name) == expected


@pytest.mark.parametrize("texts, expected", [
    (("t2_haste_tra_mbh",), {"t2"}),
    (("Ax DWI b50 b800",), {"diffusion"}),
    (("+C Ax LAVA ART",), {"post_contrast", "t1", "arterial"}),
    (("T1W_mDixon_IP",), {"t1", "dual_echo", "in_phase"}),
    (("3-Plane Loc",), {"localizer"}),
    (("ep2d_diff_b50_800_tra_ADC",), {"diffusion", "adc"}),
    (("", "AAHead_Scout"), {"localizer"}),
    (("", ""), set()),
])
def test_description_words(texts, expected):
    assert description_terms(*texts) == expected


def test_the_same_acquisition_gives_the_same_terms_on_every_vendor():
    features = file_features(_files(HEADERS))
    kinds = pd.Series([h["kind"] for h in HEADERS])
    t2_fs = features[kinds.eq("t2_fs").to_numpy()]
    for column in ("tok_options_fat_sat", "tok_scanning_SE", "num_acquisition_3d"):
        assert t2_fs[column].nunique() == 1, column
    assert t2_fs["tok_options_fat_sat"].eq(1).all()
    dwi = features[kinds.eq("dwi").to_numpy()]
    assert dwi["tok_scanning_EP"].eq(1).all()
    assert dwi["tok_desc_diffusion"].tolist() == [0, 1]  # the Siemens one has no description


def test_vendor_only_codes_are_not_features():
    terms = {part for column in file_features(_files(HEADERS)).columns
             if column.startswith("tok_") for part in column.lower().split("_")}
    for vendor_code in ("siemens", "ge", "philips", "canon", "gems", "norm", "dis2d", "other"):
        assert vendor_code not in terms


def test_plane_and_missing_values():
    rows = [dict(HEADERS[0]), dict(HEADERS[1])]
    features = file_features(_files(rows, iop=CORONAL))
    np.testing.assert_allclose(features[["num_normal_x", "num_normal_y", "num_normal_z"]],
                               [[0, 1, 0], [0, 1, 0]])
    assert features["tok_plane_axial"].eq(1).all()  # from header_orientation as the scan wrote it
    bare = file_features(pd.DataFrame({"image_type": [None], "iop_0": [np.nan]}))
    assert bare["num_echo_time"].isna().all() and bare["num_acquisition_3d"].isna().all()
    assert bare["tok_desc_none"].eq(1).all()


def test_fat_water_phase_tells_in_from_opposed_phase_at_either_field():
    phase = fat_water_phase([2.3, 4.6, 1.15, 2.3, 6.9], [1.5, 1.5, 3.0, 3.0, 1.5])
    assert phase[0] > 0.9 and phase[2] > 0.9  # opposed: 1.5 T at 2.3 ms, 3 T at 1.15 ms
    assert phase[1] < 0.1 and phase[3] < 0.1  # in phase: 1.5 T at 4.6 ms, 3 T at 2.3 ms
    assert phase[4] > 0.9  # the second opposed echo at 1.5 T
    assert np.isnan(fat_water_phase([2.3], [np.nan])).all()

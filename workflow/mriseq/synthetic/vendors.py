"""Vendor header styles: series descriptions, sequence tags and ImageType per pulse sequence.

The header says what a vendor would write for the sequence that was simulated; it never decides the
label (the label comes from the physics). Some descriptions are later blanked or swapped for a
misleading one by the cohort generator.
"""

from __future__ import annotations

import numpy as np

MANUFACTURERS = {
    "siemens": ("SIEMENS", {1.5: ["Aera", "Avanto_fit"], 3.0: ["Skyra", "MAGNETOM Vida"]}),
    "ge": ("GE MEDICAL SYSTEMS", {1.5: ["SIGNA Artist", "Optima MR450w"],
                                  3.0: ["DISCOVERY MR750", "SIGNA Premier"]}),
    "philips": ("Philips", {1.5: ["Ingenia", "Achieva"],
                            3.0: ["Ingenia Elition X", "Achieva dStream"]}),
    "canon": ("CANON_MEC", {1.5: ["Vantage Orian"], 3.0: ["Vantage Galan 3T"]}),
}

_PLANE_TOKEN = {
    "siemens": {"axial": "tra", "coronal": "cor", "sagittal": "sag"},
    "ge": {"axial": "Ax", "coronal": "Cor", "sagittal": "Sag"},
    "philips": {"axial": "TRA", "coronal": "COR", "sagittal": "SAG"},
    "canon": {"axial": "AX", "coronal": "COR", "sagittal": "SAG"},
}

# Description templates per vendor and series kind; {p} is the plane token, {b} the b-values.
_DESCRIPTIONS = {
    "siemens": {
        "localizer": ["localizer", "trufi_loc_multi"],
        "t2": ["t2_haste_{p}_mbh", "t2_haste_{p}_p2_bh", "t2_haste_{p}"],
        "t2_fs": ["t2_tse_fs_{p}_trig", "t2_blade_{p}_fs_nav"],
        "dwi": ["ep2d_diff_b{b}_{p}_TRACEW", "ep2d_diff_b{b}_{p}_p2_TRACEW"],
        "adc": ["ep2d_diff_b{b}_{p}_ADC", "ep2d_diff_b{b}_{p}_p2_ADC"],
        "t1_inphase": ["t1_fl2d_opp-in_{p}", "t1_vibe_dixon_{p}_bh_in"],
        "t1_opposed": ["t1_fl2d_opp-in_{p}", "t1_vibe_dixon_{p}_bh_opp"],
        "t1_pre": ["t1_vibe_fs_{p}_bh_pre", "t1_vibe_fs_{p}_bh"],
        "t1_arterial": ["t1_vibe_fs_{p}_bh_art", "t1_vibe_fs_{p}_bh_20s"],
        "t1_portal": ["t1_vibe_fs_{p}_bh_pv", "t1_vibe_fs_{p}_bh_70s"],
        "t1_delayed": ["t1_vibe_fs_{p}_bh_delay", "t1_vibe_fs_{p}_bh_3min"],
        "hepatobiliary": ["t1_vibe_fs_{p}_bh_hbp_20min"],
        "mrcp": ["t2_space_cor_3d_mrcp", "t2_haste_cor_thick_slab_mrcp"],
        "other": ["t2_trufi_{p}_bh", "t1_vibe_fs_{p}_bh_SUB"],
    },
    "ge": {
        "localizer": ["3-Plane Loc", "3-Plane Loc FIESTA"],
        "t2": ["{p} SSFSE T2", "{p} T2 SSFSE BH"],
        "t2_fs": ["{p} T2 FRFSE FS", "{p} T2 PROPELLER FS"],
        "dwi": ["{p} DWI b{b}", "{p} DIFFUSION b{b}"],
        "adc": ["{p} DWI b{b} ADC", "Apparent Diffusion Coefficient (mm2/s)"],
        "t1_inphase": ["{p} DUAL ECHO", "{p} LAVA Flex InPhase"],
        "t1_opposed": ["{p} DUAL ECHO", "{p} LAVA Flex OutPhase"],
        "t1_pre": ["{p} LAVA Flex pre", "{p} LAVA MASK"],
        "t1_arterial": ["{p} LAVA Flex ART", "+C {p} LAVA ART"],
        "t1_portal": ["{p} LAVA Flex PV", "+C {p} LAVA 70s"],
        "t1_delayed": ["{p} LAVA Flex DELAY", "+C {p} LAVA 3 MIN"],
        "hepatobiliary": ["+C {p} LAVA HBP 20MIN"],
        "mrcp": ["Cor 3D MRCP", "Cor SSFSE MRCP thick slab"],
        "other": ["{p} FIESTA BH", "{p} LAVA SUB"],
    },
    "philips": {
        "localizer": ["Survey", "SurveyBH"],
        "t2": ["T2W_SSh_{p}", "T2W_SSh_BH_{p}"],
        "t2_fs": ["T2W_TSE_SPAIR_{p}", "T2W_SPAIR_RT_{p}"],
        "dwi": ["DWI_b{b}", "DWI_{p}_b{b}"],
        "adc": ["dADC_MAP", "DWI_b{b}_ADC"],
        "t1_inphase": ["T1_FFE_IP_{p}", "T1W_mDixon_IP"],
        "t1_opposed": ["T1_FFE_OP_{p}", "T1W_mDixon_OP"],
        "t1_pre": ["T1W_mDixon_pre", "THRIVE_pre_{p}"],
        "t1_arterial": ["T1W_mDixon_art", "THRIVE_art_{p}"],
        "t1_portal": ["T1W_mDixon_pv", "THRIVE_portal_{p}"],
        "t1_delayed": ["T1W_mDixon_delay", "THRIVE_5min_{p}"],
        "hepatobiliary": ["T1W_mDixon_HBP_20min"],
        "mrcp": ["MRCP_3D_HR", "MRCP_thick_slab"],
        "other": ["bTFE_BH_{p}", "T1W_mDixon_SUB"],
    },
    "canon": {
        "localizer": ["Locator", "Scano"],
        "t2": ["FASE2D_T2_{p}", "T2 FASE BH {p}"],
        "t2_fs": ["T2W_FatSat_{p}", "FSE2D_T2_FS_{p}"],
        "dwi": ["DWI b{b} {p}", "SE_EPI_DWI_{p}"],
        "adc": ["ADC_{p}", "ADC map"],
        "t1_inphase": ["FE2D_dual_IP_{p}", "T1 dual echo IP"],
        "t1_opposed": ["FE2D_dual_OP_{p}", "T1 dual echo OP"],
        "t1_pre": ["Quick3D_FS_{p}_pre", "T1 3D FS pre"],
        "t1_arterial": ["Quick3D_FS_{p}_art", "T1 3D FS dyn art"],
        "t1_portal": ["Quick3D_FS_{p}_PV", "T1 3D FS dyn PV"],
        "t1_delayed": ["Quick3D_FS_{p}_3min", "T1 3D FS dyn late"],
        "hepatobiliary": ["Quick3D_FS_{p}_HBP", "T1 3D FS 20min"],
        "mrcp": ["3D MRCP COR", "MRCP thick slab"],
        "other": ["TrueSSFP_{p}", "Quick3D_FS_SUB"],
    },
}

# (ScanningSequence, SequenceVariant, ScanOptions, SequenceName, MRAcquisitionType) per vendor/kind.
_TAGS = {
    "siemens": {
        "ssfse": ("SE", ["SK", "SP"], ["PFP"], "*h2d1_256", "2D"),
        "fse": ("SE", ["SK", "SP", "OSP"], ["FS", "PFP"], "*tse2d1_17", "2D"),
        "dwi": ("EP", ["SK", "SP"], ["PFP", "FS"], "*ep_b{b}t", "2D"),
        "dual": ("GR", ["SP"], [""], "*fl2d2", "2D"),
        "vibe": ("GR", ["SP", "OSP"], ["PFP", "FS"], "*fl3d1", "3D"),
        "bssfp": ("GR", ["SK", "SS"], [""], "*tfi2d1_12", "2D"),
        "mrcp": ("SE", ["SK", "SP"], ["FS"], "*spc3d1rr282", "3D"),
    },
    "ge": {
        "ssfse": ("SE", ["SK", "SS"], ["FAST_GEMS", "EDR_GEMS"], "ssfse", "2D"),
        "fse": ("SE", ["SK", "SS"], ["FAST_GEMS", "SAT_GEMS", "FS"], "frfse", "2D"),
        "dwi": ("EP", ["SS", "SK"], ["EPI_GEMS", "SAT_GEMS"], "epi2", "2D"),
        "dual": ("GR", ["SS", "SP"], ["FAST_GEMS"], "fgre", "2D"),
        "vibe": ("GR", ["SS", "SK"], ["FAST_GEMS", "ACC_GEMS"], "efgre3d", "3D"),
        "bssfp": ("GR", ["SS"], ["FAST_GEMS"], "fiesta", "2D"),
        "mrcp": ("SE", ["SK"], ["FAST_GEMS", "SAT_GEMS"], "fse3d", "3D"),
    },
    "philips": {
        "ssfse": ("SE", ["SK"], ["OTHER"], "", "2D"),
        "fse": ("SE", ["SK"], ["FS"], "", "2D"),
        "dwi": ("SE", ["SK"], ["FS"], "", "2D"),
        "dual": ("GR", ["SP"], ["OTHER"], "", "2D"),
        "vibe": ("GR", ["SP"], ["FS"], "", "3D"),
        "bssfp": ("GR", ["SS"], ["OTHER"], "", "2D"),
        "mrcp": ("SE", ["SK"], ["FS"], "", "3D"),
    },
    "canon": {
        "ssfse": ("SE", ["SK"], ["FASE"], "FASE2D", "2D"),
        "fse": ("SE", ["SK"], ["FASE", "FS"], "FSE2D", "2D"),
        "dwi": ("EP", ["SK"], ["FS"], "SE_EPI", "2D"),
        "dual": ("GR", ["SP"], [""], "FE2D", "2D"),
        "vibe": ("GR", ["SP"], ["FS"], "FE3D", "3D"),
        "bssfp": ("GR", ["SS"], [""], "TrueSSFP", "2D"),
        "mrcp": ("SE", ["SK"], ["FASE", "FS"], "FASE3D", "3D"),
    },
}


def image_type(vendor: str, family: str, derived: bool = False) -> list[str]:
    """ImageType values in the vendor's style; ``family`` is SE or GR (Philips names it)."""
    if vendor == "siemens":
        if derived:
            return ["DERIVED", "PRIMARY", "DIFFUSION", "ADC", "ND", "NORM"]
        if family == "dwi":
            return ["ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW", "ND", "NORM"]
        return ["ORIGINAL", "PRIMARY", "M", "ND", "NORM"]
    if vendor == "philips":
        if derived:
            return ["DERIVED", "PRIMARY", "ADC", "ADC"]
        kind = "FFE" if family == "GR" else "SE"
        return ["ORIGINAL", "PRIMARY", f"M_{kind}", "M", kind]
    if derived:
        if vendor == "ge":
            return ["DERIVED", "PRIMARY", "OTHER"]
        return ["DERIVED", "SECONDARY", "ADC"]
    return ["ORIGINAL", "PRIMARY", "OTHER"]


def description(rng: np.random.Generator, vendor: str, kind: str, plane: str,
                b_values: tuple = ()) -> str:
    """A vendor-style SeriesDescription for a description ``kind`` (a sequence class, or
    ``hepatobiliary`` / ``other``)."""
    template = str(rng.choice(_DESCRIPTIONS[vendor][kind]))
    sep = " b" if vendor == "ge" else "_"
    b = (sep.join(str(int(v)) for v in b_values)) if b_values else ""
    return template.format(p=_PLANE_TOKEN[vendor][plane], b=b)


def sequence_tags(vendor: str, family: str, b: float | None = None) -> dict:
    scanning, variant, options, name, acq = _TAGS[vendor][family]
    return {
        "ScanningSequence": scanning,
        "SequenceVariant": variant,
        "ScanOptions": options,
        "SequenceName": name.format(b=int(b or 0)),
        "MRAcquisitionType": acq,
    }


def manufacturer(rng: np.random.Generator, vendor: str, field: float) -> tuple[str, str]:
    name, models = MANUFACTURERS[vendor]
    return name, str(rng.choice(models[field]))

"""Vendor header styles: series descriptions, sequence tags and ImageType per pulse sequence.

The header says what a vendor would write for the sequence that was simulated; it never decides the
label (the label comes from the physics). The sequence tags (ImageType, ScanningSequence,
SequenceVariant, ScanOptions, SequenceName, MRAcquisitionType, where the b-value goes) come from the
conventions table ``mriseq/data/vendor_conventions.yaml``, built from real scanner files with its
sources beside each row. Some descriptions are later blanked or swapped for a misleading one by the
cohort generator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from mriseq.dicom.fields import GE_B_VALUE_OFFSET, PRIVATE_B_VALUES

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

CONVENTIONS_PATH = Path(__file__).resolve().parents[1] / "data" / "vendor_conventions.yaml"
# Generator series families whose header kind is their own name in the conventions table; the
# others are mapped by ``header_kind``.
_KIND_OF_FAMILY = {"ssfse": "t2", "fse": "t2_fs"}
# Where a vendor writes a b-value outside DiffusionBValue: the private element the scan reads
# (mriseq.dicom.fields, in its order: Siemens, GE, Philips), in the block of its creator.
_PRIVATE_B_VALUE = {vendor: (group, offset, creator, vr.decode())
                    for vendor, (group, offset, creator, vr)
                    in zip(("siemens", "ge", "philips"), PRIVATE_B_VALUES, strict=True)}


@dataclass(frozen=True)
class HeaderStyle:
    """One row of the conventions table: what a vendor writes for one kind of series."""

    image_type: tuple[str, ...]
    scanning_sequence: tuple[str, ...]
    sequence_variant: tuple[str, ...]
    scan_options: tuple[str, ...]
    sequence_name: str
    mr_acquisition_type: str
    sources: tuple[str, ...]
    weight: float = 1.0
    reformat_image_type: tuple[str, ...] | None = None  # reformats of a 3D localizer (MPR)
    flip_angle: tuple[float, float] | None = None  # what the scanner reports, if not the physics'
    echo_train_length: tuple[int, int] | None = None
    echo_time: tuple[float, float] | None = None
    repetition_time: tuple[float, float] | None = None
    b_value_tags: tuple[str, ...] = ()  # DWI: per file; ADC: the series' highest b-value

    def name(self, b: float = 0.0, b_values: tuple = (), etl: int = 1) -> str:
        """SequenceName with the file's b-value, the series' b-values and echo train filled in."""
        b_values = tuple(int(v) for v in b_values) or (0,)
        return self.sequence_name.format(b=int(b), b0=min(b_values), bmax=max(b_values),
                                         etl=int(etl))


@cache
def conventions() -> dict:
    """The conventions table: ``{"sources": {id: text}, vendor: {kind: [HeaderStyle, ...]}}``."""
    with CONVENTIONS_PATH.open() as handle:
        raw = yaml.safe_load(handle)
    table = {"sources": raw.pop("sources")}
    for vendor, kinds in raw.items():
        table[vendor] = {kind: [_style(row) for row in rows] for kind, rows in kinds.items()}
    return table


def _style(row: dict) -> HeaderStyle:
    tuples = {k: tuple(v) for k, v in row.items() if isinstance(v, list)}
    return HeaderStyle(**{**row, **tuples})


def header_kind(family: str, sequence: str, inversion_time: float = 0.0) -> str:
    """The conventions-table kind of a planned series (its generator family, its class)."""
    if sequence == "localizer":
        return "localizer"
    if family == "fse" and inversion_time > 0:
        return "stir"
    return _KIND_OF_FAMILY.get(family, family)


def keyed_rng(*key) -> np.random.Generator:
    """A generator seeded from ``key`` (e.g. a study and a series kind): header style choices
    draw from it, so they neither shift the pixel generator's stream nor vary within a key."""
    digest = hashlib.sha256("/".join(map(str, key)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def header_style(vendor: str, kind: str, *key) -> HeaderStyle:
    """The style ``vendor`` uses for ``kind``, drawn by weight from the conventions table;
    the same ``key`` gives the same style (one examination uses one localizer style)."""
    styles = conventions()[vendor][kind]
    weights = np.array([s.weight for s in styles], dtype=float)
    return styles[int(keyed_rng(vendor, kind, *key).choice(len(styles),
                                                          p=weights / weights.sum()))]


def set_b_value(ds, vendor: str, style: HeaderStyle, b: float) -> None:
    """Write a DWI file's b-value where ``style`` says the vendor puts it."""
    if "standard" in style.b_value_tags:
        ds.DiffusionBValue = float(b)
    elif "DiffusionBValue" in ds:
        del ds.DiffusionBValue
    if "private" in style.b_value_tags and vendor in _PRIVATE_B_VALUE:
        group, offset, creator, vr = _PRIVATE_B_VALUE[vendor]
        block = ds.private_block(group, creator, create=True)
        if vendor == "ge":  # four IS values, the first with GE's 10^9 offset
            value = [int(b) + GE_B_VALUE_OFFSET, 8, 0, 0]
        else:
            value = float(b) if vr == "FL" else int(b)
        block.add_new(offset, vr, value)


def private_b_value_tags() -> set[int]:
    """Tags of the private b-value elements this module writes (fixed block 0x10)."""
    return {(group << 16) | 0x1000 | offset for group, offset, _, _ in _PRIVATE_B_VALUE.values()}


def description(rng: np.random.Generator, vendor: str, kind: str, plane: str,
                b_values: tuple = ()) -> str:
    """A vendor-style SeriesDescription for a description ``kind`` (a sequence class, or
    ``hepatobiliary`` / ``other``)."""
    template = str(rng.choice(_DESCRIPTIONS[vendor][kind]))
    sep = " b" if vendor == "ge" else "_"
    b = (sep.join(str(int(v)) for v in b_values)) if b_values else ""
    return template.format(p=_PLANE_TOKEN[vendor][plane], b=b)


def manufacturer(rng: np.random.Generator, vendor: str, field: float) -> tuple[str, str]:
    name, models = MANUFACTURERS[vendor]
    return name, str(rng.choice(models[field]))

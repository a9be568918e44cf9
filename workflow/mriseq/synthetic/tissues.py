"""Tissue properties for the synthetic phantom.

Relaxation times are in ms at 1.5 T / 3 T (de Bazelaire et al., Radiology 2004 and similar), ADC in
10⁻³ mm²/s. ``fat`` is the fat fraction of the tissue (its fat part gets the relaxation times of
fat and the chemical-shift phase); ``perfusion`` the IVIM pseudo-diffusion fraction (flowing blood
is 1, so vessels go dark at low b); ``flow`` marks flowing blood (signal void on spin echo).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tissue:
    name: str
    t1: tuple[float, float]  # ms at 1.5 T, 3 T
    t2: tuple[float, float]
    pd: float  # proton density, relative
    adc: float  # 10^-3 mm^2/s
    fat: float = 0.0
    perfusion: float = 0.0
    flow: bool = False


_BLOOD = dict(t1=(1441, 1932), t2=(290, 275), pd=0.9, adc=1.6, perfusion=1.0, flow=True)
_FLUID = dict(t1=(3500, 4000), t2=(1500, 1300), pd=1.0, adc=3.0)

TISSUES: tuple[Tissue, ...] = (
    Tissue("air", (1000, 1000), (1, 1), 0.0, 0.0),
    Tissue("fat_sc", (1000, 1100), (40, 35), 0.95, 0.15, fat=0.95),
    Tissue("fat_visceral", (1000, 1100), (40, 35), 0.95, 0.2, fat=0.88),
    Tissue("muscle", (856, 898), (27, 29), 0.75, 1.4, fat=0.02, perfusion=0.05),
    Tissue("liver", (586, 809), (46, 34), 0.75, 1.1, perfusion=0.2),  # fat set per patient
    Tissue("spleen", (1057, 1328), (79, 61), 0.85, 0.8, perfusion=0.15),
    Tissue("spleen_red_pulp", (1057, 1328), (79, 61), 0.85, 0.8, perfusion=0.15),
    Tissue("kidney_cortex", (966, 1142), (87, 76), 0.85, 2.0, perfusion=0.25),
    Tissue("kidney_medulla", (1412, 1545), (85, 81), 0.9, 2.1, perfusion=0.2),
    Tissue("pancreas", (584, 725), (46, 43), 0.75, 1.3, fat=0.04, perfusion=0.15),
    Tissue("aorta", **_BLOOD),
    Tissue("ivc", **_BLOOD),
    Tissue("portal_vein", **_BLOOD),
    Tissue("hepatic_vein", **_BLOOD),
    Tissue("heart_blood", **_BLOOD),
    Tissue("myocardium", (1000, 1200), (50, 45), 0.8, 1.5, perfusion=0.1),
    Tissue("bile", (2800, 3200), (800, 700), 1.0, 3.0),
    Tissue("bile_duct", **_FLUID),
    Tissue("urine", **_FLUID),
    Tissue("bowel_fluid", (3000, 3500), (1000, 900), 1.0, 2.8),
    Tissue("bowel_wall", (900, 1000), (60, 55), 0.8, 1.6, perfusion=0.1),
    Tissue("stool", (800, 900), (60, 55), 0.6, 1.2, fat=0.1),
    Tissue("csf", (4000, 4300), (1800, 1600), 1.0, 3.0),
    Tissue("marrow", (549, 586), (49, 49), 0.8, 0.5, fat=0.45),
    Tissue("disc", (1100, 1200), (120, 110), 0.85, 1.8),
    Tissue("lung", (1200, 1300), (20, 15), 0.08, 1.5),
    Tissue("lesion", (1100, 1300), (85, 75), 0.85, 0.9, perfusion=0.2),  # hypervascular tumour
)

INDEX: dict[str, int] = {t.name: i for i, t in enumerate(TISSUES)}

# Fat itself (the fat part of every tissue). Fast spin echo shows fat bright (J-coupling), which a
# longer apparent T2 models; gradient echo uses the plain T2.
FAT_T1 = (343, 382)
FAT_T2 = (58, 68)
FAT_T2_FSE = (140, 130)
FAT_ADC = 0.15

# Gadolinium concentration (mM) per tissue in the post-contrast phases of an extracellular agent;
# gadoxetate adds the hepatobiliary phase (liver and bile ducts bright, vessels faded). Tissues not
# listed take up nothing (fat, fluid, air).
_GD_PHASES = ("early_arterial", "late_arterial", "portal", "delayed", "hepatobiliary")
_GD: dict[str, tuple[float, float, float, float, float]] = {
    #                 early   late   portal delayed  hbp
    "aorta":           (7.0,  5.0,   2.6,   1.2,   0.4),
    "heart_blood":     (6.5,  4.5,   2.6,   1.2,   0.4),
    "portal_vein":     (0.0,  1.5,   3.6,   1.4,   0.4),
    "hepatic_vein":    (0.0,  0.1,   2.6,   1.3,   0.3),
    "ivc":             (0.0,  0.6,   2.4,   1.3,   0.3),
    "liver":           (0.1,  0.35,  1.2,   0.9,   2.8),
    "spleen":          (2.6,  2.2,   1.5,   0.9,   0.3),
    "spleen_red_pulp": (0.3,  0.8,   1.5,   0.9,   0.3),
    "kidney_cortex":   (3.5,  3.0,   2.2,   1.2,   1.0),
    "kidney_medulla":  (0.2,  0.6,   2.0,   1.4,   1.0),
    "pancreas":        (1.2,  1.6,   1.1,   0.7,   0.3),
    "myocardium":      (1.5,  1.5,   1.0,   0.6,   0.2),
    "muscle":          (0.1,  0.25,  0.4,   0.4,   0.2),
    "bowel_wall":      (0.8,  1.2,   1.2,   0.8,   0.3),
    "marrow":          (0.2,  0.4,   0.5,   0.4,   0.2),
    "disc":            (0.0,  0.0,   0.1,   0.3,   0.2),
    "urine":           (0.0,  0.0,   0.0,   4.0,   2.0),
    "bile_duct":       (0.0,  0.0,   0.0,   0.0,   3.5),
    "bile":            (0.0,  0.0,   0.0,   0.0,   1.0),
    "lesion":          (1.5,  3.0,   1.0,   0.5,   0.2),  # arterial hyper-enhancement, washout
}

PHASES = ("pre", "early_arterial", "late_arterial", "portal", "delayed", "hepatobiliary")


def gadolinium(tissue: str, phase: str, arterial_timing: float = 0.5) -> float:
    """Gadolinium concentration (mM) of ``tissue`` in ``phase``; ``arterial`` interpolates between
    early and late arterial by ``arterial_timing`` (0 = early, 1 = late)."""
    values = _GD.get(tissue)
    if values is None or phase == "pre":
        return 0.0
    curve = dict(zip(_GD_PHASES, values, strict=True))
    if phase == "arterial":
        early, late = curve["early_arterial"], curve["late_arterial"]
        return (1 - arterial_timing) * early + arterial_timing * late
    return curve[phase]

"""Signal equations: what each pulse sequence makes of every tissue of the phantom.

A :class:`Protocol` holds the physical acquisition parameters of one series; :func:`render_volume`
turns a phantom into a 3D magnitude image for it. Per tissue the signal is complex: the water part
follows the sequence's steady-state equation, the fat part the same equation with the relaxation
times of fat, rotated by the fat–water chemical-shift phase at the echo time (so opposed-phase
voxels holding both cancel) and scaled down by fat suppression. Gadolinium shortens T1 as
1/T1 = 1/T1₀ + r1·C; diffusion weighting multiplies by the IVIM decay at the b-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mriseq.synthetic.phantom import Phantom
from mriseq.synthetic.tissues import (
    FAT_ADC,
    FAT_T1,
    FAT_T2,
    FAT_T2_FSE,
    INDEX,
    TISSUES,
    gadolinium,
)

GYROMAGNETIC_MHZ_PER_T = 42.577
FAT_SHIFT_PPM = -3.5
R1_PER_MM_PER_MS = 4.5e-3  # gadolinium relaxivity r1 = 4.5 /mM/s
PSEUDO_DIFFUSION = 20.0  # IVIM D* (10^-3 mm^2/s)


@dataclass(frozen=True)
class Protocol:
    """Physical acquisition parameters; ``kind`` names the signal equation."""

    kind: str  # fse | gre | bssfp | dwi
    te: float  # ms
    tr: float  # ms
    flip: float = 90.0  # degrees
    field: float = 1.5  # tesla
    fat_suppression: float = 0.0  # 0 = none, 1 = perfect
    phase: str = "pre"  # gadolinium phase (tissues.PHASES or "arterial")
    arterial_timing: float = 0.5
    b: float = 0.0  # s/mm^2 (dwi)
    ti: float = 0.0  # ms, inversion time (STIR) when > 0


def fat_phase(te_ms: float, field_t: float) -> float:
    """Phase (radians) of fat relative to water at echo time ``te_ms``."""
    shift_hz = FAT_SHIFT_PPM * 1e-6 * GYROMAGNETIC_MHZ_PER_T * 1e6 * field_t
    return 2 * np.pi * shift_hz * te_ms * 1e-3


def stir_ti(field_t: float) -> float:
    """Inversion time that nulls fat (TR >> T1): TI = T1_fat · ln 2."""
    return FAT_T1[0 if field_t < 2 else 1] * np.log(2)


def in_phase_te(field_t: float, cycles: int = 1) -> float:
    return cycles * 1e3 / abs(FAT_SHIFT_PPM * GYROMAGNETIC_MHZ_PER_T * field_t)


def _steady_state(kind: str, t1, t2, te, tr, flip_deg, ti=0.0):
    if kind in ("fse", "dwi"):
        if ti > 0:  # inversion recovery (STIR): magnitude of the longitudinal recovery at TI
            return np.abs(1 - 2 * np.exp(-ti / t1) + np.exp(-tr / t1)) * np.exp(-te / t2)
        return (1 - np.exp(-tr / t1)) * np.exp(-te / t2)
    a = np.deg2rad(flip_deg)
    e1 = np.exp(-tr / t1)
    if kind == "gre":
        t2s = t2 * 0.7
        return np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1) * np.exp(-te / t2s)
    if kind == "bssfp":
        e2 = np.exp(-tr / t2)
        return np.sin(a) * (1 - e1) / (1 - (e1 - e2) * np.cos(a) - e1 * e2) * np.exp(-te / t2)
    raise ValueError(f"unknown sequence kind {kind!r}")


def tissue_signals(protocol: Protocol, liver_fat: float = 0.0,
                   relaxation_scale: np.ndarray | None = None) -> np.ndarray:
    """Complex signal of every tissue (``TISSUES`` order) for ``protocol``; ``relaxation_scale``
    (n_tissues, 2) varies T1 and T2 between patients."""
    scale = np.ones((len(TISSUES), 2)) if relaxation_scale is None else relaxation_scale
    f = 0 if protocol.field < 2 else 1
    out = np.zeros(len(TISSUES), dtype=np.complex64)
    fat_t2 = FAT_T2_FSE[f] if protocol.kind in ("fse", "dwi") else FAT_T2[f]
    fat = _steady_state(protocol.kind, FAT_T1[f], fat_t2, protocol.te, protocol.tr, protocol.flip,
                        protocol.ti)
    fat = fat * (1 - protocol.fat_suppression) * np.exp(1j * fat_phase(protocol.te, protocol.field))
    if protocol.kind == "dwi":
        fat = fat * np.exp(-protocol.b * FAT_ADC * 1e-3)
    for i, t in enumerate(TISSUES):
        if t.pd == 0:
            continue
        r1 = 1.0 / (t.t1[f] * scale[i, 0]) + R1_PER_MM_PER_MS * gadolinium(
            t.name, protocol.phase, protocol.arterial_timing)
        water = _steady_state(protocol.kind, 1.0 / r1, t.t2[f] * scale[i, 1], protocol.te,
                              protocol.tr, protocol.flip, protocol.ti)
        if protocol.kind == "dwi":
            b = protocol.b * 1e-3
            water *= (1 - t.perfusion) * np.exp(-b * t.adc) + t.perfusion * np.exp(
                -b * PSEUDO_DIFFUSION
            )
        if t.flow and protocol.kind in ("fse", "dwi"):
            water *= 0.08  # flow void: moving spins miss the refocusing pulse
        ff = liver_fat if t.name == "liver" else t.fat
        out[i] = t.pd * ((1 - ff) * water + ff * fat)
    return out


def render_volume(phantom: Phantom, protocol: Protocol, box: tuple | None = None,
                  texture_amplitude: float = 0.06) -> np.ndarray:
    """3D magnitude image of ``phantom`` for ``protocol`` (float32) on the voxel ``box`` (a
    tuple of slices of the phantom grid; the whole grid when None)."""
    box = box or (slice(None),) * 3
    signals = tissue_signals(protocol, phantom.liver_fat, phantom.relaxation_scale)
    index, weight = phantom.tissue_index[(slice(None), *box)], phantom.weight[(slice(None), *box)]
    vol = weight[0] * signals[index[0]]
    for k in range(1, weight.shape[0]):
        vol += weight[k] * signals[index[k]]
    mag = np.abs(vol)
    mag *= 1.0 + texture_amplitude * phantom.texture[box]
    return mag


def adc_volume(phantom: Phantom) -> np.ndarray:
    """True ADC (10^-3 mm^2/s) per voxel, for checks."""
    adc = np.array([t.adc for t in TISSUES], dtype=np.float32)
    adc[INDEX["fat_sc"]] = FAT_ADC
    return (phantom.weight * adc[phantom.tissue_index]).sum(axis=0)

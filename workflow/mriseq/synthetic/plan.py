"""Which series a patient gets, and their physical parameters and geometry.

The label of every series is fixed here from what is simulated: ``sequence`` from the signal
equation and gadolinium phase, ``orientation`` from the true slice normal, ``contrast`` post for the
three post-gadolinium T1 phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mriseq.synthetic.geometry import BASE_PLANES, Geometry, orientation_label, rotation
from mriseq.synthetic.phantom import Phantom
from mriseq.synthetic.signal import Protocol, in_phase_te, stir_ti
from mriseq.taxonomy import POST_CONTRAST_SEQUENCES


@dataclass
class SeriesPlan:
    sequence: str  # taxonomy class, from the physics
    family: str  # header family: ssfse | fse | dwi | dual | vibe | bssfp | mrcp | adc
    desc_kind: str  # description template key (a class, "hepatobiliary" or "other")
    plane: str  # prescribed base plane (the label comes from the tilted normal)
    protocols: list[Protocol]
    geometry: Geometry
    noise: float  # noise sigma relative to the series' reference signal
    slab_mm: float = 0.0  # thick-slab projection (MRCP)
    ghost: float = 0.0  # respiratory ghost amplitude
    epi_shift_mm: float = 0.0
    source: int | None = None  # ADC: index of the DWI plan it is computed from
    letter: str | None = None  # DLDS label letter
    keyed: bool = True  # DLDS: has a row in SeriesClassificationKey.csv
    extras: dict = field(default_factory=dict)

    @property
    def orientation(self) -> str:
        return orientation_label(self.geometry.normal)

    @property
    def contrast(self) -> str:
        return "post" if self.sequence in POST_CONTRAST_SEQUENCES else "pre"

    @property
    def b_values(self) -> tuple[float, ...]:
        return tuple(p.b for p in self.protocols) if self.family in ("dwi", "adc") else ()


@dataclass
class PatientContext:
    rng: np.random.Generator
    phantom: Phantom
    field: float
    vendor: str
    slices: tuple[int, int]
    oblique_fraction: float
    noise_scale: float = 1.0
    dlds: bool = False
    gadoxetate: bool = False


def _n(ctx: PatientContext, factor: float = 1.0) -> int:
    lo, hi = ctx.slices
    return max(1, int(round(ctx.rng.integers(lo, hi + 1) * factor)))


def make_geometry(ctx: PatientContext, plane: str, n: int, thickness: float, matrix: int,
                  *, oblique: bool | None = None, coverage: float | None = None,
                  center: np.ndarray | None = None, fov_scale: float = 1.0,
                  max_tilt_deg: float = 8.0) -> Geometry:
    """Slices of a prescribed ``plane`` over the abdomen; tilted 40–50° when oblique."""
    rng, ph = ctx.rng, ctx.phantom
    u = rng.uniform
    a, b = ph.body_axes
    lc = ph.liver_center
    row, col = (v.copy() for v in BASE_PLANES[plane])
    if oblique is None:
        oblique = plane != "sagittal" and rng.random() < ctx.oblique_fraction
    axis = row if rng.random() < 0.5 else col
    if oblique:
        angle = np.deg2rad(u(40, 50)) * rng.choice([-1, 1])
    else:
        axis = rng.normal(size=3)
        angle = np.deg2rad(u(0, max_tilt_deg))
    rot = rotation(axis, angle)
    row, col = rot @ row, rot @ col
    if plane == "axial":
        fov_c = float(np.clip(2 * a * u(1.08, 1.25), 300, 500)) * fov_scale
        phase = float(np.clip((2 * b + 40) / fov_c, 0.62, 1.0))
        default_center = np.array([u(-10, 10), u(-10, 10), lc[2] - u(15, 45)])
        default_cov = u(140, 200)
    elif plane == "coronal":
        fov_c = float(np.clip(2 * a * u(1.05, 1.2), 320, 480)) * fov_scale
        phase = u(0.85, 1.05)
        default_center = np.array([u(-10, 10), ph.spine_y - u(25, 75), lc[2] - u(30, 60)])
        default_cov = 2 * b * u(0.45, 0.75)
    else:
        fov_c = float(np.clip(2 * b * u(1.3, 1.6), 300, 440)) * fov_scale
        phase = u(0.9, 1.1)
        default_center = np.array([lc[0] * u(0.0, 0.6), ph.spine_y - u(60, 90), lc[2] - u(30, 60)])
        default_cov = 2 * a * u(0.4, 0.7)
    cols = int(matrix)
    rows = int(round(cols * phase / 4)) * 4
    spacing = fov_c / cols
    cov = default_cov if coverage is None else coverage
    step = max(cov / max(n - 1, 1), thickness) if n > 1 else 0.0
    offsets = (np.arange(n) - (n - 1) / 2) * step
    return Geometry(row, col, rows, cols, (spacing, spacing),
                    default_center if center is None else center, offsets, thickness)


def plan_patient(ctx: PatientContext) -> list[SeriesPlan]:
    """The series of one examination, in acquisition order."""
    rng, f = ctx.rng, ctx.field
    u = rng.uniform
    ns = ctx.noise_scale
    plans: list[SeriesPlan] = []
    shift = 1.3 if ctx.dlds else 1.0  # domain shift: other parameter ranges

    # Localizers: balanced SSFP, large FOV, a few thick slices per plane (one series per plane).
    for plane in ("coronal", "sagittal", "axial"):
        loc_n = int(rng.integers(3, 6)) if ctx.slices[0] >= 5 else max(1, min(3, ctx.slices[0]))
        geo = make_geometry(ctx, plane, loc_n, u(7, 10), int(rng.choice([256, 224])),
                            oblique=False, coverage=u(30, 60), fov_scale=1.25, max_tilt_deg=2)
        prot = Protocol("bssfp", te=u(1.3, 1.8), tr=u(3.2, 4.2), flip=u(45, 70), field=f)
        plans.append(SeriesPlan("localizer", "bssfp", "localizer", plane, [prot], geo,
                                noise=u(0.03, 0.05) * ns, letter="L"))

    def ssfse(plane, letter):
        n = _n(ctx)
        matrix = int(rng.choice([256, 288, 320], p=[0.5, 0.3, 0.2]))
        geo = make_geometry(ctx, plane, n, u(5, 7), matrix)
        prot = Protocol("fse", te=u(80, 100) * (0.9 if ctx.dlds else 1.0), tr=u(1000, 1600),
                        field=f, fat_suppression=0.0)
        return SeriesPlan("t2", "ssfse", "t2", plane, [prot], geo, noise=u(0.015, 0.03) * ns,
                          letter=letter, extras={"effective_tr": 5000.0})

    plans.append(ssfse("coronal", "J"))
    plans.append(ssfse("axial", "A"))
    if rng.random() < 0.35 and not ctx.dlds:
        plans.append(ssfse("sagittal", "F"))

    # T2 fat-sat FSE (DLDS has no letter for it: "anything else").
    geo = make_geometry(ctx, "axial", _n(ctx), u(6, 8), int(rng.choice([256, 320])))
    if rng.random() < 0.25:  # STIR: an inversion pulse nulls fat instead of spectral saturation
        prot = Protocol("fse", te=u(40, 70), tr=u(4000, 7000), field=f,
                        ti=stir_ti(f) * u(0.95, 1.05))
    else:
        prot = Protocol("fse", te=u(75, 95), tr=u(3000, 6000), field=f,
                        fat_suppression=u(0.9, 0.97))
    plans.append(SeriesPlan("t2_fs", "fse", "t2_fs", "axial", [prot], geo,
                            noise=u(0.02, 0.035) * ns, ghost=_ghost(rng), letter="F"))

    # MRCP: heavily T2-weighted, fluid only; a few thick slabs or a thin 3D stack.
    thick = rng.random() < 0.5
    n_mrcp = max(1, _n(ctx, 0.5 if thick else 0.8))
    ph = ctx.phantom
    centre = np.array([ph.liver_center[0] * u(0.3, 0.6), ph.spine_y - u(45, 65),
                       ph.liver_center[2] - u(10, 30)])
    geo = make_geometry(ctx, "coronal", n_mrcp, u(40, 70) if thick else u(1.2, 2.0),
                        int(rng.choice([256, 320])), coverage=u(15, 30) if thick else u(40, 60),
                        center=centre, max_tilt_deg=25, fov_scale=0.85)
    prot = Protocol("fse", te=u(600, 800), tr=u(4000, 7000), field=f, fat_suppression=0.95)
    plans.append(SeriesPlan("mrcp", "mrcp", "mrcp", "coronal", [prot], geo,
                            noise=u(0.01, 0.02) * ns, slab_mm=geo.thickness if thick else 6.0,
                            letter="D", extras={"thick_slab": thick}))

    # DWI (2–3 b-values in one series) and the ADC map computed from it.
    b_sets = [(0, 1000), (0, 800, 1000)] if ctx.dlds else [(50, 400, 800), (0, 500, 1000),
                                                           (50, 800), (0, 800), (50, 500, 900)]
    bs = b_sets[int(rng.integers(len(b_sets)))]
    geo = make_geometry(ctx, "axial", _n(ctx, 0.8), u(6, 8), int(rng.choice([128, 112, 144])))
    te, tr = u(55, 75) * shift, u(3500, 6500)
    prots = [Protocol("dwi", te=te, tr=tr, field=f, fat_suppression=0.95, b=b) for b in bs]
    plans.append(SeriesPlan("dwi", "dwi", "dwi", "axial", prots, geo, noise=u(0.005, 0.01) * ns,
                            epi_shift_mm=u(2, 7), letter="I"))
    plans.append(SeriesPlan("adc", "adc", "adc", "axial", prots, geo, noise=0.0,
                            source=len(plans) - 1, letter="M"))

    # Dual-echo gradient echo: in and opposed phase from one acquisition (same geometry).
    geo = make_geometry(ctx, "axial", _n(ctx), u(6, 7), int(rng.choice([256, 224])))
    tr, flip = u(110, 200), u(65, 75)
    te_in = in_phase_te(f) * u(0.98, 1.03)
    te_opp = in_phase_te(f) / 2 * u(0.97, 1.03)
    noise, ghost = u(0.015, 0.03) * ns, _ghost(rng)
    for seq, te, letter in (("t1_opposed", te_opp, "H"), ("t1_inphase", te_in, "G")):
        prot = Protocol("gre", te=te, tr=tr, flip=flip, field=f)
        plans.append(SeriesPlan(seq, "dual", seq, "axial", [prot], geo, noise=noise, ghost=ghost,
                                letter=letter))

    # Dynamic fat-suppressed 3D spoiled GRE: pre, arterial, portal, delayed (same geometry).
    geo = make_geometry(ctx, "axial", _n(ctx), u(2.5, 4.0), int(rng.choice([256, 288])))
    tr, te, flip = u(3.2, 4.6), u(1.3, 2.2), u(9, 15) * (1.1 if ctx.dlds else 1.0)
    fs = u(0.9, 0.98)
    noise = u(0.015, 0.03) * ns

    def vibe(seq, phase, geo, letter, desc_kind=None, timing=0.5, plane="axial"):
        # ``plane`` is the prescribed plane the description names (an oblique stack keeps it).
        prot = Protocol("gre", te=te, tr=tr, flip=flip, field=f, fat_suppression=fs, phase=phase,
                        arterial_timing=timing)
        return SeriesPlan(seq, "vibe", desc_kind or seq, plane, [prot], geo, noise=noise,
                          ghost=_ghost(rng), letter=letter)

    plans.append(vibe("t1_pre", "pre", geo, "B"))
    timings = [u(0, 1)]
    if ctx.dlds and rng.random() < 0.3:
        timings = [u(0, 0.3), u(0.7, 1.0)]
    for timing in timings:
        letter = "O" if timing < 1 / 3 else ("C" if timing < 2 / 3 else "Q")
        plans.append(vibe("t1_arterial", "arterial", geo, letter, timing=timing))
    portal_coronal = rng.random() < 0.4
    if portal_coronal:
        cgeo = make_geometry(ctx, "coronal", _n(ctx), u(2.5, 4.0), int(rng.choice([256, 288])))
        plans.append(vibe("t1_portal", "portal", cgeo, "K", plane="coronal"))
    else:
        plans.append(vibe("t1_portal", "portal", geo, "K"))
    late = "hepatobiliary" if ctx.gadoxetate and rng.random() < 0.6 else "delayed"
    plans.append(vibe("t1_delayed", late, geo, "P" if ctx.gadoxetate else "E",
                      desc_kind="hepatobiliary" if late == "hepatobiliary" else None))
    if not portal_coronal or rng.random() < 0.5:
        cgeo = make_geometry(ctx, "coronal", _n(ctx), u(2.5, 4.0), int(rng.choice([256, 320])))
        plans.append(vibe("t1_delayed", late, cgeo, "N",
                          desc_kind="hepatobiliary" if late == "hepatobiliary" else None,
                          plane="coronal"))
    if not ctx.dlds and rng.random() < 0.2:
        sgeo = make_geometry(ctx, "sagittal", _n(ctx, 0.7), u(3, 4), 256)
        plans.append(vibe("t1_delayed", late, sgeo, "F", plane="sagittal"))
    return plans


def _ghost(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.02, 0.08)) if rng.random() < 0.3 else 0.0

"""The series building blocks: each acquisition's planned series and its physical parameters.

A block returns the ``SeriesPlan`` of one acquisition (or of the few series one acquisition gives).

Each block draws what its pulse sequence decides (signal protocol, noise, artefacts) and prescribes
its stack with :func:`mriseq.synthetic.prescription.make_geometry`; the label comes from the
physics (the ``sequence``), the true slice normal and the gadolinium phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mriseq.synthetic.geometry import Geometry
from mriseq.synthetic.prescription import PatientContext, make_geometry, n_slices
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
        return self.geometry.plane

    @property
    def contrast(self) -> str:
        return "post" if self.sequence in POST_CONTRAST_SEQUENCES else "pre"

    @property
    def b_values(self) -> tuple[float, ...]:
        return tuple(p.b for p in self.protocols) if self.family in ("dwi", "adc") else ()


def localizers(ctx: PatientContext) -> list[SeriesPlan]:
    """Balanced SSFP, large FOV, a few thick slices per plane (one series per plane)."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    plans = []
    for plane in ("coronal", "sagittal", "axial"):
        if ctx.archive:
            loc_n = n_slices(ctx, family="localizer")
        else:
            loc_n = (int(rng.integers(3, 6)) if ctx.slices[0] >= 5
                     else max(1, min(3, ctx.slices[0])))
        geo = make_geometry(ctx, plane, loc_n, u(7, 10), int(rng.choice([256, 224])),
                            oblique=False, coverage=u(30, 60), fov_scale=1.25, max_tilt_deg=2,
                            family="localizer")
        prot = Protocol("bssfp", te=u(1.3, 1.8), tr=u(3.2, 4.2), flip=u(45, 70), field=f)
        plans.append(SeriesPlan("localizer", "bssfp", "localizer", plane, [prot], geo,
                                noise=u(0.03, 0.05) * ctx.noise_scale, letter="L"))
    return plans


def ssfse(ctx: PatientContext, plane: str, letter: str) -> SeriesPlan:
    """Single-shot FSE T2."""
    rng, u = ctx.rng, ctx.rng.uniform
    n = n_slices(ctx, family="2d")
    matrix = int(rng.choice([256, 288, 320], p=[0.5, 0.3, 0.2]))
    geo = make_geometry(ctx, plane, n, u(5, 7), matrix, family="2d")
    prot = Protocol("fse", te=u(80, 100) * (0.9 if ctx.dlds else 1.0), tr=u(1000, 1600),
                    field=ctx.field, fat_suppression=0.0)
    return SeriesPlan("t2", "ssfse", "t2", plane, [prot], geo,
                      noise=u(0.015, 0.03) * ctx.noise_scale, letter=letter,
                      extras={"effective_tr": 5000.0})


def t2_fs(ctx: PatientContext) -> SeriesPlan:
    """T2 fat-sat FSE (DLDS has no letter for it: "anything else")."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    geo = make_geometry(ctx, "axial", n_slices(ctx, family="2d"), u(6, 8),
                        int(rng.choice([256, 320])), family="2d")
    if rng.random() < 0.25:  # STIR: an inversion pulse nulls fat instead of spectral saturation
        prot = Protocol("fse", te=u(40, 70), tr=u(4000, 7000), field=f,
                        ti=stir_ti(f) * u(0.95, 1.05))
    else:
        prot = Protocol("fse", te=u(75, 95), tr=u(3000, 6000), field=f,
                        fat_suppression=u(0.9, 0.97))
    return SeriesPlan("t2_fs", "fse", "t2_fs", "axial", [prot], geo,
                      noise=u(0.02, 0.035) * ctx.noise_scale, ghost=_ghost(rng), letter="F")


def mrcp(ctx: PatientContext, thick: bool) -> SeriesPlan:
    """MRCP: heavily T2-weighted, fluid only; a few thick slabs or a thin 3D stack."""
    rng, u = ctx.rng, ctx.rng.uniform
    n_mrcp = max(1, n_slices(ctx, 0.5 if thick else 0.8, "mrcp_slab" if thick else "mrcp_3d"))
    ph = ctx.phantom
    centre = np.array([ph.liver_center[0] * u(0.3, 0.6), ph.spine_y - u(45, 65),
                       ph.liver_center[2] - u(10, 30)])
    geo = make_geometry(ctx, "coronal", n_mrcp, u(40, 70) if thick else u(1.2, 2.0),
                        int(rng.choice([256, 320])), coverage=u(15, 30) if thick else u(40, 60),
                        center=centre, max_tilt_deg=25, fov_scale=0.85,
                        family="mrcp_slab" if thick else "mrcp_3d")
    prot = Protocol("fse", te=u(600, 800), tr=u(4000, 7000), field=ctx.field, fat_suppression=0.95)
    return SeriesPlan("mrcp", "mrcp", "mrcp", "coronal", [prot], geo,
                      noise=u(0.01, 0.02) * ctx.noise_scale,
                      slab_mm=geo.thickness if thick else 6.0, letter="D",
                      extras={"thick_slab": thick})


def b_value_sets(ctx: PatientContext) -> list[tuple[int, ...]]:
    if ctx.dlds:
        return [(0, 1000), (0, 800, 1000)]
    return [(50, 400, 800), (0, 500, 1000), (50, 800), (0, 800), (50, 500, 900)]


def dwi(ctx: PatientContext, bs: tuple[int, ...] | None = None) -> list[SeriesPlan]:
    """DWI (2–3 b-values in one series) and the ADC map computed from it (``source`` 0: the
    block's DWI; ``_extend`` makes it a plan index)."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    if bs is None:
        b_sets = b_value_sets(ctx)
        bs = b_sets[int(rng.integers(len(b_sets)))]
    geo = make_geometry(ctx, "axial", n_slices(ctx, 0.8, "2d"), u(6, 8),
                        int(rng.choice([128, 112, 144])), family="2d")
    te, tr = u(55, 75) * (1.3 if ctx.dlds else 1.0), u(3500, 6500)
    prots = [Protocol("dwi", te=te, tr=tr, field=f, fat_suppression=0.95, b=b) for b in bs]
    dwi = SeriesPlan("dwi", "dwi", "dwi", "axial", prots, geo,
                     noise=u(0.005, 0.01) * ctx.noise_scale, epi_shift_mm=u(2, 7), letter="I")
    adc = SeriesPlan("adc", "adc", "adc", "axial", prots, geo, noise=0.0, source=0, letter="M")
    return [dwi, adc]


def dual(ctx: PatientContext) -> list[SeriesPlan]:
    """Dual-echo gradient echo: in and opposed phase from one acquisition (same geometry)."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    geo = make_geometry(ctx, "axial", n_slices(ctx, family="2d"), u(6, 7),
                        int(rng.choice([256, 224])), family="2d")
    tr, flip = u(110, 200), u(65, 75)
    te_in = in_phase_te(f) * u(0.98, 1.03)
    te_opp = in_phase_te(f) / 2 * u(0.97, 1.03)
    noise, ghost = u(0.015, 0.03) * ctx.noise_scale, _ghost(rng)
    plans = []
    for seq, te, letter in (("t1_opposed", te_opp, "H"), ("t1_inphase", te_in, "G")):
        prot = Protocol("gre", te=te, tr=tr, flip=flip, field=f)
        plans.append(SeriesPlan(seq, "dual", seq, "axial", [prot], geo, noise=noise, ghost=ghost,
                                letter=letter))
    return plans


class Dynamic:
    """Dynamic fat-suppressed 3D spoiled GRE: one axial stack and one set of sequence parameters
    shared by every phase (pre, arterial, portal, delayed), as one breath-hold sequence repeated."""

    def __init__(self, ctx: PatientContext):
        rng, u = ctx.rng, ctx.rng.uniform
        self.ctx = ctx
        self.geo = make_geometry(ctx, "axial", n_slices(ctx, family="3d"), u(2.5, 4.0),
                                 int(rng.choice([256, 288])), family="3d")
        self.tr, self.te = u(3.2, 4.6), u(1.3, 2.2)
        self.flip = u(9, 15) * (1.1 if ctx.dlds else 1.0)
        self.fs = u(0.9, 0.98)
        self.noise = u(0.015, 0.03) * ctx.noise_scale
        self._late: str | None = None

    def stack(self, plane: str, matrices: list[int], factor: float = 1.0, family: str = "3d",
              thickness: tuple[float, float] = (2.5, 4.0)) -> Geometry:
        """Another stack of the same sequence (coronal or sagittal phases, a thin stack)."""
        ctx, u = self.ctx, self.ctx.rng.uniform
        return make_geometry(ctx, plane, n_slices(ctx, factor, family), u(*thickness),
                             int(ctx.rng.choice(matrices)), family=family)

    def series(self, seq: str, phase: str, letter: str, geo: Geometry | None = None,
               desc_kind: str | None = None, timing: float = 0.5,
               plane: str = "axial") -> SeriesPlan:
        # ``plane`` is the prescribed plane the description names (an oblique stack keeps it).
        ctx = self.ctx
        prot = Protocol("gre", te=self.te, tr=self.tr, flip=self.flip, field=ctx.field,
                        fat_suppression=self.fs, phase=phase, arterial_timing=timing)
        return SeriesPlan(seq, "vibe", desc_kind or seq, plane, [prot], geo or self.geo,
                          noise=self.noise, ghost=_ghost(ctx.rng), letter=letter)

    def arterial(self, timing: float) -> SeriesPlan:
        letter = "O" if timing < 1 / 3 else ("C" if timing < 2 / 3 else "Q")
        return self.series("t1_arterial", "arterial", letter, timing=timing)

    def delayed(self, plane: str, geo: Geometry | None = None,
                name_hepatobiliary: bool = True) -> SeriesPlan:
        """A delayed phase; with gadoxetate, often the hepatobiliary phase (drawn once per
        patient, at the first delayed series), which the description then names."""
        ctx = self.ctx
        if self._late is None:
            self._late = ("hepatobiliary" if ctx.gadoxetate and ctx.rng.random() < 0.6
                          else "delayed")
        late = self._late
        letter = {"axial": "P" if ctx.gadoxetate else "E", "coronal": "N", "sagittal": "F"}[plane]
        return self.series("t1_delayed", late, letter, geo=geo,
                           desc_kind=("hepatobiliary" if late == "hepatobiliary"
                                      and name_hepatobiliary else None),
                           plane=plane)


def _ghost(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.02, 0.08)) if rng.random() < 0.3 else 0.0

"""Which series a patient gets, and their physical parameters and geometry.

The label of every series is fixed here from what is simulated: ``sequence`` from the signal
equation and gadolinium phase, ``orientation`` from the true slice normal, ``contrast`` post for the
three post-gadolinium T1 phases.

Two kinds of cohort share these building blocks. ``full`` gives every patient nearly every series
with similar slice counts (a balanced cohort); ``archive`` draws each patient's examination from the
protocol table in :mod:`mriseq.synthetic.protocols` and each series' slice count from its family's
range, as an archive would hold them. Archive mode only adds draws inside branches that ``full``
never takes, so a ``full`` cohort stays the same file for file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mriseq.synthetic.geometry import BASE_PLANES, Geometry, rotation
from mriseq.synthetic.phantom import Phantom
from mriseq.synthetic.protocols import STACKS, ExaminationProtocol, draw_examination, slice_count
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
    archive: bool = False  # protocols: archive (examination and slice counts as in an archive)
    examination: ExaminationProtocol | None = None  # archive: the protocol the patient got


def _n(ctx: PatientContext, factor: float = 1.0, family: str | None = None) -> int:
    """Slice locations of a series: from ``slices`` scaled by ``factor`` (full), or from the
    family's range in protocols.STACKS clipped to ``slices`` (archive)."""
    if ctx.archive and family is not None:
        return slice_count(ctx.rng, family, ctx.slices)
    lo, hi = ctx.slices
    return max(1, int(round(ctx.rng.integers(lo, hi + 1) * factor)))


def _archive_stack(ctx: PatientContext, family: str, plane: str, n: int,
                   thickness: float) -> tuple[float, float]:
    """Slice thickness and step (mm) of an archive-mode stack of ``n`` slices.

    The coverage stays within what the plane spans of the abdomen, so a long 2D stack gets
    thinner slices rather than running past the body, and a long 3D stack is a thin one."""
    stack = STACKS[family]
    u = ctx.rng.uniform
    a, b = ctx.phantom.body_axes
    # Axial: lung bases to pelvis inside the phantom; coronal and sagittal: most of the body's
    # depth and width (body_axes are semi-axes), so the outer slices still cut the body.
    cap = {"axial": 280.0, "coronal": 1.7 * b, "sagittal": 1.4 * a}[plane]
    if n <= 1:
        return thickness, 0.0
    if stack.spacing == "overlapping":
        return thickness, float(u(*stack.step_mm))
    if stack.spacing == "contiguous":
        step = min(float(u(*stack.coverage_mm)), cap) / (n - 1)
        # A stack the cohort's slices_per_series clips to a few slices covers less instead of
        # getting slabs thicker than 6 mm.
        step = float(np.clip(step, 0.8, max(thickness, 6.0)))
        return step, step
    step = thickness * float(u(*stack.gap))
    if step * (n - 1) > cap:
        step = cap / (n - 1)
        thickness = min(thickness, step)
    return thickness, step


def make_geometry(ctx: PatientContext, plane: str, n: int, thickness: float, matrix: int,
                  *, oblique: bool | None = None, coverage: float | None = None,
                  center: np.ndarray | None = None, fov_scale: float = 1.0,
                  max_tilt_deg: float = 8.0, family: str | None = None) -> Geometry:
    """Slices of a prescribed ``plane`` over the abdomen; tilted 40–50° when oblique. In archive
    mode the series ``family`` sets thickness and spacing (``_archive_stack``) instead of
    ``coverage``."""
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
    if ctx.archive and family is not None:
        thickness, step = _archive_stack(ctx, family, plane, n, thickness)
        if plane != "axial":
            # A long coronal or sagittal stack is centred on the body, so it stays inside it.
            axis, limit = (1, 0.95 * b) if plane == "coronal" else (0, 0.95 * a)
            room = max(limit - (n - 1) * step / 2, 0.0)
            default_center[axis] = float(np.clip(default_center[axis], -room, room))
    else:
        cov = default_cov if coverage is None else coverage
        step = max(cov / max(n - 1, 1), thickness) if n > 1 else 0.0
    offsets = (np.arange(n) - (n - 1) / 2) * step
    return Geometry(row, col, rows, cols, (spacing, spacing),
                    default_center if center is None else center, offsets, thickness)


def plan_patient(ctx: PatientContext) -> list[SeriesPlan]:
    """The series of one examination, in acquisition order."""
    return _plan_archive(ctx) if ctx.archive else _plan_full(ctx)


def _plan_full(ctx: PatientContext) -> list[SeriesPlan]:
    """Nearly every series class for every patient: the balanced cohort."""
    rng, u = ctx.rng, ctx.rng.uniform
    plans = _localizers(ctx)
    plans.append(_ssfse(ctx, "coronal", "J"))
    plans.append(_ssfse(ctx, "axial", "A"))
    if rng.random() < 0.35 and not ctx.dlds:
        plans.append(_ssfse(ctx, "sagittal", "F"))
    plans.append(_t2_fs(ctx))
    plans.append(_mrcp(ctx, thick=rng.random() < 0.5))
    _extend(plans, _dwi(ctx))
    plans += _dual(ctx)

    dyn = _Dynamic(ctx)
    plans.append(dyn.series("t1_pre", "pre", "B"))
    timings = [u(0, 1)]
    if ctx.dlds and rng.random() < 0.3:
        timings = [u(0, 0.3), u(0.7, 1.0)]
    plans += [dyn.arterial(timing) for timing in timings]
    portal_coronal = rng.random() < 0.4
    if portal_coronal:
        plans.append(dyn.series("t1_portal", "portal", "K", geo=dyn.stack("coronal", [256, 288]),
                                plane="coronal"))
    else:
        plans.append(dyn.series("t1_portal", "portal", "K"))
    plans.append(dyn.delayed("axial"))
    if not portal_coronal or rng.random() < 0.5:
        plans.append(dyn.delayed("coronal", dyn.stack("coronal", [256, 320])))
    if not ctx.dlds and rng.random() < 0.2:
        sgeo = make_geometry(ctx, "sagittal", _n(ctx, 0.7, "3d"), u(3, 4), 256, family="3d")
        # Its description names a plain delayed phase even when it is hepatobiliary (as the
        # balanced cohort always had it).
        plans.append(dyn.delayed("sagittal", sgeo, name_hepatobiliary=False))
    return plans


def _plan_archive(ctx: PatientContext) -> list[SeriesPlan]:
    """The examination of the protocol drawn for the patient (protocols.PROTOCOLS): only the series
    it acquired, each as often as it was repeated, with per-family slice counts."""
    rng, u = ctx.rng, ctx.rng.uniform
    exam = draw_examination(rng, ctx.vendor)
    ctx.examination = exam.protocol
    plans: list[SeriesPlan] = []
    dyn: _Dynamic | None = None
    t2_letters = {"t2_coronal": ("coronal", "J"), "t2_axial": ("axial", "A"),
                  "t2_sagittal": ("sagittal", "F")}
    for series, count in exam.series:
        if series == "localizer":
            plans += _localizers(ctx)
        elif series in t2_letters:
            plans += [_ssfse(ctx, *t2_letters[series]) for _ in range(count)]
        elif series == "t2_fs":
            plans += [_t2_fs(ctx) for _ in range(count)]
        elif series in ("mrcp_slab", "mrcp_3d"):
            plans += [_mrcp(ctx, thick=series == "mrcp_slab") for _ in range(count)]
        elif series == "dwi":
            # Further b-value sets are other series (another b-value range), each with its ADC.
            sets = _b_sets(ctx)
            for index in rng.choice(len(sets), size=min(count, len(sets)), replace=False):
                _extend(plans, _dwi(ctx, sets[int(index)]))
        elif series == "dual":
            for _ in range(count):
                plans += _dual(ctx)
        elif series.startswith("t1_"):
            dyn = dyn or _Dynamic(ctx)
            if series == "t1_pre":
                plans += [dyn.series("t1_pre", "pre", "B") for _ in range(count)]
            elif series == "t1_arterial":
                windows = {1: [(0, 1)], 2: [(0, 0.4), (0.6, 1)],
                           3: [(0, 0.3), (0.35, 0.65), (0.7, 1)]}[min(count, 3)]
                plans += [dyn.arterial(u(*window)) for window in windows]
            elif series == "t1_portal":
                plans += [dyn.series("t1_portal", "portal", "K") for _ in range(count)]
            elif series == "t1_portal_coronal":
                plans += [dyn.series("t1_portal", "portal", "K", plane="coronal",
                                     geo=dyn.stack("coronal", [256, 288]))
                          for _ in range(count)]
            elif series == "t1_delayed":
                plans += [dyn.delayed("axial") for _ in range(count)]
            elif series == "t1_delayed_coronal":
                plans += [dyn.delayed("coronal", dyn.stack("coronal", [256, 320]))
                          for _ in range(count)]
            elif series == "t1_delayed_sagittal":
                plans += [dyn.delayed("sagittal", dyn.stack("sagittal", [256], factor=0.7))
                          for _ in range(count)]
            elif series == "t1_delayed_thin":
                # A thin high-resolution axial stack (e.g. hepatobiliary phase for small lesions).
                plans += [dyn.delayed("axial", dyn.stack("axial", [288, 320], family="3d_thin",
                                                         thickness=(1.0, 1.5)))
                          for _ in range(count)]
            else:
                raise ValueError(f"protocol series {series!r} is not a known building block")
        else:
            raise ValueError(f"protocol series {series!r} is not a known building block")
    return plans


def _extend(plans: list[SeriesPlan], block: list[SeriesPlan]) -> None:
    """Append a block whose ADC ``source`` indexes count within the block."""
    offset = len(plans)
    for plan in block:
        if plan.source is not None:
            plan.source += offset
    plans.extend(block)


def _localizers(ctx: PatientContext) -> list[SeriesPlan]:
    """Balanced SSFP, large FOV, a few thick slices per plane (one series per plane)."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    plans = []
    for plane in ("coronal", "sagittal", "axial"):
        if ctx.archive:
            loc_n = _n(ctx, family="localizer")
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


def _ssfse(ctx: PatientContext, plane: str, letter: str) -> SeriesPlan:
    """Single-shot FSE T2."""
    rng, u = ctx.rng, ctx.rng.uniform
    n = _n(ctx, family="2d")
    matrix = int(rng.choice([256, 288, 320], p=[0.5, 0.3, 0.2]))
    geo = make_geometry(ctx, plane, n, u(5, 7), matrix, family="2d")
    prot = Protocol("fse", te=u(80, 100) * (0.9 if ctx.dlds else 1.0), tr=u(1000, 1600),
                    field=ctx.field, fat_suppression=0.0)
    return SeriesPlan("t2", "ssfse", "t2", plane, [prot], geo,
                      noise=u(0.015, 0.03) * ctx.noise_scale, letter=letter,
                      extras={"effective_tr": 5000.0})


def _t2_fs(ctx: PatientContext) -> SeriesPlan:
    """T2 fat-sat FSE (DLDS has no letter for it: "anything else")."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    geo = make_geometry(ctx, "axial", _n(ctx, family="2d"), u(6, 8), int(rng.choice([256, 320])),
                        family="2d")
    if rng.random() < 0.25:  # STIR: an inversion pulse nulls fat instead of spectral saturation
        prot = Protocol("fse", te=u(40, 70), tr=u(4000, 7000), field=f,
                        ti=stir_ti(f) * u(0.95, 1.05))
    else:
        prot = Protocol("fse", te=u(75, 95), tr=u(3000, 6000), field=f,
                        fat_suppression=u(0.9, 0.97))
    return SeriesPlan("t2_fs", "fse", "t2_fs", "axial", [prot], geo,
                      noise=u(0.02, 0.035) * ctx.noise_scale, ghost=_ghost(rng), letter="F")


def _mrcp(ctx: PatientContext, thick: bool) -> SeriesPlan:
    """MRCP: heavily T2-weighted, fluid only; a few thick slabs or a thin 3D stack."""
    rng, u = ctx.rng, ctx.rng.uniform
    n_mrcp = max(1, _n(ctx, 0.5 if thick else 0.8, "mrcp_slab" if thick else "mrcp_3d"))
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


def _b_sets(ctx: PatientContext) -> list[tuple[int, ...]]:
    if ctx.dlds:
        return [(0, 1000), (0, 800, 1000)]
    return [(50, 400, 800), (0, 500, 1000), (50, 800), (0, 800), (50, 500, 900)]


def _dwi(ctx: PatientContext, bs: tuple[int, ...] | None = None) -> list[SeriesPlan]:
    """DWI (2–3 b-values in one series) and the ADC map computed from it (``source`` 0: the
    block's DWI; ``_extend`` makes it a plan index)."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    if bs is None:
        b_sets = _b_sets(ctx)
        bs = b_sets[int(rng.integers(len(b_sets)))]
    geo = make_geometry(ctx, "axial", _n(ctx, 0.8, "2d"), u(6, 8),
                        int(rng.choice([128, 112, 144])), family="2d")
    te, tr = u(55, 75) * (1.3 if ctx.dlds else 1.0), u(3500, 6500)
    prots = [Protocol("dwi", te=te, tr=tr, field=f, fat_suppression=0.95, b=b) for b in bs]
    dwi = SeriesPlan("dwi", "dwi", "dwi", "axial", prots, geo,
                     noise=u(0.005, 0.01) * ctx.noise_scale, epi_shift_mm=u(2, 7), letter="I")
    adc = SeriesPlan("adc", "adc", "adc", "axial", prots, geo, noise=0.0, source=0, letter="M")
    return [dwi, adc]


def _dual(ctx: PatientContext) -> list[SeriesPlan]:
    """Dual-echo gradient echo: in and opposed phase from one acquisition (same geometry)."""
    rng, u, f = ctx.rng, ctx.rng.uniform, ctx.field
    geo = make_geometry(ctx, "axial", _n(ctx, family="2d"), u(6, 7), int(rng.choice([256, 224])),
                        family="2d")
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


class _Dynamic:
    """Dynamic fat-suppressed 3D spoiled GRE: one axial stack and one set of sequence parameters
    shared by every phase (pre, arterial, portal, delayed), as one breath-hold sequence repeated."""

    def __init__(self, ctx: PatientContext):
        rng, u = ctx.rng, ctx.rng.uniform
        self.ctx = ctx
        self.geo = make_geometry(ctx, "axial", _n(ctx, family="3d"), u(2.5, 4.0),
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
        return make_geometry(ctx, plane, _n(ctx, factor, family), u(*thickness),
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

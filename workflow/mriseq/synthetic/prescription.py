"""Where a planned series' slices go: the patient context every plan draws from, and the stack.

``make_geometry`` prescribes a stack over the phantom's abdomen (plane, tilt, field of view,
matrix, slice thickness and spacing); ``n_slices`` draws how many slice locations it has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mriseq.synthetic.geometry import BASE_PLANES, Geometry, rotation
from mriseq.synthetic.phantom import Phantom
from mriseq.synthetic.protocols import STACKS, ExaminationProtocol, slice_count


@dataclass
class PatientContext:
    """What every series planned for one patient draws from: the patient's generator, phantom,
    scanner and the cohort's settings."""

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


def n_slices(ctx: PatientContext, factor: float = 1.0, family: str | None = None) -> int:
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

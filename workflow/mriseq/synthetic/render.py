"""Render the slices of a planned series: resample, bias field, Rician noise, artefacts."""

from __future__ import annotations

import numpy as np

from mriseq.synthetic.geometry import bias_field, linear_upsampler, sample, voxel_box
from mriseq.synthetic.phantom import Phantom
from mriseq.synthetic.sequences import SeriesPlan
from mriseq.synthetic.signal import Protocol, render_volume


def _volume(phantom: Phantom, protocol: Protocol, effective_tr: float | None, box):
    if effective_tr:
        # Single-shot FSE: each slice recovers fully between excitations whatever TR says.
        protocol = Protocol(**{**protocol.__dict__, "tr": effective_tr})
    return render_volume(phantom, protocol, box)


def _epi_shift(rng: np.random.Generator, amplitude: float):
    """A smooth displacement (mm) along the phase-encoding direction, as B0 inhomogeneity
    distorts single-shot EPI; a function of fractional row/column position (0..1)."""
    f1, f2 = rng.uniform(0.5, 1.5, size=2)
    p1, p2 = rng.uniform(0, 2 * np.pi, size=2)

    def shift(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return (amplitude * np.sin(2 * np.pi * f1 * c[None, :] + p1)
                * np.cos(2 * np.pi * f2 * r[:, None] + p2)).astype(np.float32)

    return shift


def render_series(rng: np.random.Generator, phantom: Phantom, plan: SeriesPlan,
                  bias_strength: float = 0.15) -> tuple[list[list[np.ndarray]], float]:
    """Noisy magnitude images, one list of slices per protocol (b-value), and the reference
    signal (99.5th percentile of the noiseless volume of the first protocol)."""
    geo = plan.geometry
    bias = bias_field(rng, bias_strength)
    # The phantom has VOXEL_MM voxels: sampling finer than half a voxel adds nothing, so sample a
    # coarser grid and interpolate linearly onto the matrix (noise is added at full resolution).
    step = max(1, int(round(phantom.voxel_mm / (1.5 * min(geo.spacing)))))
    r_pos, r_up = linear_upsampler(geo.rows, -(-geo.rows // step))
    c_pos, c_up = linear_upsampler(geo.cols, -(-geo.cols // step))
    shift_fn = _epi_shift(rng, plan.epi_shift_mm) if plan.epi_shift_mm else None
    shift = (shift_fn(r_pos / max(geo.rows - 1, 1), c_pos / max(geo.cols - 1, 1))
             if shift_fn else None)
    if plan.slab_mm:
        n_sub = max(2, int(plan.slab_mm / phantom.voxel_mm))
        sub = np.linspace(-plan.slab_mm / 2, plan.slab_mm / 2, n_sub)
    else:
        sub = np.array([0.0])
    ghost_shift = int(rng.integers(geo.rows // 4, geo.rows // 2 + 1))
    # Only the part of the phantom the slices cut through is rendered.
    corners = np.concatenate([geo.points(i, off, shift, r_pos, c_pos)[[0, 0, -1, -1],
                                                                     [0, -1, 0, -1]]
                              for i in (0, len(geo.offsets) - 1) for off in (sub[0], sub[-1])])
    extent = float(np.abs(shift).max()) if shift is not None else 0.0
    box = voxel_box(phantom, corners, margin=2 + int(np.ceil(extent / phantom.voxel_mm)))
    out: list[list[np.ndarray]] = []
    reference = None
    for protocol in plan.protocols:
        vol = _volume(phantom, protocol, plan.extras.get("effective_tr"), box)
        if reference is None:
            reference = float(np.percentile(vol[::2, ::2, ::2], 99.5)) or 1.0
        sigma = plan.noise * reference
        slices = []
        for i in range(len(geo.offsets)):
            base = geo.points(i, 0.0, None, r_pos, c_pos)
            acc = None
            for off in sub:
                pts = base if off == 0 and shift is None else geo.points(i, off, shift, r_pos,
                                                                         c_pos)
                img = sample(vol, phantom, pts, box)
                acc = img if acc is None else acc + img
            img = r_up @ (acc / len(sub) * bias(base)) @ c_up.T
            if plan.ghost:
                img = img + plan.ghost * np.roll(img, ghost_shift, axis=0)
            noise = rng.standard_normal((2, *img.shape), dtype=np.float32) * sigma
            slices.append(np.hypot(img + noise[0], noise[1]))
        out.append(slices)
    return out, reference


def adc_map(dwi: list[list[np.ndarray]], b_values: tuple[float, ...], sigma: float):
    """ADC (10⁻⁶ mm²/s) per slice by a log-linear fit over the b-values, as scanners compute it;
    background (low b below a few noise sigmas) is set to zero."""
    b = np.asarray(b_values, dtype=np.float32)
    bc = b - b.mean()
    maps = []
    for i in range(len(dwi[0])):
        stack = np.stack([dwi[k][i] for k in range(len(b))])
        logs = np.log(np.maximum(stack, 1e-6))
        slope = np.tensordot(bc, logs - logs.mean(axis=0), axes=1) / float(bc @ bc)
        adc = np.clip(-slope * 1e6, 0, 4000)
        adc[stack[0] < 4 * sigma] = 0
        maps.append(adc.astype(np.float32))
    return maps

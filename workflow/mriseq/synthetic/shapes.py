"""The phantom's voxel grid and the soft-edged shapes painted into it (ellipsoids, tubes, the body).

A ``Painter`` holds dense tissue fractions on the grid; each shape function returns a soft occupancy
(a linear ramp one voxel wide at the outline) and the index box it covers, so painting touches only
that box. :func:`mriseq.synthetic.phantom.build_phantom` assembles the organs from these shapes.
"""

from __future__ import annotations

import numpy as np

from mriseq.synthetic.tissues import INDEX, TISSUES

VOXEL_MM = 4.0
# Grid extents (mm) along x, y, z: the whole trunk from the lung bases to the pelvis.
EXTENT = ((-204.0, 204.0), (-164.0, 164.0), (-232.0, 212.0))


def _axes() -> list[np.ndarray]:
    return [np.arange(lo, hi + 1e-6, VOXEL_MM, dtype=np.float32) for lo, hi in EXTENT]


class Painter:
    """Paints soft-edged structures into dense tissue fractions (painter's order: later wins)."""

    def __init__(self) -> None:
        self.axes = _axes()
        shape = tuple(len(a) for a in self.axes)
        self.frac = np.zeros((len(TISSUES), *shape), dtype=np.float32)
        self.frac[INDEX["air"]] = 1.0

    def box(self, lo, hi):
        """Index box and broadcastable coordinate arrays covering [lo, hi] (mm)."""
        sl, coords = [], []
        for d, axis in enumerate(self.axes):
            i0 = int(np.searchsorted(axis, lo[d] - 2 * VOXEL_MM))
            i1 = int(np.searchsorted(axis, hi[d] + 2 * VOXEL_MM))
            i0, i1 = max(i0, 0), min(max(i1, i0 + 1), len(axis))
            sl.append(slice(i0, i1))
            shape = [1, 1, 1]
            shape[d] = i1 - i0
            coords.append(axis[i0:i1].reshape(shape))
        return tuple(sl), coords

    def coords(self, box):
        out = []
        for d, axis in enumerate(self.axes):
            shape = [1, 1, 1]
            shape[d] = box[d].stop - box[d].start
            out.append(axis[box[d]].reshape(shape))
        return out

    def paint(self, tissue: str, occupancy: np.ndarray, box: tuple) -> None:
        occ = np.clip(occupancy, 0.0, 1.0).astype(np.float32)
        sub = self.frac[(slice(None), *box)]
        sub *= 1.0 - occ
        sub[INDEX[tissue]] += occ

    def occupancy_of(self, tissues: list[str], box: tuple) -> np.ndarray:
        return sum(self.frac[(INDEX[t], *box)] for t in tissues)


def soft(signed_distance_mm):
    """Occupancy from a signed distance (negative inside): a linear ramp one voxel wide."""
    return np.clip(0.5 - signed_distance_mm / VOXEL_MM, 0.0, 1.0)


def random_wobble(rng, amplitude: float):
    """A random smooth function of direction, used to perturb organ outlines."""
    k = rng.normal(size=(3, 3))
    phase = rng.uniform(0, 2 * np.pi, size=3)
    amp = amplitude * rng.uniform(0.3, 1.0, size=3)

    def f(ux, uy, uz):
        out = 0.0
        for j in range(3):
            out = out + amp[j] * np.sin(2.0 * (k[j, 0] * ux + k[j, 1] * uy + k[j, 2] * uz)
                                        + phase[j])
        return out

    return f


def ellipsoid(p: Painter, center, axes, rot_z=0.0, wobble=None):
    """Soft occupancy of a (z-rotated, perturbed) ellipsoid, with its box."""
    r = max(axes) * 1.25
    box, (x, y, z) = p.box(np.asarray(center) - r, np.asarray(center) + r)
    dx, dy, dz = x - center[0], y - center[1], z - center[2]
    c, s = np.cos(rot_z), np.sin(rot_z)
    lx, ly = c * dx + s * dy, -s * dx + c * dy
    q = np.sqrt((lx / axes[0]) ** 2 + (ly / axes[1]) ** 2 + (dz / axes[2]) ** 2) + 1e-6
    if wobble is not None:
        q = q / (1.0 + wobble(lx / (q * axes[0]), ly / (q * axes[1]), dz / (q * axes[2])))
    return soft((q - 1.0) * min(axes)), box


def tube(p: Painter, points, radius):
    """Soft occupancy of a tube of ``radius`` (mm, scalar or per point) along a polyline."""
    pts = np.asarray(points, dtype=np.float32)
    radii = np.broadcast_to(np.asarray(radius, dtype=np.float32), (len(pts),))
    rmax = float(radii.max())
    box, (x, y, z) = p.box(pts.min(0) - rmax, pts.max(0) + rmax)
    best = np.full(np.broadcast_shapes(x.shape, y.shape, z.shape), np.inf, dtype=np.float32)
    for a, b, ra, rb in zip(pts[:-1], pts[1:], radii[:-1], radii[1:], strict=True):
        ab = b - a
        t = ((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / max(
            float(ab @ ab), 1e-6
        )
        t = np.clip(t, 0.0, 1.0)
        d = np.sqrt((x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2
                    + (z - a[2] - t * ab[2]) ** 2)
        best = np.minimum(best, d - (ra + t * (rb - ra)))
    return soft(best), box


def superellipse_cylinder(p: Painter, a, b, y0, power=2.6, taper=None):
    """Body-like cross-section |x/a|^n + |(y-y0)/b|^n <= 1 along the whole z range."""
    box, (x, y, z) = p.box((-a, y0 - b, EXTENT[2][0]), (a, y0 + b, EXTENT[2][1]))
    scale = 1.0 if taper is None else taper(z)
    ax, bx = a * scale, b * scale
    q = (np.abs(x / ax) ** power + np.abs((y - y0) / bx) ** power) ** (1.0 / power)
    return soft((q - 1.0) * np.minimum(ax, bx)), box

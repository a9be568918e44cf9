"""Slice geometry: planes, oblique tilts, DICOM orientation/position and resampling of the phantom.

DICOM conventions: ImageOrientationPatient holds the direction of increasing column index (``row``)
then of increasing row index (``col``); the pixel (r, c) lies at IPP + c·Δc·row + r·Δr·col with
PixelSpacing = (Δr, Δc). The slice normal is row × col.

The normal and the plane label come from :mod:`mriseq.geometry`, the functions the scan applies
to the headers written here, so that a series' orientation label follows the very rule that reads
its header; the rotations and the resampling are the generator's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mriseq.geometry import header_orientation, plane_normal
from mriseq.synthetic.phantom import Phantom

# (row direction, column direction) of the standard planes, radiological display.
BASE_PLANES = {
    "axial": (np.array([1.0, 0, 0]), np.array([0, 1.0, 0])),
    "coronal": (np.array([1.0, 0, 0]), np.array([0, 0, -1.0])),
    "sagittal": (np.array([0, 1.0, 0]), np.array([0, 0, -1.0])),
}


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about unit ``axis`` by ``angle`` radians (Rodrigues)."""
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@dataclass
class Geometry:
    row_dir: np.ndarray
    col_dir: np.ndarray
    rows: int
    cols: int
    spacing: tuple[float, float]  # (between rows, between columns) mm
    center: np.ndarray  # centre of the stack (mm)
    offsets: np.ndarray  # slice centres along the normal relative to ``center`` (mm)
    thickness: float

    @property
    def normal(self) -> np.ndarray:
        """row × col: of unit length, as both directions are."""
        return np.array(plane_normal((*self.row_dir, *self.col_dir)))

    @property
    def plane(self) -> str:
        """The plane label of the true (unrounded) slice normal: axial, coronal, sagittal or
        oblique, by the rule the scan applies to headers."""
        return header_orientation((*self.row_dir, *self.col_dir))

    @property
    def orientation(self) -> list[float]:
        return [round(float(v), 6) for v in (*self.row_dir, *self.col_dir)]

    def position(self, i: int) -> np.ndarray:
        """ImagePositionPatient (centre of the first transmitted pixel) of slice ``i``."""
        centre = self.center + self.offsets[i] * self.normal
        return (centre - self.row_dir * (self.cols - 1) / 2 * self.spacing[1]
                - self.col_dir * (self.rows - 1) / 2 * self.spacing[0])

    def points(self, i: int, offset_mm: float = 0.0, shift=None, rows=None, cols=None):
        """Patient coordinates (rows, cols, 3) of pixel centres of slice ``i``. ``rows``/``cols``
        are (fractional) pixel indices to sample, all pixels by default; ``shift`` (len(rows),
        len(cols)) displaces samples along the column direction in mm (EPI distortion)."""
        rows = np.arange(self.rows, dtype=np.float32) if rows is None else rows
        cols = np.arange(self.cols, dtype=np.float32) if cols is None else cols
        r = np.asarray(rows, dtype=np.float32)[:, None, None] * self.spacing[0]
        c = np.asarray(cols, dtype=np.float32)[None, :, None] * self.spacing[1]
        if shift is not None:
            r = r + shift[:, :, None]
        origin = (self.position(i) + offset_mm * self.normal).astype(np.float32)
        return origin + c * self.row_dir.astype(np.float32) + r * self.col_dir.astype(np.float32)

    def with_matrix(self, rows: int, cols: int) -> Geometry:
        """The same field of view sampled with another matrix."""
        fov_r, fov_c = self.rows * self.spacing[0], self.cols * self.spacing[1]
        return Geometry(self.row_dir, self.col_dir, rows, cols, (fov_r / rows, fov_c / cols),
                        self.center, self.offsets, self.thickness)


def linear_upsampler(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional indices of ``n_in`` samples spanning ``n_out`` pixels, and the (n_out, n_in)
    matrix that linearly interpolates them back onto every pixel."""
    pos = np.linspace(0, n_out - 1, n_in, dtype=np.float32)
    if n_in == n_out:
        return pos, np.eye(n_out, dtype=np.float32)
    x = np.arange(n_out, dtype=np.float32) * (n_in - 1) / max(n_out - 1, 1)
    lo = np.clip(np.floor(x).astype(int), 0, n_in - 2)
    frac = x - lo
    mat = np.zeros((n_out, n_in), dtype=np.float32)
    mat[np.arange(n_out), lo] = 1 - frac
    mat[np.arange(n_out), lo + 1] += frac
    return pos, mat


def voxel_box(phantom: Phantom, points: np.ndarray, margin: int = 2) -> tuple:
    """The voxel box (tuple of slices) of the phantom grid that holds ``points`` (n, 3)."""
    lo = np.floor((points.min(axis=0) - phantom.origin) / phantom.voxel_mm).astype(int) - margin
    hi = np.ceil((points.max(axis=0) - phantom.origin) / phantom.voxel_mm).astype(int) + margin
    shape = phantom.shape
    return tuple(slice(int(np.clip(lo[d], 0, shape[d] - 1)), int(np.clip(hi[d], 1, shape[d])))
                 for d in range(3))


def sample(volume: np.ndarray, phantom: Phantom, points: np.ndarray,
           box: tuple | None = None) -> np.ndarray:
    """Trilinear samples of ``volume`` (the phantom grid, or its voxel ``box``) at patient
    ``points`` (..., 3); 0 outside."""
    from scipy.ndimage import map_coordinates

    origin = phantom.origin
    if box is not None:
        origin = origin + np.array([s.start for s in box]) * phantom.voxel_mm
    idx = (points.reshape(-1, 3) - origin.astype(np.float32)) / phantom.voxel_mm
    out = map_coordinates(volume, idx.T, order=1, mode="constant", cval=0.0, prefilter=False)
    return out.reshape(points.shape[:-1])


def bias_field(rng: np.random.Generator, strength: float):
    """A smooth multiplicative receive-coil field: low-order polynomial in patient coordinates,
    brighter towards the anterior and posterior coil elements."""
    c = rng.normal(scale=strength, size=6)
    surface = abs(rng.normal(scale=strength)) * 1.5

    def field(points: np.ndarray) -> np.ndarray:
        x, y, z = (points[..., k] / 200.0 for k in range(3))
        log_b = c[0] * x + c[1] * y + c[2] * z + c[3] * x * x + c[4] * z * z + c[5] * x * y
        return np.exp(log_b + surface * y * y).astype(np.float32)

    return field

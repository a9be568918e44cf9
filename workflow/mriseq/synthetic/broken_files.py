"""Deliberately broken files in a synthetic series: which series get them, and how each is broken.

The cohort gives each broken-file kind to one of its patients and lists the files in
``broken.csv``. Every kind but ``geometry_mismatch`` is written after all the patient's series; a
geometry mismatch replaces one slice while its series is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from mriseq.synthetic import writer
from mriseq.synthetic.identity import hex_name
from mriseq.synthetic.sequences import SeriesPlan


def choose_targets(rng: np.random.Generator, plans: list[SeriesPlan],
                   broken_kinds: tuple[str, ...]) -> dict[str, int]:
    """The plan index each broken-file kind goes to, chosen before any series is written (a
    geometry mismatch changes a slice of its series as it is written)."""
    candidates = [i for i, p in enumerate(plans)
                  if p.family not in ("bssfp", "adc", "dwi") and len(p.geometry.offsets) >= 3
                  and p.keyed]
    if not candidates:
        candidates = [i for i, p in enumerate(plans) if p.keyed and p.family != "adc"]
    # Distinct series per kind where possible, so no file is broken twice.
    chosen = rng.choice(candidates, size=len(broken_kinds),
                        replace=len(candidates) < len(broken_kinds))
    return {kind: int(si) for kind, si in zip(broken_kinds, chosen, strict=True)}


def other_matrix(stored: np.ndarray, spacing) -> tuple[np.ndarray, tuple[float, float]]:
    """The same field of view resampled to another matrix (a slice from another protocol)."""
    from scipy.ndimage import zoom

    rows, cols = stored.shape
    new = (rows + 32, cols + 32)
    out = zoom(stored.astype(np.float32), (new[0] / rows, new[1] / cols), order=1)
    return np.clip(out, 0, 65535).astype(np.uint16), (spacing[0] * rows / new[0],
                                                      spacing[1] * cols / new[1])


def write_broken(kind: str, rng, paths: list[Path], sdir: Path, header: dict, dlds: bool,
                 preview: np.ndarray, next_instance: int) -> Path:
    """Write one deliberately broken file of ``kind`` beside ``paths`` (the files of one plan, in
    series folder ``sdir``); returns its path. ``next_instance`` is the series' next instance
    number."""
    from pydicom import dcmread

    ext = ".dicom" if dlds else paths[0].suffix
    fresh = sdir / f"{hex_name(rng, 16)}{ext}"
    if kind == "zero_bytes":
        fresh.write_bytes(b"")
        return fresh
    if kind == "truncated":
        victim = paths[len(paths) // 3]
        data = victim.read_bytes()
        victim.write_bytes(data[: int(len(data) * rng.uniform(0.55, 0.75))])
        return victim
    if kind == "not_dicom":
        fresh.write_bytes(writer.png_bytes(preview))
        return fresh
    if kind == "no_pixel_data":
        ds = dcmread(paths[0], force=True, stop_before_pixels=True)
        for keyword in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
                        "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.InstanceNumber = next_instance
        meta = writer.new_dataset(MRImageStorage, ExplicitVRLittleEndian).file_meta
        ds.file_meta = meta
        writer.write(ds, fresh, writer.uid(rng))
        return fresh
    if kind == "not_mr":
        writer.write(writer.secondary_capture(rng, header), fresh, writer.uid(rng))
        return fresh
    if kind == "duplicate_sop_instance":
        original = paths[int(rng.integers(len(paths)))]
        fresh.write_bytes(original.read_bytes())
        # The later path in sort order is the one a scan keeps out.
        return max(original, fresh, key=lambda p: str(p))
    raise ValueError(f"unknown broken-file kind {kind!r}")

"""The header model's features of one file: what a reader takes from a header, vendor-neutral.

A reader who sorts a study by its headers looks at the acquisition parameters (TE, TR, TI, flip
angle, echo train, b-value, slice thickness, 2D or 3D, whether TE puts fat and water in or out of
phase at the field strength), the plane of the slices, whether contrast
was given, and the vendor's codes once translated: ImageType components (ORIGINAL/DERIVED,
DIFFUSION, TRACEW, ADC, MPR, Philips M_FFE …), ScanningSequence / SequenceVariant / ScanOptions,
the stem of the vendor's sequence name (Siemens ``*tse2d1_15`` → ``tse``, ``*fl3d1_ns`` → ``fl``
with the non-selective flag ``ns``; GE ``efgre3d`` → ``efgre``) and the words of the series
description and protocol name. The translation table (``mriseq/data/header_vocabulary.yaml``)
keeps what those fields mean and drops what only says which vendor wrote them (Siemens
ND/NORM/DIS2D, GE OTHER, the manufacturer itself, the matrix a vendor reconstructs to), so that a
model trained on one set of scanners has nothing vendor-specific to memorise.

Descriptions are free text, often empty or misleading; they are one group of features among
others, and the model learns how far to trust them (training cohorts carry misleading and empty
ones at configured rates).

:func:`file_features` gives one row per file of a ``files.parquet`` table; numeric features are
``num_*`` (NaN when missing: the forests handle it), terms are 0/1 ``tok_*`` columns.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

VOCABULARY_PATH = Path(__file__).resolve().parents[1] / "data" / "header_vocabulary.yaml"
NUMERIC = ["echo_time", "repetition_time", "inversion_time", "flip_angle", "echo_train_length",
           "b_value", "field_strength", "slice_thickness"]
# Fat and water precess 3.5 ppm apart (42.577 MHz/T): their signals are in phase every
# 1 / (3.5e-6 × 42.577e6 × B0) s, 4.6 ms at 1.5 T and 2.3 ms at 3 T. A reader tells an in-phase
# from an opposed-phase echo by that cycle, so the model gets it too, whatever the field.
FAT_WATER_SHIFT_PPM = 3.5
GYROMAGNETIC_MHZ_PER_T = 42.577
PLANES = ["axial", "coronal", "sagittal", "oblique"]
_WORD = re.compile(r"[^a-z0-9+]+")
_B_VALUE_WORD = re.compile(r"^b\d+$")
# A vendor sequence name: an optional '*' (Siemens), a stem of letters, then digits, a
# dimensionality ("2d"/"3d") and suffixes; parts after '_', '#' or '-' are flags (ns, xl, b1000t).
_NAME_PARTS = re.compile(r"[_#\-\s]+")
_STEM = re.compile(r"^([a-z]+)")
_DIMENSION = re.compile(r"([23])d")


@cache
def vocabulary() -> dict:
    """The translation table, with each description word mapped to the set of its terms."""
    with VOCABULARY_PATH.open() as handle:
        table = yaml.safe_load(handle)
    words: dict[str, set[str]] = {}
    for term, spellings in table["description"].items():
        for word in spellings:
            words.setdefault(str(word).lower(), set()).add(term)
    table["description_words"] = words
    return table


def coded_terms(value, table: dict) -> set[str]:
    """The terms of a backslash-joined coded value (ImageType, ScanOptions); unknown codes drop."""
    terms: set[str] = set()
    for code in _codes(value):
        code = code.removesuffix("_GEMS")
        term = table.get(code)
        if term is None:
            continue
        terms.update(term if isinstance(term, list) else [term])
    return terms


def defined_terms(value, allowed: list[str]) -> set[str]:
    """The DICOM defined terms of a ScanningSequence / SequenceVariant value."""
    return {code for code in _codes(value) if code in allowed}


def sequence_name_terms(name) -> set[str]:
    """``stem_<letters>``, ``dim_2d``/``dim_3d`` and ``flag_<letters>`` of a vendor sequence name;
    b-value and number parts are left out (the b-value is a feature of its own)."""
    text = str(name or "").strip().lower().lstrip("*")
    if not text:
        return set()
    parts = [p for p in _NAME_PARTS.split(text) if p]
    terms = set()
    head = parts[0]
    stem = _STEM.match(head)
    if stem:
        terms.add(f"stem_{stem.group(1)}")
    dimension = _DIMENSION.search(head)
    if dimension:
        terms.add(f"dim_{dimension.group(1)}d")
    for part in parts[1:]:
        if part.isalpha() and not _B_VALUE_WORD.match(part):
            terms.add(f"flag_{part}")
    return terms


def description_terms(*texts) -> set[str]:
    """The reader terms among the words of a series description and protocol name."""
    words_of = vocabulary()["description_words"]
    terms: set[str] = set()
    for text in texts:
        for word in _WORD.split(str(text or "").lower()):
            if not word:
                continue
            if _B_VALUE_WORD.match(word):
                terms.add("diffusion")
                continue
            found = words_of.get(word) or words_of.get(word.rstrip("0123456789"))
            if found:
                terms.update(found)
    return terms


def file_features(files: pd.DataFrame) -> pd.DataFrame:
    """Header features of every row of a files table (index kept)."""
    table = vocabulary()
    out = pd.DataFrame(index=files.index)
    for column in NUMERIC:
        out[f"num_{column}"] = _number(files, column)
    out["num_pixel_spacing"] = (_number(files, "pixel_spacing_0")
                                + _number(files, "pixel_spacing_1")) / 2
    out["num_contrast_agent"] = (files["contrast_agent"].fillna(False).astype(np.float64)
                                 if "contrast_agent" in files else np.nan)
    out["num_fat_water_phase"] = fat_water_phase(out["num_echo_time"], out["num_field_strength"])
    acquisition = _text(files, "mr_acquisition_type").str.upper().str.strip()
    out["num_acquisition_3d"] = acquisition.map({"3D": 1.0, "2D": 0.0}).astype(np.float64)
    normals = _normals(files)
    for axis, name in enumerate("xyz"):
        out[f"num_normal_{name}"] = normals[:, axis]
    columns: dict[str, np.ndarray] = {}

    def add(prefix: str, values: pd.Series, terms_of) -> None:
        # Terms are computed once per distinct value: a series repeats its header in every file.
        codes, uniques = pd.factorize(values)
        for code, value in enumerate(uniques):
            rows = codes == code
            for term in terms_of(value):
                column = columns.setdefault(f"tok_{prefix}_{term}", np.zeros(len(files)))
                column[rows] = 1.0

    add("plane", _text(files, "header_orientation"), lambda o: {o} if o in PLANES else set())
    add("image_type", _text(files, "image_type"), lambda v: coded_terms(v, table["image_type"]))
    add("scanning", _text(files, "scanning_sequence"),
        lambda v: defined_terms(v, table["scanning_sequence"]))
    add("variant", _text(files, "sequence_variant"),
        lambda v: defined_terms(v, table["sequence_variant"]))
    add("options", _text(files, "scan_options"), lambda v: coded_terms(v, table["scan_options"]))
    add("seqname", _text(files, "sequence_name"), sequence_name_terms)
    texts = _text(files, "series_description") + "\n" + _text(files, "protocol_name")
    add("desc", texts, lambda v: description_terms(*v.split("\n")) or {"none"})
    tokens = pd.DataFrame({k: columns[k] for k in sorted(columns)}, index=files.index,
                          dtype=np.float32)
    return pd.concat([out, tokens], axis=1)


def fat_water_phase(echo_time_ms, field_t):
    """0 where fat and water are in phase at this echo time and field, 1 where they are opposed
    (NaN without both values)."""
    period_ms = 1e3 / (FAT_WATER_SHIFT_PPM * GYROMAGNETIC_MHZ_PER_T * np.asarray(field_t))
    cycles = np.asarray(echo_time_ms, dtype=np.float64) / period_ms
    return 2 * np.abs((cycles + 0.5) % 1.0 - 0.5)


def _number(files: pd.DataFrame, column: str) -> pd.Series:
    if column not in files:
        return pd.Series(np.nan, index=files.index, dtype=np.float64)
    return pd.to_numeric(files[column], errors="coerce").astype(np.float64)


def _text(files: pd.DataFrame, column: str) -> pd.Series:
    if column not in files:
        return pd.Series([""] * len(files), index=files.index, dtype=object)
    return files[column].astype(object).where(files[column].notna(), "").astype(str)


def _codes(value) -> list[str]:
    return [c.strip().upper() for c in str(value or "").split("\\") if c.strip()]


def _normals(files: pd.DataFrame) -> np.ndarray:
    """|unit slice normal| per file, NaN without a usable IOP. The absolute value: the normal's sign
    follows the vendor's row/column order, not the plane. :func:`mriseq.geometry.slice_normal`
    over all rows at once: one Python call per file would dominate on an archive's tables."""
    columns = [f"iop_{i}" for i in range(6)]
    if not all(c in files for c in columns):
        return np.full((len(files), 3), np.nan)
    iop = files[columns].to_numpy(dtype=np.float64)
    normal = np.cross(iop[:, :3], iop[:, 3:])
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.abs(normal / length)
    unit[~(length[:, 0] > 1e-6)] = np.nan
    return unit

"""One synthetic patient, start to finish: examination, rendered series, DICOM files, broken files.

Everything random comes from one generator seeded with (cohort seed, patient index), so a patient's
files do not depend on how many worker processes generate the cohort. The order of its draws makes
the files: each step here draws in the order the generator always drew, and a change of order
changes every later pixel and UID of the patient.

The steps draw on the modules beside this one: the examination planned (``examination``), the
headers (``headers``), the volumes one series holds in the generic layout (``merged_series``) and
the broken files (``broken_files``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydicom.uid import ImplicitVRLittleEndian

from mriseq.synthetic import vendors, writer
from mriseq.synthetic.broken_files import choose_targets, other_matrix, write_broken
from mriseq.synthetic.examination import PlannedPatient, cohort_settings, plan_examination
from mriseq.synthetic.headers import (
    clock_time,
    series_dataset,
    series_header,
    set_b_value_header,
    set_slice_header,
)
from mriseq.synthetic.identity import hex_name, series_numbers
from mriseq.synthetic.merged_series import merged_series, selectors, volume_header
from mriseq.synthetic.render import adc_map, render_series
from mriseq.synthetic.sequences import SeriesPlan


@dataclass
class PatientResult:
    index: int
    entry: str
    identity: dict
    series: list[dict] = field(default_factory=list)
    broken: list[dict] = field(default_factory=list)
    samples: dict = field(default_factory=dict)  # sequence -> (image, description)


def generate_patient(index: int, entry: str, raw_dir: str, cohort: dict,
                     broken_kinds: tuple[str, ...] = (), unkeyed_series: bool = False,
                     merge_volumes: bool = True) -> PatientResult:
    """Generate one patient under ``raw_dir/entry`` and return what the cohort tables need.

    ``merge_volumes`` False writes every plan as a series of its own in the generic layout too
    (the same pixels and SOP Instance UIDs: a check that merging draws nothing)."""
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the cohort already runs one process per core, and oversubscribed BLAS
    # threads make the small matrix products here 20x slower.
    with threadpool_limits(1):
        return _generate_patient(index, entry, raw_dir, cohort, broken_kinds, unkeyed_series,
                                 merge_volumes)


def _generate_patient(index: int, entry: str, raw_dir: str, cohort: dict,
                      broken_kinds: tuple[str, ...], unkeyed_series: bool,
                      merge_volumes: bool = True) -> PatientResult:
    """Render and write the patient's series; in the generic layout (with ``merge_volumes``) the
    plans of a ``merged_series`` group are written as the volumes of one series.

    Every draw from the patient's generator happens in the same order for merged and separate
    series: each plan still draws its own series UID, description, folder, encoding and file
    names, and only then is what its series shares replaced by the first volume's."""
    cohort = cohort_settings(cohort)
    planned = plan_examination(index, cohort)
    if unkeyed_series:
        _repeat_unkeyed(planned.plans)
    patient = _PatientWriter(planned, cohort, index, entry, raw_dir, broken_kinds,
                             merge_volumes)
    for si, plan in enumerate(planned.plans):
        patient.write_series(si, plan)
    patient.write_broken_files()
    for row in patient.result.broken:
        row["path"] = os.path.relpath(row["path"], raw_dir)
    return patient.result


def _repeat_unkeyed(plans: list[SeriesPlan]) -> None:
    """Append a repeated axial T2 (motion) that the DLDS key forgot: a folder without a key row.
    An archive-mode examination may have no axial T2; then another series is repeated."""
    repeat = next((p for p in plans if p.sequence == "t2" and p.plane == "axial"),
                  next(p for p in plans if p.family != "adc"))
    plans.append(SeriesPlan(**{**repeat.__dict__, "keyed": False, "letter": None}))


class Encoding(NamedTuple):
    """How a volume's files are stored; the later volumes of a merged series take the first's."""

    folder: Path
    ext: str  # file name extension
    transfer_syntax: str
    legacy: bool  # bare files, without the Part 10 header


class _PatientWriter:
    """Writes the series of one planned patient in acquisition order, keeping what later steps
    need of earlier series: a merged series' first volume, a DWI's images for its ADC map, the
    files to break."""

    def __init__(self, planned: PlannedPatient, cohort: dict, index: int, entry: str,
                 raw_dir: str, broken_kinds: tuple[str, ...], merge_volumes: bool) -> None:
        self.planned = planned
        self.rng = rng = planned.rng
        self.raw_dir = raw_dir
        self.dlds = cohort["layout"] == "dlds"
        plans, vendor = planned.plans, planned.vendor
        # What the study's series share, drawn in this order before the first series.
        self.numbers = series_numbers(vendor, len(plans), rng)
        self.study_uid, self.frame_uid = writer.uid(rng), writer.uid(rng)
        self.merges = ({} if self.dlds or not merge_volumes else
                       merged_series(plans, vendor,
                                     vendors.header_style(vendor, "localizer", self.study_uid)))
        self.root = Path(raw_dir) / entry
        # Generic layout: nested study/series folders (0), flat (1) or a folder per series (2).
        self.folder_style = int(rng.integers(0, 3))
        self.study_dir = hex_name(rng, 8)
        exam = planned.context.examination
        self.result = PatientResult(index=index, entry=entry, identity={
            **planned.identity, "vendor": vendor, "field_strength": planned.field_strength,
            "agent": planned.agent, **({"protocol": exam.name} if exam else {})})
        self.study_description = exam.study_description if exam else "MRI ABDOMEN WO/W CONTRAST"
        self.mislead_p = float(cohort["misleading_description_fraction"])
        self.empty_p = float(cohort["empty_description_fraction"])
        # Broken files need targets chosen before writing (geometry mismatch changes one slice).
        self.targets = choose_targets(rng, plans, broken_kinds)
        self.minute = 0.0  # the acquisition clock: minutes after the study time
        self.seen_kinds: set[str] = set()  # a 3D localizer's later planes are its reformats
        # Per plan index: the header, Subset, encoding, files and last instance number written,
        # the last stored slice (a preview), a DWI's images and noise, and the labels row.
        self.headers: dict[int, dict] = {}
        self.subsets: dict[int, str] = {}
        self.encodings: dict[int, Encoding] = {}
        self.paths: dict[int, list[Path]] = {}
        self.last_instance: dict[int, int] = {}
        self.previews: dict[int, np.ndarray] = {}
        self.dwi_images: dict[int, tuple[list, float]] = {}
        self.rows: dict[int, dict] = {}

    def write_series(self, si: int, plan: SeriesPlan) -> None:
        """Render plan ``si`` and write its files and labels row."""
        self.minute += float(self.rng.uniform(0.5, 4.0))
        images, reference = self._images(si, plan)
        desc, subset = self._description(plan)
        header, style = self._header(si, plan, desc, subset)
        encoding, slope, scale = self._storage(si, plan, reference)
        paths = self._write_files(si, plan, images, header, style, encoding, slope, scale)
        self.rows[si] = self._labels_row(si, plan, header, encoding, paths)
        self.result.series.append(self.rows[si])
        if plan.sequence not in self.result.samples and plan.keyed:
            mid = images[-1][len(images[-1]) // 2]
            self.result.samples[plan.sequence] = (mid.astype(np.float32),
                                                  header["SeriesDescription"] or "(empty)")

    def _images(self, si: int, plan: SeriesPlan) -> tuple[list, float]:
        """The plan's slices, one list per b-value, and the signal they are scaled by (an ADC
        map is computed from its DWI's images and draws nothing)."""
        if plan.source is not None:
            images_by_b, sigma = self.dwi_images[plan.source]
            return [adc_map(images_by_b, plan.b_values, sigma)], 1.0
        images, reference = render_series(self.rng, self.planned.phantom, plan,
                                          bias_strength=0.15 * (1.4 if self.dlds else 1.0))
        if plan.family == "dwi":
            self.dwi_images[si] = (images, plan.noise * reference)
        return images, reference

    def _description(self, plan: SeriesPlan) -> tuple[str, str]:
        """The SeriesDescription, and the labels sheet's Subset, which marks a description that
        cannot be trusted (empty, or naming another sequence)."""
        rng, vendor = self.rng, self.planned.vendor
        desc = vendors.description(rng, vendor, plan.desc_kind, plan.plane,
                                   tuple(int(b) for b in plan.b_values))
        if plan.protocols[0].ti > 0:
            desc = (desc.replace("fs", "stir").replace("FS", "STIR").replace("SPAIR", "STIR")
                    .replace("FatSat", "STIR"))
        roll = rng.random()
        if roll < self.empty_p:
            return "", "empty_description"
        if roll < self.empty_p + self.mislead_p:
            other = str(rng.choice(["t2", "t2_fs", "t1_pre", "t1_arterial", "t1_portal",
                                    "t1_delayed", "t1_inphase", "dwi", "localizer"]))
            desc = vendors.description(rng, vendor, other, plan.plane, (50, 800))
            return desc, "misleading_description" if other != plan.sequence else ""
        return desc, ""

    def _header(self, si: int, plan: SeriesPlan, desc: str,
                subset: str) -> tuple[dict, vendors.HeaderStyle]:
        """The header of plan ``si``'s files and the vendor's style for it: drawn as for a series
        of its own, then, in a merged series, the series' (its first volume's) header with what
        tells this volume apart."""
        p = self.planned
        kind = vendors.header_kind(plan.family, plan.sequence, plan.protocols[0].ti)
        style = vendors.header_style(p.vendor, kind, self.study_uid)
        header = series_header(self.rng, plan, p.identity, p.vendor, p.manufacturer, p.model,
                               p.field_strength, self.study_uid, self.frame_uid, self.numbers[si],
                               desc, self.minute, p.agent, self.study_description, style,
                               reformat=kind in self.seen_kinds)
        self.seen_kinds.add(kind)
        merged = self.merges.get(si)
        if merged is not None and si != merged.first:
            subset = self.subsets[merged.first]  # the series' description is its first volume's
        self.subsets[si] = subset
        if merged is not None:
            series = header if si == merged.first else self.headers[merged.first]
            header = volume_header(header, series, merged, si, p.plans, p.agent)
        self.headers[si] = header
        return header, style

    def _storage(self, si: int, plan: SeriesPlan,
                 reference: float) -> tuple[Encoding, float, float]:
        """How plan ``si``'s files are stored (a merged series' later volumes take the first
        volume's encoding, after drawing their own), the RescaleSlope, and the scale from
        rendered signal to stored values."""
        rng, number = self.rng, self.numbers[si]
        if self.dlds:
            folder, ext = self.root / str(number), ".dicom"
        else:
            # Every folder style draws the nested folder's name: the stream stays the same.
            nested = self.root / self.study_dir / hex_name(rng, 8)
            folder = {0: nested, 1: self.root,
                      2: self.root / f"SE{number:04d}"}[self.folder_style]
            ext = str(rng.choice(["", ".dcm"]))
        ts = writer.transfer_syntax(self.planned.vendor, rng)
        # RescaleSlope stays per volume: the stored values depend on it (and a slope may change
        # from image to image in a real series).
        slope = float(rng.uniform(1.2, 4.0)) if self.planned.vendor == "philips" else 1.0
        target = float(rng.uniform(900, 3800))
        scale = 1.0 if plan.family == "adc" else target / reference
        # Drawn before the merge below, as for a series of its own: the draw depends on ``ts``.
        legacy = ts == ImplicitVRLittleEndian and not self.dlds and rng.random() < 0.2
        encoding = Encoding(folder, ext, ts, legacy)
        merged = self.merges.get(si)
        if merged is not None and si != merged.first:
            encoding = self.encodings[merged.first]
        self.encodings[si] = encoding
        return encoding, slope, scale

    def _write_files(self, si: int, plan: SeriesPlan, images: list, header: dict,
                     style: vendors.HeaderStyle, encoding: Encoding, slope: float,
                     scale: float) -> list[Path]:
        """Write the plan's files (one per slice and b-value); a geometry-mismatch target gets
        one slice from another matrix."""
        p, rng, geo = self.planned, self.rng, plan.geometry
        mismatch_slice = (len(geo.offsets) // 2 if self.targets.get("geometry_mismatch") == si
                          else None)
        merged = self.merges.get(si)
        instance = 0  # instance numbers run on across the volumes of a merged series
        if merged is not None and si != merged.first:
            instance = self.last_instance[merged.members[merged.members.index(si) - 1]]
        ds = series_dataset(header, plan, p.vendor, style, encoding.transfer_syntax, slope)
        series_writer = writer.SeriesWriter(ds, part10=not encoding.legacy)
        paths = []
        for bi, slices in enumerate(images):
            if plan.family == "dwi":
                set_b_value_header(ds, plan, p.vendor, style, bi, header["EchoTrainLength"])
            for i, img in enumerate(slices):
                instance += 1
                stored = _to_stored(img, scale, slope)
                spacing = geo.spacing
                mismatched = i == mismatch_slice and bi == 0
                if mismatched:
                    stored, spacing = other_matrix(stored, spacing)
                set_slice_header(ds, plan, header, i, instance, stored, spacing,
                                 clock_time(p.identity["StudyTime"], self.minute + instance / 600))
                name = hex_name(rng, int(rng.choice([12, 16, 20])))
                path = encoding.folder / f"{name}{encoding.ext}"
                series_writer.write(path, writer.uid(rng), stored)
                paths.append(path)
                self.previews[si] = stored
                if mismatched:
                    self.result.broken.append({"path": path, "kind": "geometry_mismatch"})
        self.paths[si] = paths
        self.last_instance[si] = instance
        return paths

    def _labels_row(self, si: int, plan: SeriesPlan, header: dict, encoding: Encoding,
                    paths: list[Path]) -> dict:
        """The labels sheet's row of plan ``si`` (one row per volume of a merged series)."""
        mismatched = self.targets.get("geometry_mismatch") == si
        return {
            "SeriesInstanceUID": header["SeriesInstanceUID"],
            "sequence": plan.sequence,
            "orientation": plan.orientation,
            "contrast": plan.contrast,
            "patient": self.result.entry,
            "series_dir": str(encoding.folder.relative_to(self.raw_dir)),
            "SeriesNumber": header["SeriesNumber"],
            "SeriesDescription": header["SeriesDescription"],
            "Subset": self.subsets[si],
            "vendor": self.planned.vendor,
            "field_strength": self.planned.field_strength,
            "n_files": len(paths),
            "n_slices": len(paths) - (1 if mismatched else 0),
            "letter": plan.letter or "",
            "transfer_syntax": str(encoding.transfer_syntax),
            "part10": not encoding.legacy,
            "keyed": plan.keyed,
            # The DLDS layout keeps its sheet as it was: its series are never merged.
            **({} if self.dlds else selectors(self.merges.get(si), header)),
        }

    def write_broken_files(self) -> None:
        """Write the broken files of every kind but the geometry mismatch (written with its
        series), each in the series of its target plan."""
        for kind, si in self.targets.items():
            if kind == "geometry_mismatch":
                continue
            merged = self.merges.get(si)
            # The next instance number of the series the broken file is put in.
            next_instance = 1 + self.last_instance[si if merged is None else merged.members[-1]]
            path = write_broken(kind, self.rng, self.paths[si], self.encodings[si].folder,
                                self.headers[si], self.dlds, self.previews[si], next_instance)
            self.result.broken.append({"path": path, "kind": kind})
            if kind == "truncated":
                self.rows[si]["n_slices"] -= 1


def _to_stored(img: np.ndarray, scale: float, slope: float) -> np.ndarray:
    """Rendered signal as the stored uint16 values a RescaleSlope of ``slope`` maps back."""
    return np.clip(np.rint(img * scale / slope), 0, 65535).astype(np.uint16)

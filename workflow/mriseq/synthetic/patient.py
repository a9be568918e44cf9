"""One synthetic patient: phantom, examination plan, rendered series, DICOM files, broken files.

Everything random comes from one generator seeded with (cohort seed, patient index), so a patient's
files do not depend on how many worker processes generate the cohort.

Each planned series (``SeriesPlan``) is one volume. In the generic layout some volumes share one
SeriesInstanceUID, as real scanners store them (``merged_series``; the DLDS layout keeps one series
per plan and its sheet as it was):

- dual-echo in/opposed phase (Siemens, GE, Philips): ``EchoNumbers`` 1 (opposed, shorter TE) and 2
  (in phase), each file with its own EchoTime; Philips tells its Dixon images apart by an ``IP`` or
  ``OP`` ImageType component as well;
- the axial dynamic phases on one stack (GE, Philips): ``TemporalPositionIdentifier`` 1..N in
  acquisition order, ``NumberOfTemporalPositions`` N, ``AcquisitionNumber`` the temporal position;
- the three localizer planes (every vendor; not a 3D scout whose other planes are reformats).

A merged series has the first volume's series-level header (UID, number, description, times,
encoding, folder); instance numbers run on across its volumes. The labels sheet keeps one row per
volume: rows of one series share its UID and say which volume they label by the selector columns
``EchoTime``, ``TemporalPosition``, ``ImageType`` and ``ImagePlane`` (empty where unused), with
``volumes_in_series``. Merging only rewrites what the files say after every draw of the patient's
generator happened as for separate series, so the pixels and SOP Instance UIDs do not change
(``generate_patient(..., merge_volumes=False)`` writes the separate series).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage

from mriseq.geometry import header_orientation
from mriseq.synthetic import vendors, writer
from mriseq.synthetic.phantom import Phantom, build_phantom
from mriseq.synthetic.plan import PatientContext, SeriesPlan, plan_patient
from mriseq.synthetic.render import adc_map, render_series

SURNAMES = (
    "SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ "
    "GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON WHITE "
    "HARRIS SANCHEZ CLARK RAMIREZ LEWIS ROBINSON WALKER YOUNG ALLEN KING WRIGHT SCOTT TORRES "
    "NGUYEN HILL FLORES GREEN ADAMS NELSON BAKER HALL RIVERA CAMPBELL MITCHELL CARTER ROBERTS "
    "KOWALSKI MUELLER OKAFOR TANAKA PATEL CHEN IVANOVA DUBOIS "
).split()
GIVEN_F = (
    "JANE MARY PATRICIA LINDA BARBARA ELIZABETH SUSAN JESSICA SARAH KAREN NANCY LISA MARGARET "
    "SANDRA ASHLEY EMILY DONNA MICHELLE AMANDA MELISSA ANA YUKI PRIYA FATIMA "
).split()
GIVEN_M = (
    "JOHN ROBERT MICHAEL WILLIAM DAVID RICHARD JOSEPH THOMAS CHARLES CHRISTOPHER DANIEL MATTHEW "
    "ANTHONY MARK DONALD STEVEN PAUL ANDREW JOSHUA KENNETH KEVIN BRIAN HIROSHI RAJ OMAR "
).split()
AGENTS = {"extracellular": ["GADAVIST", "DOTAREM", "MULTIHANCE", "Gadobutrol 7.5 mL"],
          "gadoxetate": ["EOVIST", "PRIMOVIST"]}
# Vendors that store several volumes in one series (see the module docstring), per kind.
ECHOES_IN_ONE_SERIES = ("siemens", "ge", "philips")
# Of those, the vendors that also tell in from opposed phase by an ImageType component.
DIXON_IMAGE_TYPE = ("philips",)
DIXON_COMPONENT = {"t1_inphase": "IP", "t1_opposed": "OP"}
DYNAMIC_IN_ONE_SERIES = ("ge", "philips")
# Header elements that tell the volumes of a merged series apart; the rest is the first volume's.
_VOLUME_ELEMENTS = {"echoes": ("EchoTime",), "dixon": ("EchoTime",), "dynamic": (),
                    "localizer": ("ImageOrientationPatient", "SliceThickness",
                                  "SpacingBetweenSlices")}
# The plane a localizer volume is selected by: header_orientation's label with this tolerance.
IMAGE_PLANE_TOLERANCE = 0.8
SELECTOR_COLUMNS = ("EchoTime", "TemporalPosition", "ImageType", "ImagePlane")


@dataclass
class PatientResult:
    index: int
    entry: str
    identity: dict
    series: list[dict] = field(default_factory=list)
    broken: list[dict] = field(default_factory=list)
    samples: dict = field(default_factory=dict)  # sequence -> (image, description)


@dataclass(frozen=True)
class MergedSeries:
    """Plans whose volumes one series holds: ``kind`` (echoes, dixon, dynamic or localizer) and
    their plan indexes in acquisition order; the first plan's series is the one written."""

    kind: str
    members: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.members[0]


def merged_series(plans: list[SeriesPlan], vendor: str,
                  localizer_style: vendors.HeaderStyle) -> dict[int, MergedSeries]:
    """The merged series of a generic-layout examination, by plan index (plans not listed are
    series of their own). Decided from the plans, the vendor and the examination's localizer
    style: nothing is drawn."""
    groups: list[MergedSeries] = []
    if vendor in ECHOES_IN_ONE_SERIES:
        # The in- and opposed-phase plans of one dual-echo acquisition share its Geometry.
        kind = "dixon" if vendor in DIXON_IMAGE_TYPE else "echoes"
        groups += _same_stack(plans, kind, lambda p: p.family == "dual")
    if vendor in DYNAMIC_IN_ONE_SERIES:
        # The dynamic phases on the one axial stack of plan._Dynamic (not its coronal, sagittal
        # or thin stacks, which are other geometries).
        groups += _same_stack(plans, "dynamic",
                              lambda p: p.family == "vibe" and p.plane == "axial")
    if localizer_style.reformat_image_type is None:
        # A 3D scout's other planes are reformats, each a series of its own (DERIVED MPR).
        groups += _localizer_runs(plans)
    return {si: group for group in groups for si in group.members}


def _same_stack(plans: list[SeriesPlan], kind: str, eligible) -> list[MergedSeries]:
    """``eligible`` plans grouped by their Geometry object (one stack: the same slices)."""
    by_stack: dict[int, list[int]] = {}
    for si, plan in enumerate(plans):
        if eligible(plan):
            by_stack.setdefault(id(plan.geometry), []).append(si)
    return [MergedSeries(kind, tuple(members)) for members in by_stack.values()
            if len(members) > 1]


def _localizer_runs(plans: list[SeriesPlan]) -> list[MergedSeries]:
    """Consecutive localizer plans, one series per set of planes (a plane seen again starts the
    next localizer)."""
    runs: list[list[int]] = []
    for si, plan in enumerate(plans):
        if plan.sequence != "localizer":
            continue
        run = runs[-1] if runs and runs[-1][-1] == si - 1 else None
        if run is None or plan.plane in {plans[m].plane for m in run}:
            runs.append([si])
        else:
            run.append(si)
    return [MergedSeries("localizer", tuple(run)) for run in runs if len(run) > 1]


def _volume_header(own: dict, series: dict, merged: MergedSeries, si: int,
                   plans: list[SeriesPlan], agent: str) -> dict:
    """The header of plan ``si``'s files in a merged series: the series' (its first volume's)
    header, with what tells this volume apart taken from its ``own``."""
    header = {**series, **{k: own[k] for k in _VOLUME_ELEMENTS[merged.kind]}}
    plan = plans[si]
    if merged.kind in ("echoes", "dixon"):
        echo_times = sorted(plans[m].protocols[-1].te for m in merged.members)
        header["EchoNumbers"] = 1 + echo_times.index(plan.protocols[-1].te)
    if merged.kind == "dixon":
        header["ImageType"] = [*own["ImageType"], DIXON_COMPONENT[plan.sequence]]
    if merged.kind == "dynamic":
        header["TemporalPositionIdentifier"] = 1 + merged.members.index(si)
        header["NumberOfTemporalPositions"] = len(merged.members)
        # One header for the series: a series with a post-contrast phase names the agent.
        if any(plans[m].contrast == "post" for m in merged.members):
            header["ContrastBolusAgent"], header["ContrastBolusRoute"] = agent, "IV"
    return header


def _selectors(merged: MergedSeries | None, header: dict) -> dict:
    """The labels-sheet columns that say which volume of its series a row labels."""
    row = dict.fromkeys(SELECTOR_COLUMNS, "")
    row["volumes_in_series"] = 1 if merged is None else len(merged.members)
    if merged is None:
        return row
    if merged.kind in ("echoes", "dixon"):
        row["EchoTime"] = header["EchoTime"]
    if merged.kind == "dixon":
        row["ImageType"] = "\\".join(header["ImageType"])
    if merged.kind == "dynamic":
        row["TemporalPosition"] = header["TemporalPositionIdentifier"]
    if merged.kind == "localizer":
        row["ImagePlane"] = header_orientation(header["ImageOrientationPatient"],
                                               IMAGE_PLANE_TOLERANCE)
    return row


def _hex(rng: np.random.Generator, n: int = 16) -> str:
    return rng.bytes(n // 2).hex()


def _identity(rng: np.random.Generator) -> dict:
    female = rng.random() < 0.5
    given = str(rng.choice(GIVEN_F if female else GIVEN_M))
    name = f"{rng.choice(SURNAMES)}^{given}"
    birth = dt.date(1938, 1, 1) + dt.timedelta(days=int(rng.integers(0, 62 * 365)))
    study = dt.date(2014, 1, 1) + dt.timedelta(days=int(rng.integers(0, 10 * 365)))
    age = (study - birth).days // 365
    return {
        "PatientName": name,
        "PatientID": f"MRN{int(rng.integers(10**7, 10**8))}",
        "PatientBirthDate": birth.strftime("%Y%m%d"),
        "PatientSex": "F" if female else "M",
        "PatientAge": f"{age:03d}Y",
        "AccessionNumber": f"A{int(rng.integers(10**8, 10**9))}",
        "StudyID": str(int(rng.integers(1000, 99999))),
        "StudyDate": study.strftime("%Y%m%d"),
        "StudyTime": f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00",
    }


def _time(start: str, minutes: float) -> str:
    t = dt.datetime.strptime(start, "%H%M%S") + dt.timedelta(seconds=int(minutes * 60))
    return t.strftime("%H%M%S.%f")[:10]


def _series_numbers(vendor: str, n: int, rng: np.random.Generator) -> list[int]:
    if vendor == "ge":
        return [100 * (i + 1) for i in range(n)]
    if vendor == "philips":
        return [100 * (i + 1) + 1 for i in range(n)]
    numbers, current = [], 0
    for _ in range(n):
        current += int(rng.choice([1, 1, 1, 2, 3]))
        numbers.append(current)
    return numbers


def _to_stored(img: np.ndarray, scale: float, slope: float) -> np.ndarray:
    return np.clip(np.rint(img * scale / slope), 0, 65535).astype(np.uint16)


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


@dataclass
class PlannedPatient:
    """A patient before any file is written: who, on which scanner, and the series planned. The
    generator's random stream continues from ``rng``."""

    rng: np.random.Generator
    identity: dict
    vendor: str
    field_strength: float
    manufacturer: str
    model: str
    agent: str
    phantom: Phantom
    context: PatientContext
    plans: list[SeriesPlan]


def cohort_settings(cohort: dict) -> dict:
    """A ``synthetic.cohorts.<name>`` dict with the keys it leaves out set to the schema's
    defaults (the workflow passes validated, complete dicts; tests may pass a few keys)."""
    from mriseq.defaults import schema_defaults

    return {**schema_defaults("$defs", "cohort"), **cohort}


def plan_examination(index: int, cohort: dict) -> PlannedPatient:
    """The examination of patient ``index`` of ``cohort``: every label of its series is fixed
    here, before rendering (the same seed and index give the same plan)."""
    cohort = cohort_settings(cohort)
    seed = int(cohort["seed"])
    rng = np.random.default_rng([seed, index])
    dlds = cohort["layout"] == "dlds"
    identity = _identity(rng)
    vendor = str(rng.choice(cohort["vendors"]))
    field_t = float(rng.choice(cohort["field_strengths"]))
    manufacturer, model = vendors.manufacturer(rng, vendor, field_t)
    gadoxetate = rng.random() < 0.3
    agent = str(rng.choice(AGENTS["gadoxetate" if gadoxetate else "extracellular"]))
    phantom = build_phantom(rng)
    protocols = cohort["protocols"]
    ctx = PatientContext(rng=rng, phantom=phantom, field=field_t, vendor=vendor,
                         slices=tuple(cohort["slices_per_series"]),
                         oblique_fraction=float(cohort["oblique_fraction"]),
                         noise_scale=float(cohort["noise_scale"]), dlds=dlds,
                         gadoxetate=gadoxetate, archive=protocols == "archive")
    plans = plan_patient(ctx)
    return PlannedPatient(rng, identity, vendor, field_t, manufacturer, model, agent, phantom,
                          ctx, plans)


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
    rng, identity, vendor, field_t = (planned.rng, planned.identity, planned.vendor,
                                      planned.field_strength)
    manufacturer, model, agent = planned.manufacturer, planned.model, planned.agent
    phantom, ctx, plans = planned.phantom, planned.context, planned.plans
    dlds = cohort["layout"] == "dlds"
    if unkeyed_series:
        # A repeated axial T2 (motion) that the DLDS key forgot: a folder without a key row. An
        # archive-mode examination may have no axial T2; then another series is repeated.
        repeat = next((p for p in plans if p.sequence == "t2" and p.plane == "axial"),
                      next(p for p in plans if p.family != "adc"))
        plans.append(SeriesPlan(**{**repeat.__dict__, "keyed": False, "letter": None}))
    numbers = _series_numbers(vendor, len(plans), rng)

    study_uid, frame_uid = writer.uid(rng), writer.uid(rng)
    merges = ({} if dlds or not merge_volumes else
              merged_series(plans, vendor, vendors.header_style(vendor, "localizer", study_uid)))
    root = Path(raw_dir) / entry
    style = int(rng.integers(0, 3))  # generic layout: nested study/series, flat, or by series
    study_dir = _hex(rng, 8)
    extra = {"protocol": ctx.examination.name} if ctx.examination else {}
    result = PatientResult(index=index, entry=entry, identity={
        **identity, "vendor": vendor, "field_strength": field_t, "agent": agent, **extra})
    study_description = (ctx.examination.study_description if ctx.examination
                         else "MRI ABDOMEN WO/W CONTRAST")
    mislead_p = float(cohort["misleading_description_fraction"])
    empty_p = float(cohort["empty_description_fraction"])

    # Broken files need targets chosen before writing (geometry mismatch changes one slice).
    candidates = [i for i, p in enumerate(plans)
                  if p.family not in ("bssfp", "adc", "dwi") and len(p.geometry.offsets) >= 3
                  and p.keyed]
    if not candidates:
        candidates = [i for i, p in enumerate(plans) if p.keyed and p.family != "adc"]
    # Distinct series per kind where possible, so no file is broken twice.
    chosen = rng.choice(candidates, size=len(broken_kinds),
                        replace=len(candidates) < len(broken_kinds))
    targets = {kind: int(si) for kind, si in zip(broken_kinds, chosen, strict=True)}
    written: dict[int, list[Path]] = {}
    series_dirs: dict[int, Path] = {}
    headers: dict[int, dict] = {}
    subsets: dict[int, str] = {}
    dwi_images: dict[int, tuple[list, float]] = {}
    previews: dict[int, np.ndarray] = {}
    # Per plan: folder, file extension, transfer syntax, Part 10 or bare (a merged series is
    # written as its first volume is), the last instance number written, the labels row.
    encodings: dict[int, tuple[Path, str, str, bool]] = {}
    last_instance: dict[int, int] = {}
    rows: dict[int, dict] = {}
    minute = 0.0
    seen_kinds: set[str] = set()  # a 3D localizer's later planes are its reformats
    for si, plan in enumerate(plans):
        minute += float(rng.uniform(0.5, 4.0))
        number = numbers[si]
        if plan.source is not None:
            images_by_b, sigma = dwi_images[plan.source]
            images = [adc_map(images_by_b, plan.b_values, sigma)]
            reference = 1.0
        else:
            images, reference = render_series(rng, phantom, plan,
                                              bias_strength=0.15 * (1.4 if dlds else 1.0))
            if plan.family == "dwi":
                dwi_images[si] = (images, plan.noise * reference)
        desc = vendors.description(rng, vendor, plan.desc_kind, plan.plane,
                                   tuple(int(b) for b in plan.b_values))
        if plan.protocols[0].ti > 0:
            desc = (desc.replace("fs", "stir").replace("FS", "STIR").replace("SPAIR", "STIR")
                    .replace("FatSat", "STIR"))
        roll = rng.random()
        subset = ""  # the labels sheet's Subset: a description that cannot be trusted
        if roll < empty_p:
            desc = ""
            subset = "empty_description"
        elif roll < empty_p + mislead_p:
            other = str(rng.choice(["t2", "t2_fs", "t1_pre", "t1_arterial", "t1_portal",
                                    "t1_delayed", "t1_inphase", "dwi", "localizer"]))
            desc = vendors.description(rng, vendor, other, plan.plane, (50, 800))
            subset = "misleading_description" if other != plan.sequence else ""
        kind = vendors.header_kind(plan.family, plan.sequence, plan.protocols[0].ti)
        header_style = vendors.header_style(vendor, kind, study_uid)
        header = _series_header(rng, plan, identity, vendor, manufacturer, model, field_t,
                                study_uid, frame_uid, number, desc, minute, agent,
                                study_description, header_style, reformat=kind in seen_kinds)
        seen_kinds.add(kind)
        merged = merges.get(si)
        if merged is not None and si != merged.first:
            subset = subsets[merged.first]  # the series' description is its first volume's
        subsets[si] = subset
        if merged is not None:
            series_header = header if si == merged.first else headers[merged.first]
            header = _volume_header(header, series_header, merged, si, plans, agent)
        headers[si] = header
        if dlds:
            sdir = root / str(number)
            ext = ".dicom"
        else:
            sdir = {0: root / study_dir / _hex(rng, 8), 1: root,
                    2: root / f"SE{number:04d}"}[style]
            ext = str(rng.choice(["", ".dcm"]))
        ts = writer.transfer_syntax(vendor, rng)
        # RescaleSlope stays per volume: the stored values depend on it (and a slope may change
        # from image to image in a real series).
        slope = float(rng.uniform(1.2, 4.0)) if vendor == "philips" else 1.0
        target = float(rng.uniform(900, 3800))
        scale = 1.0 if plan.family == "adc" else target / reference
        geo = plan.geometry
        mismatch_slice = (len(geo.offsets) // 2 if targets.get("geometry_mismatch") == si
                          else None)
        # Drawn before the merge below, as for a series of its own: the draw depends on ``ts``.
        legacy = ts == ImplicitVRLittleEndian and not dlds and rng.random() < 0.2
        instance = 0
        if merged is not None and si != merged.first:
            sdir, ext, ts, legacy = encodings[merged.first]
            instance = last_instance[merged.members[merged.members.index(si) - 1]]
        encodings[si] = (sdir, ext, ts, legacy)
        series_dirs[si] = sdir
        ds = writer.new_dataset(MRImageStorage, ts)
        for key, value in header.items():
            setattr(ds, key, value)
        if plan.family == "adc" and header_style.b_value_tags:
            vendors.set_b_value(ds, vendor, header_style, max(plan.b_values))
        if slope != 1.0:
            ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{slope:.6f}", "0", "US"
        paths = []
        series_writer = writer.SeriesWriter(ds, part10=not legacy)
        for bi, slices in enumerate(images):
            if plan.family == "dwi":
                b = plan.protocols[bi].b
                vendors.set_b_value(ds, vendor, header_style, b)
                ds.SequenceName = header_style.name(b, plan.b_values, header["EchoTrainLength"])
            for i, img in enumerate(slices):
                instance += 1
                stored = _to_stored(img, scale, slope)
                spacing = geo.spacing
                if i == mismatch_slice and bi == 0:
                    stored, spacing = _other_matrix(stored, spacing)
                ds.BitsStored = 12 if stored.max() < 4096 else 16
                ds.PixelSpacing = [round(float(v), 6) for v in spacing]
                ipp = geo.position(i)
                ds.ImagePositionPatient = [round(float(v), 4) for v in ipp]
                ds.SliceLocation = round(float(ipp @ geo.normal), 4)
                ds.InstanceNumber = instance
                ds.AcquisitionNumber = (header["TemporalPositionIdentifier"]
                                        if "TemporalPositionIdentifier" in header else
                                        1 + (i if plan.family in ("dual", "ssfse") else 0))
                ds.ContentTime = _time(identity["StudyTime"], minute + instance / 600)
                ds.AcquisitionTime = ds.ContentTime
                w_c = float(np.percentile(stored, 99)) / 2 + 1
                ds.WindowCenter, ds.WindowWidth = round(w_c, 1), round(2 * w_c, 1)
                path = sdir / f"{_hex(rng, int(rng.choice([12, 16, 20])))}{ext}"
                series_writer.write(path, writer.uid(rng), stored)
                paths.append(path)
                previews[si] = stored
                if i == mismatch_slice and bi == 0:
                    result.broken.append({"path": path, "kind": "geometry_mismatch"})
        written[si] = paths
        last_instance[si] = instance
        good = len(paths) - (1 if mismatch_slice is not None else 0)
        rows[si] = {
            "SeriesInstanceUID": header["SeriesInstanceUID"],
            "sequence": plan.sequence,
            "orientation": plan.orientation,
            "contrast": plan.contrast,
            "patient": entry,
            "series_dir": str(sdir.relative_to(raw_dir)),
            "SeriesNumber": header["SeriesNumber"],
            "SeriesDescription": header["SeriesDescription"],
            "Subset": subsets[si],
            "vendor": vendor,
            "field_strength": field_t,
            "n_files": len(paths),
            "n_slices": good,
            "letter": plan.letter or "",
            "transfer_syntax": str(ts),
            "part10": not legacy,
            "keyed": plan.keyed,
            # The DLDS layout keeps its sheet as it was: its series are never merged.
            **({} if dlds else _selectors(merged, header)),
        }
        result.series.append(rows[si])
        if plan.sequence not in result.samples and plan.keyed:
            mid = images[-1][len(images[-1]) // 2]
            result.samples[plan.sequence] = (mid.astype(np.float32),
                                             header["SeriesDescription"] or "(empty)")

    for kind, si in targets.items():
        if kind == "geometry_mismatch":
            continue
        merged = merges.get(si)
        # The next instance number of the series the broken file is put in.
        next_instance = 1 + last_instance[si if merged is None else merged.members[-1]]
        path = _break(kind, rng, written[si], series_dirs[si], headers[si], dlds, previews[si],
                      next_instance)
        result.broken.append({"path": path, "kind": kind})
        if kind == "truncated":
            rows[si]["n_slices"] -= 1
    for row in result.broken:
        row["path"] = os.path.relpath(row["path"], raw_dir)
    return result


def _other_matrix(stored: np.ndarray, spacing) -> tuple[np.ndarray, tuple[float, float]]:
    """The same field of view resampled to another matrix (a slice from another protocol)."""
    from scipy.ndimage import zoom

    rows, cols = stored.shape
    new = (rows + 32, cols + 32)
    out = zoom(stored.astype(np.float32), (new[0] / rows, new[1] / cols), order=1)
    return np.clip(out, 0, 65535).astype(np.uint16), (spacing[0] * rows / new[0],
                                                      spacing[1] * cols / new[1])


def _break(kind: str, rng, paths: list[Path], sdir: Path, header: dict, dlds: bool,
           preview: np.ndarray, next_instance: int) -> Path:
    """Write one deliberately broken file of ``kind`` beside ``paths`` (the files of one plan, in
    series folder ``sdir``); returns its path. ``next_instance`` is the series' next instance
    number."""
    from pydicom import dcmread

    ext = ".dicom" if dlds else paths[0].suffix
    fresh = sdir / f"{_hex(rng, 16)}{ext}"
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


def _series_header(rng, plan: SeriesPlan, identity: dict, vendor: str, manufacturer: str,
                   model: str, field_t: float, study_uid: str, frame_uid: str, number: int,
                   desc: str, minute: float, agent: str, study_description: str,
                   style: vendors.HeaderStyle, reformat: bool = False) -> dict:
    """The header every file of the plan's series (of its volume, if merged) shares. ``rng``
    draws what the physics or the site decides (in a fixed order: the pixel stream depends on it);
    the vendor's conventions come from ``style``, and the values a style overrides are drawn from
    a generator keyed by the series."""
    prot = plan.protocols[-1]
    station = f"MR{int(rng.integers(1, 9))}"
    series_uid = writer.uid(rng)
    style_rng = vendors.keyed_rng(series_uid)
    header = {
        **{k: identity[k] for k in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                                    "PatientAge", "AccessionNumber", "StudyID", "StudyDate",
                                    "StudyTime")},
        "SeriesDate": identity["StudyDate"],
        "AcquisitionDate": identity["StudyDate"],
        "ContentDate": identity["StudyDate"],
        "SeriesTime": _time(identity["StudyTime"], minute),
        "Modality": "MR",
        "Manufacturer": manufacturer,
        "ManufacturerModelName": model,
        "InstitutionName": "Synthetic General Hospital",
        "StationName": station,
        "BodyPartExamined": "ABDOMEN",
        "StudyDescription": study_description,
        "StudyInstanceUID": study_uid,
        "SeriesInstanceUID": series_uid,
        "FrameOfReferenceUID": frame_uid,
        "SeriesNumber": number,
        "SeriesDescription": desc,
        "ProtocolName": desc.replace(" ", "_") if desc else "",
        "ImageType": list(style.reformat_image_type if reformat and style.reformat_image_type
                          else style.image_type),
        "ScanningSequence": list(style.scanning_sequence),
        "SequenceVariant": list(style.sequence_variant),
        "ScanOptions": list(style.scan_options),
        "MRAcquisitionType": style.mr_acquisition_type,
        "MagneticFieldStrength": field_t,
        "ImagingFrequency": round(42.577478 * field_t, 6),
        "ImagedNucleus": "1H",
        "EchoTime": round(prot.te, 3),
        "RepetitionTime": round(prot.tr, 3),
        "FlipAngle": round(prot.flip, 2) if plan.family in ("dual", "vibe", "bssfp") else 90.0,
        "EchoTrainLength": {"ssfse": int(rng.integers(60, 140)), "fse": int(rng.integers(12, 24)),
                            "mrcp": int(rng.integers(80, 200)), "dwi": 1, "adc": 1}.get(
                                plan.family, 1),
        "NumberOfAverages": float(rng.choice([1, 1, 2])) if plan.family != "dwi" else 4.0,
        "SliceThickness": round(plan.geometry.thickness, 3),
        "SpacingBetweenSlices": round(float(np.diff(plan.geometry.offsets).mean())
                                      if len(plan.geometry.offsets) > 1 else
                                      plan.geometry.thickness, 3),
        "ImageOrientationPatient": plan.geometry.orientation,
        "PatientPosition": str(rng.choice(["FFS", "HFS"])),
        "PositionReferenceIndicator": "",
    }
    if prot.ti > 0:
        header["InversionTime"] = round(prot.ti, 1)
    if plan.contrast == "post" and rng.random() < 0.85:
        header["ContrastBolusAgent"] = agent
        header["ContrastBolusRoute"] = "IV"
    for keyword, bounds, digits in (("FlipAngle", style.flip_angle, 1),
                                    ("EchoTime", style.echo_time, 3),
                                    ("RepetitionTime", style.repetition_time, 3)):
        if bounds is not None:
            header[keyword] = round(float(style_rng.uniform(*bounds)), digits)
    if style.echo_train_length is not None:
        low, high = style.echo_train_length
        header["EchoTrainLength"] = int(style_rng.integers(low, high + 1))
    header["SequenceName"] = style.name(prot.b, plan.b_values, header["EchoTrainLength"])
    return header

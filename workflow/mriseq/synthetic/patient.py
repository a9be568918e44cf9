"""One synthetic patient: phantom, examination plan, rendered series, DICOM files, broken files.

Everything random comes from one generator seeded with (cohort seed, patient index), so a patient's
files do not depend on how many worker processes generate the cohort.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage

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


@dataclass
class PatientResult:
    index: int
    entry: str
    identity: dict
    series: list[dict] = field(default_factory=list)
    broken: list[dict] = field(default_factory=list)
    samples: dict = field(default_factory=dict)  # sequence -> (image, description)


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
                     broken_kinds: tuple[str, ...] = (), unkeyed_series: bool = False
                     ) -> PatientResult:
    """Generate one patient under ``raw_dir/entry`` and return what the cohort tables need."""
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the cohort already runs one process per core, and oversubscribed BLAS
    # threads make the small matrix products here 20x slower.
    with threadpool_limits(1):
        return _generate_patient(index, entry, raw_dir, cohort, broken_kinds, unkeyed_series)


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
    from mriseq.config import schema_defaults

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
                      broken_kinds: tuple[str, ...], unkeyed_series: bool) -> PatientResult:
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
    dwi_images: dict[int, tuple[list, float]] = {}
    previews: dict[int, np.ndarray] = {}
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
        if roll < empty_p:
            desc = ""
        elif roll < empty_p + mislead_p:
            other = str(rng.choice(["t2", "t2_fs", "t1_pre", "t1_arterial", "t1_portal",
                                    "t1_delayed", "t1_inphase", "dwi", "localizer"]))
            desc = vendors.description(rng, vendor, other, plan.plane, (50, 800))
        kind = vendors.header_kind(plan.family, plan.sequence, plan.protocols[0].ti)
        header_style = vendors.header_style(vendor, kind, study_uid)
        header = _series_header(rng, plan, identity, vendor, manufacturer, model, field_t,
                                study_uid, frame_uid, number, desc, minute, agent,
                                study_description, header_style, reformat=kind in seen_kinds)
        seen_kinds.add(kind)
        headers[si] = header
        if dlds:
            sdir = root / str(number)
            ext = ".dicom"
        else:
            sdir = {0: root / study_dir / _hex(rng, 8), 1: root,
                    2: root / f"SE{number:04d}"}[style]
            ext = str(rng.choice(["", ".dcm"]))
        series_dirs[si] = sdir
        ts = writer.transfer_syntax(vendor, rng)
        slope = float(rng.uniform(1.2, 4.0)) if vendor == "philips" else 1.0
        target = float(rng.uniform(900, 3800))
        scale = 1.0 if plan.family == "adc" else target / reference
        ds = writer.new_dataset(MRImageStorage, ts)
        for key, value in header.items():
            setattr(ds, key, value)
        if plan.family == "adc" and header_style.b_value_tags:
            vendors.set_b_value(ds, vendor, header_style, max(plan.b_values))
        if slope != 1.0:
            ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{slope:.6f}", "0", "US"
        paths = []
        geo = plan.geometry
        instance = 0
        mismatch_slice = (len(geo.offsets) // 2 if targets.get("geometry_mismatch") == si
                          else None)
        legacy = ts == ImplicitVRLittleEndian and not dlds and rng.random() < 0.2
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
                ds.AcquisitionNumber = 1 + (i if plan.family in ("dual", "ssfse") else 0)
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
        good = len(paths) - (1 if mismatch_slice is not None else 0)
        result.series.append({
            "SeriesInstanceUID": header["SeriesInstanceUID"],
            "sequence": plan.sequence,
            "orientation": plan.orientation,
            "contrast": plan.contrast,
            "patient": entry,
            "series_dir": str(sdir.relative_to(raw_dir)),
            "SeriesNumber": number,
            "SeriesDescription": desc,
            "vendor": vendor,
            "field_strength": field_t,
            "n_files": len(paths),
            "n_slices": good,
            "letter": plan.letter or "",
            "transfer_syntax": str(ts),
            "part10": not legacy,
            "keyed": plan.keyed,
        })
        if plan.sequence not in result.samples and plan.keyed:
            mid = images[-1][len(images[-1]) // 2]
            result.samples[plan.sequence] = (mid.astype(np.float32), desc or "(empty)")

    for kind, si in targets.items():
        if kind == "geometry_mismatch":
            continue
        path = _break(kind, rng, written[si], series_dirs[si], headers[si], dlds, previews[si])
        result.broken.append({"path": path, "kind": kind})
        if kind == "truncated":
            row = next(r for r in result.series
                       if r["SeriesInstanceUID"] == headers[si]["SeriesInstanceUID"])
            row["n_slices"] -= 1
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
           preview: np.ndarray) -> Path:
    """Write one deliberately broken file of ``kind`` beside the series; returns its path."""
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
        ds.InstanceNumber = len(paths) + 1
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
    """The header every file of the series shares. ``rng`` draws what the physics or the site
    decides (in a fixed order: the pixel stream depends on it); the vendor's conventions come from
    ``style``, and the values a style overrides are drawn from a generator keyed by the series."""
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

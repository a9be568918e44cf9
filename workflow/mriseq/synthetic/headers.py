"""The DICOM header of a synthetic series, and what changes from file to file within it.

``series_header`` draws what the physics or the site decides from the patient's generator (in a
fixed order: the pixel stream depends on it) and takes the vendor's conventions from a
:class:`~mriseq.synthetic.vendors.HeaderStyle`; the dataset functions set those values on the
files of the series.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import MRImageStorage

from mriseq.synthetic import vendors, writer
from mriseq.synthetic.sequences import SeriesPlan


def clock_time(start: str, minutes: float) -> str:
    """The DICOM time (HHMMSS.ffff) ``minutes`` after ``start`` (HHMMSS)."""
    t = dt.datetime.strptime(start, "%H%M%S") + dt.timedelta(seconds=int(minutes * 60))
    return t.strftime("%H%M%S.%f")[:10]


def series_header(rng, plan: SeriesPlan, identity: dict, vendor: str, manufacturer: str,
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
        "SeriesTime": clock_time(identity["StudyTime"], minute),
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


def series_dataset(header: dict, plan: SeriesPlan, vendor: str, style: vendors.HeaderStyle,
                   transfer_syntax: str, slope: float) -> Dataset:
    """The dataset the files of the plan's volume are written from: its ``header``, an ADC map's
    b-value where the vendor's ``style`` puts it, and a rescale slope other than one."""
    ds = writer.new_dataset(MRImageStorage, transfer_syntax)
    for key, value in header.items():
        setattr(ds, key, value)
    if plan.family == "adc" and style.b_value_tags:
        vendors.set_b_value(ds, vendor, style, max(plan.b_values))
    if slope != 1.0:
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{slope:.6f}", "0", "US"
    return ds


def set_b_value_header(ds: Dataset, plan: SeriesPlan, vendor: str, style: vendors.HeaderStyle,
                       b_index: int, echo_train_length: int) -> None:
    """Set the b-value, and the sequence name that tells it, of a DWI volume's next files."""
    b = plan.protocols[b_index].b
    vendors.set_b_value(ds, vendor, style, b)
    ds.SequenceName = style.name(b, plan.b_values, echo_train_length)


def set_slice_header(ds: Dataset, plan: SeriesPlan, header: dict, i: int, instance: int,
                     stored: np.ndarray, spacing, content_time: str) -> None:
    """Set what tells one file of the series apart: slice ``i`` of the plan's stack holding
    ``stored`` pixels of ``spacing`` (mm), its instance number, times and window."""
    geo = plan.geometry
    ds.BitsStored = 12 if stored.max() < 4096 else 16
    ds.PixelSpacing = [round(float(v), 6) for v in spacing]
    ipp = geo.position(i)
    ds.ImagePositionPatient = [round(float(v), 4) for v in ipp]
    ds.SliceLocation = round(float(ipp @ geo.normal), 4)
    ds.InstanceNumber = instance
    ds.AcquisitionNumber = (header["TemporalPositionIdentifier"]
                            if "TemporalPositionIdentifier" in header else
                            1 + (i if plan.family in ("dual", "ssfse") else 0))
    ds.ContentTime = content_time
    ds.AcquisitionTime = ds.ContentTime
    w_c = float(np.percentile(stored, 99)) / 2 + 1
    ds.WindowCenter, ds.WindowWidth = round(w_c, 1), round(2 * w_c, 1)

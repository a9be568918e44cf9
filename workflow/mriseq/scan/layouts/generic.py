"""The generic layout: any tree of DICOM files, labelled by a sheet of series and volumes.

Sheet (CSV): ``SeriesInstanceUID, sequence, orientation, contrast``, joined on the
SeriesInstanceUID pseudonymised with the same key as the manifests (raw UIDs are never stored).
In place of the UID a row may give ``SeriesKey``, the pseudonym itself as the manifests hold it
(``series_key``; what the review page exports, :mod:`mriseq.review`): it joins only where the
dataset is scanned with the key that made it. An empty cell leaves that task unlabelled. An
optional ``Subset`` column names groups the evaluation also scores apart (semicolon-separated,
e.g. ``misleading_description``); it is carried to the volumes table as ``subset``.

A row labels every volume of its series (:mod:`mriseq.scan.volumes`), unless it selects some of them
with the optional columns of :data:`SELECTORS`: ``EchoTime`` (ms), ``TemporalPosition``
(TemporalPositionIdentifier), ``ImageType`` (backslash-joined, as in the header), ``ImagePlane``
(axial / coronal / sagittal / oblique, from ImageOrientationPatient) or ``VolumeIndex`` (the
volume's number within its series). Each volume takes the matching row with the most selectors
filled; a row without selectors is the series' default. A dual-echo series, for example, is two
rows with the same SeriesInstanceUID, ``EchoTime`` 2.3 → t1_opposed and 4.6 → t1_inphase.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from mriseq.scan.layouts.base import LABEL_COLUMNS, LabelOptions, LabelsError, Layout, read_csv
from mriseq.scan.privacy import pseudonym
from mriseq.scan.volumes import same_number
from mriseq.taxonomy import TASKS, check_label

# Sheet column -> the volumes-table column it is compared with.
SELECTORS = {"EchoTime": "echo_time", "TemporalPosition": "temporal_position",
             "ImageType": "image_type", "ImagePlane": "header_orientation",
             "VolumeIndex": "volume_index"}
SUBSET_COLUMN = "Subset"
# What names a row's series: the raw UID (pseudonymised on reading) or its pseudonym.
UID_COLUMN = "SeriesInstanceUID"
KEY_COLUMN = "SeriesKey"
_SERIES_KEY = re.compile(r"[0-9a-f]{16}")

log = logging.getLogger("mriseq.scan.layouts.generic")
_NUMERIC_SELECTORS = {"EchoTime", "TemporalPosition", "VolumeIndex"}
_PLANES = {"axial", "coronal", "sagittal", "oblique"}


def read_generic_labels(path: str | Path, taxonomy: dict[str, list[str]], key: bytes
                        ) -> pd.DataFrame:
    """series_key + label_* + selector columns (None where empty); stops at the first unknown
    class or unusable selector with the CSV line."""
    sheet = read_csv(path, list(TASKS))
    if UID_COLUMN not in sheet.columns and KEY_COLUMN not in sheet.columns:
        raise LabelsError(f"Labels sheet {str(path)!r} lacks the column {UID_COLUMN} "
                          f"(or {KEY_COLUMN}, the pseudonymised series key).")
    selectors = [c for c in SELECTORS if c in sheet.columns]
    rows = []
    for index, record in enumerate(sheet.to_dict("records")):
        where = f"Labels sheet {str(path)!r} line {index + 2}"  # line 1 is the header
        labels = {}
        for task in TASKS:
            value = str(record[task]).strip()
            labels[f"label_{task}"] = check_label(task, value, taxonomy[task],
                                                  where) if value else None
        chosen = {c: _selector(c, str(record[c]).strip(), where) for c in selectors}
        subset = str(record.get(SUBSET_COLUMN, "")).strip() or None
        rows.append({"series_key": _series_key(record, key, where), **labels, **chosen,
                     "subset": subset})
    table = pd.DataFrame(rows, columns=["series_key", *LABEL_COLUMNS, *SELECTORS, "subset"])
    return table.drop_duplicates(["series_key", *SELECTORS], keep="first")


def _series_key(record: dict, key: bytes, where: str) -> str:
    """The row's series key: its SeriesInstanceUID pseudonymised, or its SeriesKey as given (both
    given: they must agree, else the sheet was made with another pseudonymisation key)."""
    uid = str(record.get(UID_COLUMN, "")).strip()
    given = str(record.get(KEY_COLUMN, "")).strip().lower()
    if given and not _SERIES_KEY.fullmatch(given):
        raise LabelsError(f"{where}: {KEY_COLUMN} {given!r} is not a series key (16 hex "
                          "digits, the series_key of the manifests).")
    if uid:
        made = pseudonym(uid, key)
        if given and given != made:
            raise LabelsError(f"{where}: {KEY_COLUMN} {given!r} is not the pseudonym of its "
                              f"{UID_COLUMN}: the sheet was made with another pseudonymisation "
                              "key (MRISEQ_PSEUDONYM_KEY).")
        return made
    if given:
        return given
    raise LabelsError(f"{where}: {UID_COLUMN} is empty." if KEY_COLUMN not in record
                      else f"{where}: {UID_COLUMN} and {KEY_COLUMN} are both empty.")


def _selector(column: str, value: str, where: str):
    if not value:
        return None
    if column in _NUMERIC_SELECTORS:
        try:
            return float(value)
        except ValueError:
            raise LabelsError(f"{where}: {column} {value!r} is not a number.") from None
    if column == "ImagePlane":
        if value.lower() not in _PLANES:
            raise LabelsError(f"{where}: ImagePlane {value!r} is not one of "
                              f"{', '.join(sorted(_PLANES))}.")
        return value.lower()
    return _image_type(value)


def _image_type(value) -> str:
    return "\\".join(part.strip().upper() for part in str(value).split("\\"))


def _matches(row: dict, volume: dict) -> bool:
    for column, field in SELECTORS.items():
        wanted = row[column]
        if wanted is None or (isinstance(wanted, float) and wanted != wanted):
            continue
        have = volume.get(field)
        if column in _NUMERIC_SELECTORS:
            if not same_number(have, wanted):
                return False
        elif column == "ImageType":
            if have is None or have is pd.NA or _image_type(have) != wanted:
                return False
        elif have != wanted:
            return False
    return True


def _specificity(row: dict) -> int:
    return sum(1 for c in SELECTORS if row[c] is not None and row[c] == row[c])


def join_generic_labels(table: pd.DataFrame, labels_path: str, options: LabelOptions
                        ) -> tuple[pd.DataFrame, dict[str, int]]:
    """label_* columns for each row of a volumes (or series) table; QC counts. A series table
    takes only the rows without selectors: a series of several volumes has no one class."""
    sheet = read_generic_labels(labels_path, options.taxonomy, options.key)
    per_volume = "volume_key" in table
    by_series: dict[str, list[dict]] = {}
    for row in sheet.to_dict("records"):
        if per_volume or _specificity(row) == 0:  # a series takes no volume's row
            by_series.setdefault(row["series_key"], []).append(row)
    for rows in by_series.values():
        rows.sort(key=_specificity, reverse=True)
    used: set[int] = set()
    labels = {c: [] for c in [*LABEL_COLUMNS, "subset"]}
    for volume in table.to_dict("records"):
        match = next((r for r in by_series.get(volume["series_key"], []) if _matches(r, volume)),
                     None)
        if match is not None:
            used.add(id(match))
        for column in labels:
            labels[column].append(None if match is None else match[column])
    out = table.assign(**{c: pd.array(v, dtype="string") for c, v in labels.items()})
    labelled = set(sheet["series_key"])
    present = set(table["series_key"])
    if labelled and not labelled & present and len(present):
        log.warning("No series of the labels sheet %s is in this dataset (a sheet of %s "
                    "values joins only the files it was exported from, scanned with the same "
                    "pseudonymisation key).", labels_path, KEY_COLUMN)
    qc = {"series_without_label": len(present - labelled),
          "label_without_series": len(labelled - present)}
    if per_volume:
        qc["volumes_without_label"] = int(out[LABEL_COLUMNS].isna().all(axis=1).sum())
        qc["label_without_volume"] = sum(1 for rows in by_series.values() for r in rows
                                         if id(r) not in used and r["series_key"] in present)
    return out, qc


LAYOUT = Layout(name="generic", description="any tree of DICOM files; a sheet of series and "
                "volumes", join_labels=join_generic_labels)

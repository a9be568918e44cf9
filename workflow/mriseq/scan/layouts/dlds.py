"""The Duke Liver Dataset (DLDS) layout: ``<root>/<DLDS id>/<series number>/*.dicom``.

Labels: ``SeriesClassificationKey.csv`` (``DLDS, Series, Label``) is joined on the folder
``<DLDS id>/<series number>`` of each series (the id with or without zero padding). Letters map to
classes through a YAML map (``resources/dlds_label_map.yaml``); a letter with ``exclude: true``
(F, "anything else") or a localizer letter with ``include_localizers: false`` leaves the series
unlabelled (kept in series.parquet, ``dlds_label`` says why). ``orientation: null`` in the map
means: take the plane from ImageOrientationPatient (``header_orientation``).

Tree quirk: the published archive unzips to ``Series_Classification/Series_Classification/``;
the inner folder is where the patients start.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import yaml

from mriseq.scan.layouts.base import LABEL_COLUMNS, LabelOptions, LabelsError, Layout, read_csv
from mriseq.taxonomy import TASKS, check_label

log = logging.getLogger("mriseq.scan.layouts.dlds")


def nested_raw_dir(raw_dir: Path) -> Path:
    """Accept DLDS unzips that nest ``Series_Classification/Series_Classification/``."""
    path = Path(raw_dir)
    nested = path / path.name
    if path.name and nested.is_dir():
        return nested
    return path


def load_label_map(path: str | Path, taxonomy: dict[str, list[str]]) -> dict[str, dict]:
    """Letter -> {sequence, orientation, contrast, exclude, localizer}; classes checked."""
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"DLDS label map {str(path)!r} does not exist.")
    mapping = yaml.safe_load(path.read_text()) or {}
    out = {}
    for letter, spec in mapping.items():
        spec = dict(spec or {})
        where = f"DLDS label map {str(path)!r} letter {letter!r}"
        if not spec.get("exclude"):
            for task in TASKS:
                value = spec.get(task)
                if value is None and task == "orientation":
                    continue
                if value is None:
                    raise LabelsError(f"{where}: no {task} class given.")
                check_label(task, str(value), taxonomy[task], where)
        out[str(letter).strip().upper()] = spec
    return out


def read_dlds_key(path: str | Path) -> pd.DataFrame:
    """dlds_id, series_number (ints), letter, line of SeriesClassificationKey.csv."""
    sheet = read_csv(path, ["DLDS", "Series", "Label"])
    rows = []
    for index, record in enumerate(sheet.itertuples(index=False)):
        values = record._asdict()
        line = index + 2
        try:
            dlds_id, series = int(str(values["DLDS"]).strip()), int(str(values["Series"]).strip())
        except ValueError:
            raise LabelsError(
                f"DLDS key {str(path)!r} line {line}: DLDS {values['DLDS']!r} and Series "
                f"{values['Series']!r} must be integers."
            ) from None
        rows.append((dlds_id, series, str(values["Label"]).strip().upper(), line))
    return pd.DataFrame(rows, columns=["dlds_id", "series_number_key", "letter", "line"])


def _dlds_folder(series_dir: str) -> tuple[int, int] | None:
    parts = str(series_dir).replace("\\", "/").split("/")
    if len(parts) < 2:
        return None
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return None


def dlds_labels(series: pd.DataFrame, key_path: str | Path, label_map: dict[str, dict],
                include_localizers: bool) -> tuple[pd.DataFrame, dict[str, int]]:
    """label_* and dlds_label columns for each series from the DLDS key; QC counts."""
    key = read_dlds_key(key_path)
    for row in key.itertuples(index=False):
        if row.letter not in label_map:
            raise LabelsError(
                f"DLDS key {str(key_path)!r} line {row.line}: label {row.letter!r} is not in the "
                f"DLDS label map (letters {', '.join(sorted(label_map))})."
            )
    key = key.drop_duplicates(["dlds_id", "series_number_key"], keep="first")
    by_folder = {(r.dlds_id, r.series_number_key): r.letter for r in key.itertuples(index=False)}
    folders = [_dlds_folder(d) for d in series["series_dir"]]
    labels = {c: [] for c in LABEL_COLUMNS}
    letters = []
    qc = {"dlds_series_without_label": 0, "dlds_label_without_series": 0,
          "dlds_excluded_label": 0}
    for folder, plane in zip(folders, series["header_orientation"], strict=True):
        letter = by_folder.get(folder) if folder is not None else None
        letters.append(letter)
        spec = label_map.get(letter) if letter else None
        if letter is None:
            qc["dlds_series_without_label"] += 1
        excluded = spec is not None and (
            spec.get("exclude") or (spec.get("localizer") and not include_localizers))
        if spec is None or excluded:
            if excluded:
                qc["dlds_excluded_label"] += 1
            for column in LABEL_COLUMNS:
                labels[column].append(None)
            continue
        orientation = spec.get("orientation") or (plane if plane != "unknown" else None)
        labels["label_sequence"].append(spec["sequence"])
        labels["label_orientation"].append(orientation)
        labels["label_contrast"].append(spec["contrast"])
    present = {f for f in folders if f is not None}
    qc["dlds_label_without_series"] = sum(1 for f in by_folder if f not in present)
    out = series.assign(dlds_label=pd.array(letters, dtype="string"),
                        **{c: pd.array(v, dtype="string") for c, v in labels.items()})
    return out, qc


def join_dlds_labels(series: pd.DataFrame, labels_path: str, options: LabelOptions
                     ) -> tuple[pd.DataFrame, dict[str, int]]:
    label_map = load_label_map(options.label_map_path, options.taxonomy)
    out, qc = dlds_labels(series, labels_path, label_map, options.include_localizers)
    _check_sequence_types(Path(labels_path).with_name("SequenceTypes.csv"), label_map)
    return out, qc


def _check_sequence_types(path: Path, label_map: dict[str, dict]) -> None:
    """Log letters of SequenceTypes.csv the map lacks (informational: the key is authoritative)."""
    if not path.is_file():
        return
    try:
        types = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as error:  # informational only
        log.warning("could not read %s: %s", path, error)
        return
    if "Label" in types.columns:
        unknown = sorted({s.strip().upper() for s in types["Label"]} - set(label_map) - {""})
        if unknown:
            log.warning("SequenceTypes.csv letters without a map entry: %s", ", ".join(unknown))


LAYOUT = Layout(name="dlds", description="Duke Liver Dataset: <DLDS id>/<series number>/ folders, "
                "SeriesClassificationKey.csv and a letter map", join_labels=join_dlds_labels,
                resolve_raw_dir=nested_raw_dir, uses_label_map=True)

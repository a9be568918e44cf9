"""Reference labels: the generic series-level sheet and the DLDS key + letter map.

Generic sheet (CSV): ``SeriesInstanceUID, sequence, orientation, contrast``, joined on the
SeriesInstanceUID pseudonymised with the same key as the manifests (raw UIDs are never stored).
An empty cell leaves that task unlabelled for the series.

DLDS: ``SeriesClassificationKey.csv`` (``DLDS, Series, Label``) is joined on the folder
``<DLDS id>/<series number>`` of each series (the id with or without zero padding). Letters map to
classes through a YAML map (``resources/dlds_label_map.yaml``); a letter with ``exclude: true``
(F, "anything else") or a localizer letter with ``include_localizers: false`` leaves the series
unlabelled (kept in series.parquet, ``dlds_label`` says why). ``orientation: null`` in the map
means: take the plane from ImageOrientationPatient (``header_orientation``).

User errors (an unknown class, an unmapped letter, a missing column) stop the run with one
sentence naming the file and line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import yaml

from mriseq.privacy import pseudonym
from mriseq.taxonomy import check_label

log = logging.getLogger("mriseq.labels")

TASKS = ("sequence", "orientation", "contrast")
LABEL_COLUMNS = [f"label_{task}" for task in TASKS]


class LabelsError(ValueError):
    """A labels sheet or label map a user supplied is unusable; one sentence names the row."""


def _read_csv(path: str | Path, required: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"Labels sheet {str(path)!r} does not exist.")
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    sheet.columns = [str(c).strip() for c in sheet.columns]
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise LabelsError(f"Labels sheet {str(path)!r} lacks the column(s) {', '.join(missing)}.")
    return sheet


def read_generic_labels(path: str | Path, taxonomy: dict[str, list[str]], key: bytes
                        ) -> pd.DataFrame:
    """series_key + label_* columns; stops at the first unknown class with the CSV line."""
    sheet = _read_csv(path, ["SeriesInstanceUID", *TASKS])
    rows = []
    for index, record in enumerate(sheet.itertuples(index=False)):
        line = index + 2  # line 1 is the header
        values = record._asdict()
        labels = {}
        for task in TASKS:
            value = str(values[task]).strip()
            labels[f"label_{task}"] = check_label(
                task, value, taxonomy[task], f"Labels sheet {str(path)!r} line {line}"
            ) if value else None
        uid = str(values["SeriesInstanceUID"]).strip()
        if not uid:
            raise LabelsError(
                f"Labels sheet {str(path)!r} line {line}: SeriesInstanceUID is empty."
            )
        rows.append({"series_key": pseudonym(uid, key), **labels})
    table = pd.DataFrame(rows, columns=["series_key", *LABEL_COLUMNS])
    return table.drop_duplicates("series_key", keep="first")


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
    sheet = _read_csv(path, ["DLDS", "Series", "Label"])
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


def join_labels(series: pd.DataFrame, labels_path: str, layout: str,
                taxonomy: dict[str, list[str]], label_map_path: str, include_localizers: bool,
                key: bytes) -> tuple[pd.DataFrame, dict[str, int]]:
    """series + label_* columns (null where unlabelled) and QC counts of the join."""
    if not labels_path:
        out = series.assign(**{c: pd.array([None] * len(series), dtype="string")
                               for c in LABEL_COLUMNS})
        return out, {}
    if layout == "dlds":
        label_map = load_label_map(label_map_path, taxonomy)
        out, qc = dlds_labels(series, labels_path, label_map, include_localizers)
        _check_sequence_types(Path(labels_path).with_name("SequenceTypes.csv"), label_map)
        return out, qc
    sheet = read_generic_labels(labels_path, taxonomy, key)
    out = series.merge(sheet, on="series_key", how="left")
    for column in LABEL_COLUMNS:
        out[column] = out[column].astype("string")
    labelled = set(sheet["series_key"])
    present = set(series["series_key"])
    qc = {"series_without_label": len(present - labelled),
          "label_without_series": len(labelled - present)}
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

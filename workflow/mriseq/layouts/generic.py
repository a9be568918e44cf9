"""The generic layout: any tree of DICOM files, labelled by a series-level sheet.

Sheet (CSV): ``SeriesInstanceUID, sequence, orientation, contrast``, joined on the
SeriesInstanceUID pseudonymised with the same key as the manifests (raw UIDs are never stored).
An empty cell leaves that task unlabelled for the series.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mriseq.labels import LABEL_COLUMNS, LabelOptions, LabelsError, read_csv
from mriseq.layouts import Layout
from mriseq.privacy import pseudonym
from mriseq.taxonomy import TASKS, check_label


def read_generic_labels(path: str | Path, taxonomy: dict[str, list[str]], key: bytes
                        ) -> pd.DataFrame:
    """series_key + label_* columns; stops at the first unknown class with the CSV line."""
    sheet = read_csv(path, ["SeriesInstanceUID", *TASKS])
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


def join_generic_labels(series: pd.DataFrame, labels_path: str, options: LabelOptions
                        ) -> tuple[pd.DataFrame, dict[str, int]]:
    sheet = read_generic_labels(labels_path, options.taxonomy, options.key)
    out = series.merge(sheet, on="series_key", how="left")
    for column in LABEL_COLUMNS:
        out[column] = out[column].astype("string")
    labelled = set(sheet["series_key"])
    present = set(series["series_key"])
    qc = {"series_without_label": len(present - labelled),
          "label_without_series": len(labelled - present)}
    return out, qc


LAYOUT = Layout(name="generic", description="any tree of DICOM files; a series-level sheet",
                join_labels=join_generic_labels)

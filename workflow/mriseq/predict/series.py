"""Predict mode: one row per volume of an unlabelled archive (README "Classify your own archive").

A volume is an image stack of one kind (:mod:`mriseq.scan.volumes`); an ordinary series is one
volume, and a row names its series, the volume's number in it, how many volumes the series holds and
which rule split it. For each task the fold ensemble's slice predictions are voted per volume
(majority vote, ties by mean probability; ``mriseq.evaluation.predictions.vote_volumes``).
``<task>`` is the voted class, or ``uncertain`` where its calibrated probability (the mean over the
volume's slices, ``<task>_probability``) is below the task's ``evaluate.abstain_below``;
``<task>_best`` is the voted class either way, ``<task>_runner_up`` the next most probable one with
its probability.
Beside the pixel prediction the
table carries the header evidence a reader checks first (plane from ImageOrientationPatient, the
contrast-agent tag, b-values, SeriesDescription) and flags volumes where the two disagree:

* ``orientation``: the header plane is a taxonomy class and differs from the predicted plane;
* ``contrast``: ContrastBolusAgent is filled in but the volume is predicted pre-contrast;
* ``b_value``: the volume carries a b-value > 0 but is predicted neither DWI nor ADC.

A missing tag is not evidence (many archives never fill ContrastBolusAgent), so only positive
header evidence can disagree.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq.evaluation.confidence import UNCERTAIN, abstain
from mriseq.evaluation.predictions import ensemble_slices, load_predictions, vote_volumes
from mriseq.io import write_csv, write_parquet
from mriseq.provenance import models_training_data, synthetic_only_warning
from mriseq.scan.volumes import with_volume_key

log = logging.getLogger("mriseq.predict.series")

DIFFUSION_CLASSES = ("dwi", "adc")
VOLUME_COLUMNS = ["volume_key", "series_key", "volume_index", "volumes_in_series",
                  "volume_split", "patient_key", "study_key", "series_dir", "n_slices",
                  "header_orientation", "echo_time", "temporal_position", "image_type",
                  "series_description"]


def _b_values(files: pd.DataFrame) -> pd.DataFrame:
    """Per volume: the distinct b-values as text (``0/400/800``), the largest, and whether any
    file carries a contrast agent."""
    def joined(values: pd.Series) -> str:
        vals = np.unique(values.dropna().to_numpy(dtype=float))
        return "/".join(f"{v:g}" for v in vals)

    grouped = files.groupby("volume_key")
    out = pd.DataFrame({
        "header_b_values": grouped["b_value"].agg(joined) if "b_value" in files else "",
        "header_max_b_value": grouped["b_value"].max() if "b_value" in files else np.nan,
        "header_contrast_agent": grouped["contrast_agent"].agg(lambda s: bool(s.fillna(False)
                                                                            .any()))
        if "contrast_agent" in files else False,
    })
    return out.reset_index()


def series_predictions(predictions: dict[str, str], taxonomy: dict[str, Sequence[str]],
                       volumes_path: str, files_path: str,
                       abstain_below: dict[str, float] | None = None) -> pd.DataFrame:
    """The predict-mode table (see module doc); ``predictions`` maps task to the primary
    family's slice-level predictions of this dataset, ``volumes_path`` is the scan's
    volumes.parquet (a series table reads as one volume per series), ``abstain_below`` the
    per-task confidence below which a volume is ``uncertain``."""
    volumes_table = _as_volumes(pd.read_parquet(volumes_path))
    keep = [c for c in VOLUME_COLUMNS if c in volumes_table.columns]
    out = volumes_table[keep].copy()
    files = _as_volumes(pd.read_parquet(files_path, columns=None))
    out = out.merge(_b_values(files), on="volume_key", how="left")
    for task, path in predictions.items():
        classes = list(taxonomy[task])
        df = load_predictions(path, classes)
        volumes = vote_volumes(ensemble_slices(df, classes), classes) if len(df) else None
        if volumes is None or not len(volumes):
            out[[task, f"{task}_best", f"{task}_runner_up"]] = None
            out[[f"{task}_probability", f"{task}_runner_up_probability",
                 f"{task}_vote_share"]] = np.nan
            continue
        label, p_best, runner_up, p_runner = abstain(
            volumes[[f"p_{c}" for c in classes]].to_numpy(dtype=np.float64), classes,
            volumes["y_pred_vote"].to_numpy(), float((abstain_below or {}).get(task, 0.0)))
        volumes = volumes.assign(**{
            task: label, f"{task}_best": volumes["y_pred_vote"],
            f"{task}_probability": p_best, f"{task}_runner_up": runner_up,
            f"{task}_runner_up_probability": p_runner,
        }).rename(columns={"vote_share": f"{task}_vote_share", "n_slices": f"{task}_n_slices"})
        cols = ["volume_key", task, f"{task}_best", f"{task}_probability", f"{task}_runner_up",
                f"{task}_runner_up_probability", f"{task}_vote_share", f"{task}_n_slices"]
        out = out.merge(volumes[cols], on="volume_key", how="left")
    reasons = _disagreements(out, taxonomy)
    out["header_disagreement"] = reasons.str.len() > 0
    out["disagreement_reasons"] = reasons
    order = [c for c in ("patient_key", "series_dir", "volume_index") if c in out]
    return out.sort_values(order, na_position="last").reset_index(drop=True)


def _as_volumes(table: pd.DataFrame) -> pd.DataFrame:
    """A table written before series were split into volumes: each series is one volume."""
    if "volume_key" in table:
        return table
    return with_volume_key(table).assign(volume_index=1, volumes_in_series=1, volume_split="")


def _called(table: pd.DataFrame, task: str) -> str:
    """The column of the task's voted class (an uncertain volume still has one)."""
    return f"{task}_best" if f"{task}_best" in table else task


def _disagreements(table: pd.DataFrame, taxonomy: dict[str, Sequence[str]]) -> pd.Series:
    n = len(table)
    parts = [[] for _ in range(n)]
    if "orientation" in table and "header_orientation" in table:
        planes = set(taxonomy.get("orientation", []))
        header = table["header_orientation"].astype(object)
        pred = table[_called(table, "orientation")].astype(object)
        bad = header.isin(planes) & pred.notna() & (header != pred)
        for i in np.flatnonzero(bad.to_numpy()):
            parts[i].append("orientation")
    if "contrast" in table and "pre" in taxonomy.get("contrast", []):
        agent = table["header_contrast_agent"].fillna(False).astype(bool)
        bad = agent & (table[_called(table, "contrast")] == "pre")
        for i in np.flatnonzero(bad.to_numpy()):
            parts[i].append("contrast")
    diffusion = [c for c in DIFFUSION_CLASSES if c in taxonomy.get("sequence", [])]
    if "sequence" in table and diffusion:
        b = table["header_max_b_value"].astype(float).fillna(0) > 0
        called = table[_called(table, "sequence")]
        bad = b & called.notna() & ~called.isin(diffusion)
        for i in np.flatnonzero(bad.to_numpy()):
            parts[i].append("b_value")
    return pd.Series([";".join(p) for p in parts], index=table.index, dtype=object)


def write_series_predictions(predictions: dict[str, str], taxonomy: dict[str, Sequence[str]],
                             volumes_path: str, files_path: str, out_parquet: str,
                             out_csv: str, metadata_paths: Sequence[str] = (),
                             abstain_below: dict[str, float] | None = None) -> pd.DataFrame:
    """Write the table; ``metadata_paths`` (the predicting models' metadata.json) fill
    ``models_trained_on``, and a table from synthetic-only models is announced in the log."""
    table = series_predictions(predictions, taxonomy, volumes_path, files_path, abstain_below)
    sources = models_training_data(list(metadata_paths)) if metadata_paths else ["unknown"]
    table["models_trained_on"] = ";".join(sources)
    warning = synthetic_only_warning(sources)
    if warning:
        log.warning(warning)
    uncertain = {task: int((table[task] == UNCERTAIN).sum()) for task in predictions
                 if task in table}
    log.info("%d volumes of %d series, %d with header/pixel disagreement, uncertain per task %s",
             len(table), table["series_key"].nunique(), int(table["header_disagreement"].sum()),
             uncertain)
    write_parquet(table, out_parquet)
    write_csv(table, out_csv)
    return table


def sorted_links(volume_table: str, raw_dir: str | os.PathLike, out_dir: str | os.PathLike,
                 files_path: str | None = None) -> int:
    """A tree ``out_dir/<sequence>/<orientation>_<contrast>/<volume_key>`` of symlinks, named by
    pseudonym so that the tree shows no patient-derived directory names: a volume that is a whole
    series links to the series directory; a volume of a series that holds several is a directory
    of links to its own files (``files_path``, the scan's files.parquet, lists them). Built beside
    ``out_dir`` and renamed into place. Returns the number of volumes linked."""
    table = _as_volumes(pd.read_parquet(volume_table))
    files_of: dict[str, list[str]] = {}
    if files_path is not None and (table["volumes_in_series"] > 1).any():
        files = pd.read_parquet(files_path, columns=["volume_key", "path"])
        files_of = files.groupby("volume_key")["path"].agg(list).to_dict()
    out = Path(out_dir)
    tmp = out.with_name(f".{out.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    root = Path(raw_dir).resolve()
    count = 0
    for row in table.itertuples(index=False):
        if not isinstance(getattr(row, "sequence", None), str):
            continue
        folder = tmp / row.sequence / f"{row.orientation}_{row.contrast}"
        folder.mkdir(parents=True, exist_ok=True)
        if row.volumes_in_series > 1 and row.volume_key in files_of:
            volume = folder / row.volume_key
            volume.mkdir()
            for number, path in enumerate(sorted(files_of[row.volume_key])):
                # Numbered, not the raw names: those may carry patient details.
                (volume / f"{number:05d}{Path(path).suffix}").symlink_to(root / path)
        else:
            (folder / row.volume_key).symlink_to(root / row.series_dir, target_is_directory=True)
        count += 1
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    log.info("%d volumes linked under %s", count, out)
    return count

"""Generate a whole synthetic cohort: DICOM tree, labels sheets, broken-file list, montage, counts.

Layouts (workflow/CONTRACTS.md):

- ``generic``: ``<out>/dicom/patient_NNNN/...`` (nested study/series folders, flat, or per-series
  folders; random hex file names with or without ``.dcm``), ``<out>/labels.csv``.
- ``dlds``: ``<out>/Series_Classification/<NNNN>/<series number>/*.dicom``,
  ``<out>/SeriesClassificationKey.csv`` (``DLDS``, ``Series``, ``Label``),
  ``<out>/SequenceTypes.csv`` and, for tests, the physics truth in ``<out>/labels.csv``.

Both also write ``broken.csv`` (``path`` relative to the raw directory, ``kind``) and
``patients.csv`` (the identifiers written into headers, for privacy checks).
"""

from __future__ import annotations

import logging
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mriseq.io import atomic_path, write_csv
from mriseq.logs import progress
from mriseq.synthetic.examination import cohort_settings
from mriseq.synthetic.layout import patient_entries
from mriseq.synthetic.patient import PatientResult, generate_patient
from mriseq.taxonomy import DEFAULT_TAXONOMY, TASKS

log = logging.getLogger("mriseq.synthetic")

BROKEN_KINDS = ("zero_bytes", "truncated", "not_dicom", "no_pixel_data", "not_mr",
                "duplicate_sop_instance", "geometry_mismatch")
GENERATED_CLASSES = DEFAULT_TAXONOMY
LABEL_MAP = Path(__file__).resolve().parents[3] / "resources" / "dlds_label_map.yaml"


def raw_dir_of(out_dir: str | Path, layout: str) -> Path:
    return Path(out_dir) / ("Series_Classification" if layout == "dlds" else "dicom")


def _broken_assignment(n_patients: int, seed: int, enabled: bool) -> dict[int, list[str]]:
    """Which patient gets which broken-file kinds (every kind once per cohort)."""
    if not enabled:
        return {}
    rng = np.random.default_rng([seed, 7_777_777])
    out: dict[int, list[str]] = {}
    for kind in BROKEN_KINDS:
        out.setdefault(int(rng.integers(n_patients)), []).append(kind)
    return out


def _run(args):
    return generate_patient(*args)


def generate_cohort(out_dir: str, cohort: dict, taxonomy: dict, montage_path: str,
                    class_counts_path: str, workers: int = 1,
                    label_map_path: str | Path = LABEL_MAP) -> None:
    """Generate the cohort described by ``cohort`` (a ``synthetic.cohorts.<name>`` config dict)
    into ``out_dir``, plus a montage PNG (one slice per sequence class) and class counts CSV."""
    _check_taxonomy(taxonomy)
    cohort = cohort_settings(cohort)
    layout = cohort["layout"]
    seed = int(cohort["seed"])
    n = int(cohort["patients"])
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    raw = raw_dir_of(tmp, layout)
    raw.mkdir(parents=True)
    entries = patient_entries(layout, n)
    broken = _broken_assignment(n, seed, bool(cohort["broken_files"]))
    unkeyed = int(np.random.default_rng([seed, 8_888_888]).integers(n)) if layout == "dlds" \
        else -1
    jobs = [(i, entries[i], str(raw), cohort, tuple(broken.get(i, ())), i == unkeyed)
            for i in range(n)]
    log.info("generating %d patients (%s layout, seed %d) with %d workers", n, layout, seed,
             workers)
    if workers > 1 and n > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(progress(pool.map(_run, jobs), total=n, desc="patients"))
    else:
        results = [_run(job) for job in progress(jobs, total=n, desc="patients")]

    series = pd.DataFrame([row for r in results for row in r.series])
    series["dlds_id"] = [int(p) if layout == "dlds" else 0 for p in series["patient"]]
    _check_classes(series, taxonomy)
    write_csv(series, tmp / "labels.csv")
    broken_rows = pd.DataFrame([b for r in results for b in r.broken], columns=["path", "kind"])
    write_csv(broken_rows.sort_values("path"), tmp / "broken.csv")
    write_csv(pd.DataFrame([{"entry": r.entry, **r.identity} for r in results]),
              tmp / "patients.csv")
    if layout == "dlds":
        _write_dlds_sheets(tmp, series, seed, label_map_path)
    tmp.rename(out)

    _write_class_counts(series, taxonomy, class_counts_path)
    write_montage(results, taxonomy["sequence"], montage_path,
                  title=f"synthetic cohort ({layout}, seed {seed}): one slice per class")
    log.info("%d series, %d image files, %d broken files", len(series),
             int(series["n_files"].sum()), len(broken_rows))


def _check_taxonomy(taxonomy: dict) -> None:
    """The generator simulates the default classes; a taxonomy without them cannot label it."""
    for task, classes in GENERATED_CLASSES.items():
        missing = [c for c in classes if c not in taxonomy[task]]
        if missing:
            raise ValueError(
                f"Config key 'taxonomy.{task}': the synthetic generator produces classes "
                f"{', '.join(missing)} that the taxonomy does not list."
            )


def _check_classes(series: pd.DataFrame, taxonomy: dict) -> None:
    for task in TASKS:
        unknown = sorted(set(series[task]) - set(taxonomy[task]))
        if unknown:
            raise ValueError(
                f"Config key 'taxonomy.{task}': the synthetic generator produces classes "
                f"{', '.join(unknown)} that the taxonomy does not list."
            )


def _write_dlds_sheets(out: Path, series: pd.DataFrame, seed: int, label_map_path) -> None:
    keyed = series[series["keyed"]]
    key = pd.DataFrame({"DLDS": keyed["dlds_id"].astype(int),
                        "Series": keyed["SeriesNumber"].astype(int),
                        "Label": keyed["letter"]})
    # One key row whose folder is missing (a series the archive lost), for the reader's QC.
    rng = np.random.default_rng([seed, 9_999_999])
    ghost_id = int(rng.choice(key["DLDS"].unique()))
    key = pd.concat([key, pd.DataFrame({"DLDS": [ghost_id],
                                        "Series": [int(key["Series"].max()) + 50],
                                        "Label": ["B"]})], ignore_index=True)
    write_csv(key.sort_values(["DLDS", "Series"]), out / "SeriesClassificationKey.csv")
    label_map = yaml.safe_load(Path(label_map_path).read_text())
    types = pd.DataFrame({"Label": list(label_map),
                          "Series Description": [v["description"] for v in label_map.values()]})
    write_csv(types, out / "SequenceTypes.csv")


def _write_class_counts(series: pd.DataFrame, taxonomy: dict, path: str) -> None:
    rows = []
    for task in TASKS:
        grouped = series.groupby(task).agg(series=("SeriesInstanceUID", "size"),
                                           slices=("n_slices", "sum"))
        for cls in taxonomy[task]:
            s = grouped.loc[cls] if cls in grouped.index else None
            rows.append({"task": task, "class": cls,
                         "series": int(s["series"]) if s is not None else 0,
                         "slices": int(s["slices"]) if s is not None else 0})
    write_csv(pd.DataFrame(rows), path)


def write_montage(results: list[PatientResult], classes: list[str], path: str,
                  title: str = "") -> None:
    """One mid slice per sequence class (from the first patient that has it), 4 columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = {}
    for r in sorted(results, key=lambda r: r.index):
        for cls, sample in r.samples.items():
            picks.setdefault(cls, (r.entry, *sample))
    ncols = 4
    nrows = int(np.ceil(len(classes) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.4 * nrows), dpi=110)
    for ax, cls in zip(np.ravel(axes), classes, strict=False):
        ax.set_axis_off()
        if cls not in picks:
            ax.set_title(f"{cls}: (none)", fontsize=9)
            continue
        entry, img, desc = picks[cls]
        lo, hi = np.percentile(img, [0.5, 99.5])
        ax.imshow(np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1), cmap="gray",
                  interpolation="bilinear")
        ax.set_title(f"{cls}\n{entry}: {desc}", fontsize=8)
    for ax in np.ravel(axes)[len(classes):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

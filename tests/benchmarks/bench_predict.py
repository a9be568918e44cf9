"""Predict mode end to end on a generated archive: raw DICOM to ``predictions/series.csv``, the
current settings beside the earlier ones, in one run on the same files and the same models.

The archive is a synthetic cohort written once under the system temp dir and reused: ``--series``
series (default 2,000) of ``--patients`` examinations from four vendors, 20–60 slices per volume,
stored as archives hold them (dual echoes, dynamics and 3-plane localizers in one series). The
trained models come from a finished ``make demo`` (``--from``, default the repository's
``results/``): the demo's results and resources are hard-linked into a fresh work directory per
variant, the archive is added as a ``role: predict`` dataset, and Snakemake builds only its
``series.parquet`` (no model is retrained: ``--rerun-triggers mtime``). Variants:

* ``earlier``: a CNN per task (``train.heads: per_task``: three networks per fold, trained here
  first, untimed, with the fusion forests that stack on them), every slice, every family, the
  CNN's folds one after another in batches of 32 (predict mode before its bounds:
  ``predict.max_slices_per_volume: 0``, ``families: all``, ``fold_graph: false``,
  ``batch_size: 32``);
* ``current``: the config as it is (the demo's models: one multi-task CNN per fold).

First it prints what the bounds cost: the fusion family's volume-level macro-F1 on the demo's
test sets with 4–16 files a volume and with one fold model instead of five, from the stored
predictions. Then per variant the wall time (what a user waits for), series/s and slices/s over the
archive's slices, and per stage the job-seconds Snakemake's ``benchmark:`` files record (jobs run
side by side, so they add up to more than the wall time): scan, preprocess, features, prediction
per family, the vote (``predict_series``). Then the ratio of the two.

    make demo && .venv/bin/python tests/benchmarks/bench_predict.py [--series 2000] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
SERIES_PER_PATIENT = 12.5  # the default protocol's series per examination (demo: 446 / 36)
TARGET_SERIES_PER_S = 10.0
EARLIER = {"max_slices_per_volume": 0, "families": "all", "fold_graph": False, "batch_size": 32}
EARLIER_TRAIN = {"heads": "per_task"}
# Stage -> the rules whose benchmark files it sums.
STAGES = {
    "scan": ("scan",), "preprocess": ("preprocess",), "features": ("features",),
    "predict fusion": ("predictions/fusion",), "predict cnn": ("predictions/cnn",),
    "predict hist_rf": ("predictions/hist_rf",), "predict header_rf": ("predictions/header_rf",),
    "vote": ("predictions/series",),
}


def archive(series: int, seed: int, workers: int) -> tuple[Path, int]:
    """The generated archive's raw directory (written once per size and seed) and its series."""
    from mriseq.synthetic.cohort import generate_cohort

    patients = max(1, round(series / SERIES_PER_PATIENT))
    root = Path(tempfile.gettempdir()) / f"mriseq-bench-predict-{patients}p-seed{seed}"
    done = root / "done.json"
    if not done.is_file():
        shutil.rmtree(root, ignore_errors=True)
        cohort = {"layout": "generic", "patients": patients, "seed": seed,
                  "vendors": ["siemens", "ge", "philips", "canon"], "field_strengths": [1.5, 3.0],
                  "slices_per_series": [20, 60], "broken_files": False}
        taxonomy = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["taxonomy"]
        started = time.perf_counter()
        generate_cohort(str(root / "cohort"), cohort, taxonomy, str(root / "montage.png"),
                        str(root / "class_counts.csv"), workers=workers)
        with open(root / "cohort" / "labels.csv") as handle:
            n_series = len({row["SeriesInstanceUID"] for row in csv.DictReader(handle)})
        done.write_text(json.dumps({"series": n_series,
                                    "seconds": round(time.perf_counter() - started, 1)}))
        print(f"archive generated in {json.loads(done.read_text())['seconds']} s")
    info = json.loads(done.read_text())
    return root / "cohort" / "dicom", int(info["series"])


def warm_cache(raw: Path) -> float:
    """Read every archive file once, so that a variant finds it in the page cache (the scan of
    a cold archive is disk-bound: 5-10x slower here); returns the seconds it took."""
    started = time.perf_counter()
    for path in raw.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(1 << 22):
                    pass
    return time.perf_counter() - started


def workdir_from(demo: Path, base: Path, name: str) -> Path:
    """A work directory holding the demo's results and resources as hard links (same mtimes,
    so nothing of the demo reruns), the repository's workflow and config."""
    work = base / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for part in ("results", "resources"):
        subprocess.run(["cp", "-al", str(demo / part), str(work / part)], check=True)
    shutil.rmtree(work / "results" / "bench_archive", ignore_errors=True)
    for part in ("Snakefile", "workflow", "config", "envs"):
        os.symlink(REPO / part, work / part)
    return work


def run_variant(work: Path, raw: Path, predict: dict, train: dict, cores: int) -> float:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["datasets"]["bench_archive"] = {"role": "predict", "layout": "generic",
                                           "raw_dir": str(raw)}
    config["predict"] = {**config.get("predict", {}), **predict}
    config["train"] = {**config["train"], **train}
    configfile = work / "bench.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    if train:
        # Models the demo does not hold (a CNN per task, the fusion forests on top): trained
        # before the clock starts, so that the timed run predicts only.
        # The artefacts: a target that exists (a calibration the demo's multi-task CNN wrote)
        # would not make Snakemake train the per-task network beside it.
        models = [f"results/models/{family}/{task}/fold{fold}/{artefact}"
                  for family, artefact in (("cnn", "model.keras"), ("fusion", "model.joblib"))
                  for task in config["train"]["tasks"]
                  for fold in range(int(config["split"]["folds"]))]
        started = time.perf_counter()
        snakemake(models, work, configfile, cores, "training")
        print(f"  models trained in {time.perf_counter() - started:.0f} s (untimed)", flush=True)
    # Just before the clock starts: training or the variant before may have pushed the archive
    # out of the page cache.
    print(f"  archive read in {warm_cache(raw):.0f} s (page cache warm)", flush=True)
    # What the default target builds of a predict dataset: its table, and the predictions of
    # every family that predicts it (all of them with predict.families: all).
    families = ["fusion", "cnn"] + (["hist_rf", "header_rf"]
                                    if config["predict"]["families"] == "all" else [])
    targets = ["results/bench_archive/predictions/series.parquet"] + [
        f"results/bench_archive/predictions/{family}/{task}.parquet"
        for family in families for task in config["train"]["tasks"]]
    trained = training_benchmarks(work)
    started = time.perf_counter()
    snakemake(targets, work, configfile, cores, "the timed run")
    wall = time.perf_counter() - started
    if training_benchmarks(work) != trained:
        sys.exit(f"the timed run of {work} trained a model: its time is not predict mode's")
    return wall


def snakemake(targets: list[str], work: Path, configfile: Path, cores: int, what: str) -> None:
    """Build ``targets`` in ``work`` without retraining what exists; exit on failure."""
    # The targets first: --configfile and --rerun-triggers take several values each.
    command = [SNAKEMAKE, *targets, "--cores", str(cores), "--configfile", str(configfile),
               "--rerun-triggers", "mtime"]
    proc = subprocess.run(command, cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "workflow")})
    if proc.returncode != 0:
        sys.exit(f"{what} failed in {work}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def training_benchmarks(work: Path) -> dict[Path, int]:
    """The training jobs' benchmark files and their mtimes: a timed run must leave them alone."""
    return {path: path.stat().st_mtime_ns
            for path in (work / "benchmarks" / "models").rglob("*.tsv")}


def stage_seconds(work: Path) -> dict[str, float]:
    root = work / "benchmarks" / "bench_archive"
    totals = dict.fromkeys(STAGES, 0.0)
    for path in root.rglob("*.tsv"):
        relative = str(path.relative_to(root))
        with open(path) as handle:
            seconds = float(next(csv.DictReader(handle, delimiter="\t"))["s"])
        for stage, prefixes in STAGES.items():
            if relative.startswith(prefixes):
                totals[stage] += seconds
    return totals


def slices_of(work: Path) -> tuple[int, int, int]:
    """(files in the scan's manifest, slices predicted, volumes) of the archive."""
    import pandas as pd

    results = work / "results" / "bench_archive"
    files = len(pd.read_parquet(results / "manifests" / "files.parquet", columns=["path"]))
    index = pd.read_parquet(results / "tensors" / "index.parquet", columns=["volume_key"])
    return files, len(index), index["volume_key"].nunique()


def capped(index, per_volume: int):
    """The index rows predict mode keeps at ``per_volume`` files a volume (the formula of
    mriseq.scan.volumes.sample_slices, along ``slice_index``; the demo's files are single-frame)."""
    import numpy as np

    if per_volume <= 0:
        return index
    keep = []
    for _, rows in index.sort_values("slice_index").groupby("volume_key", sort=False):
        n = len(rows)
        picks = (np.arange(n) if n <= per_volume else
                 np.floor((np.arange(per_volume) + 0.5) * n / per_volume).astype(int))
        keep.extend(rows.index[picks])
    return index.loc[sorted(keep)]


def accuracy_curve(demo: Path, caps=(0, 4, 8, 12, 16), folds=(5, 1)) -> None:
    """Volume-level macro-F1 of the fusion family on the demo's test sets when predict mode's
    bounds are applied to them: ``caps`` files a volume and the first ``folds`` fold models, from
    the stored CNN predictions and the trained fusion forests (nothing retrained)."""
    import pandas as pd
    from mriseq import metrics as m
    from mriseq.evaluation.predictions import ensemble_slices, vote_volumes
    from mriseq.models.calibration import calibrate_table, read_temperatures
    from mriseq.models.fusion.model import predict_fusion

    results = demo / "results"
    taxonomy = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["taxonomy"]
    print("\nfusion volume macro-F1 on the demo with predict mode's bounds "
          "(files per volume, fold models)")
    labels = [f"{cap or 'all'}/{k}" for k in folds for cap in caps]
    header = "".join(f"{label:>10}" for label in labels)
    print(f"{'dataset, task':26}{header}")
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in ("internal", "dlds"):
            index = pd.read_parquet(results / dataset / "tensors" / "index.parquet")
            splits = (str(results / "internal" / "splits" / "splits.parquet")
                      if dataset == "internal" else None)
            for task, classes in taxonomy.items():
                cells = []
                model_dir = results / "models" / "fusion" / task
                for k in folds:
                    models = sorted(str(p) for p in model_dir.glob("fold*/model.joblib"))[:k]
                    temperatures = read_temperatures(
                        sorted(str(p) for p in model_dir.glob("fold*/calibration.json")))
                    for cap in caps:
                        path = Path(tmp) / f"{dataset}_{cap}.parquet"
                        capped(index, cap).to_parquet(path)
                        table = predict_fusion(
                            {"features": str(results / dataset / "features" / "header.parquet"),
                             "index": str(path), "splits": splits, "models": models,
                             "cnn_predictions": str(results / dataset / "predictions" / "cnn" /
                                                    f"{task}.parquet")},
                            None, task=task, classes=classes, stacks=("cnn",))
                        table = calibrate_table(table, classes, temperatures)
                        table = table[table["y_true"].notna()]
                        volumes = vote_volumes(ensemble_slices(table, classes), classes)
                        cm = m.confusion_counts(m.class_indices(volumes["y_true"], classes),
                                                m.class_indices(volumes["y_pred_vote"], classes),
                                                len(classes))
                        cells.append(f"{m.metrics_from_confusion(cm)['macro_f1']:10.3f}")
                print(f"{dataset + ', ' + task:26}{''.join(cells)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--from", dest="demo", type=Path, default=REPO,
                        help="a directory holding a finished demo's results/ and resources/")
    parser.add_argument("--variants", default="earlier,current")
    parser.add_argument("--no-curve", action="store_true",
                        help="skip the accuracy of the bounds (when only the timing changed)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the variants' work directories (Snakemake logs, benchmarks)")
    parser.add_argument("--curve-only", action="store_true",
                        help="only the accuracy of the bounds on the demo's test sets")
    args = parser.parse_args()
    if not (args.demo / "results" / "models").is_dir():
        sys.exit(f"{args.demo / 'results' / 'models'} is missing: run make demo first.")
    if not args.no_curve:
        accuracy_curve(args.demo)
    if args.curve_only:
        return 0
    raw, n_series = archive(args.series, args.seed, args.cores)
    base = Path(tempfile.mkdtemp(prefix="mriseq-bench-predict-run-"))
    rows = {}
    for name in args.variants.split(","):
        print(f"{name}:", flush=True)
        work = workdir_from(args.demo, base, name)
        earlier = name == "earlier"
        wall = run_variant(work, raw, EARLIER if earlier else {},
                           EARLIER_TRAIN if earlier else {}, args.cores)
        files, slices, volumes = slices_of(work)
        rows[name] = {"wall": wall, "files": files, "slices": slices, "volumes": volumes,
                      **stage_seconds(work)}
        print(f"{name}: {n_series} series, {volumes} volumes, {files} files, {slices} slices "
              f"predicted: {wall:.1f} s wall, {n_series / wall:.2f} series/s, "
              f"{files / wall:.0f} archive slices/s", flush=True)
    print(f"\npredict mode end to end, {args.cores} cores, {n_series} series "
          f"({rows[next(iter(rows))]['files']} slices in the archive)")
    names = list(rows)
    print(f"{'stage (job-seconds)':24}" + "".join(f"{n:>12}" for n in names))
    for stage in [*STAGES, "wall"]:
        cells = "".join(f"{rows[n][stage]:12.1f}" for n in names)
        print(f"{stage:24}{cells}")
    for label, value in (("series/s", lambda r: n_series / r["wall"]),
                         ("archive slices/s", lambda r: r["files"] / r["wall"])):
        print(f"{label:24}" + "".join(f"{value(rows[n]):12.2f}" for n in names))
    if {"earlier", "current"} <= set(rows):
        ratio = rows["earlier"]["wall"] / rows["current"]["wall"]
        speed = n_series / rows["current"]["wall"]
        verdict = "met" if speed >= TARGET_SERIES_PER_S else "not met"
        print(f"\ncurrent / earlier: {ratio:.2f}x faster; {speed:.2f} series/s against the "
              f"target of {TARGET_SERIES_PER_S:g} ({verdict})")
    if args.keep:
        print(f"work directories kept under {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

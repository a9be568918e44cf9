"""Shared test helpers: run the real workflow with Snakemake in a temporary working directory."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TEST_CONFIG = REPO / "config" / "test.yaml"
# Config variants of single tests: .test/config_<case>/config.yaml, each runnable by hand with
# `snakemake --configfile .test/config_<case>/config.yaml` (see its header comment).
CASES = REPO / ".test"
WORKFLOW_TIER = Path(__file__).resolve().parent / "workflow"


# Under pytest-xdist (`make test`: --dist loadscope --no-loadscope-reorder, a module per worker
# at a time) these modules go first, one to each worker: the two longest runs of the suite.
LONG_FIRST = ("tests/workflow/test_evaluate_workflow.py", "tests/workflow/test_slurm.py")
# ... and the other users of the shared tiny run last, when the first has built it.
SHARED_RUN_FIXTURES = {"tiny_cohorts", "tiny_prepared", "tiny_run"}


def xdist_rank(item: pytest.Item) -> int:
    module = item.nodeid.split("::")[0]
    if module in LONG_FIRST:
        return LONG_FIRST.index(module)
    return len(LONG_FIRST) + bool(SHARED_RUN_FIXTURES & set(item.fixturenames))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark every test under tests/workflow/ (it runs Snakemake or trains a real model) `slow`, so
    that `-m "not slow"` leaves exactly the unit tier (tryfirst: before `-m` deselects).

    In a pytest-xdist worker, also order the modules for the scheduler (``xdist_rank``; the
    order within a module is kept)."""
    for item in items:
        if WORKFLOW_TIER in Path(item.path).parents:
            item.add_marker(pytest.mark.slow)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        ranks = {item.nodeid.split("::")[0]: 0 for item in items}
        for item in items:
            module = item.nodeid.split("::")[0]
            ranks[module] = max(ranks[module], xdist_rank(item))
        items.sort(key=lambda item: ranks[item.nodeid.split("::")[0]])


def run_snakemake(workdir: Path, *args: str, configfile: Path = TEST_CONFIG, check: bool = True,
                  timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` (outputs land there, not in the repo)."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(configfile), *args]
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-8000:]}"
        )
    return proc


def run_root(tmp_path_factory) -> Path:
    """This run's temporary folder: under pytest-xdist the one that all its workers share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_workdir(tmp_path_factory, name: str, build) -> Path:
    """The directory ``name`` that ``build(workdir)`` fills, built once per run: under
    pytest-xdist in the folder all workers of the run share, by the first worker that asks for it
    (under a file lock: the others wait for it, then use it)."""
    root = run_root(tmp_path_factory)
    workdir, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # what a failed build left
            workdir.mkdir()
            build(workdir)
            done.touch()
    return workdir


@pytest.fixture(scope="session")
def tiny_cohorts(tmp_path_factory) -> Path:
    """A working directory where the tiny synthetic cohorts (config/test.yaml) have been generated
    by the real rule. Tests that need more copy this directory; they never write into it."""
    return shared_workdir(tmp_path_factory, "tiny_cohorts", lambda workdir: run_snakemake(
        workdir, "--cores", "2", "results/synthetic/internal/montage.png",
        "results/synthetic/dlds/montage.png"))


# The tiny workflow's upstream stages for both datasets: manifests, tensors, the internal splits.
PREPARED_TARGETS = ["results/internal/splits/splits.parquet",
                    "results/internal/splits/class_counts.csv",
                    "results/dlds/tensors/qc_summary.csv"]


@pytest.fixture(scope="session")
def tiny_prepared(tiny_cohorts, tmp_path_factory) -> Path:
    """``tiny_cohorts`` run on by the real workflow (config/test.yaml) through scan, preprocess
    and split (``PREPARED_TARGETS``), for both datasets: what every later stage starts from.
    Tests copy this directory; they never write into it."""
    def build(workdir: Path) -> None:
        copy_workdir(tiny_cohorts, workdir)
        run_snakemake(workdir, "--cores", "2", *PREPARED_TARGETS)

    return shared_workdir(tmp_path_factory, "tiny_prepared", build)


@pytest.fixture(scope="session")
def tiny_run(tiny_prepared, tmp_path_factory) -> Path:
    """``tiny_prepared`` run on to the ``figures`` target: every model family trained on both
    folds, predictions, evaluation, figures and the HTML report, once for the whole run (the tiny
    workflow is trained here and nowhere else). Tests copy this directory (``copy_workdir``)
    before they run Snakemake in it; they never write into it."""
    def build(workdir: Path) -> None:
        copy_workdir(tiny_prepared, workdir)
        run_snakemake(workdir, "--cores", "2", "figures")

    return shared_workdir(tmp_path_factory, "tiny_run", build)


@pytest.fixture(scope="session")
def real_corpus(tmp_path_factory) -> Path:
    """The real-DICOM corpus (tests/realcorpus), built or taken from its cache once a run (one
    worker at a time: the cache is shared). Skipped locally where it can neither be cached nor
    downloaded; under CI it must build."""
    from realcorpus.build import CorpusUnavailable, build_corpus

    root = run_root(tmp_path_factory)
    with open(root / "real_corpus.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return build_corpus()
        except CorpusUnavailable as error:
            if os.environ.get("CI"):
                pytest.fail(f"the real-DICOM corpus must build in CI: {error}")
            pytest.skip(f"real-DICOM corpus unavailable: {error}")


def case_config(case: str) -> Path:
    """The config file of a test case: .test/config_<case>/config.yaml."""
    path = CASES / f"config_{case}" / "config.yaml"
    assert path.is_file(), path
    return path


def copy_workdir(src: Path, dst: Path) -> Path:
    """Copy a working directory with its .snakemake metadata and modification times, so that
    Snakemake finds the copied outputs up to date."""
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    return dst

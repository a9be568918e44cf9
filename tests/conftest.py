"""Shared test helpers: run the real workflow with Snakemake in a temporary working directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TEST_CONFIG = REPO / "config" / "test.yaml"


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


@pytest.fixture(scope="session")
def tiny_cohorts(tmp_path_factory) -> Path:
    """A working directory where the tiny synthetic cohorts (config/test.yaml) have been generated
    by the real rule. Tests that need more copy this directory; they never write into it."""
    workdir = tmp_path_factory.mktemp("tiny")
    run_snakemake(workdir, "--cores", "2", "results/synthetic/internal/montage.png",
                  "results/synthetic/dlds/montage.png")
    return workdir


def copy_workdir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    return dst

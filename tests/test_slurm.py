"""SLURM execution against a real controller.

tests/slurm/setup_slurm.sh installs and starts a one-node cluster (munge, slurmdbd + mariadb,
slurmctld, slurmd, fake GPU GRES); the executor plugin is installed from requirements-slurm.txt
beside the project virtualenv (never into it: where no controller answers, the plugin slows
every snakemake start). The test then runs the tiny config (config/test.yaml) with
`--executor slurm --workflow-profile workflow/profiles/slurm` end to end (raw DICOM to the HTML
report) and checks, from SLURM's own accounting, that every job went through sbatch with the
resources the profile asks for and that training jobs got a GPU.

Skipped, with the reason, where no cluster can be set up: not root, no apt-get, no network for the
plugin. A machine that already runs SLURM (sbatch works, `setup_slurm.sh status` succeeds) is used
as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, TEST_CONFIG, copy_workdir

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
from bench_dag import job_counts  # noqa: E402

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SETUP = REPO / "tests" / "slurm" / "setup_slurm.sh"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
PLUGIN_DIR = Path(sys.prefix) / "slurm-plugins"
ACCOUNT = "mriseq"  # created by setup_slurm.sh for the submitting user
# The whole tiny workflow (the default target): raw DICOM -> scan -> preprocess -> split -> GPU
# trainings -> baselines -> predictions -> evaluation, Grad-CAM and the HTML report.
TARGETS = ["all"]
OUTPUTS = ["results/report/index.html", "results/dlds/evaluation/generalisation_gap.csv",
           *(f"results/models/cnn/contrast/fold{fold}/model.keras" for fold in (0, 1))]
# Rules the profile sends to a GPU.
GPU_RULES = {rule for rule, resources in yaml.safe_load((PROFILE / "config.yaml").read_text())[
    "set-resources"].items() if resources.get("gpu")}
RUN_TIMEOUT_S = 900


def _cluster_up() -> bool:
    return shutil.which("sbatch") is not None and subprocess.run(
        ["bash", str(SETUP), "status"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running one-node cluster; started (idempotently) by setup_slurm.sh when needed."""
    if not _cluster_up():
        if os.geteuid() != 0:
            pytest.skip("SLURM test needs root to install and start a one-node cluster "
                        "(tests/slurm/setup_slurm.sh); no running cluster found")
        if shutil.which("apt-get") is None:
            pytest.skip("SLURM test needs apt-get (Debian) to install the cluster; "
                        "no running cluster found")
        proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=600)
        if proc.returncode == 3:
            pytest.skip(proc.stderr.strip().splitlines()[-1])
        assert proc.returncode == 0, f"setup_slurm.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return _node_size()


def _node_size() -> tuple[int, int]:
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%c %m"], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), int(out[1])


@pytest.fixture(scope="module")
def slurm_plugin() -> Path:
    """The pinned executor plugin in a directory beside the virtualenv, reached via PYTHONPATH,
    so the default environment never loads it."""
    if not (PLUGIN_DIR / "snakemake_executor_plugin_slurm").is_dir():
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
             str(PLUGIN_DIR), "-r", str(REPO / "requirements-slurm.txt")],
            capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            shutil.rmtree(PLUGIN_DIR, ignore_errors=True)
            pytest.skip(f"cannot install requirements-slurm.txt: {proc.stderr.strip()[-300:]}")
    return PLUGIN_DIR


def node_sized_profile(dst: Path, cpus: int, memory_mb: int) -> Path:
    """The shipped profile with per-job requests capped to half the one-node test cluster (a CI
    runner is smaller than a cluster node; two jobs run side by side); all else unchanged."""
    cpus = max(1, cpus // 2)
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    profile["set-threads"] = {rule: min(n, cpus) for rule, n in profile["set-threads"].items()}
    for resources in profile["set-resources"].values():
        for key in ("cpus_per_task", "cpus_per_gpu"):
            if key in resources:
                resources[key] = min(resources[key], cpus)
        if "mem_mb" in resources:
            resources["mem_mb"] = min(resources["mem_mb"], memory_mb // 2)
    dst.mkdir(parents=True)
    (dst / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dst


def sacct_jobs(workdir: Path, since: str) -> list[dict[str, str]]:
    fields = ["JobID", "State", "Comment", "ReqTRES", "WorkDir", "Account"]
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", since, "-o", ",".join(fields)],
        capture_output=True, text=True, check=True).stdout
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines() if line]
    return [row for row in rows if Path(row["WorkDir"]) == workdir]


def rule_of(comment: str) -> str:
    """The rule name from the executor's job comment `rule_<name>[_wildcards_<...>]`."""
    return comment.removeprefix("rule_").split("_wildcards_")[0]


def test_tiny_workflow_runs_through_sbatch(tmp_path, slurm_cluster, slurm_plugin, request):
    cpus, memory_mb = slurm_cluster
    # Requested here, not as an argument: a session fixture would be built before the skip checks.
    tiny_cohorts = request.getfixturevalue("tiny_cohorts")
    workdir = copy_workdir(tiny_cohorts, (tmp_path / "work").resolve())
    profile = node_sized_profile(tmp_path / "profile", cpus, memory_mb)
    since = (dt.datetime.now() - dt.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")

    cmd = ["timeout", "-k", "10", str(RUN_TIMEOUT_S), SNAKEMAKE, "-s", str(REPO / "Snakefile"),
           "-d", str(workdir), "--configfile", str(TEST_CONFIG),
           "--executor", "slurm", "--workflow-profile", str(profile),
           "--default-resources", f"slurm_account={ACCOUNT}", "--jobs", "4",
           "--max-threads", str(max(1, cpus // 2)), "--seconds-between-status-checks", "2",
           "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs",
           *TARGETS]
    env = dict(os.environ, PYTHONPATH=str(slurm_plugin), PYTHONHASHSEED="0",
               TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env,
                          timeout=RUN_TIMEOUT_S + 30)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake --executor slurm failed ({proc.returncode}):\n" \
        f"{log[-6000:]}"
    for output in OUTPUTS:
        assert (workdir / output).is_file(), output

    # Every job Snakemake planned went through sbatch and is in SLURM's accounting.
    planned = job_counts(log)
    planned.pop("all", None)
    jobs = sacct_jobs(workdir, since)
    assert Counter(rule_of(job["Comment"]) for job in jobs) == planned, jobs
    assert {job["State"] for job in jobs} == {"COMPLETED"}, jobs
    assert {job["Account"] for job in jobs} == {ACCOUNT}

    # Per-job SLURM logs: .snakemake/slurm_logs/rule_<name>/<wildcards>/<jobid>.log
    logs = {path.stem: path for path in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    for job in jobs:
        assert job["JobID"] in logs, f"no SLURM log for job {job['JobID']} ({job['Comment']})"
        assert f"rule_{rule_of(job['Comment'])}" in logs[job["JobID"]].parts

    # Training and prediction asked SLURM for one GPU each (sbatch --gpus=1); nothing else did.
    for job in jobs:
        wants_gpu = "gres/gpu=1" in job["ReqTRES"]
        assert wants_gpu == (rule_of(job["Comment"]) in GPU_RULES), job
    # 3 tasks x 2 folds of the tiny config.
    assert planned["train_cnn"] == 6 and "train_cnn" in GPU_RULES

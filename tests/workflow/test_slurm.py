"""SLURM execution against a real controller.

tests/slurm/setup_slurm.sh installs and starts a one-node cluster (munge, slurmdbd + mariadb,
slurmctld, slurmd, fake GPU GRES); the executor plugin is installed from requirements-slurm.txt
beside the project virtualenv (never into it: where no controller answers, the plugin slows
every snakemake start). The test then runs the tiny config (config/test.yaml) with
`--executor slurm --workflow-profile workflow/profiles/slurm` end to end (raw DICOM to the HTML
report) and checks, from SLURM's own accounting, that every job went through sbatch with the
resources the profile asks for, that training jobs got a GPU and that the plugin's partition
selection (`--slurm-partition-config`) sent GPU jobs to the GPU partition and the rest elsewhere.

The checks that need no cluster run everywhere: the profile and the documented command leave the
partition to the plugin, memory grows with the attempt, and partitions.example.yaml places every
rule the profile sizes.

Skipped, with the reason, where no cluster can be set up: not root, no apt-get, no network for the
plugin. A machine that already runs SLURM (sbatch works, `setup_slurm.sh status` succeeds) with
partitions `main` and `gpu` is used as it is; one without them is reconfigured only when its
slurm.conf is the one setup_slurm.sh wrote, and skipped otherwise.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, TEST_CONFIG, copy_workdir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_dag import job_counts  # noqa: E402

SETUP = REPO / "tests" / "slurm" / "setup_slurm.sh"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
PLUGIN_DIR = Path(sys.prefix) / "slurm-plugins"
ACCOUNT = "mriseq"  # created by setup_slurm.sh for the submitting user
# The whole tiny workflow (the default target): raw DICOM -> scan -> preprocess -> split -> GPU
# trainings -> baselines -> predictions -> evaluation, Grad-CAM and the HTML report.
TARGETS = ["all"]
OUTPUTS = ["results/report/index.html", "results/dlds/evaluation/generalisation_gap.csv",
           *(f"results/models/cnn/fold{fold}/model.keras" for fold in (0, 1))]
# Rules the profile sends to a GPU.
GPU_RULES = {rule for rule, resources in yaml.safe_load((PROFILE / "config.yaml").read_text())[
    "set-resources"].items() if resources.get("gpu")}
RUN_TIMEOUT_S = 900
# The test cluster's partitions (tests/slurm/setup_slurm.sh): one node in both, main the default.
CPU_PARTITION, GPU_PARTITION = "main", "gpu"


def profile_resources(attempt: int) -> dict[str, dict[str, int]]:
    """The profile's set-resources per rule as Snakemake evaluates them for one attempt, read with
    Snakemake's own profile and --set-resources parsers."""
    from snakemake.cli import parse_set_resources
    from snakemake.profiles import ProfileConfigFileParser

    stream = io.StringIO((PROFILE / "config.yaml").read_text())
    stream.name = str(PROFILE / "config.yaml")
    parsed = parse_set_resources(ProfileConfigFileParser().parse(stream)["set-resources"])
    evaluated = {}
    for rule, resources in parsed.items():
        evaluated[rule] = {}
        for name, resource in resources.items():
            if resource.is_evaluable():
                resource = resource.evaluate(wildcards={}, input=[], attempt=attempt, threads=1,
                                             rulename=rule, async_run=None)
            evaluated[rule][name] = resource.value
    return evaluated


def test_partition_is_left_to_the_plugin():
    """A job's `slurm_partition` resource makes the plugin skip its partition selection: neither
    the profile nor the documented command may set one, and the command passes a partition file."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert "slurm_partition" not in (profile.get("default-resources") or {})
    for rule, resources in profile["set-resources"].items():
        assert "slurm_partition" not in resources, rule
    section = (REPO / "docs" / "slurm.md").read_text().split("## Run on a SLURM cluster", 1)[1]
    command = re.search(r"```bash\n(.*?)```", section, re.S)[1]
    assert "--executor slurm" in command and "--slurm-partition-config" in command, command
    assert "slurm_partition" not in command, command
    assert "slurm_partition=" not in (PROFILE / "config.yaml").read_text().split("executor:")[0]


def test_retry_asks_for_more_memory():
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["retries"] >= 1
    first, second = profile_resources(1), profile_resources(2)
    for rule in first:
        assert isinstance(first[rule]["mem_mb"], int), (rule, first[rule])
        assert second[rule]["mem_mb"] == 2 * first[rule]["mem_mb"], rule
        assert {k: v for k, v in second[rule].items() if k != "mem_mb"} == \
            {k: v for k, v in first[rule].items() if k != "mem_mb"}, rule


def test_example_partitions_place_every_rule(slurm_plugin):
    """partitions.example.yaml, read by the pinned plugin, has a partition for every job the
    profile sizes (first attempt and retry): GPU rules on the GPU partition, the rest on the CPU
    one."""
    sys.path.insert(0, str(slurm_plugin))
    try:
        from snakemake_executor_plugin_slurm.partitions import (
            get_best_partition,
            read_partition_file,
        )
    finally:
        sys.path.remove(str(slurm_plugin))
    partitions = read_partition_file(PROFILE / "partitions.example.yaml")
    threads = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-threads"]
    logger = SimpleNamespace(info=lambda *a: None, debug=lambda *a: None, warning=print)
    for attempt in (1, 2):
        for rule, resources in profile_resources(attempt).items():
            job = SimpleNamespace(name=rule, threads=threads.get(rule, 1), resources=resources)
            wanted = "gpu" if rule in GPU_RULES else "cpu"
            assert get_best_partition(partitions, job, logger) == wanted, (rule, attempt)


def _cluster_up() -> bool:
    return shutil.which("sbatch") is not None and subprocess.run(
        ["bash", str(SETUP), "status"], capture_output=True).returncode == 0


def _has_test_partitions() -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True).stdout
    return {CPU_PARTITION, GPU_PARTITION} <= {name.rstrip("*") for name in out.split()}


def _written_by_setup() -> bool:
    conf = Path("/etc/slurm/slurm.conf")
    return conf.is_file() and "written by tests/slurm/setup_slurm.sh" in conf.read_text()


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running one-node cluster with the test partitions; started (idempotently) by
    setup_slurm.sh when needed (also when a cluster it started earlier lacks a partition)."""
    up = _cluster_up()
    if up and not _has_test_partitions() and not _written_by_setup():
        pytest.skip(f"the running SLURM cluster lacks partitions {CPU_PARTITION} and "
                    f"{GPU_PARTITION}, and its slurm.conf is not the test cluster's")
    if not (up and _has_test_partitions()):
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
        if isinstance(resources.get("mem_mb"), int):
            resources["mem_mb"] = min(resources["mem_mb"], memory_mb // 2)
        elif "mem_mb" in resources:  # an expression in `attempt`: keep it, capped
            resources["mem_mb"] = f"min({resources['mem_mb']}, {memory_mb // 2})"
    dst.mkdir(parents=True)
    (dst / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dst


def cluster_partition_file(dst: Path) -> Path:
    """A partition file for the test cluster, as a site writes one from partitions.example.yaml:
    GPUs only in the GPU partition."""
    dst.write_text(yaml.safe_dump({"partitions": {CPU_PARTITION: {"max_gpu": 0},
                                                  GPU_PARTITION: {"max_gpu": 1}}}))
    return dst


def sacct_jobs(workdir: Path, since: str) -> list[dict[str, str]]:
    fields = ["JobID", "State", "Comment", "ReqTRES", "WorkDir", "Account", "Partition"]
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", since, "-o", ",".join(fields)],
        capture_output=True, text=True, check=True).stdout
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines() if line]
    return [row for row in rows if Path(row["WorkDir"]) == workdir]


def rule_of(comment: str) -> str:
    """The rule name from the executor's job comment `rule_<name>[_wildcards_<...>]`."""
    return comment.removeprefix("rule_").split("_wildcards_")[0]


@pytest.mark.slurm
@pytest.mark.slow
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
           "--default-resources", f"slurm_account={ACCOUNT}",
           "--slurm-partition-config", str(cluster_partition_file(tmp_path / "partitions.yaml")),
           "--jobs", "4",
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
        # ... and the plugin's partition selection put them where the GPUs are.
        assert job["Partition"] == (GPU_PARTITION if wants_gpu else CPU_PARTITION), job
    # One multi-task network per fold: the tiny config's 2 folds.
    assert planned["train_cnn"] == 2 and "train_cnn" in GPU_RULES

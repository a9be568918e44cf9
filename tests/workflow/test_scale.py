"""Scale: Snakemake's jobs grow with shards, not series, and a new patient in a large
archive reschedules only its own shard plus the merges and what depends on them.

Dry-runs only: the archive is a tree of empty patient/series directories (planning reads directory
entries, never pixels); tests/benchmarks/bench_dag.py times the same setup at 1k-100k series.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

import pytest
from mriseq.scan.sharding import shard_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_dag import (  # noqa: E402
    SERIES_PER_PATIENT,
    add_patient,
    job_counts,
    materialise,
    nothing_to_do,
    prepare,
    scheduled_jobs,
    snakemake,
)

SHARD_RULES = ("scan_shard", "preprocess_shard")


def dry_run_counts(workdir: Path, configfile: Path, *args: str) -> Counter:
    _, proc = snakemake(workdir, configfile, "-n", *args)
    return job_counts(proc.stdout + proc.stderr)


def test_jobs_grow_with_shards_not_series(tmp_path):
    small = dry_run_counts(*prepare(tmp_path / "small", 200, shards=8)[:2])
    large = dry_run_counts(*prepare(tmp_path / "large", 2000, shards=8)[:2])
    more_shards = dry_run_counts(*prepare(tmp_path / "sharded", 2000, shards=16)[:2])

    assert small == large, "the DAG changed with the number of series"
    for rule in SHARD_RULES:
        assert large[rule] == 8 and more_shards[rule] == 16
    assert sum(more_shards.values()) == sum(large.values()) + 2 * 8


@pytest.fixture(scope="module")
def finished_10k(tmp_path_factory):
    """A 10,000-series archive whose every output exists and is up to date (the state after a
    finished run, made with empty outputs and `snakemake --touch`)."""
    root = tmp_path_factory.mktemp("scale10k")
    workdir, configfile, raw_dir, labels = prepare(root, 10_000, shards=32)
    full, _ = materialise(workdir, configfile)
    _, proc = snakemake(workdir, configfile, "-n")
    assert nothing_to_do(proc.stdout + proc.stderr), proc.stdout[-2000:]
    return workdir, configfile, raw_dir, labels, full


def test_new_patient_reschedules_only_its_shard(finished_10k):
    workdir, configfile, raw_dir, labels, full = finished_10k
    # What "the merges and everything after them" is, measured on the unchanged archive.
    downstream = dry_run_counts(workdir, configfile, "--forcerun", "merge_manifests")
    assert downstream and not any(downstream[rule] for rule in SHARD_RULES)

    new_index = 10_000 // SERIES_PER_PATIENT
    with open(labels, "a", newline="") as handle:
        add_patient(raw_dir, new_index, csv.writer(handle))
    _, proc = snakemake(workdir, configfile, "-n")
    output = proc.stdout + proc.stderr
    counts = job_counts(output)

    expected_shard = shard_of(f"P{new_index:06d}", 32)
    shard_jobs = [(rule, wc) for rule, wc in scheduled_jobs(output) if rule in SHARD_RULES]
    assert sorted(rule for rule, _ in shard_jobs) == sorted(SHARD_RULES)
    assert all(wc["shard"] == expected_shard for _, wc in shard_jobs), shard_jobs
    assert counts == downstream + Counter(dict.fromkeys(SHARD_RULES, 1))
    assert sum(counts.values()) < sum(full.values())

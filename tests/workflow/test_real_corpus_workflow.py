"""Real scanner files through the workflow: the scan and preprocess rules on the registry-built
real-DICOM corpus (``tests/realcorpus``; the in-process checks of the same corpus are in
tests/unit/test_real_corpus.py).

Locally the corpus is skipped when it is neither cached nor downloadable; under CI it must build.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from conftest import case_config, run_snakemake
from hostile.workflow import write_labels, write_patient
from realcorpus import files as corpus


@pytest.fixture(scope="session")
def archive(real_corpus) -> Path:
    """The real-DICOM corpus (``real_corpus`` in tests/conftest.py)."""
    return real_corpus


@pytest.mark.slow
def test_workflow_on_real_corpus(archive, tmp_path):
    """Scan and preprocess rules on the corpus as a ``role: predict`` dataset: no job fails,
    every file is accounted for, outputs are group/world readable under a 022 umask."""
    raw = tmp_path / "raw"
    uids = write_patient(raw, "patient_00", series=1)
    write_labels(tmp_path / "labels.csv", uids)
    # .test/config_real_corpus: the corpus in ./real as a predict dataset, scanned with 2 workers;
    # every real file through the decoders (predict mode's bound of files per volume off).
    (tmp_path / "real").symlink_to(archive, target_is_directory=True)
    config = case_config("real_corpus")
    targets = [f"results/real/{p}" for p in ("manifests/files.parquet", "manifests/rejects.parquet",
                                              "tensors/index.parquet", "tensors/rejects.parquet")]
    old = os.umask(0o022)
    try:
        run_snakemake(tmp_path, "--cores", "2", *targets, configfile=config)
    finally:
        os.umask(old)
    results = tmp_path / "results" / "real"
    files = pd.read_parquet(results / "manifests" / "files.parquet")
    rejects = pd.read_parquet(results / "manifests" / "rejects.parquet")
    listed = corpus.corpus_files(archive)
    assert len(files) + len(rejects) == len(listed)
    assert set(files["path"]) | set(rejects["path"]) == {rel for _, rel in listed}
    index = pd.read_parquet(results / "tensors" / "index.parquet")
    decode_rejects = pd.read_parquet(results / "tensors" / "rejects.parquet")
    assert set(index["path"]) | set(decode_rejects["path"]) == set(files["path"])
    assert set(index["path"]).isdisjoint(decode_rejects["path"])
    # Every frame of a decoded file, a mosaic's tiles for a mosaic, less its blank ones.
    frames = index.groupby("path").agg(kept=("row", "size"), blank=("blank_frames", "first"))
    decoded = files.set_index("path").reindex(frames.index)
    total = decoded["n_frames"].where(decoded["mosaic_images"] == 0, decoded["mosaic_images"])
    assert (frames["kept"] + frames["blank"] == total).all()
    assert decode_rejects["reason"].eq("blank_image").sum() > 400
    for output in results.rglob("*"):
        if output.is_file():
            assert stat.S_IMODE(output.stat().st_mode) == 0o644, output

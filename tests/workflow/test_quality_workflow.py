"""Quality gate: `snakemake --lint` (part of `make lint`) finds nothing in the workflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO

BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_snakemake_lint_clean():
    proc = _run(str(BIN / "snakemake"), "--lint", "--configfile", "config/test.yaml")
    # snakemake --lint exits 0 even with findings; it prints "Lints for ..." when there are any.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr

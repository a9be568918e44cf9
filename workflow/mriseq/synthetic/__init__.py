"""Synthetic abdominal MRI cohorts written as real DICOM files.

Import the submodules directly (``mriseq.synthetic.cohort.generate_cohort``); this file stays light
because reading ``layout`` at Snakefile parse time imports it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def source_digest() -> str:
    """A digest of the generator's source files. The rule passes it as a param, so editing the
    generator regenerates the cohorts (Snakemake's code trigger only sees the script file)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]

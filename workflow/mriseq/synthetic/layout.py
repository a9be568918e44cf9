"""Names of the top-level entries a synthetic cohort writes, known without generating it.

The workflow shards a dataset by the top-level entries of its raw directory. A synthetic cohort does
not exist when Snakemake parses the workflow, so its entry names must be derivable from the config
alone; the generator writes exactly these (every file of the cohort, broken ones included, lies
inside one of them).
"""

from __future__ import annotations


def patient_entries(layout: str, patients: int) -> list[str]:
    if layout == "dlds":
        # DLDS ids are 4-digit numbers: Series_Classification/<id>/<series>/*.dicom
        return [f"{i + 1:04d}" for i in range(patients)]
    return [f"patient_{i + 1:04d}" for i in range(patients)]

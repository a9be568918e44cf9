"""The class taxonomy shared by every stage.

The default lists mirror ``config/config.yaml``; stages always take the lists from the config so a
user can edit them, and use these defaults only in tests and tools that run without a config.
"""

from __future__ import annotations

TASKS = ("sequence", "orientation", "contrast")

DEFAULT_TAXONOMY: dict[str, list[str]] = {
    "sequence": [
        "t1_inphase",
        "t1_opposed",
        "t2",
        "t2_fs",
        "dwi",
        "adc",
        "t1_pre",
        "t1_arterial",
        "t1_portal",
        "t1_delayed",
        "mrcp",
        "localizer",
    ],
    "orientation": ["axial", "coronal", "sagittal", "oblique"],
    "contrast": ["pre", "post"],
}

# Column that holds the reference label of a task in series/index/split tables.
LABEL_COLUMN = {task: f"label_{task}" for task in TASKS}

# Sequence classes acquired after gadolinium; everything else is pre-contrast by default.
POST_CONTRAST_SEQUENCES = frozenset({"t1_arterial", "t1_portal", "t1_delayed"})


class UnknownLabelError(ValueError):
    """A labels sheet names a class that is not in the configured taxonomy."""


def check_label(task: str, value: str, classes: list[str], where: str) -> str:
    """Return ``value`` if it is a class of ``task``; otherwise stop with one sentence naming it."""
    if value not in classes:
        raise UnknownLabelError(
            f"{where}: unknown {task} class {value!r}; expected one of {', '.join(classes)}."
        )
    return value

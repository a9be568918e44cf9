"""Model families: each family is one module here holding one :class:`ModelFamily`.

The rules, the evaluation, the report and predict mode iterate :data:`FAMILIES`; none of them
names a family. A family says what it reads (the slice tensors, or a feature table of
``results/{dataset}/features/``), what it writes per ``{task}×{fold}`` (the model artefact, any
extra files), which environment and resources its jobs need, which config settings determine it,
and how to train one fold and predict with all folds. Adding a family is one module plus its name
in :data:`FAMILY_MODULES` (and an ``envs/`` file if it needs other packages). ``train.models``
picks the families a run trains; an entry that is not a registered name is read as the dotted path
of a module holding a ``FAMILY`` (a family kept outside this package).

The family modules are imported by name only when a job needs them, so reading the registry (at
workflow parse time) never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from mriseq.models.family import ModelFamily

# Name -> module under mriseq.models. The first is the primary family: its predictions make the
# predict-mode series table and its confusion matrices lead the report. The fusion of header and
# pixels leads because it is the best of the four on every task of the demo (README results).
FAMILY_MODULES: dict[str, str] = {
    "fusion": "mriseq.models.fusion",
    "cnn": "mriseq.models.cnn",
    "hist_rf": "mriseq.models.hist_rf",
    "header_rf": "mriseq.models.header_rf",
}


def family_names() -> list[str]:
    return list(FAMILY_MODULES)


class FamilyError(ValueError):
    """A ``train.models`` entry that names no family, worded as one sentence."""


def get_family(entry: str) -> ModelFamily:
    """The family a ``train.models`` entry names: a registered name, or the dotted path of a
    module with a ``FAMILY`` (imports its module)."""
    module = FAMILY_MODULES.get(entry, entry)
    try:
        family = importlib.import_module(module).FAMILY
    except (ImportError, AttributeError) as error:
        raise FamilyError(
            f"Config key 'train.models': {entry!r} is neither a registered model family "
            f"({', '.join(FAMILY_MODULES)}) nor a module with a FAMILY ({error})."
        ) from None
    return family


def families(entries: list[str] | None = None) -> dict[str, ModelFamily]:
    """``train.models`` entry -> family, in order (every registered family by default); a
    stacked family whose base families are not listed is a one-sentence error."""
    chosen = {entry: get_family(entry) for entry in (entries or list(FAMILY_MODULES))}
    names = {family.name for family in chosen.values()}
    for entry, family in chosen.items():
        missing = [base for base in family.stacks if base not in names]
        if missing:
            raise FamilyError(
                f"Config key 'train.models': {entry!r} reads the predictions of "
                f"{', '.join(missing)}; list {'it' if len(missing) == 1 else 'them'} too."
            )
    return chosen

"""Model families: the registry. Each family is one package here (``cnn``, ``hist_rf``,
``header_rf``, ``fusion``) holding one :class:`~mriseq.models.family.ModelFamily` as ``FAMILY``.

The rules, the evaluation, the report and predict mode iterate the families of ``train.models``
and ask each what it offers (``family.py``: what it reads and writes, its environment and
resources, its settings, how it trains a fold and predicts, whether it draws learning curves or
Grad-CAM); none of them names a family. Adding a family is one package plus its name in
:data:`FAMILY_MODULES` (and an ``envs/`` file if it needs other packages). An entry of
``train.models`` that is not a registered name is read as the dotted path of a module holding a
``FAMILY`` (a family kept outside this package).

What the families share sits beside them: the contract (``family``), the prediction table
(``predictions``), the fold job's common steps (``fold_job``), the training data
(``training_data``), class balance, calibration and training health; ``forest`` is what the two
forest families share. TensorFlow is imported only inside the CNN's functions that need it, so
reading the registry (at workflow parse time) never loads it.
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

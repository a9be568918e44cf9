"""A synthetic patient's examination, planned before any file is written.

Who the patient is, on which scanner, with which contrast agent, and the series planned for them
(``PlannedPatient``). The patient's generator is seeded with (cohort seed, patient index) here and
drawn from in a fixed order: identity, scanner, agent, phantom, then the plans; writing the files
continues its stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mriseq.defaults import schema_defaults
from mriseq.synthetic import vendors
from mriseq.synthetic.identity import draw_identity
from mriseq.synthetic.phantom import Phantom, build_phantom
from mriseq.synthetic.plan import plan_patient
from mriseq.synthetic.prescription import PatientContext
from mriseq.synthetic.sequences import SeriesPlan

AGENTS = {"extracellular": ["GADAVIST", "DOTAREM", "MULTIHANCE", "Gadobutrol 7.5 mL"],
          "gadoxetate": ["EOVIST", "PRIMOVIST"]}


@dataclass
class PlannedPatient:
    """A patient before any file is written: who, on which scanner, and the series planned. The
    generator's random stream continues from ``rng``."""

    rng: np.random.Generator
    identity: dict
    vendor: str
    field_strength: float
    manufacturer: str
    model: str
    agent: str
    phantom: Phantom
    context: PatientContext
    plans: list[SeriesPlan]


def cohort_settings(cohort: dict) -> dict:
    """A ``synthetic.cohorts.<name>`` dict with the keys it leaves out set to the schema's
    defaults (the workflow passes validated, complete dicts; tests may pass a few keys)."""
    return {**schema_defaults("$defs", "cohort"), **cohort}


def plan_examination(index: int, cohort: dict) -> PlannedPatient:
    """The examination of patient ``index`` of ``cohort``: every label of its series is fixed
    here, before rendering (the same seed and index give the same plan)."""
    cohort = cohort_settings(cohort)
    seed = int(cohort["seed"])
    rng = np.random.default_rng([seed, index])
    dlds = cohort["layout"] == "dlds"
    identity = draw_identity(rng)
    vendor = str(rng.choice(cohort["vendors"]))
    field_t = float(rng.choice(cohort["field_strengths"]))
    manufacturer, model = vendors.manufacturer(rng, vendor, field_t)
    gadoxetate = rng.random() < 0.3
    agent = str(rng.choice(AGENTS["gadoxetate" if gadoxetate else "extracellular"]))
    phantom = build_phantom(rng)
    protocols = cohort["protocols"]
    ctx = PatientContext(rng=rng, phantom=phantom, field=field_t, vendor=vendor,
                         slices=tuple(cohort["slices_per_series"]),
                         oblique_fraction=float(cohort["oblique_fraction"]),
                         noise_scale=float(cohort["noise_scale"]), dlds=dlds,
                         gadoxetate=gadoxetate, archive=protocols == "archive")
    plans = plan_patient(ctx)
    return PlannedPatient(rng, identity, vendor, field_t, manufacturer, model, agent, phantom,
                          ctx, plans)

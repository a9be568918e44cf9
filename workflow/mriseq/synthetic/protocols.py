"""Examination protocols of an archive-like cohort (``protocols: archive``), kept as data.

A real archive is not balanced: each site runs its own protocols, every patient gets the one the
clinical question calls for, series are repeated after motion or dropped when the patient tires,
and slice counts follow the coverage and resolution each series needs. A classifier trained and
tested on such data must cope with rare classes, patients without whole classes and series from one
to a few hundred slices. This table says which series each protocol acquires, how likely each is
and how often it is repeated; :mod:`mriseq.synthetic.plan` builds them with the same physics as the
balanced ``full`` cohort, so labels stay what is simulated.

Series names (the building blocks :func:`mriseq.synthetic.plan.plan_patient` knows):

- ``localizer``: the three-plane localizer (one series per plane);
- ``t2_coronal``, ``t2_axial``, ``t2_sagittal``: single-shot T2 (repeats: motion repeats);
- ``t2_fs``: axial fat-suppressed FSE T2 (or STIR);
- ``mrcp_slab``, ``mrcp_3d``: thick-slab projections or a thin 3D stack;
- ``dwi``: one DWI series and its ADC map (repeats: further b-value sets, each with its ADC);
- ``dual``: dual-echo in- and opposed-phase gradient echo;
- ``t1_pre``, ``t1_arterial`` (repeats: arterial phases), ``t1_portal``, ``t1_portal_coronal``,
  ``t1_delayed`` (repeats: axial delayed phases), ``t1_delayed_coronal``, ``t1_delayed_sagittal``,
  ``t1_delayed_thin`` (a thin high-resolution axial stack): the 3D fat-suppressed T1 dynamic. The
  axial phases share one geometry and one set of parameters, as one breath-hold sequence repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Item:
    """One series of a protocol: acquired with ``probability``; ``repeats`` are the weights of
    acquiring it 1, 2, 3, … times when it is acquired."""

    series: str
    probability: float = 1.0
    repeats: tuple[float, ...] = (1.0,)


@dataclass(frozen=True)
class ExaminationProtocol:
    name: str
    study_description: str  # StudyDescription written into every header of the examination
    vendor_weights: dict[str, float]  # how often each vendor's sites run it (relative)
    items: tuple[Item, ...]  # in acquisition order


_LOCALIZER = Item("localizer", 0.9)  # archives often drop the localizers
_DYNAMIC = (
    Item("t1_pre", 0.95),
    Item("t1_arterial", 1.0, (0.6, 0.3, 0.1)),
    Item("t1_portal"),
    Item("t1_delayed", 1.0, (0.6, 0.3, 0.1)),
)

PROTOCOLS: tuple[ExaminationProtocol, ...] = (
    ExaminationProtocol(
        "liver_dynamic", "MRI LIVER WO/W CONTRAST",
        {"siemens": 4, "ge": 3, "philips": 3, "canon": 5},
        (_LOCALIZER, Item("t2_coronal", 0.9), Item("t2_axial", 1.0, (0.6, 0.3, 0.1)),
         Item("t2_sagittal", 0.1), Item("t2_fs", 0.45), Item("dual", 0.8),
         Item("dwi", 0.95, (0.7, 0.3)), *_DYNAMIC, Item("t1_portal_coronal", 0.2),
         Item("t1_delayed_coronal", 0.35), Item("t1_delayed_sagittal", 0.1),
         Item("t1_delayed_thin", 0.1), Item("mrcp_3d", 0.25)),
    ),
    ExaminationProtocol(
        # Abbreviated surveillance MRI: T2, DWI and the dynamic only.
        "liver_short", "MRI LIVER ABBREVIATED",
        {"siemens": 2, "ge": 3, "philips": 1, "canon": 2},
        (_LOCALIZER, Item("t2_coronal", 0.3), Item("t2_axial", 1.0, (0.7, 0.3)),
         Item("t2_fs", 0.25), Item("mrcp_slab", 0.15), Item("dwi", 0.9), Item("t1_pre", 0.9),
         Item("t1_arterial", 1.0, (0.8, 0.2)),
         Item("t1_portal"), Item("t1_delayed", 0.9, (0.8, 0.2))),
    ),
    ExaminationProtocol(
        "mrcp_pancreas", "MRCP PANCREAS WO/W CONTRAST",
        {"siemens": 2, "ge": 2, "philips": 3, "canon": 1},
        (_LOCALIZER, Item("t2_coronal", 0.9), Item("t2_axial", 1.0, (0.7, 0.3)),
         Item("t2_fs", 0.6), Item("mrcp_slab", 0.7), Item("mrcp_3d", 0.7), Item("dual", 0.5),
         Item("dwi", 0.8), Item("t1_pre", 0.9), Item("t1_arterial", 1.0, (0.7, 0.3)),
         Item("t1_portal"), Item("t1_delayed", 1.0, (0.8, 0.2))),
    ),
    ExaminationProtocol(
        "mrcp", "MRCP WO CONTRAST",
        {"siemens": 1, "ge": 1, "philips": 2, "canon": 1},
        (_LOCALIZER, Item("t2_coronal"), Item("t2_axial", 0.8, (0.8, 0.2)),
         Item("t2_fs", 0.2), Item("mrcp_slab", 0.85), Item("mrcp_3d", 0.6)),
    ),
    ExaminationProtocol(
        # Follow-up of a known benign lesion: no gadolinium.
        "noncontrast_followup", "MRI ABDOMEN WO CONTRAST",
        {"siemens": 2, "ge": 2, "philips": 2, "canon": 1},
        (_LOCALIZER, Item("t2_coronal", 0.8), Item("t2_axial", 1.0, (0.6, 0.3, 0.1)),
         Item("t2_fs", 0.4), Item("dual", 0.9), Item("dwi", 0.85), Item("t1_pre", 0.6)),
    ),
    ExaminationProtocol(
        # Metastasis screening: T2 and diffusion, often two b-value sets.
        "dwi_screening", "MRI ABDOMEN DWI",
        {"siemens": 2, "ge": 1, "philips": 2, "canon": 0.5},
        (_LOCALIZER, Item("t2_coronal", 0.6), Item("t2_axial", 1.0, (0.7, 0.3)),
         Item("dwi", 1.0, (0.6, 0.4)), Item("dual", 0.3)),
    ),
)


@dataclass(frozen=True)
class Stack:
    """Slice count and spacing of one series family in an archive-like cohort.

    ``spacing``: ``gapped`` 2D slices spaced ``gap`` × their thickness; ``overlapping`` thick slabs
    stepped ``step_mm`` apart; ``contiguous`` 3D partitions covering ``coverage_mm`` (the slice
    count sets the thickness: a long stack is a thin one)."""

    slices: tuple[int, int]
    spacing: str
    gap: tuple[float, float] = (1.0, 1.0)
    step_mm: tuple[float, float] = (0.0, 0.0)
    coverage_mm: tuple[float, float] = (0.0, 0.0)


# Realistic slice-location counts per series family, clipped to the cohort's slices_per_series.
STACKS = {
    "localizer": Stack((1, 5), "gapped", gap=(1.0, 2.5)),
    "2d": Stack((20, 45), "gapped", gap=(1.0, 1.3)),  # T2, T2 fat-sat, DWI/ADC, dual echo
    "mrcp_slab": Stack((1, 6), "overlapping", step_mm=(3.0, 8.0)),
    "mrcp_3d": Stack((40, 80), "contiguous", coverage_mm=(50.0, 90.0)),
    "3d": Stack((40, 120), "contiguous", coverage_mm=(160.0, 230.0)),  # the T1 dynamic
    "3d_thin": Stack((140, 200), "contiguous", coverage_mm=(160.0, 230.0)),
}


def slice_count(rng: np.random.Generator, family: str, allowed: tuple[int, int]) -> int:
    """Slice locations of a ``family`` series, clipped to ``allowed`` (inclusive).

    Most stacks stay near the short end of their range and a few run long (tall patients, extended
    coverage): the draw is skewed, which also keeps an archive-like cohort's size near the balanced
    one's."""
    lo, hi = STACKS[family].slices
    n = lo + int((hi - lo + 1) * rng.random() ** 4)
    return int(np.clip(n, allowed[0], allowed[1]))


@dataclass(frozen=True)
class Examination:
    protocol: ExaminationProtocol
    series: tuple[tuple[str, int], ...]  # (series name, times acquired), in acquisition order


def draw_examination(rng: np.random.Generator, vendor: str) -> Examination:
    """The protocol one patient gets (weighted by vendor) and which of its series were acquired.

    Every item draws its inclusion and repeat count whether or not it is acquired, so one item's
    outcome never shifts the random stream of the next."""
    weights = np.array([p.vendor_weights.get(vendor, 0.0) for p in PROTOCOLS], dtype=float)
    if weights.sum() <= 0:
        weights = np.ones(len(PROTOCOLS))
    protocol = PROTOCOLS[int(rng.choice(len(PROTOCOLS), p=weights / weights.sum()))]
    series = []
    for item in protocol.items:
        acquired = rng.random() < item.probability
        repeats = np.asarray(item.repeats, dtype=float)
        count = 1 + int(rng.choice(len(repeats), p=repeats / repeats.sum()))
        if acquired:
            series.append((item.series, count))
    return Examination(protocol, tuple(series))

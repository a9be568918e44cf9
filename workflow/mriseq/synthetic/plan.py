"""Which series a patient's examination gets, in acquisition order.

The series are put together from the building blocks of :mod:`mriseq.synthetic.sequences` (each
series' physical parameters) on stacks prescribed by :mod:`mriseq.synthetic.prescription`. Each
block fixes the label of its series from what is simulated: ``sequence`` from the signal equation
and gadolinium phase, ``orientation`` from the true slice normal, ``contrast`` post for the three
post-gadolinium T1 phases.

Two kinds of cohort share these building blocks. ``full`` gives every patient nearly every series
with similar slice counts (a balanced cohort); ``archive`` draws each patient's examination from the
protocol table in :mod:`mriseq.synthetic.protocols` and each series' slice count from its family's
range, as an archive would hold them. Archive mode only adds draws inside branches that ``full``
never takes, so a ``full`` cohort stays the same file for file.
"""

from __future__ import annotations

from mriseq.synthetic.prescription import PatientContext, make_geometry, n_slices
from mriseq.synthetic.protocols import draw_examination
from mriseq.synthetic.sequences import (
    Dynamic,
    SeriesPlan,
    b_value_sets,
    dual,
    dwi,
    localizers,
    mrcp,
    ssfse,
    t2_fs,
)


def plan_patient(ctx: PatientContext) -> list[SeriesPlan]:
    """The series of one examination, in acquisition order."""
    return _plan_archive(ctx) if ctx.archive else _plan_full(ctx)


def _plan_full(ctx: PatientContext) -> list[SeriesPlan]:
    """Nearly every series class for every patient: the balanced cohort."""
    rng, u = ctx.rng, ctx.rng.uniform
    plans = localizers(ctx)
    plans.append(ssfse(ctx, "coronal", "J"))
    plans.append(ssfse(ctx, "axial", "A"))
    if rng.random() < 0.35 and not ctx.dlds:
        plans.append(ssfse(ctx, "sagittal", "F"))
    plans.append(t2_fs(ctx))
    plans.append(mrcp(ctx, thick=rng.random() < 0.5))
    _extend(plans, dwi(ctx))
    plans += dual(ctx)

    dyn = Dynamic(ctx)
    plans.append(dyn.series("t1_pre", "pre", "B"))
    timings = [u(0, 1)]
    if ctx.dlds and rng.random() < 0.3:
        timings = [u(0, 0.3), u(0.7, 1.0)]
    plans += [dyn.arterial(timing) for timing in timings]
    portal_coronal = rng.random() < 0.4
    if portal_coronal:
        plans.append(dyn.series("t1_portal", "portal", "K", geo=dyn.stack("coronal", [256, 288]),
                                plane="coronal"))
    else:
        plans.append(dyn.series("t1_portal", "portal", "K"))
    plans.append(dyn.delayed("axial"))
    if not portal_coronal or rng.random() < 0.5:
        plans.append(dyn.delayed("coronal", dyn.stack("coronal", [256, 320])))
    if not ctx.dlds and rng.random() < 0.2:
        sgeo = make_geometry(ctx, "sagittal", n_slices(ctx, 0.7, "3d"), u(3, 4), 256, family="3d")
        # Its description names a plain delayed phase even when it is hepatobiliary (as the
        # balanced cohort always had it).
        plans.append(dyn.delayed("sagittal", sgeo, name_hepatobiliary=False))
    return plans


def _plan_archive(ctx: PatientContext) -> list[SeriesPlan]:
    """The examination of the protocol drawn for the patient (protocols.PROTOCOLS): only the series
    it acquired, each as often as it was repeated, with per-family slice counts."""
    rng, u = ctx.rng, ctx.rng.uniform
    exam = draw_examination(rng, ctx.vendor)
    ctx.examination = exam.protocol
    plans: list[SeriesPlan] = []
    dyn: Dynamic | None = None
    t2_letters = {"t2_coronal": ("coronal", "J"), "t2_axial": ("axial", "A"),
                  "t2_sagittal": ("sagittal", "F")}
    for series, count in exam.series:
        if series == "localizer":
            plans += localizers(ctx)
        elif series in t2_letters:
            plans += [ssfse(ctx, *t2_letters[series]) for _ in range(count)]
        elif series == "t2_fs":
            plans += [t2_fs(ctx) for _ in range(count)]
        elif series in ("mrcp_slab", "mrcp_3d"):
            plans += [mrcp(ctx, thick=series == "mrcp_slab") for _ in range(count)]
        elif series == "dwi":
            # Further b-value sets are other series (another b-value range), each with its ADC.
            sets = b_value_sets(ctx)
            for index in rng.choice(len(sets), size=min(count, len(sets)), replace=False):
                _extend(plans, dwi(ctx, sets[int(index)]))
        elif series == "dual":
            for _ in range(count):
                plans += dual(ctx)
        elif series.startswith("t1_"):
            dyn = dyn or Dynamic(ctx)
            if series == "t1_pre":
                plans += [dyn.series("t1_pre", "pre", "B") for _ in range(count)]
            elif series == "t1_arterial":
                windows = {1: [(0, 1)], 2: [(0, 0.4), (0.6, 1)],
                           3: [(0, 0.3), (0.35, 0.65), (0.7, 1)]}[min(count, 3)]
                plans += [dyn.arterial(u(*window)) for window in windows]
            elif series == "t1_portal":
                plans += [dyn.series("t1_portal", "portal", "K") for _ in range(count)]
            elif series == "t1_portal_coronal":
                plans += [dyn.series("t1_portal", "portal", "K", plane="coronal",
                                     geo=dyn.stack("coronal", [256, 288]))
                          for _ in range(count)]
            elif series == "t1_delayed":
                plans += [dyn.delayed("axial") for _ in range(count)]
            elif series == "t1_delayed_coronal":
                plans += [dyn.delayed("coronal", dyn.stack("coronal", [256, 320]))
                          for _ in range(count)]
            elif series == "t1_delayed_sagittal":
                plans += [dyn.delayed("sagittal", dyn.stack("sagittal", [256], factor=0.7))
                          for _ in range(count)]
            elif series == "t1_delayed_thin":
                # A thin high-resolution axial stack (e.g. hepatobiliary phase for small lesions).
                plans += [dyn.delayed("axial", dyn.stack("axial", [288, 320], family="3d_thin",
                                                         thickness=(1.0, 1.5)))
                          for _ in range(count)]
            else:
                raise ValueError(f"protocol series {series!r} is not a known building block")
        else:
            raise ValueError(f"protocol series {series!r} is not a known building block")
    return plans


def _extend(plans: list[SeriesPlan], block: list[SeriesPlan]) -> None:
    """Append a block whose ADC ``source`` indexes count within the block."""
    offset = len(plans)
    for plan in block:
        if plan.source is not None:
            plan.source += offset
    plans.extend(block)

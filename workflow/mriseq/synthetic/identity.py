"""Who a synthetic patient is, and the numbers and random names their series and files get.

The identity (name, identifiers, birth and study dates) is what the privacy checks look for in the
headers; UIDs come from :func:`mriseq.synthetic.writer.uid`. Every value is drawn from the
patient's generator, in the order the callers have always drawn them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

SURNAMES = (
    "SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ "
    "GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON WHITE "
    "HARRIS SANCHEZ CLARK RAMIREZ LEWIS ROBINSON WALKER YOUNG ALLEN KING WRIGHT SCOTT TORRES "
    "NGUYEN HILL FLORES GREEN ADAMS NELSON BAKER HALL RIVERA CAMPBELL MITCHELL CARTER ROBERTS "
    "KOWALSKI MUELLER OKAFOR TANAKA PATEL CHEN IVANOVA DUBOIS "
).split()
GIVEN_F = (
    "JANE MARY PATRICIA LINDA BARBARA ELIZABETH SUSAN JESSICA SARAH KAREN NANCY LISA MARGARET "
    "SANDRA ASHLEY EMILY DONNA MICHELLE AMANDA MELISSA ANA YUKI PRIYA FATIMA "
).split()
GIVEN_M = (
    "JOHN ROBERT MICHAEL WILLIAM DAVID RICHARD JOSEPH THOMAS CHARLES CHRISTOPHER DANIEL MATTHEW "
    "ANTHONY MARK DONALD STEVEN PAUL ANDREW JOSHUA KENNETH KEVIN BRIAN HIROSHI RAJ OMAR "
).split()


def hex_name(rng: np.random.Generator, n: int = 16) -> str:
    """``n`` random hex digits: the name of a folder or file in the generic layout."""
    return rng.bytes(n // 2).hex()


def draw_identity(rng: np.random.Generator) -> dict:
    """The patient- and study-level identifiers every header of the patient carries."""
    female = rng.random() < 0.5
    given = str(rng.choice(GIVEN_F if female else GIVEN_M))
    name = f"{rng.choice(SURNAMES)}^{given}"
    birth = dt.date(1938, 1, 1) + dt.timedelta(days=int(rng.integers(0, 62 * 365)))
    study = dt.date(2014, 1, 1) + dt.timedelta(days=int(rng.integers(0, 10 * 365)))
    age = (study - birth).days // 365
    return {
        "PatientName": name,
        "PatientID": f"MRN{int(rng.integers(10**7, 10**8))}",
        "PatientBirthDate": birth.strftime("%Y%m%d"),
        "PatientSex": "F" if female else "M",
        "PatientAge": f"{age:03d}Y",
        "AccessionNumber": f"A{int(rng.integers(10**8, 10**9))}",
        "StudyID": str(int(rng.integers(1000, 99999))),
        "StudyDate": study.strftime("%Y%m%d"),
        "StudyTime": f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00",
    }


def series_numbers(vendor: str, n: int, rng: np.random.Generator) -> list[int]:
    """The SeriesNumber of each of ``n`` series: GE and Philips count in hundreds (Philips adds
    one); the others count up by random steps of one to three (drawn from ``rng``)."""
    if vendor == "ge":
        return [100 * (i + 1) for i in range(n)]
    if vendor == "philips":
        return [100 * (i + 1) + 1 for i in range(n)]
    numbers, current = [], 0
    for _ in range(n):
        current += int(rng.choice([1, 1, 1, 2, 3]))
        numbers.append(current)
    return numbers

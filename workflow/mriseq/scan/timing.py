"""AcquisitionTime as the scan keeps it: an offset in seconds from the series' first acquisition.

The temporal rule of :mod:`mriseq.scan.volumes` tells the phases of a dynamic apart by the time
of each pass where no other header field numbers them (a 3D pass shares one AcquisitionTime).
It needs only the differences, and a clock time beside a study is a quasi-identifier, so the
shard turns each file's time of day into the offset within its series before anything is
written.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DAY = 86_400.0


def seconds_of_day(value) -> float:
    """DICOM TM (``HHMMSS.FFFFFF``, ``HH:MM:SS`` of old files, or shorter) as seconds since
    midnight; NaN where absent or unreadable."""
    if not isinstance(value, str):
        return math.nan
    text = value.strip().replace(":", "")
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or len(whole) not in (2, 4, 6) or (fraction and not fraction.isdigit()):
        return math.nan
    hours, minutes, seconds = int(whole[:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
    if hours > 23 or minutes > 59 or seconds > 60:
        return math.nan
    return hours * 3600.0 + minutes * 60.0 + seconds + (float(f"0.{fraction}") if fraction else 0)


def series_offsets(files: pd.DataFrame) -> pd.Series:
    """Each file's ``acquisition_offset`` (seconds of day) made relative to the first acquisition
    of its series; a series that runs past midnight counts the small hours after the late ones."""
    seconds = files["acquisition_offset"].astype("float64")
    first = seconds.groupby(files["series_key"]).transform("min")
    last = seconds.groupby(files["series_key"]).transform("max")
    wrapped = (last - first > DAY / 2) & (seconds < DAY / 2)
    seconds = seconds.where(~wrapped, seconds + DAY)
    start = seconds.groupby(files["series_key"]).transform("min")
    return (seconds - start).astype("float64").where(np.isfinite(seconds))

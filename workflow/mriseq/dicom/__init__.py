"""Read the header fields mriseq needs from one DICOM file, fast, and never crash on bad input.

The package is split along what changes for different reasons:

* :mod:`~mriseq.dicom.reasons`: the reject reason codes and the result type;
* :mod:`~mriseq.dicom.fields`: the tag → field table, vendor private tags, value conversion;
* :mod:`~mriseq.dicom.walker`: the fast element walker (little and big endian, the common case);
* :mod:`~mriseq.dicom.decode`: the walker's raw values as fields (numbers, text, vendor values);
* :mod:`~mriseq.dicom.fallback`: the pydicom reader for what the walker declines;
* :mod:`~mriseq.dicom.validate`: the checks both readers go through, the Siemens mosaic rule;
* :mod:`~mriseq.dicom.reader`: :func:`read_header`, which ties them together.

Slice geometry (normals, orientation labels, functional-group precedence) is shared with the
decoder and the synthetic generator and lives in :mod:`mriseq.geometry`.
"""

from mriseq.dicom.fields import ENHANCED_MR_CLASSES
from mriseq.dicom.reader import read_header
from mriseq.dicom.reasons import REASONS, HeaderResult, one_line, reject
from mriseq.dicom.validate import (
    DECODABLE_TRANSFER_SYNTAXES,
    dataset_mosaic_images,
    mosaic_grid,
    mosaic_images,
)

__all__ = [
    "DECODABLE_TRANSFER_SYNTAXES",
    "ENHANCED_MR_CLASSES",
    "REASONS",
    "HeaderResult",
    "dataset_mosaic_images",
    "mosaic_grid",
    "mosaic_images",
    "one_line",
    "read_header",
    "reject",
]

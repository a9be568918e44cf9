"""Pseudonymisation of identifiers with a keyed hash (HMAC-SHA256).

Patient IDs and DICOM UIDs are replaced by ``HMAC(key, value)`` truncated to 16 hex digits: stable
for a given key (so reruns and datasets join), not reversible without the key. The key comes from
the environment variable named in ``privacy.key_env`` when set, otherwise from ``privacy.key``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

# PS3.15 basic-profile attributes that identify a person or a visit; never written to results.
IDENTIFYING_KEYWORDS = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "OtherPatientIDs",
        "OtherPatientNames",
        "PatientMotherBirthName",
        "MilitaryRank",
        "EthnicGroup",
        "ReferringPhysicianName",
        "PerformingPhysicianName",
        "OperatorsName",
        "InstitutionName",
        "InstitutionAddress",
        "AccessionNumber",
        "StudyID",
        "StudyDate",
        "SeriesDate",
        "AcquisitionDate",
        "ContentDate",
        "StudyTime",
        "SeriesTime",
        "AcquisitionTime",
        "ContentTime",
        "DeviceSerialNumber",
        "StationName",
    }
)


def resolve_key(key_env: str, key: str) -> bytes:
    """The pseudonymisation key: ``$key_env`` if set and non-empty, else the configured ``key``."""
    return (os.environ.get(key_env) or key).encode("utf-8")


def pseudonym(value: object, key: bytes, length: int = 16) -> str | None:
    """Keyed, stable pseudonym of ``value`` (``None`` stays ``None``)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:length]

"""Real-DICOM regression corpus built from pinned package-registry artifacts (see README.md)."""

"""Builder of a hostile-input DICOM corpus (malformed and unusual files) for the scan tests."""

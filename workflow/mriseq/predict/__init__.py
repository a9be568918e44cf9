"""Predict mode: one row per volume of an unlabelled archive from the primary family's stored
predictions, with the header evidence beside it, and a tree of links sorted by class
(``series``)."""

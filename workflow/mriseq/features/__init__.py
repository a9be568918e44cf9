"""Per-slice feature tables of the forest and fusion families: the intensity histogram of each
slice and the header features of its file (``header``), one table per dataset (``tables``)."""

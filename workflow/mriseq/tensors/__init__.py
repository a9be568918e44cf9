"""Preprocess: the images of each shard's scanned files → a memory-mappable tensor and its index.

Per shard the files of the scan's manifest are decoded, resized, windowed and appended as
(size, size) rows of ``{shard}.npy``, with an index that names each row's series, SOP instance
and frame; files that yield no row are rejects. The merge joins the shard indexes of a
dataset into one index with volumes and reference labels. The modules:

* :mod:`~mriseq.tensors.frames`: one file's pixels → windowed tensors (resize, percentile window,
  aspect, blank frames); the per-file work that runs in the worker processes;
* :mod:`~mriseq.tensors.tables`: columns of the index and rejects tables, slice order in a volume;
* :mod:`~mriseq.tensors.shard`: one shard's job: plan the files, decode them in parallel
  (:mod:`mriseq.parallel`), append to the ``.npy`` file, write index and rejects;
* :mod:`~mriseq.tensors.merge`: a dataset's shard indexes → one index, its rejects, QC summary.
"""

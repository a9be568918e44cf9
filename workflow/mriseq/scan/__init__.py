"""Scan / QC: the DICOM headers of a raw directory → the manifests every later stage reads.

The raw directory is cut into shards of top-level entries (:mod:`~mriseq.scan.sharding`). Per
shard, every file's header is read into a files table or, with a reason, a rejects table; the
merge joins the shards into the dataset's manifests (files, series, volumes, rejects, QC summary)
with the reference labels. No raw patient ID or UID is written anywhere. The modules:

* :mod:`~mriseq.scan.sharding`: top-level entries → shards, by a stable hash of their names;
* :mod:`~mriseq.scan.tables`: columns and dtypes of the files and rejects tables;
* :mod:`~mriseq.scan.headers`: listing a shard's files, one file's header → a files or rejects
  row, many files in worker processes (:mod:`mriseq.parallel`);
* :mod:`~mriseq.scan.privacy`: pseudonymisation of identifiers with a keyed hash;
* :mod:`~mriseq.scan.shard`: one shard's job: read its headers, per-shard checks, write the tables;
* :mod:`~mriseq.scan.volumes`: the image stacks inside a series, told apart by the volume rules;
* :mod:`~mriseq.scan.manifests`: the shards of a dataset → files, series, volumes, rejects and QC
  summary, with the labels;
* :mod:`~mriseq.scan.layouts`: dataset layouts (how a raw tree is arranged) and their reference
  labels, found by name in its registry.
"""

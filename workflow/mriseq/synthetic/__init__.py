"""Synthetic abdominal MRI cohorts written as real DICOM files (DESIGN.md §3).

Import the submodules directly (``mriseq.synthetic.cohort.generate_cohort``); this package file
stays empty so that reading ``layout`` at Snakefile parse time imports nothing heavy.
"""

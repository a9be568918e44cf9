"""mriseq: classify MRI series (pulse sequence, plane, IV contrast) from pixels.

The package holds all logic; the Snakemake rules and ``workflow/scripts`` are thin glue around it.
Nothing here imports TensorFlow at import time: modules that need it import it inside functions.
"""

__version__ = "0.1.0"

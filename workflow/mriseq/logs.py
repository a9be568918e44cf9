"""Logging for workflow scripts: everything a script prints goes to the rule's ``log:`` file."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout


@contextmanager
def log_to(path: str | os.PathLike | None) -> Iterator[logging.Logger]:
    """Send stdout, stderr and the ``mriseq`` logger to ``path`` for the duration of the block.

    Exceptions are logged with their traceback before they propagate, so a failed job's log says
    why.
    """
    logger = logging.getLogger("mriseq")
    if path is None:
        yield logger
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", buffering=1) as handle:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        previous_level = logger.level
        logger.setLevel(logging.INFO)
        try:
            with redirect_stdout(handle), redirect_stderr(handle):
                try:
                    yield logger
                except BaseException:
                    logger.exception("job failed")
                    raise
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous_level)


def progress(iterable, **kwargs):
    """A tqdm progress bar that writes to the current stderr (the job log inside ``log_to``)."""
    from tqdm import tqdm

    kwargs.setdefault("mininterval", 5.0)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, **kwargs)

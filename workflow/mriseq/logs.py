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

    Both the Python streams and the process's file descriptors 1 and 2 are redirected, so output
    written by compiled code (TensorFlow's C++ logging, codec warnings) lands in the job log too,
    not in the terminal of the Snakemake run. Exceptions are logged with their traceback before
    they propagate, so a failed job's log says why.
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
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fds = {fd: os.dup(fd) for fd in (1, 2)}
        try:
            for fd in saved_fds:
                os.dup2(handle.fileno(), fd)
            with redirect_stdout(handle), redirect_stderr(handle):
                try:
                    yield logger
                except BaseException:
                    logger.exception("job failed")
                    raise
        finally:
            handle.flush()
            for fd, saved in saved_fds.items():
                os.dup2(saved, fd)
                os.close(saved)
            logger.removeHandler(handler)
            logger.setLevel(previous_level)


def progress(iterable, **kwargs):
    """A tqdm progress bar that writes to the current stderr (the job log inside ``log_to``)."""
    from tqdm import tqdm

    kwargs.setdefault("mininterval", 5.0)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, **kwargs)

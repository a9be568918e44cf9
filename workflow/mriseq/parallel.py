"""One order-preserving parallel map, shared by the scan and the preprocess jobs.

Both jobs map a CPU-bound Python function over the files of a shard: header reads in the scan,
pixel decoding in the preprocess. Threads would serialise on the GIL, so the work goes to worker
processes, forked so that they inherit the modules already imported (spawn would import pydicom,
numpy and PIL again in every worker). Items travel in chunks of ``chunksize`` consecutive items,
one chunk per task, to amortise the inter-process traffic of small results. Results come back in
the order of the items whichever worker made them, so what a job writes does not depend on the
number of workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from mriseq.logs import progress as progress_bar

Item = TypeVar("Item")
Result = TypeVar("Result")


def parallel_map(function: Callable[[Item], Result], items: Sequence[Item], workers: int, *,
                 chunksize: int = 1, blas_threads: int | None = None,
                 progress: str | None = None, unit: str = "item") -> Iterator[Result]:
    """Yield ``function(item)`` for each item, in item order, computed by ``workers`` processes.

    The items go out ``chunksize`` at a time; with one worker, or items for a single chunk, the
    map runs in this process, since a pool would only add its start-up. ``function`` must be
    picklable (a module-level function or a ``functools.partial`` of one). ``blas_threads`` caps
    the BLAS threads of each worker (and of this process while a serial map runs): the workers
    share the job's cores. ``progress`` labels a progress bar in the job log that counts
    ``unit``s; without it there is none. An exception raised by ``function`` reaches the caller
    when its result would have been yielded.
    """
    chunksize = max(1, int(chunksize))
    tasks = -(-len(items) // chunksize)
    workers = min(int(workers), tasks)
    if workers <= 1:
        with _blas_limit(blas_threads):
            yield from _reported(map(function, items), len(items), progress, unit)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context(method),
        initializer=_limit_blas if blas_threads else None,
        initargs=(blas_threads,) if blas_threads else (),
    )
    try:
        # The first submission forks the workers: before the progress bar starts its thread.
        results = pool.map(function, items, chunksize=chunksize)
        yield from _reported(results, len(items), progress, unit)
    finally:
        # A consumer that stops early (an error while writing) leaves queued chunks: drop them.
        pool.shutdown(wait=True, cancel_futures=True)


def _reported(results: Iterable[Result], total: int, label: str | None,
              unit: str) -> Iterator[Result]:
    if label is None:
        return iter(results)
    return iter(progress_bar(results, total=total, desc=label, unit=unit))


def _blas_limit(threads: int | None):
    if not threads:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(threads)


def _limit_blas(threads: int) -> None:
    """Worker initialiser: at most ``threads`` BLAS threads for the worker's whole life."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)

"""Elementwise work on both cores: the optimizer's step, and the likelihood in evaluations.

numpy's elementwise operations run on one core, but they release the GIL, so the pieces of a
long vector can be updated at the same time from several threads, with the same result, bit
for bit, as one whole-vector update (every entry is computed on its own).

That only pays if the other core is free, which needs OpenBLAS's idle threads to sleep soon
after a matrix product (``numpyvae.engine.openblas``). :func:`enabled` says whether they do:
numpy built with OpenBLAS, loaded with a short OPENBLAS_THREAD_TIMEOUT, on more than one core.
Otherwise everything runs in the calling thread.
"""
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import openblas

# Below this many entries a thread costs more than it saves.
MIN_CHUNK = 1 << 16
_ALIGN = 16                     # piece edges on 64-byte boundaries for float32

# True or False overrides what enabled() finds (the tests use it); None leaves it to enabled().
FORCE = None
_pool = None


def _numpy_uses_openblas():
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except (AttributeError, KeyError, TypeError):
        return False
    return "openblas" in str(blas).lower()


@functools.lru_cache(maxsize=None)     # read once: pieces are cut on every training step
def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=None)
def _found():
    return _cores() > 1 and _numpy_uses_openblas() and openblas.short_timeout_in_force()


def enabled():
    """Whether elementwise work is split between the cores (see the module doc)."""
    return _found() if FORCE is None else bool(FORCE)


def _split(n, parts, align=1):
    """range(n) cut into ``parts`` slices (one when threads are off), edges multiples of align."""
    parts = max(1, parts) if enabled() else 1
    edges = [n * i // parts // align * align for i in range(parts)] + [n]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def chunks(size):
    """Slices of range(size): one per core when threads are on and it is worth it."""
    return _split(size, min(_cores(), size // MIN_CHUNK), _ALIGN)


def rows(n, row_size):
    """Slices of range(n), for n rows of ``row_size`` entries each: one per core when threads
    are on and each part would hold at least MIN_CHUNK entries."""
    return _split(n, min(_cores(), n, n * row_size // MIN_CHUNK))


def run(tasks):
    """Run callables together, the first in this thread and the rest in a pool; wait for all.

    A task's error is raised after every task has finished, so that nothing is still writing
    when this returns or raises.
    """
    global _pool
    if _pool is None and len(tasks) > 1:
        _pool = ThreadPoolExecutor(max_workers=_cores() - 1, thread_name_prefix="numpyvae")
    futures = [_pool.submit(task) for task in tasks[1:]]
    try:
        tasks[0]()
    finally:
        for future in futures:
            future.exception()      # wait for every task, even when this thread's failed
    for future in futures:
        future.result()             # raises a task's error


def elementwise(function, arrays):
    """Call ``function(*pieces)`` on matching pieces of equally shaped arrays, one per core.

    Parameters
    ----------
    function : callable
        An elementwise computation that changes some of its arrays in place, such as an
        optimizer's update rule.
    arrays : sequence of ndarray or None
        Arrays of one shape; None entries are passed through as None. When all are
        C-contiguous and long enough, each thread gets the same slice of every array,
        flattened; otherwise ``function`` runs once on the whole arrays, in this thread.
    """
    present = [a for a in arrays if a is not None]
    size = present[0].size
    if not all(a.flags.c_contiguous for a in present):
        function(*arrays)
        return
    pieces = chunks(size)
    if len(pieces) == 1:
        function(*arrays)
        return

    def task(piece):
        function(*(None if a is None else a.reshape(-1)[piece] for a in arrays))

    run([functools.partial(task, piece) for piece in pieces])

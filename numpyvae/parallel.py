"""Elementwise work on both cores: the optimizer step, and the likelihood in evaluations.

numpy's elementwise operations run on one core, but they release the GIL, so the pieces of a
long vector can be updated at the same time from several threads, with the same result, bit
for bit, as one whole-vector update (every entry is computed on its own).

That only pays if the other core is free. After each matrix product, OpenBLAS's worker thread
keeps spinning for about 0.1 s waiting for the next one, holding the core. The package's
``__init__`` therefore asks OpenBLAS (through OPENBLAS_THREAD_TIMEOUT, read when numpy loads
it) to let its threads sleep after about 0.2 ms instead: long enough to stay awake between the
matrix products of one training step (waking a sleeping thread costs tens of microseconds on
a virtual machine), short enough to free the core for the optimizer. :data:`ENABLED` says
whether that request could take effect: numpy with OpenBLAS, loaded after numpyvae set the
variable (as in the ``numpyvae`` command) or with the variable set by the user. Otherwise
everything runs in one thread, as fast as before.
"""
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Below this many entries a thread costs more than it saves.
MIN_CHUNK = 1 << 16
_ALIGN = 16                     # chunk edges on 64-byte boundaries for float32
TIMEOUT_VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
# OpenBLAS threads sleep after 2^19 cycles (about 0.2 ms). Measured per training step: 2^18
# was 6-7% faster than 2^12 (a few microseconds), and 2^19 about 1% faster than 2^18 (paired
# blocks of steps in two processes taking turns); 2^14 and 2^16 were no better than 2^12,
# 2^17 and 2^20 no better than 2^18. A longer timeout also switches the optimizer's threads
# off (configure); with them kept on, 2^20 was 3% slower than 2^19 (docs/results.md).
SHORT_TIMEOUT = 19


def _blas_threads_sleep(numpy_was_loaded, variable_was_set):
    """Whether OpenBLAS will let its threads sleep between products (see the module doc)."""
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except (AttributeError, KeyError, TypeError):
        return False
    if "openblas" not in str(blas).lower():
        return False
    if numpy_was_loaded and not variable_was_set:
        return False            # OpenBLAS read its settings before ours existed
    try:
        return int(os.environ.get(TIMEOUT_VARIABLE, "")) <= SHORT_TIMEOUT
    except ValueError:
        return False


@functools.lru_cache(maxsize=None)     # read once: chunks() runs on every training step
def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        return os.cpu_count() or 1


ENABLED = False                 # set by numpyvae/__init__.py through configure()
_pool = None


def configure(numpy_was_loaded, variable_was_set):
    global ENABLED
    ENABLED = _cores() > 1 and _blas_threads_sleep(numpy_was_loaded, variable_was_set)


def _split(n, parts, align=1):
    """range(n) cut into ``parts`` slices (one when threads are off), edges multiples of align."""
    parts = max(1, parts) if ENABLED else 1
    edges = [n * i // parts // align * align for i in range(parts)] + [n]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def chunks(size):
    """Slices of range(size): one per core when threads are on and it is worth it."""
    return _split(size, min(_cores(), size // MIN_CHUNK), _ALIGN)


def rows(n, row_size):
    """Slices of range(n), for n rows of ``row_size`` entries each: one per core when threads
    are on and each part would hold at least MIN_CHUNK entries."""
    return _split(n, min(_cores(), n, n * row_size // MIN_CHUNK))


def run(tasks, meanwhile=None):
    """Run callables together, the first in this thread and the rest in a pool; wait for all.

    ``meanwhile``, if given, is called in this thread after the first task, while the pool
    may still be running the others: a place for work that touches nothing they use. (A
    task handed to the pool's sleeping thread starts 0.1-0.3 ms late on a virtual machine,
    so this thread usually finishes first and would otherwise wait.)
    """
    global _pool
    if _pool is None and len(tasks) > 1:
        _pool = ThreadPoolExecutor(max_workers=_cores() - 1, thread_name_prefix="numpyvae")
    futures = [_pool.submit(task) for task in tasks[1:]]
    try:
        tasks[0]()
        if meanwhile is not None:
            meanwhile()
    finally:
        for future in futures:
            future.exception()      # wait for every task, even when this thread's failed
    for future in futures:
        future.result()             # raises a task's error

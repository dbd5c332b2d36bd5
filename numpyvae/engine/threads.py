"""Elementwise work on both cores: the optimizer's step, and the likelihood's loss and gradient.

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
# The largest piece an update rule is called on. The rules make temporary arrays the size of
# their piece, and pieces of at most 2^18 entries (1 MB of float32) made the training step
# 2% faster for the default network (a thread's share cut in two) and 6% faster for
# 784-500-500-20 (in three), measured in paired blocks of steps; pieces of a quarter of the
# default's share were 3% slower.
MAX_PIECE = 1 << 18
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
    """Call ``function(*pieces)`` on matching pieces of equally shaped arrays, on every core.

    Parameters
    ----------
    function : callable
        An elementwise computation that changes some of its arrays in place, such as an
        optimizer's update rule.
    arrays : sequence of ndarray or None
        Arrays of one shape; None entries are passed through as None. When all are
        C-contiguous, they are flattened and each thread gets the same share of every
        array (one share when threads are off or the arrays are short), which it updates in
        pieces of at most MAX_PIECE entries; otherwise ``function`` runs once on the whole
        arrays, in this thread.
    """
    present = [a for a in arrays if a is not None]
    if not all(a.flags.c_contiguous for a in present):
        function(*arrays)
        return
    flat = [None if a is None else a.reshape(-1) for a in arrays]

    def task(share):
        n = share.stop - share.start
        parts = -(-n // MAX_PIECE)
        for i in range(parts):
            piece = slice(share.start + n * i // parts, share.start + n * (i + 1) // parts)
            function(*(None if a is None else a[piece] for a in flat))

    run([functools.partial(task, share) for share in chunks(present[0].size)])


def over_examples(function, x, decoded, dnll=None):
    """``function(x, decoded)``, or ``function(dnll, x, decoded)``, with the B examples split
    between the cores when there is enough work.

    Parameters
    ----------
    function : callable
        A likelihood's loss, returning an array (..., B), or its gradient, returning a dict of
        arrays (..., B, D). Its work is elementwise over the examples: each example's numbers
        are computed on their own, so the split changes no number.
    x : ndarray, shape (B, D)
    decoded : dict
        The decoder's output: arrays (..., B, D) are split along their examples' axis, other
        values (scalars, None) are passed whole.
    dnll : ndarray, shape (..., B), optional
        The gradient's seed, split like the examples.

    Returns
    -------
    What ``function`` returns, its pieces put together along the examples' axis. A gradient
    of fewer than two axes belongs to a parameter shared by every example (gaussian-shared's
    sigma_x): its pieces are added, as the gradient of a shared parameter is the sum over the
    examples.
    """
    B = x.shape[0]
    size = next(v.size for v in decoded.values() if isinstance(v, np.ndarray))
    parts = rows(B, size // max(B, 1))
    if len(parts) == 1:
        return function(x, decoded) if dnll is None else function(dnll, x, decoded)
    results = [None] * len(parts)

    def task(i, part):
        piece = {k: v[..., part, :] if isinstance(v, np.ndarray) and v.ndim >= 2 else v
                 for k, v in decoded.items()}
        results[i] = (function(x[part], piece) if dnll is None
                      else function(dnll[..., part], x[part], piece))

    run([functools.partial(task, i, part) for i, part in enumerate(parts)])
    if isinstance(results[0], dict):
        return {k: np.concatenate([r[k] for r in results], axis=-2) if results[0][k].ndim >= 2
                else np.sum([r[k] for r in results], axis=0, dtype=results[0][k].dtype)
                for k in results[0]}
    return np.concatenate(results, axis=-1)

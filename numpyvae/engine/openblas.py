"""Let OpenBLAS's idle threads sleep soon after a matrix product: a setting of the program.

After each matrix product, OpenBLAS's worker thread keeps spinning for about 0.1 s, waiting
for the next one, and holds the second core. The optimizer's step runs on both cores
(``numpyvae.engine.threads``), which pays only if that core is free. OpenBLAS reads the
variable OPENBLAS_THREAD_TIMEOUT once, when numpy loads it: with 19, its threads sleep after
2^19 cycles (about 0.2 ms), long enough to stay awake between the products of one training
step and short enough to free the core for the optimizer.

This is a setting of the process, so the library never makes it on import. The ``numpyvae``
command and ``python -m numpyvae`` call :func:`configure` before anything imports numpy. A
notebook or a script of your own does the same in its first lines::

    import numpyvae
    numpyvae.configure_openblas()      # before numpy is imported
    import numpy as np

or starts Python with the variable set: ``OPENBLAS_THREAD_TIMEOUT=19 python train.py``.

This module imports nothing from numpy.
"""
import os
import sys

VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
# 2^19 cycles, about 0.2 ms. Measured per training step: 2^18 was 6-7% faster than 2^12 (a
# few microseconds), and 2^19 about 1% faster than 2^18; 2^14 and 2^16 were no better than
# 2^12, and 2^20 was 3% slower than 2^19 with the optimizer's threads on (docs/results.md).
SHORT_TIMEOUT = 19

_set_before_numpy = False


def configure():
    """Set OPENBLAS_THREAD_TIMEOUT=19 for this process, unless it is set already.

    Call it before numpy is imported: OpenBLAS reads the variable when numpy loads it.

    Returns
    -------
    bool
        Whether the setting can take effect: False when numpy was imported already, and then
        nothing is changed.
    """
    global _set_before_numpy
    if "numpy" in sys.modules:
        return False
    os.environ.setdefault(VARIABLE, str(SHORT_TIMEOUT))
    _set_before_numpy = True
    return True


def _initial_environment():
    """The variables this process started with (Linux), or None where they cannot be read."""
    try:
        with open("/proc/self/environ", "rb") as f:
            entries = f.read().split(b"\0")
    except OSError:
        return None
    pairs = (entry.split(b"=", 1) for entry in entries if b"=" in entry)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def short_timeout_in_force():
    """Whether OpenBLAS was loaded with a timeout of at most SHORT_TIMEOUT.

    That is so when :func:`configure` ran before numpy was imported, or when the process
    started with the variable set (where the starting environment cannot be read, the
    variable's present value is trusted).
    """
    if _set_before_numpy:
        value = os.environ.get(VARIABLE, "")
    else:
        initial = _initial_environment()
        value = (initial if initial is not None else os.environ).get(VARIABLE, "")
    try:
        return int(value) <= SHORT_TIMEOUT
    except ValueError:
        return False

"""Checks of optimizer arguments; each error names the argument, what was expected and what came."""
import math

import numpy as np


def as_real(name, value, expected):
    """``value`` as a Python float, if it is a real number; else a ValueError naming ``name``.

    Accepts ints, floats and numpy scalars or 0-d arrays (what ``np.load`` gives back), not
    bools or strings. A Python float keeps float32 arrays float32 (a numpy float64 would not).
    """
    ok = not isinstance(value, (bool, np.bool_, str, bytes))
    if ok:
        try:
            ok = np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf"
        except Exception:  # noqa: BLE001 - whatever np.ndim chokes on is not a number
            ok = False
    if not ok:
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return float(value)


def check_positive(name, value):
    """A finite float > 0 (a learning rate, an eps)."""
    out = as_real(name, value, "a finite number > 0")
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return out


def check_nonnegative(name, value):
    """A finite float >= 0 (a weight decay, an initial accumulator)."""
    out = as_real(name, value, "a finite number >= 0")
    if not (math.isfinite(out) and out >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return out


def check_decay_rate(name, value):
    """A float in [0, 1) (a momentum, an Adam beta)."""
    out = as_real(name, value, "a number in [0, 1)")
    if not 0 <= out < 1:
        raise ValueError(f"{name} must be a number in [0, 1); got {value!r}")
    return out


def check_params(params):
    """``params`` as a dict of name -> float ndarray that can be updated in place."""
    expected = "a non-empty dict of name -> float ndarray"
    if not hasattr(params, "items"):
        raise ValueError(f"params must be {expected}; got {type(params).__name__}")
    params = dict(params.items())
    if not params:
        raise ValueError(f"params must be {expected}; got an empty dict")
    for name, theta in params.items():
        if not isinstance(name, str):
            raise ValueError(f"params must be {expected}; got the name {name!r}")
        if not isinstance(theta, np.ndarray):
            raise ValueError(f"params[{name!r}] must be a numpy ndarray (the optimizer updates "
                             f"it in place); got {type(theta).__name__}")
        if theta.dtype.kind != "f":
            raise ValueError(f"params[{name!r}] must have a float dtype; got {theta.dtype}")
        if not theta.flags.writeable:
            raise ValueError(f"params[{name!r}] must be writeable (the optimizer updates it "
                             f"in place); got a read-only array")
    return params

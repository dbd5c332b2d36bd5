"""Argument checks whose errors say which argument, what was expected, and what came."""
import numbers

import numpy as np


def positive_int(name, value, minimum=1):
    """``value`` as an int >= minimum, or a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def nonnegative_float(name, value):
    """``value`` as a finite float >= 0, or a ValueError naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}") from None
    if not np.isfinite(out) or out < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return out


def positive_float(name, value):
    """``value`` as a finite float > 0, or a ValueError naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}") from None
    if not (np.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return out


def generator(name, rng):
    """``rng`` itself if it is a numpy Generator, or a ValueError naming ``name``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator (numpy.random.default_rng("
                         f"seed)); got {type(rng).__name__}")
    return rng


def float_array(name, value, shape, dtype):
    """``value`` as a finite array of ``dtype`` whose shape matches ``shape``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    shape : tuple of (int or str)
        The expected shape; an int entry must match exactly, a str entry (such as ``"B"``)
        names a free size >= 1.
    dtype : numpy float dtype
        The array is converted to it (without a copy when it already has it).
    """
    expected = "(" + ", ".join(str(s) for s in shape) + ")"
    try:
        arr = np.asarray(value)
    except Exception as err:  # noqa: BLE001 - whatever asarray chokes on
        raise ValueError(f"{name} must be an array of shape {expected}; got {value!r}") from err
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim != len(shape) or any(
            (isinstance(s, int) and n != s) or n < 1 for n, s in zip(arr.shape, shape)):
        raise ValueError(f"{name} must have shape {expected}; got {arr.shape}")
    arr = arr.astype(dtype, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} must be finite; got {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
    return arr


def labels(name, value, count, n_classes):
    """``value`` as an integer array of shape (count,) with every entry in 0..n_classes-1.

    Integers only: floats, even whole ones, and booleans are refused, so that a batch of
    images passed by mistake in place of the labels is caught. Returns an int64 array.
    """
    try:
        arr = np.asarray(value)
    except Exception as err:  # noqa: BLE001 - whatever asarray chokes on
        raise ValueError(f"{name} must be an array of integer labels of shape ({count},); "
                         f"got {value!r}") from err
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer labels 0..{n_classes - 1}; got dtype "
                         f"{arr.dtype}")
    if arr.shape != (count,):
        raise ValueError(f"{name} must have shape ({count},), one label per example; "
                         f"got shape {arr.shape}")
    outside = (arr < 0) | (arr >= n_classes)
    if outside.any():
        index = int(np.argmax(outside))
        raise ValueError(f"{name} must hold labels 0..{n_classes - 1} (n_classes = "
                         f"{n_classes}); got {arr[index]} at index {index}")
    return arr.astype(np.int64, copy=False)


def describe(value):
    """A short description of an argument for an error message: an array by its shape."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"an array of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

"""Numerically stable elementwise functions: sigmoid and softplus.

The textbook forms overflow: ``1 / (1 + exp(-a))`` at a = -1000 computes exp(1000), and
``log(1 + exp(a))`` at a = 1000 does the same. Both are rewritten so that ``exp`` only ever
sees a non-positive argument (derivation, eq. (17)). They keep the dtype of their input, so a
float32 model stays float32.
"""
import numpy as np


def sigmoid(a):
    """Logistic function 1 / (1 + exp(-a)), elementwise, without overflow.

    Parameters
    ----------
    a : ndarray of any shape

    Returns
    -------
    ndarray, same shape and dtype as ``a``, in [0, 1].

    Notes
    -----
    With e = exp(-|a|) <= 1, eq. (17):

    .. math:: \\sigma(a) = 1/(1+e) \\text{ if } a \\ge 0, \\quad e/(1+e) \\text{ otherwise}.
    """
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def softplus(a):
    """log(1 + exp(a)), elementwise, without overflow.

    Parameters
    ----------
    a : ndarray of any shape

    Returns
    -------
    ndarray, same shape and dtype as ``a``, non-negative.

    Notes
    -----
    Eq. (17): :math:`\\log(1+e^a) = \\max(a, 0) + \\log(1 + e^{-|a|})`.
    """
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))

"""Numerically stable elementwise functions: sigmoid and softplus.

The textbook forms overflow: ``log(1 + exp(a))`` at a = 1000 computes exp(1000) = inf, and
returns inf. softplus is rewritten so that nothing overflows; in ``1 / (1 + exp(-a))`` the
overflow is harmless, since 1 / inf = 0 is the right limit (derivation, eq. (17)). Both keep
the dtype of their input, so a float32 model stays float32. softplus comes in two forms:
elementwise from a alone, and summed over the last axis from a and sigmoid(a), for a caller
that has both and needs only the sum (the Bernoulli loss in training: far fewer logs).
"""
import numpy as np


def positive_part(a):
    """max(a, 0), elementwise, in the dtype of ``a`` (relu, and softplus's first term).

    Computed against a row of zeros broadcast over the leading axes rather than against the
    scalar 0: numpy's vectorized loop then takes it, two to three times faster for a batch.
    """
    a = np.asarray(a)
    return np.maximum(a, np.zeros(a.shape[-1:], dtype=a.dtype))


def sigmoid(a):
    """Logistic function 1 / (1 + exp(-a)), elementwise, in the dtype of ``a``.

    Parameters
    ----------
    a : ndarray of any shape

    Returns
    -------
    ndarray, same shape as ``a`` (float64 for integers), in [0, 1].

    Notes
    -----
    Eq. (17): the textbook form needs no rewriting. Where exp(-a) overflows (a below -88.7 in
    float32, -709.8 in float64), it is inf, and 1 / (1 + inf) = 0 is sigmoid(a) to within
    the dtype's absolute precision, which is what a gradient sigmoid(a) - x needs; elsewhere
    the result is right to a few units of relative precision (or, below the dtype's smallest
    normal number, to within that number, as the tests check). The overflow is intended, so
    its warning is silenced, as are the underflows (exp(-a) far above 0, and the tiny
    results far below), which numpy ignores by default. (The form 1/2 + 1/2 tanh(a / 2)
    never overflows, but tanh costs more than exp: 360-460 against 230-280 us per 128x784
    batch on a machine without AVX-512.)
    """
    a = np.asarray(a)
    y = np.empty(a.shape, np.result_type(a, 1.0))
    np.negative(a, out=y)
    with np.errstate(over="ignore", under="ignore"):
        np.exp(y, out=y)            # e^-a: inf for a far below 0, see the Notes
        y += 1
        np.reciprocal(y, out=y)     # 1 / (1 + e^-a); 1 / inf = 0
    return y


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
    y = np.abs(a)
    np.negative(y, out=y)
    np.exp(y, out=y)                # exp(-|a|) <= 1: it cannot overflow
    np.log1p(y, out=y)
    y += positive_part(a)
    return y


# softplus_sum_from_sigmoid folds its columns in two this many times: its products then have
# at most 2^4 = 16 factors, each in [1/2, 1], so they are at least 2^-16, far from underflow.
LOG_FOLDS = 4


def softplus_sum_from_sigmoid(a, s):
    """The sum over the last axis of log(1 + exp(a)), from a and s = sigmoid(a), without
    overflow.

    Parameters
    ----------
    a : ndarray, shape (..., D)
    s : ndarray, same shape and dtype as ``a``
        sigmoid(a), as :func:`sigmoid` computes it.

    Returns
    -------
    ndarray, shape (...), the dtype of ``a``: sum over d of softplus(a_d).

    Notes
    -----
    Eq. (17), its form from the sigmoid:
    :math:`\\log(1+e^a) = \\max(a, 0) - \\log \\max(s, 1 - s)`. The larger of s and 1 - s is
    at least 1/2, so its log is accurate to the dtype's absolute precision and never
    log(0): in float32, s is exactly 1 from a = 17 on, and then the log is 0 and the result
    a. The decoder has sigmoid(a) for the gradient anyway, and only the sum over the pixels
    is needed, so the logs are summed as the log of a product: the columns are folded in
    two LOG_FOLDS times, each half multiplied into the other entry by entry, and one log is
    taken per entry of the products, which have at most 2^LOG_FOLDS factors: a sixteenth of
    the logs. Such a product of factors in [1/2, 1] cannot underflow, and rounds about as
    much as the sum of the logs would.
    """
    q = np.subtract(1, s)           # 1 - s = sigmoid(-a)
    np.maximum(q, s, out=q)         # max(s, 1 - s), in [1/2, 1]
    width = q.shape[-1]
    for _ in range(LOG_FOLDS):      # fold the columns in two, multiplying the halves
        half = width // 2
        q[..., :half] *= q[..., width - half:width]   # an odd width keeps its middle column
        width -= half
    product = q[..., :width]
    log_sums = np.log(product, out=product).sum(axis=-1)   # sum_d log max(s_d, 1 - s_d)
    return positive_part(a).sum(axis=-1) - log_sums

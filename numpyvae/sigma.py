"""How a network output s becomes a standard deviation sigma, and the step dsigma/ds back.

The model's backward first computes dL/dsigma exactly as derived (eqs. (11), (14), (21)),
then multiplies by dsigma/ds here, as a separate step.

- ``log_var`` (the encoder's default): s = log sigma^2, sigma = exp(s/2), eq. (6).
- ``softplus``: sigma = floor + softplus(s), eq. (8) (the decoder's learned sigma_x uses it
  with a floor > 0, eq. (22)).
"""
import numpy as np

from .stable import sigmoid, softplus

SIGMA_PARAMETERIZATIONS = ("log_var", "softplus")


def log_var_forward(s):
    """sigma = exp(s / 2), with s = log sigma^2.

    Parameters
    ----------
    s : ndarray, any shape

    Returns
    -------
    sigma : ndarray, same shape as s
    cache : sigma itself, since dsigma/ds = sigma / 2
    """
    sigma = np.exp(s / 2)                          # eq. (6)
    return sigma, sigma


def log_var_backward(dsigma, cache):
    """dL/ds from dL/dsigma through sigma = exp(s/2), eq. (7); with the KL's eq. (14) it gives
    eq. (15). The cache is sigma."""
    sigma = cache
    # BEGIN SOLUTION
    return dsigma * sigma / 2                      # eq. (7): dsigma/ds = exp(s/2) / 2
    # END SOLUTION


def softplus_forward(s, floor=0.0):
    """sigma = floor + softplus(s).

    Parameters
    ----------
    s : ndarray, any shape
    floor : float >= 0
        The smallest sigma can get; it is approached as s -> -inf.

    Returns
    -------
    sigma : ndarray, same shape as s
    cache : s, since dsigma/ds = sigmoid(s)
    """
    sigma = floor + softplus(s)                    # eqs. (8), (22)
    return sigma, s


def softplus_backward(dsigma, cache):
    """dL/ds from dL/dsigma through sigma = floor + softplus(s), eq. (8). The cache is s."""
    s = cache
    # BEGIN SOLUTION
    return dsigma * sigmoid(s)                     # eq. (8): dsigma/ds = sigmoid(s)
    # END SOLUTION


# The encoder's softplus sigma keeps this floor, as the notes' code sample does: without it
# sigma underflows to 0 for very negative s, and log sigma in the KL becomes -inf.
ENCODER_SOFTPLUS_FLOOR = 1e-6


def get_sigma_parameterization(name):
    """(forward, backward) for a parameterization name, with a clear error otherwise."""
    table = {"log_var": (log_var_forward, log_var_backward),
             "softplus": (lambda s: softplus_forward(s, ENCODER_SOFTPLUS_FLOOR),
                          softplus_backward)}
    if name not in table:
        raise ValueError(
            f"sigma_parameterization must be one of {list(SIGMA_PARAMETERIZATIONS)}; "
            f"got {name!r}")
    return table[name]

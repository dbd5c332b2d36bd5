"""Bernoulli decoder P(x|z) = prod_d p_d^x_d (1 - p_d)^(1 - x_d), with p = sigmoid(logits).

This is the decoder of the code sample that goes with the lecture notes. The network outputs
logits a; the negative log-likelihood is written as softplus(a) - x a, never as
x log p + (1 - x) log(1 - p), so that it stays finite for logits of +-1000 and for x exactly 0
or 1.
"""
import numpy as np

from ..stable import sigmoid, softplus
from .base import Likelihood


def bernoulli_nll_forward(x, logits):
    """-log P(x | logits), summed over the D pixels, eq. (16).

    Parameters
    ----------
    x : ndarray, shape (B, D), values in [0, 1]
        Grey levels are allowed: the loss is then the cross-entropy.
    logits : ndarray, shape (..., B, D)
        Leading axes (such as the r samples) broadcast against x.

    Returns
    -------
    nll : ndarray, shape (..., B)
    cache : tuple (x, logits)
    """
    nll = np.sum(softplus(logits) - x * logits, axis=-1)   # eq. (16), softplus as in (17)
    return nll, (x, logits)


def bernoulli_nll_backward(dnll, cache):
    """dL/dlogits = dL/dnll * (sigmoid(a) - x), eq. (18).

    Parameters
    ----------
    dnll : ndarray, shape (..., B)
        dL/dnll for each sample and example.
    cache : tuple (x, logits) from :func:`bernoulli_nll_forward`.

    Returns
    -------
    dlogits : ndarray, shape (..., B, D)
    """
    x, logits = cache
    # BEGIN SOLUTION
    return dnll[..., None] * (sigmoid(logits) - x)    # eq. (18): d nll / d a_d = sigmoid(a_d) - x_d
    # END SOLUTION


class Bernoulli(Likelihood):
    """The Bernoulli likelihood as the model uses it: one head, the logits."""

    name = "bernoulli"
    heads = ("logits",)

    def check_data(self, x, arg="x"):
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"{arg} must lie in [0, 1] for the bernoulli likelihood; "
                f"got values in [{x.min():.4g}, {x.max():.4g}]")

    def decode(self, heads, mean=True):
        """Head outputs -> {"logits", "mean"}; "mean" holds the probabilities sigmoid(logits).

        ``mean=False`` leaves the probabilities out: the negative log-likelihood and its
        gradient are computed from the logits alone, so training and evaluation need not.
        """
        if not mean:
            return {"logits": heads["logits"]}
        return {"logits": heads["logits"], "mean": sigmoid(heads["logits"])}

    def _nll(self, x, decoded):
        nll, _ = bernoulli_nll_forward(x, decoded["logits"])
        return nll

    def _nll_backward(self, dnll, x, decoded):
        return {"logits": bernoulli_nll_backward(dnll, (x, decoded["logits"]))}

    def sample(self, decoded, rng):
        """x ~ Bernoulli(mean), as 0.0 / 1.0 in the dtype of the mean."""
        p = decoded["mean"]
        return (rng.random(p.shape) < p).astype(p.dtype)

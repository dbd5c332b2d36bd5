"""Bernoulli decoder P(x|z) = prod_d p_d^x_d (1 - p_d)^(1 - x_d), with p = sigmoid(logits).

This is the decoder of the code sample that goes with the lecture notes. The network outputs
logits a; the negative log-likelihood is written as softplus(a) - x a, never as
x log p + (1 - x) log(1 - p), so that it stays finite for logits of +-1000 and for x exactly 0
or 1.
"""

from ..stable import sigmoid, softplus, softplus_sum_from_sigmoid


def bernoulli_nll_forward(x, logits, probs=None):
    """-log P(x | logits), summed over the D pixels, eq. (16).

    Parameters
    ----------
    x : ndarray, shape (B, D), values in [0, 1]
        Grey levels are allowed: the loss is then the cross-entropy.
    logits : ndarray, shape (..., B, D)
        Leading axes (such as the r samples) broadcast against x.
    probs : ndarray, shape of logits, optional
        sigmoid(logits), when the caller has it already (the decoder does in training). It is
        what the backward needs; without it the backward computes it, and a caller that only
        wants the value (an evaluation) never pays for it. When given, the sum of softplus
        is computed from it, with one log per 16 pixels instead of an exp and a log1p per
        pixel; the two forms agree to rounding.

    Returns
    -------
    nll : ndarray, shape (..., B)
    cache : tuple (x, logits, probs)
    """
    if probs is None:
        softplus_sums = softplus(logits).sum(axis=-1)   # eq. (17): sum_d log(1 + e^a_d)
    else:
        softplus_sums = softplus_sum_from_sigmoid(logits, probs)  # eq. (17), from p
    nll = softplus_sums - (x * logits).sum(axis=-1)    # eq. (16): sum_d softplus(a_d) - x_d a_d
    return nll, (x, logits, probs)


def bernoulli_nll_backward(dnll, cache):
    """dL/dlogits = dL/dnll * (sigmoid(a) - x), eq. (18).

    Parameters
    ----------
    dnll : ndarray, shape (..., B)
    cache : tuple (x, logits, probs) from :func:`bernoulli_nll_forward`; probs is
        sigmoid(logits), or None when the forward was not given it.

    Returns
    -------
    dlogits : ndarray, shape (..., B, D)
    """
    x, logits, probs = cache
    if probs is None:
        probs = sigmoid(logits)                    # eq. (17), when the forward was not given it
    # BEGIN SOLUTION
    return dnll[..., None] * (probs - x)          # eq. (18): d nll / d a_d = sigmoid(a_d) - x_d
    # END SOLUTION


class Bernoulli:
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

        ``mean=False`` leaves the probabilities out: the negative log-likelihood's value is
        computed from the logits alone, so an evaluation need not compute them.
        """
        if not mean:
            return {"logits": heads["logits"]}
        return {"logits": heads["logits"], "mean": sigmoid(heads["logits"])}

    def nll(self, x, decoded):
        nll, _ = bernoulli_nll_forward(x, decoded["logits"], decoded.get("mean"))
        return nll

    def nll_backward(self, dnll, x, decoded):
        """dL/d(head outputs), as a dict keyed like ``heads``."""
        cache = (x, decoded["logits"], decoded.get("mean"))
        return {"logits": bernoulli_nll_backward(dnll, cache)}

    def sample(self, decoded, rng):
        """x ~ Bernoulli(mean), as 0.0 / 1.0 in the dtype of the mean."""
        p = decoded["mean"]
        return (rng.random(p.shape) < p).astype(p.dtype)

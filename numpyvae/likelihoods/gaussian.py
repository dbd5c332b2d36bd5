"""Gaussian decoder P(x|z) = N(x | mu_x, diag sigma_x^2), as in the lecture notes.

Two variants:

- ``gaussian``: the decoder learns sigma_x through a second head t, with
  sigma_x = floor + softplus(t), eq. (22). The floor matters: a pixel that is 0 in every
  image (MNIST's borders) is fit perfectly by mu_x = 0, and then the likelihood grows without
  bound as sigma_x -> 0, so -log N -> -inf and training diverges. The floor caps the density
  at 1 / (sqrt(2 pi) floor) per pixel.
- ``gaussian-fixed``: sigma_x is a given constant; the loss is then a scaled squared error.
"""
import numpy as np

from ..activations import get_activation
from ..sigma import softplus_backward, softplus_forward
from .base import Likelihood

LOG_2PI = float(np.log(2 * np.pi))


def gaussian_nll_forward(x, mean, sigma):
    """-log N(x | mean, sigma^2), summed over the D pixels, eq. (19).

    Parameters
    ----------
    x : ndarray, shape (B, D)
    mean : ndarray, shape (..., B, D)
    sigma : ndarray broadcastable to ``mean`` (or a float), > 0

    Returns
    -------
    nll : ndarray, shape (..., B)
    cache : tuple (x, mean, sigma)
    """
    nll = np.sum(0.5 * LOG_2PI + np.log(sigma) + (x - mean) ** 2 / (2 * sigma * sigma),
                 axis=-1)                                  # eq. (19)
    return nll, (x, mean, sigma)


def gaussian_nll_backward(dnll, cache):
    """Gradients of the Gaussian negative log-likelihood, eqs. (20)-(21).

    Parameters
    ----------
    dnll : ndarray, shape (..., B)
    cache : tuple (x, mean, sigma) from :func:`gaussian_nll_forward`.

    Returns
    -------
    dmean : ndarray, shape (..., B, D)
    dsigma : ndarray, shape (..., B, D)
    """
    x, mean, sigma = cache
    dnll = dnll[..., None]
    # BEGIN SOLUTION
    dmean = dnll * (mean - x) / sigma ** 2                 # eq. (20): (mu - x) / sigma^2
    dsigma = dnll * (1 / sigma - (x - mean) ** 2 / sigma ** 3)   # eq. (21)
    # END SOLUTION
    return dmean, dsigma


class Gaussian(Likelihood):
    """The Gaussian likelihood as the model uses it.

    Parameters
    ----------
    learn_sigma : bool
        True: heads "mean" and "sigma" (sigma_x = floor + softplus(t)). False: head "mean"
        and the constant ``sigma_x``.
    sigma_x : float
        The fixed sigma_x (used when ``learn_sigma`` is False).
    sigma_x_floor : float
        The floor of the learned sigma_x (used when ``learn_sigma`` is True).
    mean_activation : str
        Activation on the mean head: ``"identity"`` (the default) or e.g. ``"sigmoid"`` to keep
        mu_x in [0, 1].
    """

    def __init__(self, learn_sigma, sigma_x=1.0, sigma_x_floor=1e-2, mean_activation="identity"):
        if not (np.isfinite(sigma_x) and sigma_x > 0):
            raise ValueError(f"sigma_x must be a finite number > 0; got {sigma_x!r}")
        if not (np.isfinite(sigma_x_floor) and sigma_x_floor >= 0):
            raise ValueError(f"sigma_x_floor must be a finite number >= 0; got {sigma_x_floor!r}")
        self.learn_sigma = learn_sigma
        self.name = "gaussian" if learn_sigma else "gaussian-fixed"
        self.heads = ("mean", "sigma") if learn_sigma else ("mean",)
        self.sigma_x = float(sigma_x)
        self.sigma_x_floor = float(sigma_x_floor)
        self.mean_activation = get_activation(mean_activation)

    def check_data(self, x, arg="x"):
        pass  # any finite value is a valid Gaussian observation

    def decode(self, heads, mean=True):
        """Head outputs -> {"mean", "sigma"} (and the caches their backward needs).

        ``mean`` is accepted as for the Bernoulli likelihood; the Gaussian negative
        log-likelihood needs the mean, so it is always computed.
        """
        mean, mean_cache = self.mean_activation.forward(heads["mean"])
        if self.learn_sigma:
            sigma, sigma_cache = softplus_forward(heads["sigma"], self.sigma_x_floor)  # eq. (22)
        else:
            # A read-only broadcast of the constant: the right shape, no memory.
            sigma = np.broadcast_to(mean.dtype.type(self.sigma_x), mean.shape)
            sigma_cache = None
        return {"mean": mean, "sigma": sigma,
                "_mean_cache": mean_cache, "_sigma_cache": sigma_cache}

    def _nll(self, x, decoded):
        nll, _ = gaussian_nll_forward(x, decoded["mean"], self._sigma(decoded))
        return nll

    def _nll_backward(self, dnll, x, decoded):
        cache = (x, decoded["mean"], self._sigma(decoded))
        dmean, dsigma = gaussian_nll_backward(dnll, cache)
        grads = {"mean": self.mean_activation.backward(dmean, decoded["_mean_cache"])}  # eq. (27)
        if self.learn_sigma:
            grads["sigma"] = softplus_backward(dsigma, decoded["_sigma_cache"])      # eq. (22)
        return grads

    def _sigma(self, decoded):
        # For a fixed sigma_x the scalar is used, not the full array: it is the same number.
        return decoded["sigma"] if self.learn_sigma else decoded["mean"].dtype.type(self.sigma_x)

    def sample(self, decoded, rng):
        """x ~ N(mean, sigma^2), in the dtype of the mean."""
        mean = decoded["mean"]
        noise = rng.standard_normal(mean.shape, dtype=mean.dtype)
        return mean + decoded["sigma"] * noise

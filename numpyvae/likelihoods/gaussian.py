"""Gaussian decoder P(x|z) = N(x | mu_x, diag sigma_x^2), as in the lecture notes.

Three variants, by how sigma_x is had:

- ``gaussian``: the decoder learns sigma_x for every pixel through a second head t, with
  sigma_x = floor + softplus(t), eq. (22). The floor matters: a pixel that is 0 in every
  image (MNIST's borders) is fit perfectly by mu_x = 0, and then the likelihood grows without
  bound as sigma_x -> 0, so -log N -> -inf and training diverges. The floor caps the density
  at 1 / (sqrt(2 pi) floor) per pixel.
- ``gaussian-shared``: one learned sigma_x = floor + softplus(t) for every pixel, t a single
  parameter ``dec.sigma_x.t`` (Rybkin et al.'s sigma-VAE). Its gradient is eq. (21) summed
  over every pixel of every sample, eq. (47).
- ``gaussian-fixed``: sigma_x is a given constant; the loss is then a scaled squared error.

The mean head goes through ``mean_activation``: sigmoid by default, which keeps mu_x in
(0, 1) like the pixels (AEVB's decoder for the Frey faces).
"""
import numpy as np

from ..activations import get_activation
from ..sigma import softplus_backward, softplus_forward
from .base import Likelihood

LOG_2PI = float(np.log(2 * np.pi))

# The default sigma_x of gaussian-fixed: about the root-mean-square error per pixel that the
# default network reaches on Fashion-MNIST, which is the maximum-likelihood sigma_x of such a
# model (eq. (21) summed over the pixels is zero at sigma_x^2 = mean of (x - mu_x)^2), and
# about what gaussian-shared learns. With sigma_x = 1 the KL weighs 2 sigma_x^2 = 2 against
# the squared error (section 7 of docs/derivation.md) and the posterior collapses.
DEFAULT_SIGMA_X = 0.1
DEFAULT_MEAN_ACTIVATION = "sigmoid"
SIGMA_KINDS = {"gaussian": "pixel", "gaussian-shared": "shared", "gaussian-fixed": "fixed"}
# gaussian-shared's sigma_x starts where gaussian-fixed's stays. Adam moves its one parameter
# t by about the learning rate per step, so from sigma_x = 1 it would take some 3,000 steps
# (6 epochs of Fashion-MNIST, 90 of fashion-mini) to come down to the error of the model.
SHARED_SIGMA_START = DEFAULT_SIGMA_X


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


def gaussian_shared_nll_backward(dnll, cache):
    """Gradients of the Gaussian negative log-likelihood when one sigma_x is shared by every
    pixel, eqs. (20) and (47).

    Parameters
    ----------
    dnll : ndarray, shape (..., B)
    cache : tuple (x, mean, sigma) from :func:`gaussian_nll_forward`, with sigma of shape (1,):
        the one sigma_x of every pixel of every sample.

    Returns
    -------
    dmean : ndarray, shape (..., B, D)
    dsigma : ndarray, shape (1,), the dtype of sigma
    """
    x, mean, sigma = cache
    dnll = dnll[..., None]
    # BEGIN SOLUTION
    dmean = dnll * (mean - x) / sigma ** 2                 # eq. (20)
    # eq. (47): sigma_x is in every term of (19), so (21) summed over every pixel and sample
    dsigma = np.sum(dnll * (1 / sigma - (x - mean) ** 2 / sigma ** 3)).reshape(1)
    # END SOLUTION
    return dmean, dsigma


class Gaussian(Likelihood):
    """The Gaussian likelihood as the model uses it.

    Parameters
    ----------
    name : {"gaussian", "gaussian-shared", "gaussian-fixed"}
        How sigma_x is had: a head "sigma" giving one sigma_x per pixel, one learned
        parameter ``sigma_x.t`` for all pixels, or the constant ``sigma_x``.
    sigma_x : float
        The fixed sigma_x (gaussian-fixed).
    sigma_x_floor : float
        The floor of the learned sigma_x (gaussian and gaussian-shared).
    mean_activation : str
        Activation on the mean head: ``"sigmoid"`` (the default) keeps mu_x in (0, 1),
        ``"identity"`` leaves it free.
    """

    def __init__(self, name, sigma_x=DEFAULT_SIGMA_X, sigma_x_floor=1e-2,
                 mean_activation=DEFAULT_MEAN_ACTIVATION):
        if name not in SIGMA_KINDS:
            raise ValueError(f"name must be one of {list(SIGMA_KINDS)}; got {name!r}")
        if not (np.isfinite(sigma_x) and sigma_x > 0):
            raise ValueError(f"sigma_x must be a finite number > 0; got {sigma_x!r}")
        if not (np.isfinite(sigma_x_floor) and sigma_x_floor >= 0):
            raise ValueError(f"sigma_x_floor must be a finite number >= 0; got {sigma_x_floor!r}")
        self.name = name
        self.sigma_kind = SIGMA_KINDS[name]
        self.heads = ("mean", "sigma") if self.sigma_kind == "pixel" else ("mean",)
        # Parameters of the likelihood itself, not of a head: name -> shape.
        self.parameters = {"sigma_x.t": (1,)} if self.sigma_kind == "shared" else {}
        self.sigma_x = float(sigma_x)
        self.sigma_x_floor = float(sigma_x_floor)
        self.mean_activation = get_activation(mean_activation)

    def initial_value(self, name):
        """The starting value of the likelihood's parameter ``name``: the t with
        sigma_x = :data:`SHARED_SIGMA_START`, or twice the floor when the floor is that high."""
        start = max(SHARED_SIGMA_START, 2 * self.sigma_x_floor)
        # floor + softplus(t) = start  <=>  t = log(exp(start - floor) - 1)
        return float(np.log(np.expm1(start - self.sigma_x_floor)))

    def check_data(self, x, arg="x"):
        pass  # any finite value is a valid Gaussian observation

    def decode(self, heads, mean=True):
        """Head outputs (and the likelihood's own parameters) -> {"mean", "sigma"}, with the
        caches their backward needs.

        ``mean`` is accepted as for the Bernoulli likelihood; the Gaussian negative
        log-likelihood needs the mean, so it is always computed. "sigma" is sigma_x per pixel,
        shape like the mean (a read-only broadcast when it is one number).
        """
        mean, mean_cache = self.mean_activation.forward(heads["mean"])
        decoded = {"mean": mean, "_mean_cache": mean_cache}
        if self.sigma_kind == "pixel":
            sigma, decoded["_sigma_cache"] = softplus_forward(heads["sigma"],
                                                              self.sigma_x_floor)  # eq. (22)
            decoded["sigma"] = sigma
        elif self.sigma_kind == "shared":
            sigma, decoded["_sigma_cache"] = softplus_forward(heads["sigma_x.t"],
                                                              self.sigma_x_floor)  # eq. (22)
            decoded["_sigma_x"] = sigma                    # shape (1,): the one sigma_x
            decoded["sigma"] = np.broadcast_to(sigma, mean.shape)
        else:
            decoded["sigma"] = np.broadcast_to(mean.dtype.type(self.sigma_x), mean.shape)
        return decoded

    def _nll(self, x, decoded):
        nll, _ = gaussian_nll_forward(x, decoded["mean"], self._sigma(decoded))
        return nll

    def _nll_backward(self, dnll, x, decoded):
        cache = (x, decoded["mean"], self._sigma(decoded))
        if self.sigma_kind == "shared":
            dmean, dsigma = gaussian_shared_nll_backward(dnll, cache)    # eqs. (20), (47)
        else:
            dmean, dsigma = gaussian_nll_backward(dnll, cache)           # eqs. (20)-(21)
        grads = {"mean": self.mean_activation.backward(dmean, decoded["_mean_cache"])}  # eq. (27)
        if self.sigma_kind == "pixel":
            grads["sigma"] = softplus_backward(dsigma, decoded["_sigma_cache"])      # eq. (22)
        elif self.sigma_kind == "shared":
            grads["sigma_x.t"] = softplus_backward(dsigma, decoded["_sigma_cache"])  # eq. (22)
        return grads

    def _sigma(self, decoded):
        """sigma_x as the loss uses it: per pixel, the shared (1,) array, or the scalar."""
        if self.sigma_kind == "pixel":
            return decoded["sigma"]
        if self.sigma_kind == "shared":
            return decoded["_sigma_x"]
        return decoded["mean"].dtype.type(self.sigma_x)

    def sample(self, decoded, rng):
        """x ~ N(mean, sigma^2), in the dtype of the mean."""
        mean = decoded["mean"]
        noise = rng.standard_normal(mean.shape, dtype=mean.dtype)
        return mean + decoded["sigma"] * noise

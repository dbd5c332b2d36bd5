"""The decoders P_theta(x|z): one module per family of distributions."""
from .bernoulli import Bernoulli, bernoulli_nll_backward, bernoulli_nll_forward
from .gaussian import (DEFAULT_MEAN_ACTIVATION, DEFAULT_SIGMA_X, Gaussian,
                       gaussian_nll_backward, gaussian_nll_forward, gaussian_shared_nll_backward)

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-shared", "gaussian-fixed")
GAUSSIAN_LIKELIHOODS = ("gaussian", "gaussian-shared", "gaussian-fixed")


def make_likelihood(name, sigma_x=DEFAULT_SIGMA_X, sigma_x_floor=1e-2,
                    mean_activation=DEFAULT_MEAN_ACTIVATION):
    """Build the likelihood called ``name``; options that do not apply to it are ignored."""
    if name == "bernoulli":
        return Bernoulli()
    if name in GAUSSIAN_LIKELIHOODS:
        return Gaussian(name, sigma_x=sigma_x, sigma_x_floor=sigma_x_floor,
                        mean_activation=mean_activation)
    raise ValueError(f"likelihood must be one of {list(LIKELIHOODS)}; got {name!r}")


__all__ = ["LIKELIHOODS", "GAUSSIAN_LIKELIHOODS", "DEFAULT_SIGMA_X", "DEFAULT_MEAN_ACTIVATION",
           "make_likelihood", "Bernoulli", "Gaussian",
           "bernoulli_nll_forward", "bernoulli_nll_backward",
           "gaussian_nll_forward", "gaussian_nll_backward", "gaussian_shared_nll_backward"]

"""The decoders P_theta(x|z): one module per family of distributions."""
from .bernoulli import Bernoulli, bernoulli_nll_backward, bernoulli_nll_forward
from .gaussian import Gaussian, gaussian_nll_backward, gaussian_nll_forward

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-fixed")


def make_likelihood(name, sigma_x=1.0, sigma_x_floor=1e-2, mean_activation="identity"):
    """Build the likelihood called ``name``; options that do not apply to it are ignored."""
    if name == "bernoulli":
        return Bernoulli()
    if name == "gaussian":
        return Gaussian(True, sigma_x_floor=sigma_x_floor, mean_activation=mean_activation)
    if name == "gaussian-fixed":
        return Gaussian(False, sigma_x=sigma_x, mean_activation=mean_activation)
    raise ValueError(f"likelihood must be one of {list(LIKELIHOODS)}; got {name!r}")


__all__ = ["LIKELIHOODS", "make_likelihood", "Bernoulli", "Gaussian",
           "bernoulli_nll_forward", "bernoulli_nll_backward",
           "gaussian_nll_forward", "gaussian_nll_backward"]

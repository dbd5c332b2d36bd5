"""The KL divergence from q(z|x) = N(mu, diag sigma^2) to the prior p(z) = N(0, I), in closed form."""
import numpy as np


def kl_forward(mu, sigma):
    """KL(q(z|x) || N(0, I)) for each example, eq. (12).

    Parameters
    ----------
    mu, sigma : ndarray, shape (B, K)

    Returns
    -------
    kl : ndarray, shape (B,)
        1/2 sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2), summed over the K latent
        dimensions (not over the batch: see the errata in docs/derivation.md).
    cache : tuple (mu, sigma)
    """
    # BEGIN SOLUTION
    kl = 0.5 * np.sum(mu * mu + sigma * sigma - 1 - 2 * np.log(sigma), axis=-1)   # eq. (12)
    # END SOLUTION
    return kl, (mu, sigma)


def kl_backward(dkl, cache):
    """Gradients of the KL, eqs. (13)-(14).

    Parameters
    ----------
    dkl : ndarray, shape (B,)
        dL/dKL for each example (beta / B in the model's loss, eq. (4)).
    cache : tuple (mu, sigma) from :func:`kl_forward`.

    Returns
    -------
    dmu, dsigma : ndarray, shape (B, K)
    """
    mu, sigma = cache
    dkl = dkl[:, None]
    # BEGIN SOLUTION
    dmu = dkl * mu                                 # eq. (13): dKL/dmu = mu
    dsigma = dkl * (sigma - 1 / sigma)             # eq. (14): dKL/dsigma = sigma - 1/sigma
    # END SOLUTION
    return dmu, dsigma

"""The reparameterization trick: z_j = mu + sigma * v_j, with r noise draws per example.

The noise v is an argument, never drawn inside, so that every check is deterministic and the
caller decides how many samples r to take.
"""
import numpy as np


def draw_noise(rng, r, batch_size, z_dim, dtype=np.float64):
    """v ~ N(0, I) of shape (r, batch_size, z_dim), drawn from a numpy Generator."""
    return rng.standard_normal((r, batch_size, z_dim), dtype=dtype)


def reparameterize_forward(mu, sigma, v):
    """z_j = mu + sigma * v_j for j = 1..r, eq. (9).

    Parameters
    ----------
    mu, sigma : ndarray, shape (B, K)
        Mean and standard deviation (not variance) of q(z|x).
    v : ndarray, shape (r, B, K)
        Standard normal noise.

    Returns
    -------
    z : ndarray, shape (r, B, K)
    cache : tuple (sigma, v)
    """
    # BEGIN SOLUTION
    z = mu + sigma * v                             # eq. (9): broadcast over the r samples
    # END SOLUTION
    return z, (sigma, v)


def reparameterize_backward(dz, cache):
    """Gradients through z_j = mu + sigma * v_j, eqs. (10)-(11).

    dz_j/dphi = v_j dsigma/dphi + dmu/dphi (the notes), so each of the r samples adds its part.

    Parameters
    ----------
    dz : ndarray, shape (r, B, K)
        dL/dz_j for every sample j.
    cache : tuple (sigma, v) from :func:`reparameterize_forward`.

    Returns
    -------
    dmu, dsigma : ndarray, shape (B, K)
    """
    sigma, v = cache
    # BEGIN SOLUTION
    dmu = dz.sum(axis=0)                           # eq. (10): dz_j/dmu = 1
    dsigma = (v * dz).sum(axis=0)                  # eq. (11): dz_j/dsigma = v_j
    # END SOLUTION
    return dmu, dsigma

"""Training on the importance-weighted bound of Burda et al. (2016), eqs. (49)-(54).

For each example, S samples z_l = mu + sigma * v_l of q(z|x) (the S draws of the noise v,
axis 0; Burda et al. call their number k) give S log weights

    log w_l = log P(x|z_l) + log p(z_l) - log q(z_l|x),          eqs. (37)-(38)

which :func:`numpyvae.evaluate.log_weights` computes, for training as for evaluation. The
bound is the log of their mean, and its gradient is the gradient of each log w_l weighted by
w~_l, the softmax of the log weights over l:

    L_S(x)      = log (1/S) sum_l w_l                               eq. (49)
    w~_l        = w_l / sum_l' w_l'                                 eq. (50)
    grad L_S(x) = sum_l w~_l grad log w_l                           eqs. (51)-(52)

The functions here are forward/backward pairs: the bound from the log weights, and the
backward of the log weights' two latent terms, log p(z) and log q(z|x).
"""
import numpy as np

from .evaluate import log_mean_exp


def iwae_bound_forward(log_w):
    """One draw of the importance-weighted bound per example, and the normalized weights.

    Parameters
    ----------
    log_w : ndarray, shape (S, B)
        The log weights of S samples of each of B examples (from ``evaluate.log_weights``).

    Returns
    -------
    bound : ndarray, shape (B,)
        log (1/S) sum_l w_l, eq. (49), computed without overflow as in eq. (39).
    cache : ndarray, shape (S, B), the dtype of log_w
        The normalized weights w~_l = w_l / sum_l' w_l', eq. (50): each in [0, 1], each
        column sums to 1, and all finite even at log weights of +-1000.
    """
    bound = log_mean_exp(log_w, axis=0)                    # eq. (49), by way of eq. (39)
    # BEGIN SOLUTION
    shifted = np.exp(log_w - log_w.max(axis=0))            # eq. (50): w_l / max w, at most 1
    w_tilde = shifted / shifted.sum(axis=0)                # eq. (50): w_l / sum_l' w_l'
    # END SOLUTION
    return bound, w_tilde


def iwae_bound_backward(dbound, cache):
    """dL/dlog w from dL/dbound: each sample gets its normalized weight, eq. (51).

    Parameters
    ----------
    dbound : ndarray, shape (B,)
        dL/dL_S(x_i) for each example (-1/B in the model's loss, eq. (49)).
    cache : ndarray, shape (S, B)
        The normalized weights w~ from :func:`iwae_bound_forward`.

    Returns
    -------
    dlog_w : ndarray, shape (S, B), the dtype of dbound and the cache
    """
    w_tilde = cache
    # BEGIN SOLUTION
    return dbound * w_tilde                                # eq. (51): dL_S/dlog w_l = w~_l
    # END SOLUTION


def log_weights_backward(dlog_w, cache):
    """Gradients of log w = log P(x|z) + log p(z) - log q(z|x) through its three terms.

    log q(z|x) is taken as eq. (37) writes it, with the noise v held fixed: it depends on
    sigma alone, not on mu and not on z (docs/derivation.md, section 11.1, says why this is
    the total derivative). The three gradients come out in the dtype of the inputs.

    Parameters
    ----------
    dlog_w : ndarray, shape (S, B)
        dL/dlog w_l for every sample and example.
    cache : tuple (z, sigma)
        z : ndarray, shape (S, B, K), the samples; sigma : ndarray, shape (B, K).

    Returns
    -------
    dlog_px : ndarray, shape (S, B)
        dL/dlog P(x|z_l).
    dz : ndarray, shape (S, B, K)
        dL/dz_l through log p(z_l) only; the decoder's share is added by the caller.
    dsigma : ndarray, shape (B, K)
        dL/dsigma through log q(z_l|x) only; the share through z is added by the caller.
    """
    z, sigma = cache
    # BEGIN SOLUTION
    dlog_px = dlog_w                                        # log w = log P + ...: d/dlog P = 1
    dz = dlog_w[..., None] * -z                             # eq. (53): dlog p(z)/dz = -z
    dsigma = dlog_w.sum(axis=0)[:, None] / sigma            # eq. (54): d(-log q)/dsigma = 1/sigma
    # END SOLUTION
    return dlog_px, dz, dsigma

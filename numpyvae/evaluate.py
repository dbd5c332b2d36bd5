"""Evaluation: the negative ELBO over a dataset, and the importance-weighted log-likelihood.

The ELBO is a lower bound on log p(x). The importance-weighted estimate of Burda et al.
(2016), eq. (36), is a tighter one that approaches log p(x) as the number of samples K grows;
K = 5000 is the standard in the literature. Both are reported in nats per example.
"""
import numpy as np

from . import validate
from .likelihoods.gaussian import LOG_2PI
from .reparam import reparameterize_forward


def log_mean_exp(w, axis=0):
    """log (1/K) sum_k exp(w_k) without overflow, eq. (39).

    Parameters
    ----------
    w : ndarray
    axis : int
        The axis of the K terms.
    """
    m = np.max(w, axis=axis, keepdims=True)
    out = m + np.log(np.mean(np.exp(w - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


def log_weights(model, x, v):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) with z_k = mu + sigma v_k.

    Parameters
    ----------
    model : VAE
    x : ndarray, shape (B, D), already checked and of the model's dtype
    v : ndarray, shape (k, B, K), standard normal

    Returns
    -------
    ndarray of float64, shape (k, B)
    """
    mu, sigma = model.encoder.forward(x)
    z, _ = reparameterize_forward(mu, sigma, v)                         # eq. (9)
    decoded = model.decoder.forward(z, mean=False)
    log_px_given_z = -model.likelihood.nll(x, decoded)                 # on every core
    log_pz = np.sum(-0.5 * LOG_2PI - 0.5 * z * z, axis=-1)             # eq. (38)
    log_qz = np.sum(-0.5 * LOG_2PI - np.log(sigma) - 0.5 * v * v, axis=-1)   # eq. (37)
    return log_px_given_z.astype(np.float64) + log_pz - log_qz


def importance_weighted_log_likelihood(model, x, rng, samples=5000, batch_size=100,
                                       max_elements=2 ** 23, progress=None):
    """The importance-weighted estimate of log p(x) for each example, eq. (36).

    log p(x) ~ log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x). It is never below
    the mean of the same K log-weights (Jensen's inequality), which is itself an estimate of
    the ELBO, and in expectation it tightens as K grows. For a Bernoulli decoder on grey
    levels the "likelihood" is a cross-entropy, so this is a true log p(x) only on binary x.

    The work is chunked so that memory stays bounded: examples in groups of ``batch_size``,
    and the K samples in chunks small enough that one decoder output holds at most
    ``max_elements`` numbers (32 MB in float32). Chunks are combined with a running
    log-sum-exp, so the result does not depend on the chunking.

    Parameters
    ----------
    model : VAE
    x : ndarray, shape (N, x_dim)
    rng : numpy.random.Generator
    samples : int
        K, the number of importance samples per example.
    batch_size : int
    max_elements : int
    progress : callable, optional
        ``progress(done, total)`` after each group of examples.

    Returns
    -------
    ndarray of float64, shape (N,)
    """
    x = model.check_x(x)
    samples = validate.positive_int("samples", samples)
    batch_size = validate.positive_int("batch_size", batch_size)
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        chunk = max(1, min(samples, max_elements // (xb.shape[0] * model.x_dim)))
        running_max = np.full(xb.shape[0], -np.inf)
        running_sum = np.zeros(xb.shape[0])
        for k0 in range(0, samples, chunk):
            k = min(chunk, samples - k0)
            v = rng.standard_normal((k, xb.shape[0], model.z_dim), dtype=model.dtype)
            w = log_weights(model, xb, v)                              # (k, B)
            new_max = np.maximum(running_max, w.max(axis=0))
            running_sum = running_sum * np.exp(running_max - new_max) + \
                np.exp(w - new_max).sum(axis=0)                        # eq. (39), in pieces
            running_max = new_max
        out[start:start + xb.shape[0]] = running_max + np.log(running_sum / samples)
        if progress is not None:
            progress(start + xb.shape[0], x.shape[0])
    return out


def evaluate_elbo(model, x, rng, samples=1, batch_size=1000, x_input=None):
    """Mean negative ELBO over a dataset and its parts, in nats per example.

    Parameters
    ----------
    model : VAE
    x : ndarray, shape (N, x_dim)
    rng : numpy.random.Generator
        The noise of the r = ``samples`` draws per example.
    batch_size : int

    Returns
    -------
    dict with float ``"loss"``, ``"recon"`` and ``"kl"`` (loss = recon + kl: beta = 1).
    """
    samples = validate.positive_int("samples", samples)
    totals = np.zeros(3)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        xin = None if x_input is None else x_input[start:start + batch_size]
        v = rng.standard_normal((samples, xb.shape[0], model.z_dim), dtype=model.dtype)
        terms = model.elbo_terms(xb, v, 1.0, x_input=xin)
        totals += [terms["loss"].sum(dtype=np.float64), terms["recon"].sum(dtype=np.float64),
                   terms["kl"].sum(dtype=np.float64)]
    loss, recon, kl = totals / max(1, x.shape[0])
    return {"loss": float(loss), "recon": float(recon), "kl": float(kl)}

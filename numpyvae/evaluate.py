"""Evaluation: the negative ELBO over a dataset, and the importance-weighted log-likelihood.

The ELBO is a lower bound on log p(x). The importance-weighted estimate of Burda et al.
(2016), eq. (36), is a tighter one that approaches log p(x) as the number of samples K grows;
K = 5000 is the standard in the literature. Both are reported in nats per example; on
dequantized data, :func:`bits_per_dimension` turns a density's nats into bits per pixel,
eq. (48). :func:`share_at_sigma_floor` tells how much of a Gaussian decoder's loss comes from
pixels whose learned sigma_x sits at its floor.
"""
import numpy as np

from . import validate
from .reparam import reparameterize_forward


def log_mean_exp(w, axis=0):
    """log (1/K) sum_k exp(w_k) over the K terms along ``axis``, eq. (39).

    The terms are log importance weights, about -100 nats each for an MNIST digit: exp(w_k)
    underflows (to 0 below about -745 even in float64) or overflows (above about 709), so the
    log of the mean is taken after factoring out the largest term, as eq. (39) does. The
    result is then finite whenever every w_k is, and it is never below the mean of the w_k
    (Jensen's inequality). A single term is its own log-mean-exp.

    Parameters
    ----------
    w : ndarray of floats, any shape
    axis : int
        The axis of the K terms.

    Returns
    -------
    ndarray, the shape of w without ``axis`` (a 0-d array or a scalar for a 1-d w)
    """
    # BEGIN SOLUTION
    m = np.max(w, axis=axis, keepdims=True)                        # the largest term
    lme = np.squeeze(m, axis=axis) + np.log(np.mean(np.exp(w - m), axis=axis))   # eq. (39)
    # END SOLUTION
    return lme


def log_weights(model, x, v, return_cache=False, y=None):
    """The log importance weights log w_k of K samples z_k of q(z|x), eqs. (37)-(38).

    log w_k = log P(x|z_k) + log p(z_k) - log q(z_k|x), with z_k = mu + sigma v_k, eq. (9).
    Each term is one number per sample and example:

    - log P(x|z_k), the decoder's log-likelihood, minus eq. (16) or (19), which the first
      lines of this function compute, in float64;
    - log p(z_k), the standard normal prior's log-density at z_k, summed over the z_dim latent
      dimensions, eq. (38);
    - log q(z_k|x), the log-density of N(mu, diag sigma^2) at z_k, summed over the latent
      dimensions and written with the noise v_k, eq. (37): (z_k - mu) / sigma = v_k.

    Parameters
    ----------
    model : VAE
    x : ndarray, shape (B, D), already checked and of the model's dtype
    v : ndarray, shape (K, B, z_dim), standard normal
    return_cache : bool
        Also return what the backward of the importance-weighted bound needs, when a model
        trains on it (``VAE.loss_and_grad(x, v, objective="iwae")``, eqs. (49)-(54)).
    y : ndarray of int, shape (B,), optional
        The labels, already checked, for a conditional model: q(z|x, y) and P(x|z, y), and
        the weights are those of log p(x|y).

    Returns
    -------
    log_w : ndarray of float64, shape (K, B)
    cache : tuple (x, decoded, z, reparam_cache, log_px_given_z), only with ``return_cache``
        The data, the decoder's output, the samples z and the cache of eq. (9), all in the
        model's dtype, and log P(x|z_k) of shape (K, B), in float64.
    """
    mu, sigma = model.encoder.forward(x, y=y)                          # (B, z_dim) each
    z, reparam_cache = reparameterize_forward(mu, sigma, v)             # (K, B, z_dim)
    decoded = model.decoder.forward(z, y=y, mean=False)
    log_px_given_z = -model.likelihood.nll(x, decoded).astype(np.float64)   # (K, B)
    cache = (x, decoded, z, reparam_cache, log_px_given_z)
    # float64 from here on, also for a float32 model: the log-densities are summed in float64
    mu, sigma, z, v = (a.astype(np.float64) for a in (mu, sigma, z, v))
    # BEGIN SOLUTION
    log_pz = np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * z ** 2, axis=-1)                 # eq. (38)
    log_qz = np.sum(-0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * v ** 2, axis=-1)  # eq. (37)
    log_w = log_px_given_z + log_pz - log_qz
    # END SOLUTION
    if return_cache:
        return log_w, cache
    return log_w


def importance_weighted_log_likelihood(model, x, rng, samples=5000, batch_size=100,
                                       max_elements=2 ** 23, progress=None, y=None):
    """The importance-weighted estimate of log p(x) for each example, eq. (36).

    log p(x) ~ log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x). It is never below
    the mean of the same K log-weights (Jensen's inequality), which is itself an estimate of
    the ELBO, and in expectation it tightens as K grows. For a Bernoulli decoder on grey
    levels the "likelihood" is a cross-entropy, so this is a true log p(x) only on binary x.

    The work is chunked so that memory stays bounded: examples in groups of ``batch_size``,
    and the K samples in chunks small enough that one decoder output holds at most
    ``max_elements`` numbers (32 MB in float32). Each chunk's log-mean-exp is weighted by its
    share of the K samples, so the result does not depend on the chunking.

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
    y : ndarray of int, shape (N,), optional
        The labels, for a conditional model (required by it): then each estimate is of
        log p(x|y).

    Returns
    -------
    ndarray of float64, shape (N,)
    """
    x = model.check_x(x)
    y = model.check_y(y, x.shape[0])
    samples = validate.positive_int("samples", samples)
    batch_size = validate.positive_int("batch_size", batch_size)
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        yb = None if y is None else y[start:start + batch_size]
        chunk = max(1, min(samples, max_elements // (xb.shape[0] * model.x_dim)))
        chunk_values, chunk_sizes = [], []
        for k0 in range(0, samples, chunk):
            k = min(chunk, samples - k0)
            v = rng.standard_normal((k, xb.shape[0], model.z_dim), dtype=model.dtype)
            chunk_values.append(log_mean_exp(log_weights(model, xb, v, y=yb), axis=0))  # (B,)
            chunk_sizes.append(k)
        # The mean of all K weights is the chunks' means weighted by their shares k_c / K:
        # log (1/K) sum_c k_c exp(l_c) = log_mean_exp_c(l_c + log(k_c / K)) + log C.
        shares = np.log(np.array(chunk_sizes) / samples)[:, None]
        out[start:start + xb.shape[0]] = (log_mean_exp(np.stack(chunk_values) + shares, axis=0)
                                          + np.log(len(chunk_sizes)))
        if progress is not None:
            progress(start + xb.shape[0], x.shape[0])
    return out


def evaluate_elbo(model, x, rng, samples=1, batch_size=1000, x_input=None, y=None):
    """Mean negative ELBO over a dataset and its parts, in nats per example.

    Parameters
    ----------
    model : VAE
    x : ndarray, shape (N, x_dim)
    rng : numpy.random.Generator
        The noise of the r = ``samples`` draws per example.
    batch_size : int
    y : ndarray of int, shape (N,), optional
        The labels, for a conditional model (required by it): the conditional ELBO, eq. (55).

    Returns
    -------
    dict with float ``"loss"``, ``"recon"`` and ``"kl"`` (loss = recon + kl: beta = 1).
    """
    samples = validate.positive_int("samples", samples)
    y = model.check_y(y, x.shape[0])
    totals = np.zeros(3)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        xin = None if x_input is None else x_input[start:start + batch_size]
        yb = None if y is None else y[start:start + batch_size]
        v = rng.standard_normal((samples, xb.shape[0], model.z_dim), dtype=model.dtype)
        terms = model.elbo_terms(xb, v, 1.0, x_input=xin, y=yb)
        totals += [terms["loss"].sum(dtype=np.float64), terms["recon"].sum(dtype=np.float64),
                   terms["kl"].sum(dtype=np.float64)]
    loss, recon, kl = totals / max(1, x.shape[0])
    return {"loss": float(loss), "recon": float(recon), "kl": float(kl)}


def bits_per_dimension(nats, x_dim):
    """Bits per dimension of a density on dequantized data x = (pixel + u) / 256, eq. (48).

    bpd = (NLL + D ln 256) / (D ln 2), with NLL = -log p(x) per image in nats (or a bound on
    it: the negative ELBO, the importance-weighted bound) and D = ``x_dim`` pixels. The
    D ln 256 turns a density on the cells of side 1/256 into a probability of the 256-level
    pixels (docs/data.md, "Dequantization"): a uniform density on (0, 1)^D scores exactly 8
    bits per dimension, the cost of storing each pixel as a byte. It means something only for
    a density on dequantized data, never for the Bernoulli decoder's nats.

    Parameters
    ----------
    nats : float or ndarray
        -log p(x) per image, in nats.
    x_dim : int >= 1
        D, the pixels per image.

    Returns
    -------
    float, or ndarray of the shape of ``nats``
    """
    x_dim = validate.positive_int("x_dim", x_dim)
    bpd = (np.asarray(nats, dtype=np.float64) + x_dim * np.log(256)) / (x_dim * np.log(2))
    return float(bpd) if bpd.ndim == 0 else bpd                            # eq. (48)


# A pixel's learned sigma_x is "at the floor" when it is below floor * (1 + AT_FLOOR).
AT_FLOOR = 1e-3


def share_at_sigma_floor(model, x, batch_size=1000, y=None):
    """The share of pixels whose learned sigma_x is at its floor, for images x at z = mu(x).

    A learned sigma_x is floor + softplus(t), eq. (22), never below the floor. A pixel counts
    as at the floor when sigma_x < floor * (1 + 1e-3), that is when softplus(t) is less than a
    thousandth of the floor: its term -log sigma_x of eq. (19) is then within
    log(1.001) = 0.001 nats of the most the floor allows, -log floor. A test of equality
    would miss most such pixels: sigma_x rounds to the floor itself only once softplus(t)
    falls below about 6e-8 of it (in float32), while the loss cannot tell 1.0001 floor from
    the floor.

    sigma_x is taken at z = mu(x), the mean of q(z|x), as for a reconstruction, so the share
    has no noise in it. For gaussian-shared, one sigma_x serves every pixel, and the share
    is 0 or 1.

    Parameters
    ----------
    model : VAE
    x : ndarray, shape (N, x_dim)
    batch_size : int
    y : ndarray of int, shape (N,), optional
        The labels, for a conditional model (required by it).

    Returns
    -------
    float in [0, 1], or None for a decoder that learns no sigma_x (bernoulli,
    gaussian-fixed)
    """
    if not learns_sigma_x(model):
        return None
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != model.x_dim:
        raise ValueError(f"x must have shape (N, {model.x_dim}): N >= 1 images of "
                         f"{model.x_dim} pixels each; got shape {x.shape}")
    y = model.check_y(y, x.shape[0])
    batch_size = validate.positive_int("batch_size", batch_size)
    limit = model.config["sigma_x_floor"] * (1 + AT_FLOOR)
    at_floor = 0
    for start in range(0, x.shape[0], batch_size):
        yb = None if y is None else y[start:start + batch_size]
        mu, _ = model.encode(x[start:start + batch_size], yb)
        sigma = model.decode(mu, yb)["sigma"]                               # (B, D)
        at_floor += int(np.count_nonzero(sigma < limit))
    return at_floor / (x.shape[0] * model.x_dim)


def learns_sigma_x(model):
    """Whether the model's decoder learns sigma_x (gaussian, gaussian-shared), and so has a
    floor under it."""
    return getattr(model.likelihood, "sigma_kind", None) in ("pixel", "shared")

"""The importance-weighted bound written out again, for the hidden tests of task 'iwae-bound'.

Written from section 11 of docs/derivation.md, not from numpyvae/evaluate.py: loops over the
samples, examples and dimensions, with math.* for every log and exp. Where the package's task
takes a shortcut, this takes the long way round:

- log q(z|x) is the normal density of z itself, with (z - mu)^2 / (2 sigma^2), not the form
  in the noise v of eq. (37);
- the log-mean-exp is computed in decimal arithmetic, which neither overflows nor underflows
  at these sizes, so it needs no largest term factored out (eq. (39)) at all.

The encoder's mu and sigma and the decoder's distribution parameters come from the model's
public ``encode`` and ``decode``: the network is not what is tested here. It is slow and meant
for tiny float64 problems.
"""
import math
from decimal import Decimal, localcontext

import numpy as np

LOG_2PI = math.log(2 * math.pi)


def log_normal(x, mean, sd):
    """log N(x; mean, sd^2), the density written out."""
    return -0.5 * LOG_2PI - math.log(sd) - (x - mean) ** 2 / (2 * sd ** 2)


def log_bernoulli(x, logit):
    """x log p + (1 - x) log(1 - p) with p = sigmoid(logit), for moderate logits."""
    p = 1.0 / (1.0 + math.exp(-logit))
    return x * math.log(p) + (1 - x) * math.log(1 - p)


def samples_of_q(mu, sigma, v):
    """z[s][b][k] = mu[b][k] + sigma[b][k] v[s][b][k], eq. (9), as nested lists."""
    S, B, K = v.shape
    return [[[float(mu[b, k]) + float(sigma[b, k]) * float(v[s, b, k]) for k in range(K)]
             for b in range(B)] for s in range(S)]


def log_likelihood(model, x_row, decoded, s, b):
    """log P(x|z) of one sample s of example b, from the decoder's parameters."""
    kind = model.config["likelihood"]
    if kind == "bernoulli":
        return math.fsum(log_bernoulli(float(xd), float(decoded["logits"][s, b, d]))
                         for d, xd in enumerate(x_row))
    return math.fsum(log_normal(float(xd), float(decoded["mean"][s, b, d]),
                                float(decoded["sigma"][s, b, d]))
                     for d, xd in enumerate(x_row))


def log_weights(model, x, v):
    """log w[s][b] = log P(x_b|z_sb) + log p(z_sb) - log q(z_sb|x_b), shape (S, B)."""
    mu, sigma = model.encode(x)
    z = samples_of_q(mu, sigma, v)
    decoded = model.decode(np.array(z, dtype=model.dtype))
    S, B, K = v.shape
    out = np.empty((S, B))
    for s in range(S):
        for b in range(B):
            zs = z[s][b]
            log_prior = math.fsum(log_normal(zk, 0.0, 1.0) for zk in zs)
            log_posterior = math.fsum(log_normal(zs[k], float(mu[b, k]), float(sigma[b, k]))
                                      for k in range(K))
            out[s, b] = log_likelihood(model, x[b], decoded, s, b) + log_prior - log_posterior
    return out


def log_mean_exp(values):
    """log (1/n) sum_i exp(values_i) of a sequence of floats, in 50-digit decimal arithmetic."""
    values = [float(t) for t in values]
    with localcontext() as context:
        context.prec = 50
        total = sum(Decimal(t).exp() for t in values)
        return float((total / len(values)).ln())


def log_mean_exp_along(w, axis):
    """:func:`log_mean_exp` of every 1-d slice of ``w`` along ``axis``; that axis removed."""
    return np.apply_along_axis(log_mean_exp, axis, np.asarray(w, dtype=np.float64))


def importance_weighted(model, x, v):
    """The estimate of eq. (36) for each example with the S samples of v (S, B, K): shape (B,)."""
    return log_mean_exp_along(log_weights(model, x, v), axis=0)

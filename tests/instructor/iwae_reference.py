"""The importance-weighted bound written out again, for the hidden tests of task 'iwae-bound'
(and, at the end of the file, its gradient, for those of task 'iwae-gradient').

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


# ---------------------------------------------------------------- task 'iwae-gradient'
#
# The gradient of the bound, written out again from section 11.1 for the hidden tests of task
# 'iwae-gradient', not from numpyvae/iwae.py. Here too the long way round: the normalized
# weights from 50-digit exps, with no largest term factored out; the derivative of the bound
# as a central difference of the decimal log-mean-exp above, in 60-digit arithmetic (so it is
# the derivative of eq. (49) itself, not eq. (51) restated); and log q(z|x)'s share of
# dL/dsigma from the density of z, with its four terms, as section 11.1 first writes it.


def normalized_weights(log_w):
    """w~[s][b] = exp(log w[s][b]) / sum_s' exp(log w[s'][b]), eq. (50), shape (S, B).

    Each exp in 50-digit decimal arithmetic, which neither overflows nor underflows at these
    sizes."""
    log_w = np.asarray(log_w, dtype=np.float64)
    S, B = log_w.shape
    out = np.empty((S, B))
    with localcontext() as context:
        context.prec = 50
        for b in range(B):
            weights = [Decimal(float(log_w[s, b])).exp() for s in range(S)]
            total = sum(weights)
            for s in range(S):
                out[s, b] = float(weights[s] / total)
    return out


def _decimal_log_mean_exp(values):
    """log (1/n) sum_i exp(values_i) of Decimals, in the current context."""
    return (sum(t.exp() for t in values) / len(values)).ln()


def bound_backward(dbound, log_w):
    """dL/dlog w[s][b] = dbound[b] * d log (1/S) sum_s' w[s'][b] / d log w[s][b], shape (S, B):
    eq. (49) differentiated numerically, by central differences of step 1e-25 in 60-digit
    arithmetic (the error of the difference is about 1e-50, that of the rounding 1e-35)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    S, B = log_w.shape
    out = np.empty((S, B))
    with localcontext() as context:
        context.prec = 60
        h = Decimal("1e-25")
        for b in range(B):
            column = [Decimal(float(log_w[s, b])) for s in range(S)]
            for s in range(S):
                up = column[:s] + [column[s] + h] + column[s + 1:]
                down = column[:s] + [column[s] - h] + column[s + 1:]
                slope = (_decimal_log_mean_exp(up) - _decimal_log_mean_exp(down)) / (2 * h)
                out[s, b] = float(dbound[b]) * float(slope)
    return out


def log_weights_backward(dlog_w, mu, sigma, z):
    """dL/dlog P(x|z), dL/dz through log p(z), dL/dsigma through log q(z|x), with loops.

    log p(z) = sum_k log N(z_k; 0, 1), whose partial in z_k is -(z_k - 0) / 1^2. log q(z|x) =
    sum_k log N(z_k; mu_k, sigma_k^2), the density of z, and z = mu + sigma v moves with sigma
    (dz_k/dsigma_k = v_k = (z_k - mu_k) / sigma_k): its total derivative in sigma_k is the
    partial in sigma_k, -1/sigma_k + (z_k - mu_k)^2 / sigma_k^3, plus the partial in z_k,
    -(z_k - mu_k) / sigma_k^2, times v_k. log q enters log w with a minus sign.
    Shapes: dlog_w (S, B), mu and sigma (B, K), z (S, B, K).
    """
    S, B, K = np.shape(z)
    dlog_px = np.empty((S, B))
    dz = np.empty((S, B, K))
    dsigma = np.zeros((B, K))
    for s in range(S):
        for b in range(B):
            g = float(dlog_w[s, b])
            dlog_px[s, b] = g * 1.0                                 # log w = log P + ...
            for k in range(K):
                zk, m, sd = float(z[s, b, k]), float(mu[b, k]), float(sigma[b, k])
                dz[s, b, k] = g * (-(zk - 0.0) / 1.0 ** 2)           # d log N(z; 0, 1) / dz
                v = (zk - m) / sd
                partial_sigma = -1.0 / sd + (zk - m) ** 2 / sd ** 3
                partial_z = -(zk - m) / sd ** 2
                dsigma[b, k] += g * -(partial_sigma + partial_z * v)
    return dlog_px, dz, dsigma

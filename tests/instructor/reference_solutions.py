"""Plain re-implementations of the tasks, for the instructor's tests: not in the student copy.

Each writes a task's formula out again, entry by entry in Python floats, from the paper or the
derivation, never from the package's code: the optimizers' recurrences as Kingma & Ba's
Algorithm 1 and Duchi et al. state them, and the per-example negative ELBO from eqs. (2), (9)
and (12), sample by sample, on top of the forward pieces of tests/oracle.py. Because they
write the solutions out, they live under tests/instructor/, which make_assignment leaves out
of the student copy.
"""
import math

import numpy as np

import oracle


def sgd_reference(theta0, grads, lr, momentum=0.0, weight_decay=0.0):
    """theta after each step; u_t = gamma u_{t-1} + g_t, theta_t = theta_{t-1} - lr u_t."""
    theta, u, history = list(theta0), [0.0] * len(theta0), []
    for g in grads:
        for i in range(len(theta)):
            gi = g[i] + weight_decay * theta[i]
            u[i] = momentum * u[i] + gi
            theta[i] = theta[i] - lr * u[i]
        history.append(list(theta))
    return history


def adam_reference(theta0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """theta after each step, by Algorithm 1 of Kingma & Ba (2015), one entry at a time."""
    n = len(theta0)
    theta, m, v, history = list(theta0), [0.0] * n, [0.0] * n, []
    for t, g in enumerate(grads, start=1):
        for i in range(n):
            gi = g[i] + weight_decay * theta[i]
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi ** 2
            m_hat = m[i] / (1 - beta1 ** t)
            v_hat = v[i] / (1 - beta2 ** t)
            theta[i] = theta[i] - lr * m_hat / (math.sqrt(v_hat) + eps)
        history.append(list(theta))
    return history


def adagrad_reference(theta0, grads, lr, eps=1e-10, weight_decay=0.0, initial=0.0):
    """theta after each step of Duchi, Hazan & Singer's diagonal Adagrad:
    G_t = G_{t-1} + g_t^2, theta_t = theta_{t-1} - lr g_t / (sqrt(G_t) + eps)."""
    theta, G, history = list(theta0), [initial] * len(theta0), []
    for g in grads:
        for i in range(len(theta)):
            gi = g[i] + weight_decay * theta[i]
            G[i] = G[i] + gi * gi
            theta[i] = theta[i] - lr * gi / (math.sqrt(G[i]) + eps)
        history.append(list(theta))
    return history


def negative_elbo(params, config, x, v, beta):
    """Per-example negative ELBO from the formulas: 1/r sum_j -log P(x|z_j) + beta KL."""
    mu, sigma, _ = oracle.encode(params, config, x)
    r, B, _ = v.shape
    out = np.zeros(B)
    for i in range(B):
        recon = 0.0
        for j in range(r):
            z = mu[i] + sigma[i] * v[j, i]
            dec, _ = oracle.decode(params, config, z[None, :])
            if config["likelihood"] == "bernoulli":
                recon += oracle.bernoulli_nll(x[i], dec["mean"][0])
            else:
                recon += oracle.gaussian_nll(x[i], dec["mean"][0], dec["sigma"][0])
        kl = sum(0.5 * (m * m + s * s - 1 - math.log(s * s)) for m, s in zip(mu[i], sigma[i]))
        out[i] = recon / r + beta * kl
    return out

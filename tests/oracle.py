"""An independent, deliberately plain re-implementation of the model's forward pieces.

The tests compare numpyvae against this. It is written from the formulas, not from the
package's code: no shared helpers, loops where they make the formula obvious, math.* where
numpy would hide an overflow. It is slow and only for tiny float64 problems.

It holds only what no task asks a student to write: the encoder and decoder networks and the
two likelihoods' values. A conditional model's first layer is written as the notes of the
conditional VAE write it: the concatenation [x, onehot(y)] times the stacked [W; Wy].
"""
import math

import numpy as np

ACT = {
    "identity": lambda a: a,
    "relu": lambda a: np.maximum(a, 0.0),
    "leaky_relu": lambda a: np.where(a > 0, a, 0.01 * a),
    "elu": lambda a: np.where(a > 0, a, np.exp(np.minimum(a, 0.0)) - 1.0),
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "softplus": lambda a: np.log(1.0 + np.exp(a)),
}


def onehot(y, n_classes):
    """Rows e_n with a 1 in column y_n, written with a loop."""
    e = np.zeros((len(y), n_classes))
    for n, label in enumerate(y):
        e[n, label] = 1.0
    return e


def mlp(params, prefix, n_layers, activation, x, y=None):
    """Hidden layers of the encoder or decoder; also returns every pre-activation.

    With labels y, the first layer reads [x, onehot(y)] with the weight [W; Wy]."""
    pre = []
    for i in range(1, n_layers + 1):
        W = params[f"{prefix}.h{i}.W"]
        if i == 1 and y is not None:
            Wy = params[f"{prefix}.h1.Wy"]
            x, W = np.hstack([x, onehot(y, len(Wy))]), np.vstack([W, Wy])
        a = x @ W + params[f"{prefix}.h{i}.b"]
        pre.append(a)
        x = ACT[activation](a)
    return x, pre


def encode(params, config, x, y=None):
    """mu and sigma of q(z|x) (of q(z|x, y) with labels y), and the hidden pre-activations."""
    n = len(config["hidden"])
    h, pre = mlp(params, "enc", n, config["activation"], x, y)
    mu = h @ params["enc.mu.W"] + params["enc.mu.b"]
    if config.get("sigma_parameterization", "log_var") == "log_var":
        s = h @ params["enc.log_var.W"] + params["enc.log_var.b"]
        sigma = np.sqrt(np.exp(s))                 # sigma^2 = exp(s)
    else:
        s = h @ params["enc.softplus.W"] + params["enc.softplus.b"]
        sigma = 1e-6 + np.log(1.0 + np.exp(s))
    return mu, sigma, pre


def decode(params, config, z, y=None):
    """Distribution parameters of P(x|z) for z (N, K) (of P(x|z, y) with labels y (N,)), and
    the hidden pre-activations."""
    n = len(config["hidden"])
    h, pre = mlp(params, "dec", n, config["activation"], z, y)
    lik = config["likelihood"]
    if lik == "bernoulli":
        logits = h @ params["dec.logits.W"] + params["dec.logits.b"]
        return {"logits": logits, "mean": 1.0 / (1.0 + np.exp(-logits))}, pre
    mean = ACT[config.get("mean_activation", "identity")](h @ params["dec.mean.W"]
                                                          + params["dec.mean.b"])
    if lik == "gaussian":
        t = h @ params["dec.sigma.W"] + params["dec.sigma.b"]
        sigma = config["sigma_x_floor"] + np.log(1.0 + np.exp(t))
    else:
        sigma = np.full_like(mean, config["sigma_x"])
    return {"mean": mean, "sigma": sigma}, pre


def bernoulli_nll(x, p):
    """-log prod_d p^x (1-p)^(1-x), entry by entry with math.log (moderate p only)."""
    total = 0.0
    for xd, pd in zip(x.ravel(), p.ravel()):
        total -= xd * math.log(pd) + (1 - xd) * math.log(1 - pd)
    return total


def gaussian_nll(x, mean, sigma):
    """-log prod_d N(x_d | mean_d, sigma_d^2), from the density written out."""
    total = 0.0
    for xd, md, sd in zip(x.ravel(), mean.ravel(), sigma.ravel()):
        density = math.exp(-(xd - md) ** 2 / (2 * sd ** 2)) / math.sqrt(2 * math.pi * sd ** 2)
        total -= math.log(density)
    return total


def pre_activations(params, config, x, z, y=None):
    """Every hidden pre-activation of a forward pass, flattened (to keep relu off its kink).

    ``z`` holds the latent samples the decoder sees, of shape (r, B, K); ``y`` the labels (B,)
    of a conditional model.
    """
    _, _, pre_enc = encode(params, config, x, y)
    rows = None if y is None else np.tile(y, z.shape[0])     # sample j, example i: y_i
    _, pre_dec = decode(params, config, z.reshape(-1, z.shape[-1]), rows)
    return np.concatenate([a.ravel() for a in pre_enc + pre_dec] or [np.ones(1)])

"""A PyTorch twin of numpyvae's model: the same network, trained side by side for speed and quality.

The network is numpyvae's, for any configuration it trains:

- an encoder of dense layers with the hidden sizes in order (784-h1-...-hL), each followed by
  the activation, and two heads: mu and s = log sigma^2;
- r reparameterized samples per example, z_j = mu + exp(s/2) * eps_j, eps_j ~ N(0, I);
- a decoder with the hidden sizes in reverse order (K-hL-...-h1), each followed by the same
  activation, and the output of the likelihood (:data:`LIKELIHOODS`, numpyvae's four):

  - ``bernoulli``: a head ``dec.logits``, -log P(x|z) the cross-entropy of eq. (16);
  - ``gaussian``: heads ``dec.mean`` and ``dec.sigma``, sigma_x = floor + softplus(t) per
    pixel, eq. (22);
  - ``gaussian-shared``: a head ``dec.mean`` and one parameter ``dec.sigma_x.t`` of shape (1,),
    sigma_x = floor + softplus(t) for every pixel; t starts where numpyvae's model starts it;
  - ``gaussian-fixed``: a head ``dec.mean`` and a constant sigma_x;

  the Gaussian mean is mu_x = g(dec.mean) with g the mean activation (sigmoid by default), and
  -log P(x|z) is eq. (19), sum_d [1/2 log 2 pi + log sigma_x + (x - mu_x)^2 / (2 sigma_x^2)];
- the loss of an example as numpyvae's eq. (2), recon = 1/r sum_j -log P(x|z_j), plus
  KL(q(z|x) || N(0, I)); or, with ``--objective iwae``, the negative importance-weighted bound
  of Burda et al. (2016) with k = r samples,

      -L_k(x) = -logsumexp_j log w_j + log k,   log w_j = log P(x|z_j) + log p(z_j) - log q(z_j|x),

  the log-weights of :meth:`TorchVAETrainer.log_weights`, with PyTorch's own Normal densities,
  differentiated by autograd (numpyvae's eq. (49), whose gradient numpyvae writes by hand);
- each step is Adam on the sum over the batch (``--reduction mean``: on the batch mean, as
  numpyvae steps, which matters with a large Adam eps such as Burda's 1e-4), batches shuffled
  each epoch;
- PyTorch's default nn.Linear initialization, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  the distribution numpyvae draws from.

The defaults are the pytorch/examples VAE (vae/main.py): 784-400-20 with relu, r = 1, Adam
with lr 1e-3, batches of 128, loss = BCE(sum) + KL(sum) per batch. Two deliberate differences
from that example: the reconstruction term is ``binary_cross_entropy_with_logits`` on the
logits (the same number as BCE on the sigmoid outputs, without the clamp), and losses are
reported per example, in nats.

Data are MNIST or Fashion-MNIST, the four IDX files (raw or gzipped) of one folder, read and
checked by numpyvae's readers; no torchvision. The model sees grey levels pixel / 255, or with
``--dequantize`` x = (pixel + u) / 256, u ~ U(0, 1): a fresh draw for every training batch,
and for the test set the one fixed draw that numpyvae's
``load_dataset(name, dequantize=True, seed=seed)`` makes, so that both libraries are measured
on the same test points. With ``--binarize dynamic`` (Burda et al.'s stochastic binarization)
every training batch is a fresh draw x_b ~ Bernoulli(x) of its grey levels, and the test set is
binarized once from the seed, numpyvae's ``binarize_static(test_x, seed)`` as
``numpyvae train --binarize dynamic`` does it.

The learning rate is fixed (``--lr``), or with ``--stages 0..N`` follows the first N + 1 stages
of Burda et al.'s schedule: 3^i epochs at 0.001 * 10^(-i/7) for i = 0..N, as
scripts/reproduce_iwae.py runs numpyvae; Adam keeps its moments from one stage to the next.
``--adam-eps`` sets Adam's eps (PyTorch's 1e-8 by default; Burda et al. use 1e-4).

At the end it reports, and writes with ``--json``:

- the test negative ELBO, one noise draw per image, in nats (for a Gaussian decoder a
  density, not a probability), and on dequantized data also in bits per dimension,
  bpd = (nats + D ln 256) / (D ln 2) (numpyvae's eq. (48), :func:`bits_per_dimension`);
- the importance-weighted bound -log p(x) with K samples on the first N test images (numpyvae's
  eqs. (36)-(39), as ``numpyvae evaluate --samples K --limit N``), in nats and bits per
  dimension;
- the share of test pixels whose learned sigma_x sits at its floor, sigma_x < floor (1 + 1e-3),
  at z = mu(x);
- the active latent units on the same N test images: unit u is active when the variance over
  the images of its mean mu_u(x) exceeds 0.01 (Burda et al., section 5.2; numpyvae's
  ``active_units``).

The report's keys are those of numpyvae's metrics.jsonl and evaluation.json (test_loss,
test_bpd, test_nll_iw, test_nll_iw_bpd, test_sigma_x_at_floor, active_units, unit_variances,
...), so that the two can be set side by side.

PyTorch is never a dependency of numpyvae: it is imported only here, and only when it is
installed (``available()`` says whether it is). This script needs numpyvae for the data, the
dequantization and the starting sigma_x of ``gaussian-shared``.

Use from a benchmark::

    import torch_reference
    if torch_reference.available():
        trainer = torch_reference.make_trainer(hidden=(500, 500), activation="tanh", seed=0)
        t0 = time.perf_counter(); loss = trainer.train_epoch(train_x); dt = time.perf_counter() - t0
        test_loss = trainer.evaluate(test_x)

Run on full MNIST, or Fashion-MNIST with a Gaussian decoder::

    python scripts/torch_reference.py --epochs 10
    python scripts/torch_reference.py --hidden 500 500 --activation tanh --batch-size 100
    python scripts/torch_reference.py --dataset fashion-mnist --likelihood gaussian-shared \\
        --dequantize --seed 0 --json torch-shared-0.json

Burda et al.'s Table 1 (IWAE, k = 5), beside ``scripts/reproduce_iwae.py --stages 0..3``::

    python scripts/torch_reference.py --objective iwae --samples 5 --hidden 200 200 \\
        --z-dim 50 --activation tanh --batch-size 20 --binarize dynamic --adam-eps 1e-4 \\
        --reduction mean --stages 0..3 --iw-samples 5000 --iw-limit 10000 --json iwae-k5.json
"""
import argparse
import dataclasses
import functools
import json
import math
import numbers
import os
import time
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from numpyvae.app.cli import positive_float, positive_int
from numpyvae.datasets import (FASHION_MNIST, MNIST, DatasetError, binarize_dynamic,
                               binarize_static, dequantize, dequantize_static, grey_levels,
                               pixels_from_grey)
from numpyvae.datasets.mnist import load_idx_dataset
from numpyvae.likelihoods import DEFAULT_SIGMA_X
from numpyvae.vae import VAE

try:
    import torch
    from torch.nn import functional as F
except ImportError:  # numpyvae itself never needs torch
    torch = None

X_DIM = 784
LOG_2PI = math.log(2 * math.pi)
# numpyvae's activations, by the names numpyvae gives them (numpyvae/activations.py).
ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus")
LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0
# The Gaussian decoders' mean activations, and their defaults (numpyvae's VAE has the same).
MEAN_ACTIVATIONS = ("identity", "sigmoid")
DEFAULT_MEAN_ACTIVATION = "sigmoid"
DEFAULT_SIGMA_X_FLOOR = 1e-2
# A learned sigma_x counts as at its floor below floor * (1 + FLOOR_TOLERANCE), as in numpyvae.
FLOOR_TOLERANCE = 1e-3
# The training objectives: the negative ELBO, eq. (2), or the negative IWAE bound -L_k.
OBJECTIVES = ("elbo", "iwae")
# How the training images are binarized: not at all, or a fresh Bernoulli draw of each batch.
BINARIZATIONS = ("none", "dynamic")
# What a step differentiates: the sum of the batch's losses (pytorch/examples) or their mean
# (numpyvae).
REDUCTIONS = ("sum", "mean")
DEFAULTS = {"hidden": (400,), "z_dim": 20, "activation": "relu", "likelihood": "bernoulli",
            "mean_activation": None, "sigma_x": None, "sigma_x_floor": None,
            "dequantize": False, "binarize": "none", "objective": "elbo", "samples": 1,
            "batch_size": 128, "reduction": "sum", "lr": 1e-3, "adam_eps": 1e-8, "seed": 0}
DATASETS = {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}
# A latent unit is active when the variance over the test images of its mean mu_u(x) exceeds
# this (Burda et al., 2016, section 5.2; numpyvae's ACTIVE_UNIT_THRESHOLD).
ACTIVE_UNIT_THRESHOLD = 0.01
# Burda et al.'s schedule: stage i = 0..7 has 3^i epochs at the learning rate
# 0.001 * 10^(-i/7), 3280 epochs in all.
SCHEDULE_STAGES = 8
SCHEDULE_FIRST_LR = 1e-3


def available():
    """Whether PyTorch can be imported in this environment."""
    return torch is not None


# ---------------------------------------------------------------- the decoders

def bernoulli_nll(decoded, x):
    """-log P(x|z_j) of each sample and example, summed over the pixels, eq. (16).

    Parameters
    ----------
    decoded : dict with ``"logits"``, torch.Tensor of shape (r, B, 784)
    x : torch.Tensor, shape (B, 784), in [0, 1]

    Returns
    -------
    torch.Tensor, shape (r, B)
    """
    logits = decoded["logits"]
    return F.binary_cross_entropy_with_logits(logits, x.expand_as(logits),
                                              reduction="none").sum(dim=-1)


def gaussian_nll(decoded, x):
    """-log N(x | mu_x, sigma_x^2) of each sample and example, summed over the pixels, eq. (19).

    Parameters
    ----------
    decoded : dict with ``"mean"``, torch.Tensor of shape (r, B, 784), and ``"sigma"``, > 0,
        broadcastable to it: (r, B, 784) per pixel, (1,) shared, or a 0-d tensor fixed
    x : torch.Tensor, shape (B, 784)

    Returns
    -------
    torch.Tensor, shape (r, B)
    """
    mean, sigma = decoded["mean"], decoded["sigma"]
    return torch.sum(0.5 * LOG_2PI + torch.log(sigma) + (x - mean) ** 2 / (2 * sigma ** 2),
                     dim=-1)                                            # eq. (19)


Likelihood = namedtuple("Likelihood", ["heads", "sigma_x", "nll"])
Likelihood.__doc__ = """A decoder: the names of its dense output heads (784 outputs each); how
it has sigma_x (None for Bernoulli, "pixel" from the head ``sigma``, "shared" from the one
parameter ``dec.sigma_x.t``, "fixed" a constant); and ``nll(decoded, x)``, -log P(x|z_j) of
each sample and example, shape (r, B)."""

# The decoders of this reference by name: numpyvae's, with the same heads.
LIKELIHOODS = {
    "bernoulli": Likelihood(("logits",), None, bernoulli_nll),
    "gaussian": Likelihood(("mean", "sigma"), "pixel", gaussian_nll),
    "gaussian-shared": Likelihood(("mean",), "shared", gaussian_nll),
    "gaussian-fixed": Likelihood(("mean",), "fixed", gaussian_nll),
}


def bits_per_dimension(nats, x_dim=X_DIM):
    """A negative log-density of dequantized data, in bits per dimension, numpyvae's eq. (48).

    The model's x = (pixel + u) / 256 lies in [0, 1)^D; the same density over the pixel scale
    [0, 256)^D is 256^D times smaller, so -log p(pixel + u) = nats + D ln 256, and in bits
    per pixel

        bpd = (nats + D ln 256) / (D ln 2).

    A uniform density on [0, 1)^D (0 nats) is 8 bits per dimension.

    Parameters
    ----------
    nats : float
        -log p(x) of an image (or its bound, such as the negative ELBO), in nats.
    x_dim : int
        D, the pixels of an image.

    Returns
    -------
    float
    """
    if isinstance(nats, (bool, np.bool_)) or not isinstance(nats, numbers.Real) \
            or not np.isfinite(nats):
        raise ValueError(f"nats must be a finite number; got {nats!r}")
    x_dim = _check_int("x_dim", x_dim)
    return (float(nats) + x_dim * math.log(256)) / (x_dim * math.log(2))


# ---------------------------------------------------------------- the schedule

def stage_lr(stage):
    """The learning rate of stage i of Burda et al.'s schedule, 0.001 * 10^(-i/7)."""
    stage = _check_stage(stage)
    return SCHEDULE_FIRST_LR * 10 ** (-stage / 7)


def epochs_after(stage):
    """The epochs of stages 0..i of Burda et al.'s schedule together, 3^0 + ... + 3^i."""
    stage = _check_stage(stage)
    return sum(3 ** i for i in range(stage + 1))


def schedule(last_stage):
    """Stages 0..``last_stage`` of Burda et al.'s schedule, one entry per epoch.

    Parameters
    ----------
    last_stage : int, 0..7
        N of ``--stages 0..N``.

    Returns
    -------
    list of (stage, lr), of length :func:`epochs_after` (last_stage): stage i repeated 3^i
    times with its learning rate :func:`stage_lr` (i).
    """
    last_stage = _check_stage(last_stage, "last_stage")
    return [(i, stage_lr(i)) for i in range(last_stage + 1) for _ in range(3 ** i)]


def _check_stage(stage, name="stage"):
    if isinstance(stage, (bool, np.bool_)) or not isinstance(stage, numbers.Integral) \
            or not 0 <= stage < SCHEDULE_STAGES:
        raise ValueError(f"{name} must be a stage of Burda et al.'s schedule, an integer from 0 "
                         f"to {SCHEDULE_STAGES - 1}; got {stage!r}")
    return int(stage)


# ---------------------------------------------------------------- checks (no torch needed)

def _check_int(name, value, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_positive_float(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _check_choice(name, value, choices, note=""):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}{note}; got {value!r}")
    return value


def _check_hidden(hidden):
    """Hidden layer sizes as a tuple of ints >= 1 (one int is one layer), or a ValueError."""
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, (bool, np.bool_)):
        hidden = (hidden,)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Iterable):
        raise ValueError(f"hidden must be a layer size or a sequence of layer sizes (integers "
                         f">= 1); got {hidden!r}")
    hidden = tuple(hidden)
    for size in hidden:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral) \
                or size < 1:
            raise ValueError(f"hidden must hold layer sizes, integers >= 1; got {size!r} in "
                             f"{hidden!r}")
    return tuple(int(size) for size in hidden)


def _decoder_options(likelihood, mean_activation, sigma_x, sigma_x_floor):
    """The Gaussian decoder's options with their defaults; None for those that do not apply.

    An option given for a decoder that has no use for it is an error, so that a run never
    silently ignores what it was asked.
    """
    kind = LIKELIHOODS[likelihood].sigma_x
    applies = {"mean_activation": kind is not None, "sigma_x": kind == "fixed",
               "sigma_x_floor": kind in ("pixel", "shared")}
    given = {"mean_activation": mean_activation, "sigma_x": sigma_x,
             "sigma_x_floor": sigma_x_floor}
    users = {"mean_activation": "the Gaussian likelihoods", "sigma_x": "'gaussian-fixed'",
             "sigma_x_floor": "'gaussian' and 'gaussian-shared'"}
    for name, value in given.items():
        if value is not None and not applies[name]:
            raise ValueError(f"{name} applies to {users[name]} only; got {name}={value!r} with "
                             f"likelihood {likelihood!r}")
    return {
        "mean_activation": None if kind is None else _check_choice(
            "mean_activation", DEFAULT_MEAN_ACTIVATION if mean_activation is None
            else mean_activation, MEAN_ACTIVATIONS),
        "sigma_x": None if kind != "fixed" else _check_positive_float(
            "sigma_x", DEFAULT_SIGMA_X if sigma_x is None else sigma_x),
        "sigma_x_floor": None if kind not in ("pixel", "shared") else _check_positive_float(
            "sigma_x_floor", DEFAULT_SIGMA_X_FLOOR if sigma_x_floor is None else sigma_x_floor),
    }


def check_config(hidden=DEFAULTS["hidden"], z_dim=DEFAULTS["z_dim"],
                 activation=DEFAULTS["activation"], likelihood=DEFAULTS["likelihood"],
                 mean_activation=DEFAULTS["mean_activation"], sigma_x=DEFAULTS["sigma_x"],
                 sigma_x_floor=DEFAULTS["sigma_x_floor"], dequantize=DEFAULTS["dequantize"],
                 samples=DEFAULTS["samples"], batch_size=DEFAULTS["batch_size"],
                 lr=DEFAULTS["lr"], seed=DEFAULTS["seed"], *, binarize=DEFAULTS["binarize"],
                 objective=DEFAULTS["objective"], reduction=DEFAULTS["reduction"],
                 adam_eps=DEFAULTS["adam_eps"]):
    """A configuration of the network and its training, checked; needs no torch.

    Parameters
    ----------
    hidden : int or sequence of int
        Hidden layer sizes of the encoder, in order; the decoder uses them reversed. One int
        is one layer; an empty sequence is no hidden layer, as in numpyvae.
    z_dim : int
        K, the size of the latent code.
    activation : str
        One of :data:`ACTIVATIONS`, after every hidden layer.
    likelihood : str
        The decoder, one of :data:`LIKELIHOODS`.
    mean_activation : str or None
        The Gaussian decoders' g in mu_x = g(dec.mean), one of :data:`MEAN_ACTIVATIONS`;
        None means "sigmoid". Not for Bernoulli.
    sigma_x : float or None
        The constant sigma_x of "gaussian-fixed"; None means numpyvae's
        ``numpyvae.likelihoods.DEFAULT_SIGMA_X``. Not for the other decoders.
    sigma_x_floor : float or None
        The floor of the learned sigma_x of "gaussian" and "gaussian-shared", eq. (22); None
        means 1e-2, numpyvae's. Not for the other decoders.
    dequantize : bool
        Train on a fresh dequantization x = (pixel + u) / 256 of every batch; the training
        images are then uint8 pixels, or grey levels pixel / 255. Gaussian likelihoods only.
    samples : int
        r, the noise draws per example in training; k of the bound with ``objective="iwae"``.
    batch_size : int
        Examples per step; the last batch of an epoch may be smaller (as DataLoader does).
    lr : float
        Adam's learning rate (the first; a schedule changes it with :meth:`set_lr`).
    seed : int
        Seeds the initialization, the shuffling and the noise.
    binarize : {"none", "dynamic"}
        "dynamic": train on a fresh draw x_b ~ Bernoulli(x) of every batch's grey levels.
        Not with ``dequantize``.
    objective : {"elbo", "iwae"}
        The loss of a step: the negative ELBO, eq. (2), or the negative importance-weighted
        bound -L_k with k = ``samples``.
    reduction : {"sum", "mean"}
        A step differentiates the sum of the batch's losses (the pytorch/examples VAE), or
        their mean (numpyvae). Adam is blind to the scale except through its eps.
    adam_eps : float
        Adam's eps; 1e-8 is PyTorch's and numpyvae's default, Burda et al. use 1e-4.

    Returns
    -------
    dict
        The same keys, with ``hidden`` as a tuple of ints and the decoder's options filled in
        (None where they do not apply).

    Raises
    ------
    ValueError
        Naming the first bad argument, what it must be and what it is.
    """
    config = {
        "hidden": _check_hidden(hidden),
        "z_dim": _check_int("z_dim", z_dim),
        "activation": _check_choice("activation", activation, ACTIVATIONS),
        "likelihood": _check_choice("likelihood", likelihood, LIKELIHOODS,
                                    " (the decoders the PyTorch reference has)"),
    }
    config.update(_decoder_options(likelihood, mean_activation, sigma_x, sigma_x_floor))
    if not isinstance(dequantize, (bool, np.bool_)):
        raise ValueError(f"dequantize must be True or False; got {dequantize!r}")
    if dequantize and LIKELIHOODS[likelihood].sigma_x is None:
        raise ValueError(f"dequantize makes continuous data for a Gaussian decoder; got "
                         f"dequantize=True with likelihood {likelihood!r}")
    binarize = _check_choice("binarize", binarize, BINARIZATIONS)
    if dequantize and binarize != "none":
        raise ValueError(f"dequantize and binarize={binarize!r} exclude each other: binary "
                         f"pixels have no grey levels to spread over their cells")
    config.update({
        "dequantize": bool(dequantize),
        "binarize": binarize,
        "objective": _check_choice("objective", objective, OBJECTIVES),
        "samples": _check_int("samples", samples),
        "batch_size": _check_int("batch_size", batch_size),
        "reduction": _check_choice("reduction", reduction, REDUCTIONS),
        "lr": _check_positive_float("lr", lr),
        "adam_eps": _check_positive_float("adam_eps", adam_eps),
        "seed": _check_int("seed", seed, minimum=0),
    })
    return config


def layer_sizes(hidden, z_dim, heads=("logits",), x_dim=X_DIM):
    """(fan_in, fan_out) of every dense layer by name, in the order the network is built.

    The names are numpyvae's parameter names with ``_`` for ``.`` (a torch module name cannot
    hold a dot): ``enc_h1``.., ``enc_mu``, ``enc_log_var``, ``dec_h1``.., ``dec_<head>``.

    Parameters
    ----------
    hidden : tuple of int
        The encoder's hidden sizes; the decoder's are the same, reversed.
    z_dim : int
    heads : tuple of str
        The decoder's output heads (see :data:`LIKELIHOODS`).
    x_dim : int

    Returns
    -------
    dict of str -> (int, int)
    """
    sizes = {}
    widths = (x_dim,) + tuple(hidden)
    for i in range(len(hidden)):
        sizes[f"enc_h{i + 1}"] = (widths[i], widths[i + 1])
    sizes["enc_mu"] = (widths[-1], z_dim)
    sizes["enc_log_var"] = (widths[-1], z_dim)
    widths = (z_dim,) + tuple(hidden)[::-1]
    for i in range(len(hidden)):
        sizes[f"dec_h{i + 1}"] = (widths[i], widths[i + 1])
    for head in heads:
        sizes[f"dec_{head}"] = (widths[-1], x_dim)
    return sizes


def network_name(hidden, z_dim, x_dim=X_DIM):
    """The encoder's widths, such as ``784-500-500-20``."""
    return "-".join(str(width) for width in (x_dim, *hidden, z_dim))


def initial_sigma_x_t(config):
    """The starting t of gaussian-shared's sigma_x = floor + softplus(t): numpyvae's own.

    Read from a numpyvae model of the same configuration, so that the two libraries start
    from the same sigma_x whatever rule numpyvae uses.

    Returns
    -------
    ndarray of float32, shape (1,)
    """
    model = VAE(X_DIM, config["z_dim"], hidden=config["hidden"], likelihood="gaussian-shared",
                activation=config["activation"], seed=config["seed"],
                sigma_x_floor=config["sigma_x_floor"],
                mean_activation=config["mean_activation"])
    t = np.array(model.parameters()["dec.sigma_x.t"], dtype=np.float32)
    if not np.all(np.isfinite(t)):
        raise ValueError(f"numpyvae starts gaussian-shared's t at {t[0]} for sigma_x_floor="
                         f"{config['sigma_x_floor']!r}; a floor below numpyvae's starting "
                         f"sigma_x is needed")
    return t


def _check_images(name, x):
    """``x`` as a C-contiguous float32 array of shape (N, 784) in [0, 1], or a ValueError."""
    _check_shape(name, x)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not (x.min() >= 0 and x.max() <= 1):  # also catches NaN
        raise ValueError(f"{name} must hold values in [0, 1]; got range [{x.min()}, {x.max()}]")
    return x


def _check_shape(name, x):
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of shape (N, {X_DIM}); got {type(x)}")
    if x.ndim != 2 or x.shape[1] != X_DIM or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, {X_DIM}); got {x.shape}")


def _check_pixels(name, x):
    """``x`` as uint8 pixels (N, 784): given as such, or as grey levels pixel / 255."""
    _check_shape(name, x)
    if x.dtype == np.uint8:
        return x
    try:
        return pixels_from_grey(_check_images(name, x))
    except ValueError as err:
        raise ValueError(f"{name} must hold uint8 pixels or grey levels pixel / 255 to be "
                         f"dequantized: {err}") from None


# ---------------------------------------------------------------- the data

def default_data_dir(dataset):
    """``../shared/data/<dataset>`` beside the repository: the copies the project's tests use."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "..", "shared", "data", dataset)


def dequantized_test_set(test_pixels, seed):
    """The one fixed dequantization of the test set that numpyvae makes from ``seed``.

    numpyvae's ``load_dataset(name, dequantize=True, seed=seed)`` splits the seed into a
    training and a test stream and dequantizes the test pixels with the second; so does this.

    Parameters
    ----------
    test_pixels : ndarray of uint8, shape (N, 784)
    seed : int >= 0

    Returns
    -------
    ndarray of float32, shape (N, 784), x = (pixel + u) / 256
    """
    _, test_seed = np.random.SeedSequence(_check_int("seed", seed, minimum=0)).spawn(2)
    return dequantize_static(test_pixels, test_seed)


def binarized_test_set(test_x, seed):
    """The one fixed binarization of the test set that ``numpyvae train --binarize dynamic``
    measures on: numpyvae's ``binarize_static(test_x, seed)`` of the grey levels.

    Parameters
    ----------
    test_x : ndarray of float32, shape (N, 784), grey levels pixel / 255
    seed : int >= 0

    Returns
    -------
    ndarray of float32, shape (N, 784), of 0.0 and 1.0
    """
    return binarize_static(test_x, _check_int("seed", seed, minimum=0))


def load_images(dataset, data_dir, dequantize=False, seed=0, binarize="none"):
    """Training and test images of ``dataset`` from the four IDX files of a folder.

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist"}
    data_dir : str or os.PathLike
        The folder holding the four files, raw or gzipped; they are checked against their
        SHA-256 and never downloaded.
    dequantize : bool
        For a trainer that dequantizes: the training pixels as they are, and the test set
        dequantized once, as :func:`dequantized_test_set`. Else grey levels pixel / 255.
    seed : int >= 0
        The seed of the test set's dequantization or binarization.
    binarize : {"none", "dynamic"}
        "dynamic": the training grey levels as they are (the trainer binarizes each batch),
        and the test set binarized once, as :func:`binarized_test_set`.

    Returns
    -------
    train : ndarray, shape (N_train, 784): uint8 pixels with ``dequantize``, else float32
        grey levels
    test_x : ndarray of float32, shape (N_test, 784)
    """
    _check_choice("dataset", dataset, DATASETS)
    _check_choice("binarize", binarize, BINARIZATIONS)
    if dequantize and binarize != "none":
        raise ValueError(f"dequantize and binarize={binarize!r} exclude each other")
    # numpyvae looks for Fashion-MNIST in a subfolder of its data folder; here the folder
    # holding the files is given, so the subfolder is cleared.
    source = dataclasses.replace(DATASETS[dataset], subfolder="")
    arrays = load_idx_dataset(source, data_dir, download=False, progress=False)
    train, test = (images.reshape(len(images), -1)
                   for images in (arrays["train_images"], arrays["test_images"]))
    if dequantize:
        return train, dequantized_test_set(test, seed)
    if binarize == "dynamic":
        return grey_levels(train), binarized_test_set(grey_levels(test), seed)
    return grey_levels(train), grey_levels(test)


# ---------------------------------------------------------------- the network (torch)

def activation_function(name):
    """The torch function of numpyvae's activation ``name``."""
    _check_choice("activation", name, ACTIVATIONS)
    return {
        "identity": lambda a: a,
        "relu": F.relu,
        "leaky_relu": functools.partial(F.leaky_relu, negative_slope=LEAKY_RELU_SLOPE),
        "elu": functools.partial(F.elu, alpha=ELU_ALPHA),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "softplus": F.softplus,
    }[name]


def log_mean_exp(w, dim=0):
    """log (1/K) sum_k exp(w_k) along ``dim``, numpyvae's eq. (39): m + log mean exp(w - m)."""
    m = torch.amax(w, dim=dim, keepdim=True)
    return (m + torch.log(torch.mean(torch.exp(w - m), dim=dim, keepdim=True))).squeeze(dim)


class TorchVAETrainer:
    """numpyvae's network with an Adam optimizer, in PyTorch, trained on numpy arrays.

    The parameters are ``layers``: a dense layer per name of :func:`layer_sizes`, and for
    gaussian-shared ``layers["dec_sigma_x"]["t"]``, numpyvae's ``dec.sigma_x.t``.

    Parameters
    ----------
    hidden, z_dim, lr, batch_size, seed, activation, samples, likelihood, mean_activation,
    sigma_x, sigma_x_floor, dequantize, binarize, objective, reduction, adam_eps
        As in :func:`check_config`.
    threads : int or None
        ``torch.set_num_threads`` value (process-wide); None means 2, this machine's cores.
    """

    def __init__(self, hidden=DEFAULTS["hidden"], z_dim=DEFAULTS["z_dim"], lr=DEFAULTS["lr"],
                 batch_size=DEFAULTS["batch_size"], seed=DEFAULTS["seed"], threads=None, *,
                 activation=DEFAULTS["activation"], samples=DEFAULTS["samples"],
                 likelihood=DEFAULTS["likelihood"], mean_activation=None, sigma_x=None,
                 sigma_x_floor=None, dequantize=False, binarize=DEFAULTS["binarize"],
                 objective=DEFAULTS["objective"], reduction=DEFAULTS["reduction"],
                 adam_eps=DEFAULTS["adam_eps"]):
        self.config = check_config(hidden=hidden, z_dim=z_dim, activation=activation,
                                   likelihood=likelihood, mean_activation=mean_activation,
                                   sigma_x=sigma_x, sigma_x_floor=sigma_x_floor,
                                   dequantize=dequantize, samples=samples,
                                   batch_size=batch_size, lr=lr, seed=seed, binarize=binarize,
                                   objective=objective, reduction=reduction,
                                   adam_eps=adam_eps)
        self.hidden = self.config["hidden"]
        self.samples = self.config["samples"]
        self.batch_size = self.config["batch_size"]
        self.activation = activation_function(activation)
        self.likelihood = LIKELIHOODS[likelihood]
        if self.likelihood.sigma_x is not None:
            self.mean_activation = activation_function(self.config["mean_activation"])
        self.threads = 2 if threads is None else _check_int("threads", threads)
        torch.set_num_threads(self.threads)

        seed = self.config["seed"]
        torch.manual_seed(seed)  # the layers draw their initial weights from the global RNG
        self.layers = torch.nn.ModuleDict({
            name: torch.nn.Linear(fan_in, fan_out)
            for name, (fan_in, fan_out) in layer_sizes(
                self.hidden, self.config["z_dim"], self.likelihood.heads).items()})
        if self.likelihood.sigma_x == "shared":
            t = torch.from_numpy(initial_sigma_x_t(self.config))
            self.layers["dec_sigma_x"] = torch.nn.ParameterDict({"t": torch.nn.Parameter(t)})
        self.optimizer = torch.optim.Adam(self.layers.parameters(), lr=self.config["lr"],
                                          eps=self.config["adam_eps"])
        self.train_rng = torch.Generator().manual_seed(seed + 1)  # shuffling and training noise
        self.eval_rng = torch.Generator().manual_seed(seed + 2)   # test noise
        self.iw_rng = torch.Generator().manual_seed(seed + 3)     # importance samples
        self.dequantize_rng = np.random.default_rng([seed, 5])    # u of the training batches
        self.binarize_rng = np.random.default_rng([seed, 6])      # their binarizations

    @property
    def lr(self):
        """Adam's learning rate now."""
        return self.optimizer.param_groups[0]["lr"]

    def set_lr(self, lr):
        """Set Adam's learning rate from the next step on, keeping its moments and step count
        (as numpyvae's ``Run.resume(lr=...)`` does between the stages of a schedule)."""
        lr = _check_positive_float("lr", lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def describe(self):
        """The configuration in one line, such as ``784-400-20 relu, bernoulli, r = 1, ...``."""
        c = self.config
        kind = self.likelihood.sigma_x
        decoder = ""
        if kind in ("pixel", "shared"):
            decoder = (f" (sigma_x = {c['sigma_x_floor']:g} + softplus(t) "
                       f"{'per pixel' if kind == 'pixel' else 'shared'}")
        elif kind == "fixed":
            decoder = f" (sigma_x = {c['sigma_x']:g}"
        if decoder:
            decoder += f", mean {c['mean_activation']})"
        data = ", dequantized" if c["dequantize"] else ""
        data += ", binarized dynamically" if c["binarize"] == "dynamic" else ""
        samples = (f"IWAE bound k = {c['samples']}" if c["objective"] == "iwae"
                   else f"r = {c['samples']}")
        mean = " (steps on the batch mean)" if c["reduction"] == "mean" else ""
        eps = f", eps {c['adam_eps']:g}" if c["adam_eps"] != DEFAULTS["adam_eps"] else ""
        return (f"{network_name(c['hidden'], c['z_dim'])} {c['activation']}, "
                f"{c['likelihood']}{decoder}{data}, {samples}, "
                f"batch {c['batch_size']}{mean}, Adam lr {c['lr']:g}{eps}")

    def _trunk(self, prefix, h):
        """The hidden layers ``{prefix}_h1``, ``{prefix}_h2``, ..., each with the activation."""
        for i in range(1, len(self.hidden) + 1):
            h = self.activation(self.layers[f"{prefix}_h{i}"](h))
        return h

    def encode(self, x):
        """mu and s = log sigma^2 of q(z|x), each of shape (B, z_dim)."""
        h = self._trunk("enc", x)
        return self.layers["enc_mu"](h), self.layers["enc_log_var"](h)

    def decode(self, z):
        """The parameters of P(x|z) for codes z of shape (..., z_dim).

        Returns
        -------
        dict: ``"logits"`` (..., 784) for Bernoulli; ``"mean"`` (..., 784) and ``"sigma"`` for
        a Gaussian: per pixel (..., 784), shared (1,), or fixed (a 0-d tensor).
        """
        h = self._trunk("dec", z)
        kind = self.likelihood.sigma_x
        if kind is None:
            return {"logits": self.layers["dec_logits"](h)}
        mean = self.mean_activation(self.layers["dec_mean"](h))
        if kind == "pixel":
            sigma = self.config["sigma_x_floor"] + F.softplus(self.layers["dec_sigma"](h))  # (22)
        elif kind == "shared":
            t = self.layers["dec_sigma_x"]["t"]
            sigma = self.config["sigma_x_floor"] + F.softplus(t)                          # (22)
        else:
            sigma = mean.new_tensor(self.config["sigma_x"])
        return {"mean": mean, "sigma": sigma}

    def _forward(self, x, eps):
        """(decoded, mu, log_var) for a batch and its noise; z_j = mu + eps_j exp(s/2)."""
        mu, logvar = self.encode(x)
        z = mu + eps * torch.exp(0.5 * logvar)                    # (r, B, K)
        return self.decode(z), mu, logvar                         # all r samples at once

    def _terms(self, x, eps):
        """recon and KL summed over the batch, and the decoder's output, for given noise."""
        decoded, mu, logvar = self._forward(x, eps)
        recon = self.likelihood.nll(decoded, x).sum() / eps.shape[0]   # 1/r sum_j, sum over i
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return recon, kld, decoded

    def negative_elbo(self, x, eps):
        """Sum over the batch of each example's negative ELBO, eq. (2), for given noise.

        Parameters
        ----------
        x : torch.Tensor, shape (B, 784), float32 in [0, 1]
        eps : torch.Tensor, shape (r, B, z_dim), standard normal noise

        Returns
        -------
        loss : torch.Tensor, scalar: sum_i (1/r sum_j -log P(x_i|z_ij) + KL_i)
        """
        recon, kld, _ = self._terms(x, eps)
        return recon + kld

    def negative_iwae_bound(self, x, eps):
        """Sum over the batch of each example's negative importance-weighted bound -L_k.

        -L_k(x) = -log (1/k) sum_j w_j = -logsumexp_j log w_j + log k, with the log-weights
        of :meth:`log_weights` at z_j = mu + sigma eps_j (Burda et al., 2016;
        numpyvae's eq. (49)). autograd gives the gradient, sum_j w~_j grad log w_j with w~ the
        softmax of the log-weights over j. At k = 1 it is the negative ELBO with a one-sample
        Monte Carlo KL, log q(z|x) - log p(z).

        Parameters
        ----------
        x : torch.Tensor, shape (B, 784), in [0, 1]
        eps : torch.Tensor, shape (k, B, z_dim), standard normal noise

        Returns
        -------
        loss : torch.Tensor of float64, scalar: sum_i -L_k(x_i)
        """
        log_w = self.log_weights(x, eps)                                  # (k, B)
        bound = torch.logsumexp(log_w, dim=0) - math.log(eps.shape[0])    # L_k(x_i), (B,)
        return -bound.sum()

    def batch_loss(self, x, rng, samples=None):
        """The summed loss of a batch, ``samples`` noise draws per example.

        Parameters
        ----------
        x : torch.Tensor, shape (B, 784), float32 in [0, 1]
        rng : torch.Generator for the noise
        samples : int or None
            r (k of the bound); None means the trainer's.

        Returns
        -------
        loss : torch.Tensor, scalar: :meth:`negative_elbo`, or :meth:`negative_iwae_bound`
            for the objective "iwae"
        """
        if self.config["objective"] == "iwae":
            return self.negative_iwae_bound(x, self._noise(x, rng, samples))
        return self.negative_elbo(x, self._noise(x, rng, samples))

    def _noise(self, x, rng, samples=None):
        r = self.samples if samples is None else samples
        return torch.randn((r, x.shape[0], self.config["z_dim"]), generator=rng, dtype=x.dtype)

    def train_epoch(self, train_x):
        """One pass over ``train_x`` in a fresh random order; returns the mean loss per example.

        Parameters
        ----------
        train_x : ndarray, shape (N, 784), float32 in [0, 1]; when the trainer dequantizes,
            uint8 pixels (the fastest) or grey levels pixel / 255

        Returns
        -------
        float : sum of the batch losses (as trained on, before each step) over the epoch / N,
            in nats
        """
        for mean_loss in self.epoch_in_parts(train_x, batches_per_part=None):
            pass
        return mean_loss

    def epoch_in_parts(self, train_x, batches_per_part):
        """One epoch as :meth:`train_epoch`, run a few batches at a time.

        A generator: it trains ``batches_per_part`` batches (all of them for None) and yields,
        so that a benchmark can time the parts and run something else in between. Each yield
        gives the loss so far divided by N; after the last part it is the epoch's mean loss.
        With ``dequantize`` every batch is a fresh x = (pixel + u) / 256 of its images; with
        ``binarize="dynamic"`` a fresh x_b ~ Bernoulli(x) of their grey levels.
        """
        if self.config["dequantize"]:
            x = _check_pixels("train_x", train_x)
        else:
            x = torch.from_numpy(_check_images("train_x", train_x))  # no copy for float32
        n = x.shape[0]
        order = torch.randperm(n, generator=self.train_rng)
        starts = range(0, n, self.batch_size)
        per_part = len(starts) if batches_per_part is None else _check_int(
            "batches_per_part", batches_per_part)
        self.layers.train()
        total = 0.0
        for first in range(0, len(starts), per_part):
            for start in starts[first:first + per_part]:
                rows = order[start:start + self.batch_size]
                if self.config["dequantize"]:
                    batch = torch.from_numpy(dequantize(x[rows.numpy()], self.dequantize_rng))
                elif self.config["binarize"] == "dynamic":
                    batch = torch.from_numpy(binarize_dynamic(x[rows].numpy(),
                                                              self.binarize_rng))
                else:
                    batch = x[rows]
                self.optimizer.zero_grad(set_to_none=True)
                loss = self.batch_loss(batch, self.train_rng)
                if self.config["reduction"] == "mean":
                    (loss / batch.shape[0]).backward()          # numpyvae's step
                else:
                    loss.backward()  # on the sum, as the example does (Adam barely sees the scale)
                self.optimizer.step()
                total += loss.item()
            yield total / n

    def evaluate(self, test_x):
        """Test negative ELBO per example with one noise draw each, in nats.

        One draw whatever r the training uses, as numpyvae's test loss.

        Parameters
        ----------
        test_x : ndarray, shape (N, 784), float32 in [0, 1]

        Returns
        -------
        float : sum of the per-example negative ELBOs / N
        """
        return self.evaluate_terms(test_x)["loss"]

    def evaluate_terms(self, test_x):
        """:meth:`evaluate` with its parts.

        Returns
        -------
        dict of float
            ``"loss"``, ``"recon"``, ``"kl"``: means per example in nats, loss = recon + kl.
        """
        x = torch.from_numpy(_check_images("test_x", test_x))
        self.layers.eval()
        recon_total = kl_total = 0.0
        with torch.inference_mode():
            for start in range(0, x.shape[0], self.batch_size):
                batch = x[start:start + self.batch_size]
                recon, kld, _ = self._terms(batch, self._noise(batch, self.eval_rng, 1))
                recon_total += recon.item()
                kl_total += kld.item()
        n = x.shape[0]
        return {"loss": (recon_total + kl_total) / n, "recon": recon_total / n,
                "kl": kl_total / n}

    def share_at_sigma_floor(self, test_x, batch_size=1000):
        """The share of test pixels whose learned sigma_x < floor (1 + 1e-3), at z = mu(x).

        numpyvae's ``evaluate.share_at_sigma_floor``: sigma_x of the decoder at the mean of
        q(z|x), so the share has no noise in it. For gaussian-shared, one sigma_x serves
        every pixel and the share is 0 or 1.

        Returns
        -------
        float in [0, 1], or None when sigma_x is not learned (bernoulli, gaussian-fixed)
        """
        if self.likelihood.sigma_x not in ("pixel", "shared"):
            return None
        x = torch.from_numpy(_check_images("test_x", test_x))
        limit = self.config["sigma_x_floor"] * (1 + FLOOR_TOLERANCE)
        self.layers.eval()
        at_floor = 0
        with torch.inference_mode():
            for start in range(0, x.shape[0], batch_size):
                mu, _ = self.encode(x[start:start + batch_size])
                decoded = self.decode(mu)
                at_floor += int((decoded["sigma"] < limit).expand(decoded["mean"].shape).sum())
        return at_floor / x.numel()

    def active_units(self, test_x, threshold=ACTIVE_UNIT_THRESHOLD, batch_size=1000):
        """The latent units the model uses, counted as Burda et al. (2016, section 5.2) count them.

        Unit u is active when Cov_x(E_q[z_u]) > ``threshold``: the variance over the images of
        the encoder's mean mu_u(x), dividing by N, in float64, as numpyvae's
        ``numpyvae.app.run.active_units``.

        Parameters
        ----------
        test_x : ndarray, shape (N, 784), float32 in [0, 1], N >= 2
        threshold : float
            0.01, as in the paper.
        batch_size : int

        Returns
        -------
        count : int
        variances : ndarray of float64, shape (z_dim,)
        """
        x = torch.from_numpy(_check_images("test_x", test_x))
        if x.shape[0] < 2:
            raise ValueError(f"test_x must hold at least 2 images to measure how mu(x) varies "
                             f"over them; got {x.shape[0]}")
        threshold = _check_positive_float("threshold", threshold)
        batch_size = _check_int("batch_size", batch_size)
        self.layers.eval()
        with torch.inference_mode():
            mu = torch.cat([self.encode(x[start:start + batch_size])[0]
                            for start in range(0, x.shape[0], batch_size)])
        variances = mu.numpy().astype(np.float64).var(axis=0)     # Var_x mu_u(x), per unit
        return int(np.count_nonzero(variances > threshold)), variances

    def shared_sigma_x(self):
        """gaussian-shared's one sigma_x = floor + softplus(t), as a float (else None)."""
        if self.likelihood.sigma_x != "shared":
            return None
        with torch.no_grad():
            t = self.layers["dec_sigma_x"]["t"]
            return float(self.config["sigma_x_floor"] + F.softplus(t))

    def log_weights(self, x, eps):
        """log w_k = log P(x|z_k) + log p(z_k) - log q(z_k|x) for z_k = mu + sigma eps_k.

        numpyvae's ``evaluate.log_weights``, eqs. (37)-(38): the decoder's term in the
        network's dtype, the rest (and the sum) in float64.

        Parameters
        ----------
        x : torch.Tensor, shape (B, 784)
        eps : torch.Tensor, shape (K, B, z_dim), standard normal

        Returns
        -------
        torch.Tensor of float64, shape (K, B)
        """
        mu, logvar = self.encode(x)
        sigma = torch.exp(0.5 * logvar)
        z = mu + sigma * eps
        decoder_term = -self.likelihood.nll(self.decode(z), x).double()
        # The prior and the posterior as PyTorch's own densities, independent of numpyvae's
        # formulas (37)-(38): a reference that shares no code with what it checks.
        z = z.double()
        prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(dim=-1)
        posterior = torch.distributions.Normal(mu.double(), sigma.double()).log_prob(z)
        return decoder_term + prior - posterior.sum(dim=-1)

    def importance_weighted(self, test_x, samples=5000, batch_size=100, max_elements=2 ** 23):
        """The importance-weighted estimate of log p(x) of each image, eq. (36).

        log (1/K) sum_k w_k over K samples z_k ~ q(z|x), as numpyvae's
        ``evaluate.importance_weighted_log_likelihood``; the samples are drawn in chunks whose
        decoder output holds at most ``max_elements`` numbers, and all K log-weights of an
        image meet in one log-mean-exp.

        Parameters
        ----------
        test_x : ndarray, shape (N, 784), float32 in [0, 1]
        samples : int
            K.
        batch_size : int
            Images at a time.
        max_elements : int

        Returns
        -------
        ndarray of float64, shape (N,)
        """
        x = torch.from_numpy(_check_images("test_x", test_x))
        samples = _check_int("samples", samples)
        batch_size = _check_int("batch_size", batch_size)
        max_elements = _check_int("max_elements", max_elements)
        self.layers.eval()
        out = np.empty(x.shape[0])
        with torch.inference_mode():
            for start in range(0, x.shape[0], batch_size):
                batch = x[start:start + batch_size]
                chunk = max(1, min(samples, max_elements // (batch.shape[0] * X_DIM)))
                log_w = torch.cat([
                    self.log_weights(batch, self._noise(batch, self.iw_rng,
                                                        min(chunk, samples - k0)))
                    for k0 in range(0, samples, chunk)])                          # (K, B)
                out[start:start + batch.shape[0]] = log_mean_exp(log_w, dim=0).numpy()
        return out


def make_trainer(hidden=DEFAULTS["hidden"], z_dim=DEFAULTS["z_dim"], lr=DEFAULTS["lr"],
                 batch_size=DEFAULTS["batch_size"], seed=DEFAULTS["seed"], threads=None, *,
                 activation=DEFAULTS["activation"], samples=DEFAULTS["samples"],
                 likelihood=DEFAULTS["likelihood"], mean_activation=None, sigma_x=None,
                 sigma_x_floor=None, dequantize=False, binarize=DEFAULTS["binarize"],
                 objective=DEFAULTS["objective"], reduction=DEFAULTS["reduction"],
                 adam_eps=DEFAULTS["adam_eps"]):
    """A :class:`TorchVAETrainer` for a configuration (see :func:`check_config`).

    Raises
    ------
    ValueError
        For a bad argument, whether or not PyTorch is installed.
    ImportError
        When PyTorch is not installed.
    """
    config = check_config(hidden=hidden, z_dim=z_dim, activation=activation,
                          likelihood=likelihood, mean_activation=mean_activation,
                          sigma_x=sigma_x, sigma_x_floor=sigma_x_floor, dequantize=dequantize,
                          samples=samples, batch_size=batch_size, lr=lr, seed=seed,
                          binarize=binarize, objective=objective, reduction=reduction,
                          adam_eps=adam_eps)
    if threads is not None:
        _check_int("threads", threads)
    if not available():
        raise ImportError("torch_reference needs PyTorch, which is not installed here")
    return TorchVAETrainer(threads=threads, **config)


# ---------------------------------------------------------------- the command line

def _count_flag(text):
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _stages_flag(text):
    """argparse type: "0..N", stages i = 0..N of Burda et al.'s schedule; returns N."""
    first, dots, last = text.partition("..")
    try:
        first, last = int(first), int(last)
    except ValueError:
        first = last = None
    if not dots or first != 0 or last is None or not 0 <= last < SCHEDULE_STAGES:
        raise argparse.ArgumentTypeError(
            f"expected 0..N with N from 0 to {SCHEDULE_STAGES - 1}, the stages i = 0..N of "
            f"Burda et al.'s schedule from its start; got {text!r}")
    return last


DEFAULT_IW_SAMPLES = 5000   # numpyvae evaluate's
DEFAULT_IW_LIMIT = 1000
DEFAULT_EPOCHS = 10


def build_parser():
    """The command line's flags: the configuration (defaults: the pytorch/examples VAE)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=positive_int,
                   help=f"default {DEFAULT_EPOCHS}; not with --stages")
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument("--data-dir", help="the folder of the dataset's four IDX files, raw or .gz "
                                      "(default: ../shared/data/<dataset>)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--threads", type=positive_int, default=None, help="default 2")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=list(DEFAULTS["hidden"]),
                   metavar="SIZE", help="hidden layer sizes of the encoder, in order; the "
                                        "decoder's are reversed (default: 400)")
    p.add_argument("--activation", choices=ACTIVATIONS, default=DEFAULTS["activation"])
    p.add_argument("--likelihood", choices=LIKELIHOODS, default=DEFAULTS["likelihood"])
    p.add_argument("--mean-activation", choices=MEAN_ACTIVATIONS,
                   help=f"g in mu_x = g(dec.mean), Gaussian likelihoods only (default: "
                        f"{DEFAULT_MEAN_ACTIVATION})")
    p.add_argument("--sigma-x", type=positive_float,
                   help=f"the constant sigma_x of gaussian-fixed (default: {DEFAULT_SIGMA_X:g}, "
                        f"numpyvae's)")
    p.add_argument("--sigma-x-floor", type=positive_float,
                   help=f"the floor of the learned sigma_x of gaussian and gaussian-shared "
                        f"(default: {DEFAULT_SIGMA_X_FLOOR:g})")
    p.add_argument("--dequantize", action="store_true",
                   help="x = (pixel + u) / 256, u ~ U(0, 1): fresh for each training batch, "
                        "fixed from the seed for the test set (numpyvae's)")
    p.add_argument("--binarize", choices=BINARIZATIONS, default=DEFAULTS["binarize"],
                   help="dynamic: a fresh x_b ~ Bernoulli(x) of each training batch, the test "
                        "set binarized once from the seed (numpyvae's) (default: none)")
    p.add_argument("--z-dim", type=positive_int, default=DEFAULTS["z_dim"])
    p.add_argument("--objective", choices=OBJECTIVES, default=DEFAULTS["objective"],
                   help="the training loss: the negative ELBO, or the negative "
                        "importance-weighted bound -L_k with k = --samples (default: elbo)")
    p.add_argument("--samples", type=positive_int, default=DEFAULTS["samples"],
                   help="noise samples r per example, k of the bound with --objective iwae "
                        "(default: 1)")
    p.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"])
    p.add_argument("--reduction", choices=REDUCTIONS, default=DEFAULTS["reduction"],
                   help="a step differentiates the sum of the batch's losses (pytorch/examples)"
                        " or their mean (numpyvae's) (default: sum)")
    p.add_argument("--lr", type=positive_float,
                   help=f"Adam's learning rate (default: {DEFAULTS['lr']:g}); not with --stages")
    p.add_argument("--adam-eps", type=positive_float, default=DEFAULTS["adam_eps"],
                   help=f"Adam's eps (default: {DEFAULTS['adam_eps']:g}; Burda et al.: 1e-4)")
    p.add_argument("--stages", type=_stages_flag, metavar="0..N",
                   help=f"Burda et al.'s schedule, stages i = 0..N: 3^i epochs at lr "
                        f"0.001 * 10^(-i/7) (0..3 is {epochs_after(3)} epochs, 0..7 "
                        f"{epochs_after(SCHEDULE_STAGES - 1)}); sets --epochs and --lr")
    p.add_argument("--iw-samples", type=_count_flag,
                   help=f"importance samples K of the bound -log p(x) after training; 0 skips "
                        f"it (default: {DEFAULT_IW_SAMPLES} for the Gaussian likelihoods and "
                        f"binarized data, 0 for bernoulli on grey levels)")
    p.add_argument("--iw-limit", type=positive_int, default=DEFAULT_IW_LIMIT,
                   help=f"the bound and the active units use the first N test images "
                        f"(default: {DEFAULT_IW_LIMIT})")
    p.add_argument("--json", metavar="PATH", help="also write the report to this file")
    return p


def _nats(value, bpd):
    """``-1234.56 nats`` with `` = 2.345 bits/dim`` when the data have bits per dimension."""
    text = f"{value:9.2f} nats"
    return text + f" = {bits_per_dimension(value):.4f} bits/dim" if bpd else text


def report_lines(report):
    """The end-of-run report as lines of text; ``report`` as :func:`main` builds it."""
    bpd = report["bits_per_dimension"]
    kind = ("a density, not a probability" if report["config"]["likelihood"] != "bernoulli"
            else "nats")
    lines = [f"test negative ELBO       {_nats(report['test_loss'], bpd)}  "
             f"(recon {report['test_recon']:.2f} + kl {report['test_kl']:.2f}; "
             f"{report['test_images']:,} images, one draw each"
             + ("" if kind == "nats" else f"; {kind}") + ")"]
    if report["importance_samples"]:
        stderr = report["test_nll_iw_stderr"]
        lines.append(f"importance-weighted -log p(x) <= {_nats(report['test_nll_iw'], bpd)}  "
                     f"(K = {report['importance_samples']:,} on the first "
                     f"{report['iw_images']:,} test images"
                     + ("" if stderr is None else f", standard error {stderr:.2f} nats")
                     + f"; {report['iw_seconds']:.1f} s)")
    if report["test_sigma_x_at_floor"] is not None:
        lines.append(f"sigma_x at its floor {report['config']['sigma_x_floor']:g}: "
                     f"{100 * report['test_sigma_x_at_floor']:.2f}% of the test pixels "
                     f"(sigma_x < floor x 1.001, at z = mu(x))")
    if report["sigma_x"] is not None:
        lines.append(f"the shared sigma_x: {report['sigma_x']:.5f}")
    if report["active_units"] is not None:
        lines.append(f"active units {report['active_units']} of {report['config']['z_dim']}  "
                     f"(Var_x mu_u(x) > {report['active_unit_threshold']:g} over the first "
                     f"{report['active_units_images']:,} test images, as Burda et al. count "
                     f"them)")
    return lines


def _training_plan(args, parser):
    """The epochs and the learning rates of a run, from --epochs and --lr or from --stages.

    Returns
    -------
    epochs : int
    plan : list of (stage, lr), one per epoch, or None for one learning rate throughout
    """
    if args.stages is None:
        if args.lr is None:
            args.lr = DEFAULTS["lr"]
        return (DEFAULT_EPOCHS if args.epochs is None else args.epochs), None
    for flag, value in (("--epochs", args.epochs), ("--lr", args.lr)):
        if value is not None:
            parser.error(f"--stages 0..{args.stages} sets the epochs and the learning rates "
                         f"(Burda et al.'s schedule, {epochs_after(args.stages)} epochs); "
                         f"leave out {flag}, got {flag} {value:g}")
    plan = schedule(args.stages)
    args.lr = plan[0][1]
    return len(plan), plan


def main(argv=None):
    """Train, print a line per epoch and the report; returns the report (a dict)."""
    t_start = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    n_epochs, plan = _training_plan(args, parser)
    config = {name: getattr(args, name) for name in DEFAULTS}
    try:
        config = check_config(**config)
    except ValueError as err:
        parser.error(str(err))
    gaussian = config["likelihood"] != "bernoulli"
    iw_samples = args.iw_samples
    if iw_samples is None:
        # A Bernoulli decoder's likelihood of grey levels is no probability of the data.
        iw_samples = DEFAULT_IW_SAMPLES if gaussian or config["binarize"] != "none" else 0
    if not available():
        raise SystemExit("PyTorch is not installed in this environment")

    data_dir = args.data_dir if args.data_dir is not None else default_data_dir(args.dataset)
    try:
        train, test_x = load_images(args.dataset, data_dir, config["dequantize"],
                                    config["seed"], binarize=config["binarize"])
    except DatasetError as err:
        raise SystemExit(f"{args.dataset}: {err}") from None
    # Bits per dimension only mean something for a density of dequantized data.
    bpd = gaussian and config["dequantize"]
    trainer = make_trainer(threads=args.threads, **config)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.dataset} "
          f"train {train.shape}, test {test_x.shape}; {trainer.describe()}")
    seconds, epochs = [], []
    for epoch in range(1, n_epochs + 1):
        stage = None
        if plan is not None:
            stage, lr = plan[epoch - 1]
            trainer.set_lr(lr)
        t0 = time.perf_counter()
        train_loss = trainer.train_epoch(train)
        seconds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        test = trainer.evaluate_terms(test_x)
        at_floor = trainer.share_at_sigma_floor(test_x)
        eval_seconds = time.perf_counter() - t0
        extra = (f"  test bpd {bits_per_dimension(test['loss']):.4f}" if bpd else "") + (
            "" if at_floor is None else f"  at floor {100 * at_floor:5.2f}%") + (
            "" if stage is None else f"  stage {stage} lr {trainer.lr:.3g}")
        print(f"epoch {epoch:3d}  train {train_loss:9.4f}  test {test['loss']:9.4f}  "
              f"train s {seconds[-1]:6.3f}  eval s {eval_seconds:5.3f}{extra}", flush=True)
        epochs.append({"epoch": epoch, "train_loss": train_loss, "test_loss": test["loss"],
                       "test_recon": test["recon"], "test_kl": test["kl"],
                       "train_bpd": bits_per_dimension(train_loss) if bpd else None,
                       "test_bpd": bits_per_dimension(test["loss"]) if bpd else None,
                       "test_sigma_x_at_floor": at_floor, "stage": stage, "lr": trainer.lr,
                       "train_seconds": seconds[-1], "eval_seconds": eval_seconds})

    report = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "dataset": args.dataset, "data_dir": os.path.abspath(data_dir),
              "config": {**config, "hidden": list(config["hidden"])},
              "network": trainer.describe(), "epochs": epochs, "bits_per_dimension": bpd,
              "train_objective": (f"-L_{config['samples']}" if config["objective"] == "iwae"
                                  else "-ELBO"),
              "stages": args.stages,
              "loss_unit": "nats, -log density" if gaussian else "nats, -log probability",
              "test_images": len(test_x), "test_loss": test["loss"],
              "test_recon": test["recon"], "test_kl": test["kl"],
              "test_bpd": epochs[-1]["test_bpd"], "test_sigma_x_at_floor": at_floor,
              "sigma_x": trainer.shared_sigma_x(),
              "importance_samples": iw_samples, "iw_images": None, "test_nll_iw": None,
              "test_nll_iw_stderr": None, "test_nll_iw_bpd": None, "iw_seconds": None}
    if iw_samples:
        t0 = time.perf_counter()
        nll = -trainer.importance_weighted(test_x[:args.iw_limit], samples=iw_samples)
        report.update({
            "iw_images": len(nll), "test_nll_iw": float(nll.mean()),
            "test_nll_iw_stderr": float(nll.std(ddof=1) / np.sqrt(len(nll)))
            if len(nll) > 1 else None,
            "test_nll_iw_bpd": bits_per_dimension(float(nll.mean())) if bpd else None,
            "iw_seconds": time.perf_counter() - t0})
    unit_images = test_x[:args.iw_limit]
    report.update({"active_units": None, "unit_variances": None,
                   "active_units_images": len(unit_images),
                   "active_unit_threshold": ACTIVE_UNIT_THRESHOLD})
    if len(unit_images) >= 2:
        count, variances = trainer.active_units(unit_images)
        report.update({"active_units": count, "unit_variances": variances.tolist()})
    report["median_train_seconds"] = float(np.median(seconds))
    report["wall_seconds"] = time.perf_counter() - t_start
    for line in report_lines(report):
        print(line)
    print(f"median train seconds per epoch: {report['median_train_seconds']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    return report


if __name__ == "__main__":
    main()

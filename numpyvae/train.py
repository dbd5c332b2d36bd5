"""The minibatch training algorithm of the lecture notes.

    for each minibatch of B examples x^1..x^B:
        mu, sigma <- q_phi(x^i)
        draw B*r noise vectors v ~ N(0, I)
        z^{i,j} = mu + sigma * v^{i,j}
        mu_x, sigma_x <- P_theta(z^{i,j})
        take a gradient step on the batch mean of (1/r) sum_j -log P(x^i|z^{i,j}) + beta KL^i

A conditional model (``VAE(..., n_classes=C)``) also takes the labels y^i of the batch, and
the step is on the conditional ELBO, eq. (55).

With ``objective="iwae"`` the step is on the importance-weighted bound of Burda et al.
instead, the r draws being its k importance samples: the batch mean of
-log (1/r) sum_j w^{i,j}, eq. (49), with w^{i,j} = P(x^i|z^{i,j}) p(z^{i,j}) / q(z^{i,j}|x^i).

Each epoch's order comes from a generator seeded by (seed, epoch), and the randomness of its
batches (the noise v, a dynamic binarization or dequantization, a denoising corruption) from
another, drawn in batch order. So a run is the same bit for bit for the same seed, and an
epoch stopped after any batch resumes exactly where it was from the saved state of that
generator.
"""
import math
import time

import numpy as np

from . import validate
from .vae import OBJECTIVES


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def epoch_rng(seed, epoch):
    """The generator of the batches' randomness in epoch ``epoch``."""
    return np.random.default_rng([seed, 1, epoch])


def epoch_order(seed, epoch, n):
    """The order in which epoch ``epoch`` visits the n training examples."""
    return np.random.default_rng([seed, 0, epoch]).permutation(n)


class Trainer:
    """Runs minibatch gradient steps of a model with an optimizer over a training set.

    Parameters
    ----------
    model : VAE
    optimizer : an optimizer from :mod:`numpyvae.optim`, built on
        ``{"theta": model.flat_parameters}``
    train_x : ndarray, shape (N, x_dim), of the model's dtype (grey levels, or binarized)
    samples : int
        r, the noise draws per example (with ``objective="iwae"``, the bound's k).
    batch_size : int
        B; the last batch of an epoch holds what is left.
    beta : float
        Weight of the KL term.
    warmup : float
        Epochs over which the KL weight rises linearly from 0 to beta (0: no warm-up).
    seed : int
    binarize_dynamic : callable or None
        ``f(x, rng)`` drawing a fresh transform of every batch: a binarization
        (:func:`~numpyvae.datasets.binarize_dynamic`) or a dequantization
        (:func:`~numpyvae.datasets.dequantize`).
    corrupt : callable or None
        ``f(x, rng)`` giving the encoder's corrupted input (denoising).
    objective : {"elbo", "iwae"}
        The loss of each step: the negative ELBO, eqs. (2)-(3), or the negative
        importance-weighted bound, eq. (49). The bound has no KL term, so "iwae" takes neither
        a beta other than 1, nor a warm-up, nor ``corrupt``.
    train_y : ndarray of int, shape (N,), optional
        The labels of the training images, for a conditional model (required by it).
    """

    def __init__(self, model, optimizer, train_x, *, samples=1, batch_size=128, beta=1.0,
                 warmup=0.0, seed=0, binarize_dynamic=None, corrupt=None, objective="elbo",
                 train_y=None):
        self.model = model
        self.optimizer = optimizer
        self.train_x = model.check_x(train_x, "train_x")
        self.train_y = model.check_y(train_y, len(self.train_x), "train_y")
        self.samples = validate.positive_int("samples", samples)
        self.batch_size = validate.positive_int("batch_size", batch_size)
        self.beta = validate.nonnegative_float("beta", beta)
        self.warmup = validate.nonnegative_float("warmup", warmup)
        self.seed = seed
        self.binarize_dynamic = binarize_dynamic
        self.corrupt = corrupt
        self.objective = _check_objective(objective, self.beta, self.warmup, corrupt)
        self.batches_per_epoch = math.ceil(len(self.train_x) / self.batch_size)
        self.stop_requested = False       # set by a Ctrl-C handler; checked between batches

    def beta_at(self, epoch, batch):
        """The KL weight of a step: beta, or its linear warm-up."""
        if self.warmup == 0:
            return self.beta
        step = epoch * self.batches_per_epoch + batch + 1
        return self.beta * min(1.0, step / (self.warmup * self.batches_per_epoch))

    def gather(self, order, batch):
        """The training images of batch ``batch`` of an epoch that visits them in ``order``."""
        return self.train_x[order[batch * self.batch_size:(batch + 1) * self.batch_size]]

    def gather_labels(self, order, batch):
        """The labels of the images of :meth:`gather` (None for an unconditional model)."""
        if self.train_y is None:
            return None
        return self.train_y[order[batch * self.batch_size:(batch + 1) * self.batch_size]]

    def step(self, epoch, batch, order, rng):
        """One gradient step on batch ``batch`` of epoch ``epoch``; returns its statistics.

        The notes' algorithm: a minibatch, its B*r noise vectors, the loss and its gradients,
        and one step of the optimizer. The statistics are the batch size, the loss, and the
        two parts of the negative ELBO (with "iwae", of the ELBO of the same r samples).
        """
        x = self.gather(order, batch)                              # x^1..x^B
        y = self.gather_labels(order, batch)                       # their labels, if any
        if self.binarize_dynamic is not None:
            x = self.binarize_dynamic(x, rng)
        x_input = self.corrupt(x, rng) if self.corrupt is not None else None
        v = rng.standard_normal((self.samples, len(x), self.model.z_dim),
                                dtype=self.model.dtype)            # B*r noise vectors v
        loss, recon, kl = self.model.compute_gradients(
            x, v, self.beta_at(epoch, batch), x_input=x_input, check=False, return_parts=True,
            objective=self.objective, y=y)                         # eqs. (2)-(3) or (49)
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1} of "
                f"{self.batches_per_epoch}; no step was taken from it")
        self.optimizer.step({"theta": self.model.flat_gradients})   # theta <- theta - ...
        return len(x), loss, recon, kl

    def train_epoch(self, epoch, start_batch=0, totals=None, on_batch=None):
        """Run the batches of one epoch from ``start_batch``.

        Parameters
        ----------
        epoch : int, counted from 0
        start_batch : int
            Where a resumed epoch starts.
        totals : dict, optional
            The running sums of a resumed epoch and the state of its generator (as returned
            by an earlier call).
        on_batch : callable, optional
            ``on_batch(batch, totals)`` after each batch (for a progress line).

        Returns
        -------
        totals : dict
            ``examples``, sums over examples of ``objective`` (each step's loss: with
            "iwae", -L_k), ``recon`` and ``kl``, ``seconds`` spent, ``next_batch``:
            ``batches_per_epoch`` when the epoch is complete, less when it stopped early on
            request, and ``rng_state``, the state of the epoch's generator
            (JSON-serializable) to resume it.
        """
        totals = dict(totals or {"examples": 0, "objective": 0.0, "recon": 0.0, "kl": 0.0,
                                 "seconds": 0.0})
        order = epoch_order(self.seed, epoch, len(self.train_x))
        rng = epoch_rng(self.seed, epoch)
        if start_batch > 0:
            rng.bit_generator.state = totals["rng_state"]
        batch = start_batch
        while batch < self.batches_per_epoch and not self.stop_requested:
            t0 = time.perf_counter()
            n, loss, recon, kl = self.step(epoch, batch, order, rng)
            totals["seconds"] += time.perf_counter() - t0
            totals["examples"] += n
            totals["objective"] += n * loss
            totals["recon"] += n * recon
            totals["kl"] += n * kl
            batch += 1
            if on_batch is not None:
                on_batch(batch, totals)
        totals["next_batch"] = batch
        totals["rng_state"] = rng.bit_generator.state
        return totals


def _check_objective(objective, beta, warmup, corrupt):
    """``objective``, checked against the options that only the ELBO has."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}; got {objective!r}")
    if objective == "iwae":
        if beta != 1:
            raise ValueError(f"beta must be 1 with objective='iwae': the importance-weighted "
                             f"bound has no KL term to weight; got {beta!r}")
        if warmup != 0:
            raise ValueError(f"warmup must be 0 with objective='iwae': the importance-weighted "
                             f"bound has no KL term to warm up; got {warmup!r}")
        if corrupt is not None:
            raise ValueError("corrupt must be None with objective='iwae': the bound's samples "
                             "come from q(z|x) of x itself, not of a corrupted x; got "
                             f"{corrupt!r}")
    return objective

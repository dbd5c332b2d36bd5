"""Where numpyvae's training step spends its time, and what each speed device is worth.

    python scripts/step_anatomy.py                              # both, on mnist-mini
    python scripts/step_anatomy.py --data-dir ../shared/data/mnist --steps 400 --pairs 400
    python scripts/step_anatomy.py --measure openblas           # device d, fresh processes
    python scripts/step_anatomy.py --hidden 500 500 --activation tanh --json anatomy.json

The configuration is the pytorch/examples VAE unless flags change it: 784-400-20, relu,
Bernoulli decoder, Adam at 1e-3, batches of 128, r = 1 noise draw per example.

**Anatomy** (``--measure anatomy``). One trainer trains ``--steps`` steps with clocks around
the methods of its own model, likelihood, layers and optimizer: wrappers set on those
instances, so the package runs unchanged and every other model is untouched. Each step is cut
into parts that add up to it (a wrapped call's time, less the wrapped calls inside it): the
encoder forward, the reparameterization and KL, the decoder forward, the likelihood's loss and
its gradient, the decoder and encoder backward, the gradient copies into the flat buffer, the
optimizer's step, and the rest (the batch, the noise draw, the calls). The table gives each
part's median in ms, as a share of the median step, and its mean (the means add up to the
mean step exactly).

Across the same steps each dense layer's two calls are timed whole: its forward, which is
``dense_forward`` (x W + b, eq. (23)), and its backward, which is ``dense_backward`` (dx, dW
and db, eqs. (24)-(26)) without the copies of dW and db into the flat buffer. Their FLOPs are
counted from the shapes, 2 m k n per product: x W in the forward; x^T dy, and dy W^T unless
the layer is called with ``input_grad=False``, in the backward (a dense_backward that makes dx
anyway does one product more than is counted). The times include the bias terms; the FLOPs
do not. Only the calls are timed, never the operations inside them, so any correct
dense_forward and dense_backward will do, however they are written. The step then splits
into the dense layers and everything else.

The instrumented trainer takes turns with a plain one, block by block, so that the clocks' own
cost is measured too (instrumented / plain), and both must end with the same parameters.

**Ablation** (``--measure ablation``). Each speed device is switched off in a trainer of its
own and timed against the default, in one process: blocks of ``--block`` steps taken in turn,
alternating which goes first, the ratio of the time per step (without the device / with it) in
each pair of neighbouring blocks, and the median of ``--pairs`` such ratios with a 95%
distribution-free interval. A control row times the default against a second default: its
distance from 1 is the noise. The devices:

a. the optimizer's step split over the cores (``numpyvae/engine/threads.py``): switched off
   by ``threads.FORCE = False`` during the other trainer's optimizer steps;
b. the encoder's first layer skipping dL/dx (``input_grad=False``, ``numpyvae/encoder.py``):
   switched off by calling that trunk's backward with ``input_grad=True``;
c. the one flat parameter vector (``numpyvae/engine/flat.py``): switched off by an Adam over
   the named arrays ``model.parameters()``, stepped with ``model.gradients()``.

None of the three changes a number: the trainers of a pair start from the same seed, and the
script reports whether they end with the same parameters, bit for bit.

d. ``OPENBLAS_THREAD_TIMEOUT=19`` (``numpyvae/engine/openblas.py``, ``--measure openblas``).
   OpenBLAS reads it once, when numpy loads, so this is measured in fresh processes. Each of
   ``--openblas-rounds`` rounds starts one process without the variable (where the
   optimizer's threads switch themselves off too: what a notebook gets without
   ``numpyvae.configure_openblas()``) and one with it, one after the other, alternating
   which goes first, with PAUSE_SECONDS between processes. Each loads the data, builds the
   default, trains ``--openblas-warmup`` steps untimed and ``--openblas-steps`` timed, and
   prints its time per step and a checksum of its parameters. Reported: the median over the
   rounds of each setting's time per step, with its min and max, their ratio (without /
   with), the interval of the rounds' ratios, and whether every process ended with the
   same parameters. Two long-lived processes taking turns would read it wrongly: after its
   turn, a process without the variable leaves its OpenBLAS threads spinning for about
   0.1 s, which slows the other's next steps.

Timings on a shared machine drift by tens of percent within minutes; only the paired ratios
are meant to be compared, never absolute times from different runs.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # this checkout's numpyvae, before any installed one
import numpyvae  # noqa: E402

# A fresh process of device d gets OPENBLAS_THREAD_TIMEOUT, or not, from the environment
# its parent gives it; everything else sets it here, before numpy is imported.
CHILD_FLAG = "--openblas-child"
if CHILD_FLAG not in sys.argv[1:]:
    numpyvae.configure_openblas()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

from numpyvae.activations import ACTIVATIONS  # noqa: E402
from numpyvae.datasets import DATASET_NAMES, DatasetError, load_dataset  # noqa: E402
from numpyvae.engine import openblas, threads  # noqa: E402
from numpyvae.optim import Adam  # noqa: E402
from numpyvae.train import Trainer  # noqa: E402
from numpyvae.vae import VAE  # noqa: E402

WARMUP_STEPS = 20           # steps of each trainer before the anatomy records
WARMUP_PAIRS = 3            # pairs of blocks before an ablation records
PAUSE_SECONDS = 0.3         # between device d's fresh processes: OpenBLAS's default
                            # timeout, 2^28 cycles, keeps its threads spinning about 0.1 s
MEASUREMENTS = ("anatomy", "ablation", "openblas")

# The parts of a step, in the order the step runs them.
ENCODER_FORWARD = "encoder forward"
REPARAM_FORWARD = "reparameterization, KL and the loss's sums"
DECODER_FORWARD = "decoder forward"
LIKELIHOOD_LOSS = "likelihood: loss"
LIKELIHOOD_GRADIENT = "likelihood: gradient"
DECODER_BACKWARD = "decoder backward"
REPARAM_BACKWARD = "reparameterization and KL, backward"
ENCODER_BACKWARD = "encoder backward"
COPIES = "gradient copies into the flat buffer"
OPTIMIZER_STEP = "optimizer step"
REST = "the rest: batch, noise draw, calls"
PARTS = (ENCODER_FORWARD, REPARAM_FORWARD, DECODER_FORWARD, LIKELIHOOD_LOSS,
         LIKELIHOOD_GRADIENT, DECODER_BACKWARD, REPARAM_BACKWARD, ENCODER_BACKWARD, COPIES,
         OPTIMIZER_STEP, REST)

# The two calls of a dense layer: dense_forward, eq. (23), and dense_backward, eqs. (24)-(26).
PASSES = ("forward", "backward")


# ---------------------------------------------------------------------- configuration

@dataclasses.dataclass(frozen=True)
class Config:
    """The network and its training; the defaults are the pytorch/examples VAE."""

    hidden: tuple = (400,)
    z_dim: int = 20
    samples: int = 1
    batch_size: int = 128
    activation: str = "relu"
    seed: int = 0
    lr: float = 1e-3

    def describe(self, x_dim):
        """One line, e.g. ``784-400-20 relu Bernoulli, Adam lr 0.001, batch 128, r = 1``."""
        sizes = "-".join(str(n) for n in (x_dim, *self.hidden, self.z_dim))
        return (f"{sizes} {self.activation} Bernoulli, Adam lr {self.lr:g}, "
                f"batch {self.batch_size}, r = {self.samples}, seed {self.seed}")


class PerArrayAdam:
    """Adam over each named parameter array instead of the one flat vector (device c off).

    The trainer hands every optimizer ``{"theta": model.flat_gradients}``; this one steps
    with ``model.gradients()`` instead: the same numbers, as the separate named arrays.
    """

    def __init__(self, model, lr):
        self.model = model
        self.inner = Adam(model.parameters(), lr=lr)

    @property
    def t(self):
        """The number of steps taken."""
        return self.inner.t

    def step(self, _flat_grads):
        """One Adam step on every named array, from the model's named gradients."""
        self.inner.step(self.model.gradients())


def make_trainer(config, train_x, per_array=False):
    """A trainer of a fresh model, as ``numpyvae train`` builds it; with ``per_array``, its
    Adam steps the named arrays (:class:`PerArrayAdam`) instead of the flat vector."""
    model = VAE(train_x.shape[1], config.z_dim, hidden=config.hidden, likelihood="bernoulli",
                activation=config.activation, seed=config.seed)
    if per_array:
        optimizer = PerArrayAdam(model, config.lr)
    else:
        optimizer = Adam({"theta": model.flat_parameters}, lr=config.lr)
    return Trainer(model, optimizer, train_x, samples=config.samples,
                   batch_size=config.batch_size, seed=config.seed)


# ---------------------------------------------------------------------- blocks of steps

class Run:
    """A trainer that trains on, block by block, epoch after epoch.

    Attributes
    ----------
    trainer : Trainer
    steps : int
        Steps taken so far.
    """

    def __init__(self, trainer):
        self.trainer = trainer
        self.steps = 0
        self._epoch, self._next_batch, self._totals = 0, 0, None

    def block(self, steps, on_step=None):
        """Train ``steps`` steps, fewer when the epoch ends first, and return the seconds per
        step of the block, as the trainer timed its steps. ``on_step(seconds)`` is called
        after each step with that step's time."""
        trainer, start = self.trainer, self._next_batch
        before = self._totals["seconds"] if self._totals else 0.0
        last = [before]

        def after_batch(batch, totals):
            if on_step is not None:
                on_step(totals["seconds"] - last[0])
            last[0] = totals["seconds"]
            trainer.stop_requested = batch >= start + steps

        totals = trainer.train_epoch(self._epoch, start, self._totals, on_batch=after_batch)
        trainer.stop_requested = False
        taken = totals["next_batch"] - start
        self.steps += taken
        if totals["next_batch"] >= trainer.batches_per_epoch:
            self._epoch, self._next_batch, self._totals = self._epoch + 1, 0, None
        else:
            self._next_batch, self._totals = totals["next_batch"], totals
        return (totals["seconds"] - before) / taken

    def train(self, steps, on_step=None):
        """Train exactly ``steps`` more steps, in as many blocks as the epochs need."""
        target = self.steps + steps
        while self.steps < target:
            self.block(target - self.steps, on_step)

    @property
    def parameters(self):
        """The model's flat parameter vector (live)."""
        return self.trainer.model.flat_parameters


def take_turns(blocks, pairs, warmup=None):
    """Time per step of two block makers taken in turn, alternating which goes first.

    Parameters
    ----------
    blocks : pair of callables
        Each call trains one block and returns its seconds per step.
    pairs : int
        Pairs of neighbouring blocks that are recorded.
    warmup : int, optional
        Pairs taken first and not recorded (WARMUP_PAIRS by default).

    Returns
    -------
    times : pair of lists of float
        Seconds per step of each block of the first and of the second.
    ratios : list of float
        First over second, pair by pair.
    """
    for _ in range(WARMUP_PAIRS if warmup is None else warmup):
        blocks[0](), blocks[1]()
    times = ([], [])
    for i in range(pairs):
        for k in ((0, 1) if i % 2 else (1, 0)):
            times[k].append(blocks[k]())
    return times, [a / b for a, b in zip(*times)]


def median_interval(values, z=1.96):
    """A distribution-free interval (low, high) for the median of ``values``: the order
    statistics of ranks n/2 - z sqrt(n)/2 and 1 + n/2 + z sqrt(n)/2 (counted from 1, rounded
    outwards); z = 1.96 for about 95%."""
    ordered = sorted(values)
    n = len(ordered)
    half_width = z * math.sqrt(n) / 2
    low = max(1, math.floor(n / 2 - half_width))
    high = min(n, math.ceil(1 + n / 2 + half_width))
    return ordered[low - 1], ordered[high - 1]


def ratio_summary(times, ratios):
    """The numbers of a paired comparison: medians in ms, the median ratio and its interval."""
    low, high = median_interval(ratios)
    return {"first_ms": _ms(times[0]), "second_ms": _ms(times[1]),
            "ratio": statistics.median(ratios), "ratio_low": low, "ratio_high": high,
            "pairs": len(ratios), "ratios": ratios}


def _ms(seconds):
    return statistics.median(seconds) * 1e3


# ---------------------------------------------------------------------- the anatomy

class Clock:
    """Times the calls of wrapped functions, nested inside one another.

    A part's time is exclusive: each call's time, less that of the wrapped calls inside it,
    so the parts of a step add up to its outermost call. A dense layer's call is timed on the
    side: its time, less the parts inside it (the gradient copies), goes to ``dense`` and is
    not taken out of the part around it.
    """

    def __init__(self):
        self._inner = []            # seconds of the parts inside each open call
        self._clear()

    def _clear(self):
        self.parts, self.dense = defaultdict(float), defaultdict(float)
        self.flops, self.outer = defaultdict(int), 0.0

    def wrap(self, key, function, flops=None):
        """``function`` with its calls timed into the part ``key``; or, given ``flops``
        (``flops(*args, **kwargs)``: the FLOPs of a call), into the dense call ``key``."""
        is_part = flops is None

        @functools.wraps(function)
        def timed(*args, **kwargs):
            if not is_part:
                self.flops[key] += flops(*args, **kwargs)
            self._inner.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._inner.pop()
                (self.parts if is_part else self.dense)[key] += elapsed - inner
                if self._inner:
                    self._inner[-1] += elapsed if is_part else inner
                elif is_part:
                    self.outer = elapsed
        return timed

    def take(self):
        """What was timed since the last take, as a dict: ``parts`` (part -> seconds),
        ``dense`` and ``flops`` ((layer, pass) -> seconds, FLOPs) and ``step`` (the seconds
        of the last outermost call); starts afresh."""
        taken = {"parts": dict(self.parts), "dense": dict(self.dense),
                 "flops": dict(self.flops), "step": self.outer}
        self._clear()
        return taken


class TimedTarget:
    """A layer's gradient array whose writes (``target[...] = value``) go through ``copy``,
    ``copy(array, index, value)`` timed by a Clock: the copies of dL/dW and dL/db into the
    model's flat gradient buffer."""

    def __init__(self, array, copy):
        self.array, self._copy = array, copy

    @property
    def shape(self):
        return self.array.shape

    def __setitem__(self, index, value):
        self._copy(self.array, index, value)


def _copy_into(array, index, value):
    array[index] = value


def dense_layers(model):
    """Every Dense layer of a model, in the order of the forward pass."""
    return [*model.encoder.trunk.layers, model.encoder.mu_head, model.encoder.s_head,
            *model.decoder.trunk.layers, *model.decoder.heads.values()]


def _time_dense(layer, clock):
    """Time a Dense layer's forward and backward calls (on the instance), with their FLOPs
    from the shapes: x (m, k) W (k, n) forward; x^T dy and, when asked for, dy W^T backward."""
    k, n = layer.W.shape

    def forward_flops(x):
        return 2 * x.shape[0] * k * n

    def backward_flops(dy, input_grad=True):
        return (2 if input_grad else 1) * 2 * dy.shape[0] * k * n

    layer.forward = clock.wrap((layer.name, "forward"), layer.forward, forward_flops)
    layer.backward = clock.wrap((layer.name, "backward"), layer.backward, backward_flops)


def instrument(trainer):
    """Put a Clock on one trainer's model, likelihood, layers and optimizer (their instances)
    and return it. Nothing the step computes changes: the wrapped methods are called with
    the same arguments, and the copies are the same operations on the same arrays."""
    clock = Clock()
    model = trainer.model
    for owner, name, part in [
            (trainer, "step", REST), (model, "compute_gradients", REST),
            (model, "_forward", REPARAM_FORWARD), (model, "_backward", REPARAM_BACKWARD),
            (model.encoder, "forward", ENCODER_FORWARD),
            (model.encoder, "backward", ENCODER_BACKWARD),
            (model.decoder, "forward", DECODER_FORWARD),
            (model.decoder, "backward", DECODER_BACKWARD),
            (model.likelihood, "nll", LIKELIHOOD_LOSS),
            (model.likelihood, "nll_backward", LIKELIHOOD_GRADIENT),
            (trainer.optimizer, "step", OPTIMIZER_STEP)]:
        setattr(owner, name, clock.wrap(part, getattr(owner, name)))
    copy = clock.wrap(COPIES, _copy_into)
    for layer in dense_layers(model):
        _time_dense(layer, clock)
        layer.dW, layer.db = TimedTarget(layer.dW, copy), TimedTarget(layer.db, copy)
    return clock


class Recorder:
    """Instruments a trainer and collects its clock's readings step by step.

    Attributes
    ----------
    layers : list of str
        The dense layers, in forward order.
    records : list of dict
        One per recorded step: what :meth:`Clock.take` gives, and ``trainer``, the step's
        time as the trainer took it.
    """

    def __init__(self, trainer):
        self.layers = [layer.name for layer in dense_layers(trainer.model)]
        self.clock = instrument(trainer)
        self.records = []

    def record(self, trainer_seconds):
        """Keep the step just taken."""
        self.records.append(dict(self.clock.take(), trainer=trainer_seconds))

    def discard(self, _trainer_seconds):
        """Forget the step just taken (a warm-up step)."""
        self.clock.take()


def measure_anatomy(config, train_x, steps, block, warmup=None):
    """Time the parts of ``steps`` training steps (after ``warmup`` steps of each trainer,
    WARMUP_STEPS by default), taking turns in blocks of ``block`` steps with a plain trainer.

    Returns
    -------
    dict
        See :func:`summarize_anatomy`; with ``instrumented_over_plain`` (the clocks' cost, a
        paired comparison) and ``same_parameters`` (the clocks changed no number).
    """
    warmup = WARMUP_STEPS if warmup is None else warmup
    instrumented = Run(make_trainer(config, train_x))
    plain = Run(make_trainer(config, train_x))
    recorder = Recorder(instrumented.trainer)
    instrumented.train(warmup, recorder.discard)
    plain.train(warmup)
    times = ([], [])
    while len(recorder.records) < steps:
        size = min(block, steps - len(recorder.records))
        for k in ((1, 0) if len(times[0]) % 2 == 0 else (0, 1)):
            times[k].append(instrumented.block(size, recorder.record) if k == 0
                            else plain.block(size))
    summary = summarize_anatomy(recorder.records, recorder.layers)
    summary["warmup_steps"] = warmup
    summary["instrumented_over_plain"] = ratio_summary(times,
                                                       [a / b for a, b in zip(*times)])
    summary["same_parameters"] = bool(np.array_equal(instrumented.parameters,
                                                     plain.parameters))
    return summary


def summarize_anatomy(records, layers):
    """Medians and means of the recorded steps (``records`` from :class:`Recorder`, ``layers``
    the dense layers in forward order).

    Returns
    -------
    dict
        ``steps``; ``step_ms`` (median step, as the outermost clock took it), ``trainer_ms``
        (as the trainer took it), ``mean_step_ms``; ``parts``: a list of rows ``part``,
        ``median_ms``, ``share``, ``mean_ms``; ``sum_of_medians_ms``; ``dense``: rows by
        layer and the dense layers against the rest (:func:`summarize_dense`).
    """
    unknown = sorted({p for r in records for p in r["parts"]} - set(PARTS))
    if unknown:
        raise RuntimeError(f"parts timed but not in PARTS: {unknown}")
    step = [r["step"] for r in records]
    step_ms = _ms(step)
    parts = []
    for part in PARTS:
        seconds = [r["parts"].get(part, 0.0) for r in records]
        parts.append({"part": part, "median_ms": _ms(seconds), "share": _ms(seconds) / step_ms,
                      "mean_ms": statistics.fmean(seconds) * 1e3})
    return {"steps": len(records), "step_ms": step_ms,
            "trainer_ms": _ms([r["trainer"] for r in records]),
            "mean_step_ms": statistics.fmean(step) * 1e3,
            "parts": parts, "sum_of_medians_ms": sum(p["median_ms"] for p in parts),
            "dense": summarize_dense(records, layers, step_ms)}


def summarize_dense(records, layers, step_ms):
    """The dense layers one by one (median ms of each pass, MFLOP of a full batch's step,
    GFLOP/s), and all of them against the rest of the step."""
    def flops(r, layer):
        return sum(r["flops"].get((layer, p), 0) for p in PASSES)

    rows = []
    for layer in layers:
        row = {"layer": layer}
        for p in PASSES:
            row[f"{p}_ms"] = _ms([r["dense"].get((layer, p), 0.0) for r in records])
        layer_flops = statistics.median(flops(r, layer) for r in records)
        layer_ms = sum(row[f"{p}_ms"] for p in PASSES)
        row["mflop"] = layer_flops / 1e6
        row["gflops"] = layer_flops / (layer_ms * 1e6) if layer_ms > 0 else None
        rows.append(row)
    dense = [sum(r["dense"].values()) for r in records]
    rest = [r["step"] - d for r, d in zip(records, dense)]
    gflop = statistics.median(sum(flops(r, layer) for layer in layers) for r in records) / 1e9
    dense_ms = _ms(dense)
    return {"layers": rows, "gflop_per_step": gflop, "dense_ms": dense_ms,
            "dense_share": dense_ms / step_ms,
            "dense_gflops": gflop / (dense_ms * 1e-3) if dense_ms > 0 else None,
            "rest_ms": _ms(rest), "rest_share": _ms(rest) / step_ms}


# ---------------------------------------------------------------------- the ablation

@dataclasses.dataclass(frozen=True)
class Device:
    """A speed device: what it is, where it lives, what a student sees of it, and how a
    trainer is made without it (``switch_off(config, train_x) -> Run``)."""

    key: str
    name: str
    lives_in: str
    student_sees: str
    student_detail: str
    switch_off: object


def optimizer_on_one_core(trainer):
    """Make the trainer's optimizer step (on this trainer only) with ``threads.FORCE`` False,
    so that it updates the whole vector in this thread."""
    step = trainer.optimizer.step

    def step_on_one_core(grads):
        previous, threads.FORCE = threads.FORCE, False
        try:
            step(grads)
        finally:
            threads.FORCE = previous

    trainer.optimizer.step = step_on_one_core


def first_layer_computes_dx(model):
    """Make the encoder trunk's backward (on this model only) pass ``input_grad=True``, so
    that its first layer computes dL/dx, which nothing uses."""
    backward = model.encoder.trunk.backward

    def backward_with_input_grad(dh, input_grad=True):
        return backward(dh, input_grad=True)

    model.encoder.trunk.backward = backward_with_input_grad


def _default(config, train_x):
    return Run(make_trainer(config, train_x))


def _threads_off(config, train_x):
    run = _default(config, train_x)
    optimizer_on_one_core(run.trainer)
    return run


def _first_layer_dx(config, train_x):
    run = _default(config, train_x)
    first_layer_computes_dx(run.trainer.model)
    return run


def _per_array_adam(config, train_x):
    return Run(make_trainer(config, train_x, per_array=True))


CONTROL = Device("-", "control: the default against a second default", "-", "-",
                 "the same code twice: its distance from 1 is the noise", _default)
DEVICES = (
    Device("a", "the optimizer's step split over the cores",
           "numpyvae/engine/threads.py (called by numpyvae/optim/base.py)", "no",
           "adam_update is called on a piece of the vector and cannot tell", _threads_off),
    Device("b", "the encoder's first layer skips dL/dx",
           "numpyvae/encoder.py (input_grad=False), numpyvae/mlp.py, numpyvae/dense.py",
           "argument",
           "dense_backward, a student task, takes input_grad and its docstring says dx may be "
           "None when it is False; honouring it is optional, ignoring it costs only time",
           _first_layer_dx),
    Device("c", "one flat parameter vector",
           "numpyvae/engine/flat.py (used by numpyvae/vae.py, numpyvae/train.py)", "name only",
           "the update rules take arrays of any shape; train.py and the README show the one "
           "name 'theta'", _per_array_adam),
)
OPENBLAS_DEVICE = Device(
    "d", "OPENBLAS_THREAD_TIMEOUT=19 (fresh processes)",
    "numpyvae/engine/openblas.py (set by the numpyvae command, configure_openblas())", "no",
    "a setting of the process, made by the program; a notebook that does not call "
    "numpyvae.configure_openblas() before numpy runs the optimizer in one thread", None)


def device_row(device, times, ratios, **more):
    """A row of the devices' table: the device, ``with_ms`` and ``without_ms`` (median per
    step), the median ratio without / with and its interval, and ``more``."""
    summary = ratio_summary(times, ratios)
    return {"device": device.key, "name": device.name, "lives_in": device.lives_in,
            "student_sees": device.student_sees, "student_detail": device.student_detail,
            "with_ms": summary.pop("second_ms"), "without_ms": summary.pop("first_ms"),
            **summary, **more}


def compare_device(device, config, train_x, pairs, block):
    """The default against a trainer without ``device``, in paired blocks in this process; a
    :func:`device_row` with ``same_parameters``: whether both ended with the same
    parameters, bit for bit."""
    default, variant = _default(config, train_x), device.switch_off(config, train_x)
    times, ratios = take_turns((lambda: variant.block(block), lambda: default.block(block)),
                               pairs)
    return device_row(device, times, ratios, block=block, steps=default.steps,
                      same_parameters=default.steps == variant.steps and bool(
                          np.array_equal(default.parameters, variant.parameters)))


def measure_ablation(config, train_x, pairs, block):
    """The control and devices a-c, one after another; a list of :func:`compare_device` rows."""
    return [compare_device(device, config, train_x, pairs, block)
            for device in (CONTROL, *DEVICES)]


# ---------------------------------------------------------------------- fresh processes

def child_argv(args):
    """The command line of a fresh process that trains the default with the configuration,
    data and step counts of ``args`` (:func:`run_child`)."""
    argv = [sys.executable, str(Path(__file__).resolve()), CHILD_FLAG,
            "--hidden", *(str(h) for h in args.hidden), "--z-dim", str(args.z_dim),
            "--samples", str(args.samples), "--batch-size", str(args.batch_size),
            "--activation", args.activation, "--dataset", args.dataset,
            "--seed", str(args.seed), "--openblas-warmup", str(args.openblas_warmup),
            "--openblas-steps", str(args.openblas_steps)]
    if args.data_dir is not None:
        argv += ["--data-dir", str(args.data_dir)]
    return argv


def child_environments():
    """(without, with): this environment without OPENBLAS_THREAD_TIMEOUT, and with it at 19."""
    without = {k: v for k, v in os.environ.items() if k != openblas.VARIABLE}
    return without, dict(without, **{openblas.VARIABLE: str(openblas.SHORT_TIMEOUT)})


def run_child(args):
    """The fresh process's side: load the data, build the default, train
    ``--openblas-warmup`` steps untimed and ``--openblas-steps`` timed, and print one line
    of JSON: the seconds per timed step (the trainer's clock), the steps taken, a checksum
    of the flat parameters, and the process's OpenBLAS setting and optimizer threads."""
    run = _default(config_from(args), load_train_x(args))
    run.train(args.openblas_warmup)
    seconds = []
    run.train(args.openblas_steps, seconds.append)
    print(json.dumps({
        "seconds": sum(seconds) / len(seconds), "steps": run.steps,
        "checksum": hashlib.sha256(run.parameters.tobytes()).hexdigest()[:16],
        "timeout": os.environ.get(openblas.VARIABLE), "threads": threads.enabled(),
        "short_timeout": openblas.short_timeout_in_force()}), flush=True)


def fresh_process(args, env):
    """Start a fresh process (:func:`run_child`) in ``env``, wait for it, return its answer."""
    done = subprocess.run(child_argv(args), env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"a fresh process of --measure openblas stopped (exit status "
                           f"{done.returncode}); its error is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_openblas(args):
    """Device d: each round starts a fresh process without OPENBLAS_THREAD_TIMEOUT and one
    with it at 19, one after the other (alternating which goes first), PAUSE_SECONDS apart.

    Returns
    -------
    dict
        A :func:`device_row`: ``with_ms`` and ``without_ms`` the medians over the rounds of
        each process's ms per step, ``ratio`` their ratio (without / with), ``ratio_low`` and
        ``ratio_high`` the 95% interval of the median of the rounds' ratios
        (``round_ratios``, ``median_round_ratio``); ``with_range_ms`` and
        ``without_range_ms`` (min, max); ``same_parameters``: whether every process ended
        with the same checksum; ``with_process`` and ``without_process``: their settings.
    """
    envs = child_environments()
    times, answers = ([], []), ([], [])         # 0: without the variable, 1: with it
    for i in range(args.openblas_rounds):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            time.sleep(PAUSE_SECONDS)           # the last process's OpenBLAS threads stop
            answer = fresh_process(args, envs[k])
            times[k].append(answer["seconds"])
            answers[k].append(answer)
    ratios = [a / b for a, b in zip(*times)]
    checksums = {a["checksum"] for a in answers[0] + answers[1]}
    steps = {a["steps"] for a in answers[0] + answers[1]}

    def settings(a):
        return {key: a[key] for key in ("timeout", "threads", "short_timeout")}

    row = device_row(OPENBLAS_DEVICE, times, ratios, rounds=args.openblas_rounds,
                     warmup_steps=args.openblas_warmup, timed_steps=args.openblas_steps,
                     pause_seconds=PAUSE_SECONDS,
                     same_parameters=len(checksums) == 1 and len(steps) == 1,
                     checksums=sorted(checksums), steps=max(steps),
                     without_range_ms=[min(times[0]) * 1e3, max(times[0]) * 1e3],
                     with_range_ms=[min(times[1]) * 1e3, max(times[1]) * 1e3],
                     without_process=settings(answers[0][0]),
                     with_process=settings(answers[1][0]))
    row["median_round_ratio"], row["round_ratios"] = row.pop("ratio"), row.pop("ratios")
    row["ratio"] = row["without_ms"] / row["with_ms"]
    del row["pairs"]
    return row


# ---------------------------------------------------------------------- printing

def format_anatomy(anatomy):
    """The anatomy as lines of text: the parts, then the dense layers against the rest."""
    a = anatomy
    lines = [f"Where a step's time goes: {a['steps']} instrumented steps after "
             f"{a['warmup_steps']} of warm-up (median of each part; the means add up to the "
             f"mean step)",
             f"{'part':44s} {'median ms':>9s} {'share':>7s} {'mean ms':>8s}"]
    for p in a["parts"]:
        lines.append(f"{p['part']:44s} {p['median_ms']:9.3f} {p['share']:7.1%} "
                     f"{p['mean_ms']:8.3f}")
    lines.append(f"{'sum of the parts':44s} {a['sum_of_medians_ms']:9.3f} "
                 f"{a['sum_of_medians_ms'] / a['step_ms']:7.1%} "
                 f"{sum(p['mean_ms'] for p in a['parts']):8.3f}")
    lines.append(f"{'the step':44s} {a['step_ms']:9.3f} {1:7.1%} {a['mean_step_ms']:8.3f}")
    cost = a["instrumented_over_plain"]
    lines.append(f"The clocks' cost: instrumented / plain step {cost['ratio']:.3f} "
                 f"(95% interval {cost['ratio_low']:.3f}-{cost['ratio_high']:.3f}; "
                 f"{cost['first_ms']:.3f} against {cost['second_ms']:.3f} ms); same parameters "
                 f"after {a['steps'] + a['warmup_steps']} steps: "
                 f"{'yes' if a['same_parameters'] else 'NO'}")
    return lines + ["", *format_dense(a["dense"])]


def format_dense(dense):
    """The dense layers one by one, then all of them against the rest of the step."""
    def rate(value):
        return f"{value:8.1f}" if value is not None else f"{'-':>8s}"

    lines = ["Dense layers: products and their bias terms (each layer's dense_forward and "
             "dense_backward call timed whole)",
             f"{'layer':12s} {'forward':>8s} {'backward':>8s} {'MFLOP':>8s} {'GFLOP/s':>8s}"
             f"   (median ms per step; forward x W + b, eq. (23); backward dx, dW, db, "
             f"eqs. (24)-(26))"]
    for row in dense["layers"]:
        lines.append(f"{row['layer']:12s} {row['forward_ms']:8.3f} {row['backward_ms']:8.3f} "
                     f"{row['mflop']:8.1f} {rate(row['gflops'])}")
    lines.append("FLOPs = 2 m k n per product, from the shapes: x W forward; x^T dy, and "
                 "dy W^T unless input_grad=False, backward")
    lines.append(f"all dense layers: {dense['dense_ms']:.3f} ms per step "
                 f"({dense['dense_share']:.1%} of the step), {dense['gflop_per_step']:.3f} "
                 f"GFLOP, {rate(dense['dense_gflops']).strip()} GFLOP/s")
    lines.append(f"the rest:         {dense['rest_ms']:.3f} ms per step "
                 f"({dense['rest_share']:.1%} of the step)")
    return lines


def format_ablation(rows, pairs=None, block=None, title=None):
    """The devices as lines of text: a table, then what a student sees of each."""
    if title is None:
        title = (f"What makes it fast: each device switched off, {pairs} pairs of {block}-step "
                 f"blocks taken in turn in one process")
    lines = [title,
             f"{'device':50s} {'with ms':>8s} {'without':>8s} {'without/with':>12s} "
             f"{'95% interval':>13s} {'same numbers':>12s} {'student sees':>12s}"]
    for r in rows:
        name = r["name"] if r["device"] == "-" else f"{r['device']}. {r['name']}"
        lines.append(f"{name:50s} {r['with_ms']:8.3f} {r['without_ms']:8.3f} "
                     f"{r['ratio']:12.3f} {r['ratio_low']:6.3f}-{r['ratio_high']:.3f} "
                     f"{'yes' if r['same_parameters'] else 'NO':>12s} {r['student_sees']:>12s}")
    for r in rows:
        if r["device"] != "-":
            lines.append(f"  {r['device']}. lives in {r['lives_in']}")
            lines.append(f"     a student sees: {r['student_sees']}: {r['student_detail']}")
    return lines


def format_openblas(row):
    """Device d as lines of text, labelled as the fresh-process measurement it is."""
    lines = format_ablation([row], title=(
        f"OPENBLAS_THREAD_TIMEOUT: fresh processes, {row['rounds']} rounds of one per setting "
        f"(alternating which goes first, {row['pause_seconds']:g} s apart; each "
        f"{row['warmup_steps']} steps untimed, then {row['timed_steps']} timed); with and "
        f"without are medians over the rounds, the interval is that of the rounds' ratios"))
    w, wo = row["with_process"], row["without_process"]
    lines.append(f"  with the variable: OPENBLAS_THREAD_TIMEOUT={w['timeout']}, optimizer "
                 f"threads {'on' if w['threads'] else 'off'}; without it: "
                 f"OPENBLAS_THREAD_TIMEOUT={wo['timeout']}, optimizer threads "
                 f"{'on' if wo['threads'] else 'off'}: what a notebook gets without "
                 f"configure_openblas()")
    lines.append(f"  ms per step, median (min-max) over the rounds: with "
                 f"{row['with_ms']:.3f} ({row['with_range_ms'][0]:.3f}-"
                 f"{row['with_range_ms'][1]:.3f}), without {row['without_ms']:.3f} "
                 f"({row['without_range_ms'][0]:.3f}-{row['without_range_ms'][1]:.3f})")
    lines.append(f"  without / with: {row['ratio']:.3f}, the ratio of the medians (median of "
                 f"the rounds' ratios {row['median_round_ratio']:.3f})")
    lines.append(f"  same parameters in all {2 * row['rounds']} processes after {row['steps']} "
                 f"steps: {'yes' if row['same_parameters'] else 'NO'} (checksums "
                 f"{', '.join(row['checksums'])})")
    return lines


def machine_line():
    """Cores, the OpenBLAS setting in force, and whether the optimizer's threads are on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return (f"machine: {cores} cores, numpy {np.__version__}; OPENBLAS_THREAD_TIMEOUT <= "
            f"{openblas.SHORT_TIMEOUT} in force: "
            f"{'yes' if openblas.short_timeout_in_force() else 'no'}; optimizer threads "
            f"{'on' if threads.enabled() else 'off'}")


# ---------------------------------------------------------------------- command line

def integer_at_least(minimum):
    """An argparse type: an integer >= ``minimum``."""
    def integer(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value
    return integer


def build_parser():
    positive, nonnegative = integer_at_least(1), integer_at_least(0)
    parser = argparse.ArgumentParser(
        prog="step_anatomy.py", description=__doc__.split("\n\n")[0],
        epilog="See the module docstring for the method.")
    parser.add_argument("--hidden", type=positive, nargs="+", default=[400],
                        metavar="N", help="hidden layer sizes (400)")
    parser.add_argument("--z-dim", type=positive, default=20, help="latent size (20)")
    parser.add_argument("--samples", type=positive, default=1,
                        help="r, noise draws per example (1)")
    parser.add_argument("--batch-size", type=positive, default=128, help="B (128)")
    parser.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS),
                        help="activation of the hidden layers (relu)")
    parser.add_argument("--dataset", default=None, choices=DATASET_NAMES,
                        help="mnist-mini (bundled; the default) or mnist (the default with "
                             "--data-dir; never downloaded here)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder of the MNIST IDX files, for --dataset mnist")
    parser.add_argument("--measure", nargs="+", choices=MEASUREMENTS,
                        default=["anatomy", "ablation"],
                        help="what to measure (anatomy ablation; openblas is device d, "
                             "measured in fresh processes)")
    parser.add_argument("--steps", type=positive, default=300,
                        help="steps the anatomy records (300)")
    parser.add_argument("--pairs", type=positive, default=200,
                        help="pairs of blocks of each ablation (200)")
    parser.add_argument("--block", type=positive, default=5,
                        help="steps per block of the anatomy and the ablation (5)")
    parser.add_argument("--openblas-rounds", type=positive, default=10,
                        help="rounds of device d, a fresh process per setting each (10)")
    parser.add_argument("--openblas-warmup", type=nonnegative, default=50,
                        help="steps each fresh process trains untimed first (50)")
    parser.add_argument("--openblas-steps", type=positive, default=300,
                        help="steps each fresh process then times (300)")
    parser.add_argument("--seed", type=nonnegative, default=0, help="seed (0)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the results to FILE as JSON")
    parser.add_argument(CHILD_FLAG, action="store_true", help=argparse.SUPPRESS)
    return parser


def parse_args(argv=None):
    """The command line, checked; ``dataset`` is filled in."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dataset is None:
        args.dataset = "mnist" if args.data_dir is not None else "mnist-mini"
    if args.data_dir is not None and args.dataset != "mnist":
        parser.error(f"argument --data-dir: is read only with --dataset mnist; got "
                     f"--dataset {args.dataset} with --data-dir {args.data_dir}")
    if args.json is not None and not args.json.parent.is_dir():
        parser.error(f"argument --json: expected a file in an existing folder; "
                     f"{args.json.parent} is not a folder")
    args.measure = [m for m in MEASUREMENTS if m in args.measure]     # once each, in order
    return args


def config_from(args):
    """The Config of the parsed command line."""
    return Config(hidden=tuple(args.hidden), z_dim=args.z_dim, samples=args.samples,
                  batch_size=args.batch_size, activation=args.activation, seed=args.seed)


def load_train_x(args):
    """The training images of ``args.dataset``, never downloaded; a clear exit otherwise."""
    try:
        return load_dataset(args.dataset, data_dir=args.data_dir, download=False,
                            progress=False).train_x
    except DatasetError as err:
        raise SystemExit(f"step_anatomy.py: --dataset {args.dataset}: {err}") from None


def main(argv=None):
    """Run what ``--measure`` asks for, print it, and return the results as a dict."""
    args = parse_args(argv)
    if args.openblas_child:
        run_child(args)
        return None
    config = config_from(args)
    train_x = load_train_x(args)
    results = {"config": {**dataclasses.asdict(config), "x_dim": int(train_x.shape[1]),
                          "dataset": args.dataset, "train_examples": len(train_x)},
               "machine": machine_line()}
    print(f"step_anatomy.py: {config.describe(train_x.shape[1])}; {args.dataset} "
          f"({len(train_x)} images)")
    print(results["machine"])
    if "anatomy" in args.measure:
        results["anatomy"] = measure_anatomy(config, train_x, args.steps, args.block)
        print("", *format_anatomy(results["anatomy"]), sep="\n")
    if "ablation" in args.measure:
        results["ablation"] = measure_ablation(config, train_x, args.pairs, args.block)
        print("", *format_ablation(results["ablation"], args.pairs, args.block), sep="\n")
        if not threads.enabled():
            print("note: the optimizer's threads are off in this process, so device a "
                  "compares one core with one core")
    if "openblas" in args.measure:
        results["openblas"] = measure_openblas(args)
        print("", *format_openblas(results["openblas"]), sep="\n")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    return results


if __name__ == "__main__":
    main()

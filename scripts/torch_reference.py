"""A PyTorch twin of numpyvae's model, for timing the two side by side.

The network is numpyvae's, for any configuration it trains:

- an encoder of dense layers with the hidden sizes in order (784-h1-...-hL), each followed by
  the activation, and two heads: mu and s = log sigma^2;
- r reparameterized samples per example, z_j = mu + exp(s/2) * eps_j, eps_j ~ N(0, I);
- a decoder with the hidden sizes in reverse order (K-hL-...-h1), each followed by the same
  activation, and a Bernoulli output: 784 logits;
- the loss of an example as numpyvae's eq. (2), recon = 1/r sum_j -log P(x|z_j), plus
  KL(q(z|x) || N(0, I)); each step is Adam on the sum over the batch, batches shuffled each
  epoch;
- PyTorch's default nn.Linear initialization, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  the distribution numpyvae draws from.

The defaults are the pytorch/examples VAE (vae/main.py): 784-400-20 with relu, r = 1, Adam
with lr 1e-3, batches of 128, loss = BCE(sum) + KL(sum) per batch. Two deliberate differences
from that example: the reconstruction term is ``binary_cross_entropy_with_logits`` on the
logits (the same number as BCE on the sigmoid outputs, without the clamp), and losses are
reported per example, in nats. The decoder is named by ``likelihood``; only "bernoulli"
exists so far. Another decoder is one more entry of :data:`LIKELIHOODS`: the names of its
output heads and its negative log-likelihood.

PyTorch is never a dependency of numpyvae: it is imported only here, and only when it is
installed (``available()`` says whether it is). This script does not import numpyvae either.
Data comes in as numpy float32 arrays of shape (N, 784) with grey levels in [0, 1]; no
torchvision.

Use from a benchmark::

    import torch_reference
    if torch_reference.available():
        trainer = torch_reference.make_trainer(hidden=(500, 500), activation="tanh", seed=0)
        t0 = time.perf_counter(); loss = trainer.train_epoch(train_x); dt = time.perf_counter() - t0
        test_loss = trainer.evaluate(test_x)

Run on full MNIST::

    python scripts/torch_reference.py --epochs 10
    python scripts/torch_reference.py --hidden 500 500 --activation tanh --batch-size 100
"""
import argparse
import functools
import gzip
import numbers
import os
import struct
import time
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

try:
    import torch
    from torch.nn import functional as F
except ImportError:  # numpyvae itself never needs torch
    torch = None

X_DIM = 784
# numpyvae's activations, by the names numpyvae gives them (numpyvae/activations.py).
ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus")
LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0
DEFAULTS = {"hidden": (400,), "z_dim": 20, "activation": "relu", "likelihood": "bernoulli",
            "samples": 1, "batch_size": 128, "lr": 1e-3, "seed": 0}


def available():
    """Whether PyTorch can be imported in this environment."""
    return torch is not None


# ---------------------------------------------------------------- the decoders

def bernoulli_nll_sum(heads, x):
    """Sum of -log P(x|z_j) over the samples, the examples and the pixels, eq. (16).

    Parameters
    ----------
    heads : dict with ``"logits"``, torch.Tensor of shape (r, B, 784)
    x : torch.Tensor, shape (B, 784), in [0, 1]

    Returns
    -------
    torch.Tensor, scalar
    """
    logits = heads["logits"]
    return F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="sum")


Likelihood = namedtuple("Likelihood", ["heads", "nll_sum"])
Likelihood.__doc__ = """A decoder: the names of its output heads (784 outputs each), and
``nll_sum(heads, x)``, the sum of -log P(x|z_j) over samples, examples and pixels."""

# The decoders of this reference by name (numpyvae also has "gaussian" and "gaussian-fixed").
LIKELIHOODS = {"bernoulli": Likelihood(("logits",), bernoulli_nll_sum)}


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


def check_config(hidden=DEFAULTS["hidden"], z_dim=DEFAULTS["z_dim"],
                 activation=DEFAULTS["activation"], likelihood=DEFAULTS["likelihood"],
                 samples=DEFAULTS["samples"], batch_size=DEFAULTS["batch_size"],
                 lr=DEFAULTS["lr"], seed=DEFAULTS["seed"]):
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
    samples : int
        r, the noise draws per example in training.
    batch_size : int
        Examples per step; the last batch of an epoch may be smaller (as DataLoader does).
    lr : float
        Adam's learning rate.
    seed : int
        Seeds the initialization, the shuffling and the noise.

    Returns
    -------
    dict
        The same keys, with ``hidden`` as a tuple of ints.

    Raises
    ------
    ValueError
        Naming the first bad argument, what it must be and what it is.
    """
    return {
        "hidden": _check_hidden(hidden),
        "z_dim": _check_int("z_dim", z_dim),
        "activation": _check_choice("activation", activation, ACTIVATIONS),
        "likelihood": _check_choice("likelihood", likelihood, LIKELIHOODS,
                                    " (the decoders the PyTorch reference has)"),
        "samples": _check_int("samples", samples),
        "batch_size": _check_int("batch_size", batch_size),
        "lr": _check_positive_float("lr", lr),
        "seed": _check_int("seed", seed, minimum=0),
    }


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


def _check_images(name, x):
    """``x`` as a C-contiguous float32 array of shape (N, 784) in [0, 1], or a ValueError."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of shape (N, {X_DIM}); got {type(x)}")
    if x.ndim != 2 or x.shape[1] != X_DIM or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, {X_DIM}); got {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not (x.min() >= 0 and x.max() <= 1):  # also catches NaN
        raise ValueError(f"{name} must hold values in [0, 1]; got range [{x.min()}, {x.max()}]")
    return x


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


class TorchVAETrainer:
    """numpyvae's network with an Adam optimizer, in PyTorch, trained on numpy arrays.

    Parameters
    ----------
    hidden, z_dim, lr, batch_size, seed, activation, samples, likelihood
        As in :func:`check_config`.
    threads : int or None
        ``torch.set_num_threads`` value (process-wide); None means 2, this machine's cores.
    """

    def __init__(self, hidden=DEFAULTS["hidden"], z_dim=DEFAULTS["z_dim"], lr=DEFAULTS["lr"],
                 batch_size=DEFAULTS["batch_size"], seed=DEFAULTS["seed"], threads=None, *,
                 activation=DEFAULTS["activation"], samples=DEFAULTS["samples"],
                 likelihood=DEFAULTS["likelihood"]):
        self.config = check_config(hidden=hidden, z_dim=z_dim, activation=activation,
                                   likelihood=likelihood, samples=samples,
                                   batch_size=batch_size, lr=lr, seed=seed)
        self.hidden = self.config["hidden"]
        self.samples = self.config["samples"]
        self.batch_size = self.config["batch_size"]
        self.activation = activation_function(activation)
        self.likelihood = LIKELIHOODS[likelihood]
        self.threads = 2 if threads is None else _check_int("threads", threads)
        torch.set_num_threads(self.threads)

        seed = self.config["seed"]
        torch.manual_seed(seed)  # the layers draw their initial weights from the global RNG
        self.layers = torch.nn.ModuleDict({
            name: torch.nn.Linear(fan_in, fan_out)
            for name, (fan_in, fan_out) in layer_sizes(
                self.hidden, self.config["z_dim"], self.likelihood.heads).items()})
        self.optimizer = torch.optim.Adam(self.layers.parameters(), lr=self.config["lr"])
        self.train_rng = torch.Generator().manual_seed(seed + 1)  # shuffling and training noise
        self.eval_rng = torch.Generator().manual_seed(seed + 2)   # test noise

    def describe(self):
        """The configuration in one line, such as ``784-400-20 relu, bernoulli, r = 1, ...``."""
        c = self.config
        return (f"{network_name(c['hidden'], c['z_dim'])} {c['activation']}, "
                f"{c['likelihood']}, r = {c['samples']}, batch {c['batch_size']}, "
                f"Adam lr {c['lr']:g}")

    def _trunk(self, prefix, h):
        """The hidden layers ``{prefix}_h1``, ``{prefix}_h2``, ..., each with the activation."""
        for i in range(1, len(self.hidden) + 1):
            h = self.activation(self.layers[f"{prefix}_h{i}"](h))
        return h

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
        h = self._trunk("enc", x)
        mu, logvar = self.layers["enc_mu"](h), self.layers["enc_log_var"](h)
        z = mu + eps * torch.exp(0.5 * logvar)                    # (r, B, K)
        h = self._trunk("dec", z)                                 # all r samples at once
        heads = {name: self.layers[f"dec_{name}"](h) for name in self.likelihood.heads}
        recon = self.likelihood.nll_sum(heads, x) / eps.shape[0]  # 1/r sum_j, summed over i
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return recon + kld

    def batch_loss(self, x, rng, samples=None):
        """Summed negative ELBO of a batch with ``samples`` noise draws per example.

        Parameters
        ----------
        x : torch.Tensor, shape (B, 784), float32 in [0, 1]
        rng : torch.Generator for the noise
        samples : int or None
            r; None means the trainer's.

        Returns
        -------
        loss : torch.Tensor, scalar, as :meth:`negative_elbo`
        """
        r = self.samples if samples is None else samples
        eps = torch.randn((r, x.shape[0], self.config["z_dim"]), generator=rng, dtype=x.dtype)
        return self.negative_elbo(x, eps)

    def train_epoch(self, train_x):
        """One pass over ``train_x`` in a fresh random order; returns the mean loss per example.

        Parameters
        ----------
        train_x : ndarray, shape (N, 784), float32 in [0, 1]

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
        """
        x = torch.from_numpy(_check_images("train_x", train_x))  # no copy for float32 input
        n = x.shape[0]
        order = torch.randperm(n, generator=self.train_rng)
        starts = range(0, n, self.batch_size)
        per_part = len(starts) if batches_per_part is None else _check_int(
            "batches_per_part", batches_per_part)
        self.layers.train()
        total = 0.0
        for first in range(0, len(starts), per_part):
            for start in starts[first:first + per_part]:
                batch = x[order[start:start + self.batch_size]]
                self.optimizer.zero_grad(set_to_none=True)
                loss = self.batch_loss(batch, self.train_rng)
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
        x = torch.from_numpy(_check_images("test_x", test_x))
        self.layers.eval()
        total = 0.0
        with torch.inference_mode():
            for start in range(0, x.shape[0], self.batch_size):
                total += self.batch_loss(x[start:start + self.batch_size], self.eval_rng,
                                         samples=1).item()
        return total / x.shape[0]


def make_trainer(hidden=DEFAULTS["hidden"], z_dim=DEFAULTS["z_dim"], lr=DEFAULTS["lr"],
                 batch_size=DEFAULTS["batch_size"], seed=DEFAULTS["seed"], threads=None, *,
                 activation=DEFAULTS["activation"], samples=DEFAULTS["samples"],
                 likelihood=DEFAULTS["likelihood"]):
    """A :class:`TorchVAETrainer` for a configuration (see :func:`check_config`).

    Raises
    ------
    ValueError
        For a bad argument, whether or not PyTorch is installed.
    ImportError
        When PyTorch is not installed.
    """
    config = check_config(hidden=hidden, z_dim=z_dim, activation=activation,
                          likelihood=likelihood, samples=samples, batch_size=batch_size,
                          lr=lr, seed=seed)
    if threads is not None:
        _check_int("threads", threads)
    if not available():
        raise ImportError("torch_reference needs PyTorch, which is not installed here")
    return TorchVAETrainer(threads=threads, **config)


def read_idx_images(path):
    """Images of a gzipped IDX3 file as float32 grey levels in [0, 1], shape (N, rows*cols)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise ValueError(f"{path} must be an IDX3 image file (magic 2051); got magic {magic}")
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return pixels.astype(np.float32) / np.float32(255)


# ---------------------------------------------------------------- the command line

def _positive_int_flag(text):
    """argparse type: an integer >= 1 (argparse puts the flag's name before the message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _positive_float_flag(text):
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def build_parser():
    """The command line's flags: the configuration (defaults: the pytorch/examples VAE)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=_positive_int_flag, default=10)
    p.add_argument("--data-dir", default=os.path.join(root, "..", "shared", "data", "mnist"))
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--threads", type=_positive_int_flag, default=None, help="default 2")
    p.add_argument("--hidden", type=_positive_int_flag, nargs="+", default=list(DEFAULTS["hidden"]),
                   metavar="SIZE", help="hidden layer sizes of the encoder, in order; the "
                                        "decoder's are reversed (default: 400)")
    p.add_argument("--activation", choices=ACTIVATIONS, default=DEFAULTS["activation"])
    p.add_argument("--likelihood", choices=LIKELIHOODS, default=DEFAULTS["likelihood"])
    p.add_argument("--z-dim", type=_positive_int_flag, default=DEFAULTS["z_dim"])
    p.add_argument("--samples", type=_positive_int_flag, default=DEFAULTS["samples"],
                   help="noise samples r per example (default: 1)")
    p.add_argument("--batch-size", type=_positive_int_flag, default=DEFAULTS["batch_size"])
    p.add_argument("--lr", type=_positive_float_flag, default=DEFAULTS["lr"],
                   help="Adam's learning rate (default: 0.001)")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    config = {name: getattr(args, name) for name in DEFAULTS}
    try:
        check_config(**config)
    except ValueError as err:
        parser.error(str(err))
    if not available():
        raise SystemExit("PyTorch is not installed in this environment")

    train_x = read_idx_images(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"))
    test_x = read_idx_images(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"))
    trainer = make_trainer(threads=args.threads, **config)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"train {train_x.shape}, test {test_x.shape}; {trainer.describe()}")
    seconds = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        train_loss = trainer.train_epoch(train_x)
        seconds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        test_loss = trainer.evaluate(test_x)
        eval_seconds = time.perf_counter() - t0
        print(f"epoch {epoch:3d}  train {train_loss:9.4f}  test {test_loss:9.4f}  "
              f"train s {seconds[-1]:6.3f}  eval s {eval_seconds:5.3f}", flush=True)
    print(f"median train seconds per epoch: {float(np.median(seconds)):.3f}")


if __name__ == "__main__":
    main()

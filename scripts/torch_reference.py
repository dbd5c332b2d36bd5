"""A PyTorch twin of numpyvae's default model, for timing the two side by side.

The network is the one of the pytorch/examples VAE (vae/main.py): a 784-400-20 encoder with
ReLU and two heads (mu and log sigma^2), one reparameterized sample per example, a 20-400-784
decoder with ReLU and a Bernoulli output, loss = BCE(sum) + KL(sum) per batch, Adam with lr
1e-3, batches of 128 shuffled each epoch. Two deliberate differences: the reconstruction term is
``binary_cross_entropy_with_logits`` on the logits (the same number as BCE on the sigmoid
outputs, without the clamp), and losses are reported per example, in nats.

PyTorch is never a dependency of numpyvae: it is imported only here, and only when it is
installed (``available()`` says whether it is). Data comes in as numpy float32 arrays of shape
(N, 784) with grey levels in [0, 1]; no torchvision.

Use from a benchmark::

    import torch_reference
    if torch_reference.available():
        trainer = torch_reference.make_trainer(seed=0)
        t0 = time.perf_counter(); loss = trainer.train_epoch(train_x); dt = time.perf_counter() - t0
        test_loss = trainer.evaluate(test_x)

Run on full MNIST::

    python scripts/torch_reference.py --epochs 10
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np

try:
    import torch
    from torch.nn import functional as F
except ImportError:  # numpyvae itself never needs torch
    torch = None

X_DIM = 784


def available():
    """Whether PyTorch can be imported in this environment."""
    return torch is not None


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


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


class TorchVAETrainer:
    """The pytorch/examples VAE with its Adam optimizer, trained on numpy arrays.

    Parameters
    ----------
    hidden, z_dim : int
        Widths of the hidden layers and of the latent code.
    lr : float
        Adam's learning rate.
    batch_size : int
        Examples per step; the last batch of an epoch may be smaller (as DataLoader does).
    seed : int
        Seeds the initialization (PyTorch's default nn.Linear init), the shuffling and the noise.
    threads : int or None
        ``torch.set_num_threads`` value (process-wide); None means 2, this machine's cores.
    """

    def __init__(self, hidden=400, z_dim=20, lr=1e-3, batch_size=128, seed=0, threads=None):
        hidden = _check_int("hidden", hidden)
        z_dim = _check_int("z_dim", z_dim)
        self.batch_size = _check_int("batch_size", batch_size)
        seed = _check_int("seed", seed, minimum=0)
        lr = float(lr)
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
        self.threads = 2 if threads is None else _check_int("threads", threads)
        torch.set_num_threads(self.threads)

        torch.manual_seed(seed)  # the layers draw their initial weights from the global RNG
        self.layers = torch.nn.ModuleDict({
            "fc1": torch.nn.Linear(X_DIM, hidden),    # encoder hidden layer
            "fc21": torch.nn.Linear(hidden, z_dim),   # head for mu
            "fc22": torch.nn.Linear(hidden, z_dim),   # head for log sigma^2
            "fc3": torch.nn.Linear(z_dim, hidden),    # decoder hidden layer
            "fc4": torch.nn.Linear(hidden, X_DIM),    # decoder output logits
        })
        self.optimizer = torch.optim.Adam(self.layers.parameters(), lr=lr)
        self.train_rng = torch.Generator().manual_seed(seed + 1)  # shuffling and training noise
        self.eval_rng = torch.Generator().manual_seed(seed + 2)   # test noise

    def batch_loss(self, x, rng):
        """Summed negative ELBO of a batch with one noise draw per example.

        Parameters
        ----------
        x : torch.Tensor, shape (B, 784), float32 in [0, 1]
        rng : torch.Generator for the noise

        Returns
        -------
        loss : torch.Tensor, scalar, sum over the batch of BCE + KL
        """
        h1 = F.relu(self.layers["fc1"](x))
        mu, logvar = self.layers["fc21"](h1), self.layers["fc22"](h1)
        eps = torch.randn(mu.shape, generator=rng, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.layers["fc4"](F.relu(self.layers["fc3"](z)))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

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
                total += self.batch_loss(x[start:start + self.batch_size], self.eval_rng).item()
        return total / x.shape[0]


def make_trainer(hidden=400, z_dim=20, lr=1e-3, batch_size=128, seed=0, threads=None):
    """A :class:`TorchVAETrainer`; raises ImportError when PyTorch is not installed."""
    if not available():
        raise ImportError("torch_reference needs PyTorch, which is not installed here")
    return TorchVAETrainer(hidden=hidden, z_dim=z_dim, lr=lr, batch_size=batch_size,
                           seed=seed, threads=threads)


def read_idx_images(path):
    """Images of a gzipped IDX3 file as float32 grey levels in [0, 1], shape (N, rows*cols)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise ValueError(f"{path} must be an IDX3 image file (magic 2051); got magic {magic}")
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return pixels.astype(np.float32) / np.float32(255)


def main(argv=None):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--data-dir", default=os.path.join(root, "..", "shared", "data", "mnist"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="default 2")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    if not available():
        raise SystemExit("PyTorch is not installed in this environment")

    train_x = read_idx_images(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"))
    test_x = read_idx_images(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"))
    trainer = make_trainer(batch_size=args.batch_size, seed=args.seed, threads=args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"train {train_x.shape}, test {test_x.shape}")
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

"""Speed of numpyvae's training on this machine, and PyTorch's beside it if torch is installed.

Reports, for the configuration given by flags (--hidden, --activation, --z-dim, --samples,
--batch-size, --lr; the defaults are the pytorch/examples VAE: 784-400-20, relu, r = 1,
batches of 128, Adam at 1e-3):

- seconds per epoch (median and each epoch) and examples per second;
- the GFLOP/s the training step achieves (its matrix products' FLOPs over the epoch time)
  against this machine's own large-matmul GFLOP/s, measured in the same run;
- peak memory of a numpyvae training run in a process of its own (the dataset held in
  float32, one epoch), unless --no-memory;
- with PyTorch importable: the same network and hyper-parameters trained in PyTorch
  (scripts/torch_reference.py), interleaved with numpyvae, and the ratio of the median epoch
  times. Timings on a shared machine are noisy; only this ratio, measured side by side, is
  meaningful. The two take turns every ``--batches-per-part`` batches (100 by default, about
  half a second), alternating which goes first, and each epoch's time is the sum of its
  parts: the machine's speed drifts by 20-30% over seconds, and taking turns within the epoch
  lets both see the same drift. (Each part after the first redraws numpyvae's epoch order,
  0.6 ms, as resuming an epoch does: about 0.1% of an epoch.) When the turn passes from one
  to the other, 20 ms go by untimed, so that neither starts while the other's threads are
  still spinning on a core (PAUSE_SECONDS).

``--sweep`` runs the five configurations of SWEEP one after another, each measured as above
(``--epochs`` epochs each, without the peak memory), and ends with a table of each
configuration's median epoch times, their ratio numpyvae / PyTorch, and the target for it:

- (a) the pytorch/examples VAE, 784-400-20 relu, r = 1, batch 128: ratio at most 0.85;
- (b) 784-500-500-20 tanh, r = 1, batch 100: at most 1.0;
- (c) (a) with r = 5, (d) (a) with batches of 32, (e) (a) with z_dim = 2: at most 1.0 each.

PyTorch is never a dependency: install it in a separate environment to compare, e.g.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 -e .
    /tmp/torchenv/bin/python scripts/benchmark.py --epochs 5
    /tmp/torchenv/bin/python scripts/benchmark.py --hidden 500 500 --activation tanh
    /tmp/torchenv/bin/python scripts/benchmark.py --sweep --epochs 10 --json sweep.json

Usage: python scripts/benchmark.py [--data-dir ../shared/data/mnist] [--epochs 5] ...
"""
import numpyvae  # noqa: I001  (first, and set up before anything imports numpy)

# OpenBLAS's idle threads must sleep soon for the optimizer's two threads to pay; OpenBLAS
# reads that setting when numpy loads it (numpyvae/engine/openblas.py).
numpyvae.configure_openblas()

import argparse  # noqa: E402
import collections  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference  # noqa: E402  (a sibling script; imports torch only if installed)

from numpyvae.activations import ACTIVATIONS  # noqa: E402
from numpyvae.app.cli import positive_float, positive_int  # noqa: E402
from numpyvae.datasets import load_dataset  # noqa: E402
from numpyvae.engine import threads  # noqa: E402
from numpyvae.evaluate import evaluate_elbo  # noqa: E402
from numpyvae.likelihoods import LIKELIHOODS  # noqa: E402
from numpyvae.optim import make_optimizer  # noqa: E402
from numpyvae.train import Trainer  # noqa: E402
from numpyvae.vae import VAE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EPOCHS = 5      # of one configuration
SWEEP_EPOCHS = 3        # of each configuration of the sweep


@dataclasses.dataclass(frozen=True)
class Configuration:
    """A network and its training, as both numpyvae and torch_reference build them.

    The defaults are the pytorch/examples VAE. ``hidden`` holds the encoder's sizes in order;
    the decoder's are the same, reversed.
    """

    hidden: tuple = (400,)
    activation: str = "relu"
    z_dim: int = 20
    samples: int = 1
    batch_size: int = 128
    lr: float = 1e-3
    likelihood: str = "bernoulli"

    def label(self, x_dim=784):
        """One line, such as ``784-500-500-20 tanh, r = 1, batch 100``."""
        decoder = "" if self.likelihood == "bernoulli" else f", {self.likelihood}"
        return (f"{torch_reference.network_name(self.hidden, self.z_dim, x_dim)} "
                f"{self.activation}{decoder}, r = {self.samples}, batch {self.batch_size}")


SweepEntry = collections.namedtuple("SweepEntry", ["name", "configuration", "target"])
SweepEntry.__doc__ = """A configuration of the sweep, its name ("a".."e") and the largest
ratio numpyvae / PyTorch of the median epoch times that meets its target."""

EXAMPLES = Configuration()
SWEEP = (
    SweepEntry("a", EXAMPLES, 0.85),
    SweepEntry("b", Configuration(hidden=(500, 500), activation="tanh", batch_size=100), 1.0),
    SweepEntry("c", dataclasses.replace(EXAMPLES, samples=5), 1.0),
    SweepEntry("d", dataclasses.replace(EXAMPLES, batch_size=32), 1.0),
    SweepEntry("e", dataclasses.replace(EXAMPLES, z_dim=2), 1.0),
)

# The flags that choose a configuration: attribute of the parsed arguments -> flag.
CONFIGURATION_FLAGS = {"hidden": "--hidden", "activation": "--activation", "z_dim": "--z-dim",
                       "samples": "--samples", "batch_size": "--batch-size", "lr": "--lr",
                       "likelihood": "--likelihood"}


def machine_gflops(n=2048, repeats=5):
    """Best GFLOP/s of an n x n float32 matrix product (what BLAS can do on these cores)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# Untimed pause between the two libraries' turns. PyTorch's OpenMP threads keep spinning on
# the second core for about 7 ms after its last operation (GNU OpenMP's default spin before
# sleeping). Without a pause, numpyvae's first step after PyTorch's turn took 11.7 ms instead
# of 4.5, since its matrix products and optimizer found that core taken, while PyTorch's
# first step after numpyvae's turn took 6.5 instead of 5.9 (numpyvae's threads sleep after
# 0.1-0.2 ms): about 2% of every numpyvae part of 100 batches charged to numpyvae. With 20 ms,
# each library's first step after a switch is 0.5-0.9 ms slower than its others.
PAUSE_SECONDS = 0.02


def epoch_in_parts(trainer, epoch, batches_per_part):
    """numpyvae's epoch ``epoch``, run by Trainer.train_epoch a few batches at a time.

    A generator: it trains ``batches_per_part`` batches (all of them for None) and yields the
    epoch's running totals (as Trainer.train_epoch returns them). It stops the epoch after a
    part the way a Ctrl-C does, and resumes it exactly.
    """
    per_part = batches_per_part or trainer.batches_per_epoch
    totals, start = None, 0
    while start < trainer.batches_per_epoch:
        def stop_after_part(batch, _totals, end=start + per_part):
            trainer.stop_requested = batch >= end
        totals = trainer.train_epoch(epoch, start, totals, on_batch=stop_after_part)
        trainer.stop_requested = False
        start = totals["next_batch"]
        yield totals


def interleaved_epoch(parts_a, parts_b, a_first, pause=0.0):
    """Seconds of each of two part-by-part epochs, run in turns, part by part.

    Whenever the turn passes from one to the other, ``pause`` seconds go by, untimed, before
    the next part starts, so that neither starts while the other's threads still hold a
    core (see PAUSE_SECONDS).
    """
    seconds = [0.0, 0.0]
    running = [iter(parts_a), iter(parts_b)]
    turn = [0, 1] if a_first else [1, 0]
    last = None
    while any(running):
        for i in turn:
            if running[i] is None:
                continue
            if last is not None and last != i:
                time.sleep(pause)
            last = i
            t0 = time.perf_counter()
            if next(running[i], StopIteration) is StopIteration:
                running[i] = None
            seconds[i] += time.perf_counter() - t0
        turn.reverse()
    return seconds


def step_flops(model, batch, samples):
    """FLOPs of the matrix products of one training step (forward and backward).

    Each dense layer of n_in x n_out on m rows costs 2 m n_in n_out per product: one forward,
    one for dL/dW, and one for dL/dx except in the encoder's first layer, which needs none.
    Encoder layers see the B examples, decoder layers the r B samples.
    """
    total = 0
    for name, W in model.parameters().items():
        if not name.endswith(".W"):
            continue
        rows = batch if name.startswith("enc.") else batch * samples
        products = 2 if name == "enc.h1.W" or (name.startswith("enc.") and not model.hidden
                                               ) else 3
        total += products * 2 * rows * W.shape[0] * W.shape[1]
    return total


def peak_memory_mb(config, dataset, data_dir=None, seed=0):
    """Peak RSS (MB) of `numpyvae train` on the dataset for one epoch, in its own process.

    The child reports its own VmHWM from /proc: ru_maxrss, of the child or of children,
    would also count the moment between fork and exec, when the child is a copy of this
    (much larger) process, since Linux carries that high-water mark across exec.
    """
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["train", "--dataset", dataset, "--epochs", "1", "--seed", str(seed),
                "--out", os.path.join(tmp, "run"), "--no-figures", "--quiet",
                "--hidden", *map(str, config.hidden), "--z-dim", str(config.z_dim),
                "--activation", config.activation, "--likelihood", config.likelihood,
                "--batch-size", str(config.batch_size), "--samples", str(config.samples),
                "--lr", repr(config.lr)]
        if data_dir:
            argv += ["--data-dir", data_dir]
        code = ("import sys; from numpyvae.app import main; main(sys.argv[1:]); "
                "print(next(l.split()[1] for l in open('/proc/self/status') "
                "if l.startswith('VmHWM')))")
        out = subprocess.run([sys.executable, "-c", code, *argv], check=True,
                             capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024          # VmHWM is in kB


# ---------------------------------------------------------------- one configuration

def numpyvae_trainer(config, train_x, seed):
    """numpyvae's model, Adam and Trainer for ``config`` (the model is ``trainer.model``)."""
    model = VAE(train_x.shape[1], config.z_dim, hidden=config.hidden,
                likelihood=config.likelihood, activation=config.activation, seed=seed)
    optimizer = make_optimizer("adam", {"theta": model.flat_parameters}, lr=config.lr)
    return Trainer(model, optimizer, train_x, samples=config.samples,
                   batch_size=config.batch_size, seed=seed)


def pytorch_trainer(config, seed):
    """torch_reference's trainer of the same network and training as :func:`numpyvae_trainer`."""
    return torch_reference.make_trainer(
        hidden=config.hidden, z_dim=config.z_dim, lr=config.lr, batch_size=config.batch_size,
        seed=seed, activation=config.activation, samples=config.samples,
        likelihood=config.likelihood)


def time_epochs(trainer, torch_trainer, train_x, epochs, batches_per_part, prefix=""):
    """Seconds of each epoch: numpyvae's list, and PyTorch's (empty without ``torch_trainer``).

    With PyTorch the two take turns part by part, alternating which goes first from one
    epoch to the next, so that a slow spell of the machine is shared out.
    """
    ours, theirs = [], []
    for epoch in range(epochs):
        if torch_trainer is not None:
            mine, torch_seconds = interleaved_epoch(
                epoch_in_parts(trainer, epoch, batches_per_part),
                torch_trainer.epoch_in_parts(train_x, batches_per_part or None),
                a_first=epoch % 2 == 0, pause=PAUSE_SECONDS)
            ours.append(mine)
            theirs.append(torch_seconds)
        else:
            ours.append(_timed(lambda: trainer.train_epoch(epoch)))
        line = f"{prefix}epoch {epoch + 1}: numpyvae {ours[-1]:.2f} s"
        if torch_trainer is not None:
            line += f"   pytorch {theirs[-1]:.2f} s   ratio {ours[-1] / theirs[-1]:.2f}"
        print(line, flush=True)
    return ours, theirs


def summarize(config, trainer, torch_trainer, data, ours, theirs, gflops_machine, seed):
    """The results of one configuration as a dict (printed too), test losses included."""
    model, n = trainer.model, len(data.train_x)
    flops = step_flops(model, config.batch_size, config.samples) * n / config.batch_size
    med = statistics.median(ours)
    results = {
        "configuration": dataclasses.asdict(config),
        "images": n, "epochs": len(ours), "numpyvae_epoch_seconds": ours,
        "numpyvae_median_seconds": med, "numpyvae_examples_per_second": n / med,
        "matmul_gflop_per_epoch": flops / 1e9, "achieved_gflops": flops / med / 1e9,
        "machine_gflops": gflops_machine, "optimizer_threads": threads.enabled(),
        "numpyvae_test_loss": evaluate_elbo(model, data.test_x,
                                            np.random.default_rng(seed))["loss"],
    }
    print(f"numpyvae: median {med:.2f} s per epoch, {n / med:,.0f} examples/s; matrix products "
          f"{flops / 1e9:.0f} GFLOP per epoch, achieved {flops / med / 1e9:.0f} GFLOP/s = "
          f"{flops / med / 1e9 / gflops_machine:.0%} of the large-matmul rate; "
          f"test loss {results['numpyvae_test_loss']:.2f} after {len(ours)} epochs")
    if torch_trainer is not None:
        tmed = statistics.median(theirs)
        paired = statistics.median(a / b for a, b in zip(ours, theirs))
        results.update(pytorch_epoch_seconds=theirs, pytorch_median_seconds=tmed,
                       ratio=med / tmed, paired_ratio=paired,
                       pytorch_test_loss=torch_trainer.evaluate(data.test_x))
        print(f"pytorch:  median {tmed:.2f} s per epoch, {n / tmed:,.0f} examples/s; test loss "
              f"{results['pytorch_test_loss']:.2f}")
        print(f"ratio numpyvae / pytorch, median epoch time: {med / tmed:.2f} "
              f"(median of the epoch-by-epoch ratios: {paired:.2f})")
    return results


def run_configuration(config, data, args, use_torch, gflops_machine, prefix=""):
    """Train ``config`` for ``args.epochs`` epochs, with PyTorch interleaved if ``use_torch``,
    and return :func:`summarize`'s results."""
    trainer = numpyvae_trainer(config, data.train_x, args.seed)
    torch_trainer = pytorch_trainer(config, args.seed) if use_torch else None
    print(f"{prefix}{trainer.model}, r = {config.samples}, batch {config.batch_size}, Adam lr "
          f"{config.lr:g}", flush=True)
    ours, theirs = time_epochs(trainer, torch_trainer, data.train_x, args.epochs,
                               args.batches_per_part, prefix)
    return summarize(config, trainer, torch_trainer, data, ours, theirs, gflops_machine,
                     args.seed)


# ---------------------------------------------------------------- the sweep

def sweep_table(entries, results):
    """The sweep's table: per configuration, the median epoch times, the ratio and its target.

    Parameters
    ----------
    entries : sequence of SweepEntry
    results : sequence of dict
        :func:`summarize`'s results for each entry, in order; without PyTorch's keys the
        PyTorch columns show ``-``.

    Returns
    -------
    str, one line per configuration under a header
    """
    lines = [f"{'configuration':<42}{'numpyvae':>10}{'pytorch':>10}{'ratio':>7}"
             f"{'target':>9}  met"]
    for entry, result in zip(entries, results):
        name = f"({entry.name}) {entry.configuration.label()}"
        line = f"{name:<42}{result['numpyvae_median_seconds']:>8.2f} s"
        if "ratio" in result:
            met = "yes" if result["ratio"] <= entry.target else "no"
            line += (f"{result['pytorch_median_seconds']:>8.2f} s{result['ratio']:>7.3f}"
                     f"{'<= ' + format(entry.target, '.2f'):>9}  {met}")
        else:
            line += f"{'-':>10}{'-':>7}{'<= ' + format(entry.target, '.2f'):>9}  -"
        lines.append(line)
    return "\n".join(lines)


def run_sweep(data, args, use_torch, gflops_machine):
    """Every configuration of SWEEP in turn; prints the table and returns the results."""
    results = []
    for entry in SWEEP:
        print(f"\n({entry.name}) {entry.configuration.label()}; target: ratio <= "
              f"{entry.target:.2f}", flush=True)
        results.append(run_configuration(entry.configuration, data, args, use_torch,
                                          gflops_machine, prefix=f"({entry.name}) "))
    print(f"\n{args.epochs} epoch{'s' if args.epochs > 1 else ''} of each configuration; "
          f"median seconds per epoch, and their ratio numpyvae / pytorch:")
    print(sweep_table(SWEEP, results))
    return [dict(name=entry.name, target=entry.target,
                 target_met=result["ratio"] <= entry.target if "ratio" in result else None,
                 **result) for entry, result in zip(SWEEP, results)]


# ---------------------------------------------------------------- the command line

def build_parser():
    """The flags; those of the configuration default to None, meaning the Configuration's."""
    d = Configuration()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="mnist", choices=("mnist", "mnist-mini"))
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--hidden", type=positive_int, nargs="+", metavar="SIZE",
                   help="hidden layer sizes of the encoder, in order; the decoder's are "
                        f"reversed (default: {' '.join(map(str, d.hidden))})")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS),
                   help=f"of every hidden layer (default: {d.activation})")
    p.add_argument("--z-dim", type=positive_int, help=f"latent size K (default: {d.z_dim})")
    p.add_argument("--samples", type=positive_int,
                   help=f"noise samples r per example (default: {d.samples})")
    p.add_argument("--batch-size", type=positive_int, help=f"B (default: {d.batch_size})")
    p.add_argument("--lr", type=positive_float, help=f"Adam's learning rate (default: {d.lr:g})")
    p.add_argument("--likelihood", choices=LIKELIHOODS,
                   help=f"decoder (default: {d.likelihood}; PyTorch's twin has only "
                        f"{', '.join(torch_reference.LIKELIHOODS)})")
    targets = "; ".join(f"({entry.name}) {entry.configuration.label()}: ratio <= "
                        f"{entry.target:.2f}" for entry in SWEEP)
    p.add_argument("--sweep", action="store_true",
                   help=f"run five configurations one after another, each with PyTorch "
                        f"interleaved, then print their median epoch times and ratios against "
                        f"the targets ({targets}); takes none of the flags from --hidden to "
                        f"--likelihood")
    p.add_argument("--epochs", type=positive_int,
                   help=f"epochs of each library, per configuration (default: "
                        f"{DEFAULT_EPOCHS}; with --sweep {SWEEP_EPOCHS}: on full MNIST with two "
                        f"cores, one epoch of all five configurations and both libraries "
                        f"takes about a minute, so a full sweep, --sweep --epochs 10, about 10 "
                        f"minutes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true", help="time numpyvae only")
    p.add_argument("--batches-per-part", type=int, default=100,
                   help="numpyvae and PyTorch take turns every this many batches; 0: whole "
                        "epochs")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the peak-memory run (the sweep never makes one)")
    p.add_argument("--json", help="also write the results to this file")
    return p


def parse_args(parser, argv=None):
    """The parsed flags with ``epochs`` filled in, checked: parser.error names a bad flag."""
    args = parser.parse_args(argv)
    if args.batches_per_part < 0:
        parser.error(f"--batches-per-part must be >= 0; got {args.batches_per_part}")
    given = [flag for name, flag in CONFIGURATION_FLAGS.items()
             if getattr(args, name) is not None]
    if args.sweep and given:
        parser.error(f"--sweep runs its own five configurations (a)-(e), so it takes no "
                     f"flag of the configuration; got {', '.join(given)}")
    if args.epochs is None:
        args.epochs = SWEEP_EPOCHS if args.sweep else DEFAULT_EPOCHS
    return args


def configuration(args):
    """The Configuration the flags ask for: the defaults, with each flag that was given."""
    given = {name: getattr(args, name) for name in CONFIGURATION_FLAGS
             if getattr(args, name) is not None}
    if "hidden" in given:
        given["hidden"] = tuple(given["hidden"])
    return Configuration(**given)


def main(argv=None):
    parser = build_parser()
    args = parse_args(parser, argv)
    configs = [entry.configuration for entry in SWEEP] if args.sweep else [configuration(args)]
    use_torch = torch_reference.available() and not args.no_torch
    for config in configs:
        if use_torch and config.likelihood not in torch_reference.LIKELIHOODS:
            parser.error(f"--likelihood {config.likelihood}: the PyTorch reference has only "
                         f"{', '.join(torch_reference.LIKELIHOODS)}; add --no-torch to time "
                         f"numpyvae alone")

    data = load_dataset(args.dataset, data_dir=args.data_dir, progress=False)
    gflops_machine = machine_gflops()
    print(f"{len(data.train_x):,} training images ({args.dataset}); numpy {np.__version__}"
          + (f", torch {torch_reference.torch.__version__}" if use_torch else
             ", without PyTorch"))
    print(f"this machine: large float32 matmul at {gflops_machine:.0f} GFLOP/s; optimizer "
          f"threads {'on' if threads.enabled() else 'off'}", flush=True)

    if args.sweep:
        results = {"dataset": args.dataset, "epochs": args.epochs,
                   "sweep": run_sweep(data, args, use_torch, gflops_machine)}
    else:
        results = run_configuration(configs[0], data, args, use_torch, gflops_machine)
        if not args.no_memory:
            results["peak_memory_mb"] = peak_memory_mb(configs[0], args.dataset,
                                                       args.data_dir, args.seed)
            print(f"peak memory of `numpyvae train` on {args.dataset}: "
                  f"{results['peak_memory_mb']:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()

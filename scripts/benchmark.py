"""Speed of numpyvae's training on this machine, and PyTorch's beside it if torch is installed.

Reports, for the configuration given by flags:

- seconds per epoch (median and each epoch) and examples per second;
- the GFLOP/s the training step achieves (its matrix products' FLOPs over the epoch time)
  against this machine's own large-matmul GFLOP/s, measured in the same run;
- peak memory of a numpyvae training run in a process of its own (full MNIST held in
  float32, one epoch);
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

PyTorch is never a dependency: install it in a separate environment to compare, e.g.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 -e .
    /tmp/torchenv/bin/python scripts/benchmark.py --epochs 5

Usage: python scripts/benchmark.py [--data-dir ../shared/data/mnist] [--epochs 5] ...
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# numpyvae first, before anything loads numpy: as in the numpyvae command, it sets up OpenBLAS
# so that the optimizer's threads can run (numpyvae/parallel.py).
from numpyvae import parallel  # noqa: I001

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference  # noqa: E402  (a sibling script; imports torch only if installed)

from numpyvae.datasets import load_dataset  # noqa: E402
from numpyvae.evaluate import evaluate_elbo  # noqa: E402
from numpyvae.optim import make_optimizer  # noqa: E402
from numpyvae.train import Trainer  # noqa: E402
from numpyvae.vae import VAE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


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


def peak_memory_mb(args):
    """Peak RSS (MB) of `numpyvae train` on the dataset for one epoch, in its own process.

    The child reports its own VmHWM from /proc: ru_maxrss, of the child or of children,
    would also count the moment between fork and exec, when the child is a copy of this
    (much larger) process, since Linux carries that high-water mark across exec.
    """
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["train", "--dataset", args.dataset, "--epochs", "1",
                "--out", os.path.join(tmp, "run"), "--no-figures", "--quiet",
                "--hidden", *map(str, args.hidden), "--z-dim", str(args.z_dim),
                "--batch-size", str(args.batch_size), "--samples", str(args.samples)]
        if args.data_dir:
            argv += ["--data-dir", args.data_dir]
        code = ("import sys; from numpyvae.cli import main; main(sys.argv[1:]); "
                "print(next(l.split()[1] for l in open('/proc/self/status') "
                "if l.startswith('VmHWM')))")
        out = subprocess.run([sys.executable, "-c", code, *argv], check=True,
                             capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024          # VmHWM is in kB


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="mnist", choices=("mnist", "mnist-mini"))
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--hidden", type=int, nargs="+", default=[400])
    p.add_argument("--z-dim", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--samples", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=5, help="epochs of each (interleaved)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true", help="time numpyvae only")
    p.add_argument("--batches-per-part", type=int, default=100,
                   help="numpyvae and PyTorch take turns every this many batches; 0: whole "
                        "epochs")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory run")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    if args.batches_per_part < 0:
        p.error(f"--batches-per-part must be >= 0; got {args.batches_per_part}")

    data = load_dataset(args.dataset, data_dir=args.data_dir, progress=False)
    n = len(data.train_x)
    model = VAE(data.train_x.shape[1], args.z_dim, hidden=args.hidden, seed=args.seed)
    optimizer = make_optimizer("adam", {"theta": model.flat_parameters}, lr=args.lr)
    trainer = Trainer(model, optimizer, data.train_x, samples=args.samples,
                      batch_size=args.batch_size, seed=args.seed)
    use_torch = torch_reference.available() and not args.no_torch
    if use_torch and (args.hidden != [args.hidden[0]] or args.samples != 1):
        print("PyTorch reference only covers one hidden layer and r = 1; timing numpyvae only")
        use_torch = False
    torch_trainer = torch_reference.make_trainer(
        hidden=args.hidden[0], z_dim=args.z_dim, lr=args.lr, batch_size=args.batch_size,
        seed=args.seed) if use_torch else None

    gflops_machine = machine_gflops()
    print(f"{n:,} training images, {model}, r = {args.samples}, batch {args.batch_size}, "
          f"Adam lr {args.lr:g}; numpy {np.__version__}"
          + (f", torch {torch_reference.torch.__version__}" if use_torch else ""))
    print(f"this machine: large float32 matmul at {gflops_machine:.0f} GFLOP/s; optimizer "
          f"threads {'on' if parallel.ENABLED else 'off'}")

    ours, theirs = [], []
    for epoch in range(args.epochs):
        if use_torch:
            # Take turns part by part, alternating which goes first, so that a slow spell of
            # the machine is shared out.
            mine, torch_seconds = interleaved_epoch(
                epoch_in_parts(trainer, epoch, args.batches_per_part),
                torch_trainer.epoch_in_parts(data.train_x, args.batches_per_part or None),
                a_first=epoch % 2 == 0, pause=PAUSE_SECONDS)
            ours.append(mine)
            theirs.append(torch_seconds)
        else:
            ours.append(_timed(lambda: trainer.train_epoch(epoch)))
        line = f"epoch {epoch + 1}: numpyvae {ours[-1]:.2f} s"
        if use_torch:
            line += f"   pytorch {theirs[-1]:.2f} s   ratio {ours[-1] / theirs[-1]:.2f}"
        print(line, flush=True)

    flops = step_flops(model, args.batch_size, args.samples) * n / args.batch_size
    med = statistics.median(ours)
    results = {
        "images": n, "epochs": args.epochs, "numpyvae_epoch_seconds": ours,
        "numpyvae_median_seconds": med, "numpyvae_examples_per_second": n / med,
        "matmul_gflop_per_epoch": flops / 1e9, "achieved_gflops": flops / med / 1e9,
        "machine_gflops": gflops_machine, "optimizer_threads": parallel.ENABLED,
        "numpyvae_test_loss": evaluate_elbo(model, data.test_x,
                                            np.random.default_rng(args.seed))["loss"],
    }
    print(f"numpyvae: median {med:.2f} s per epoch, {n / med:,.0f} examples/s; matrix products "
          f"{flops / 1e9:.0f} GFLOP per epoch, achieved {flops / med / 1e9:.0f} GFLOP/s = "
          f"{flops / med / 1e9 / gflops_machine:.0%} of the large-matmul rate; "
          f"test loss {results['numpyvae_test_loss']:.2f} after {args.epochs} epochs")
    if use_torch:
        tmed = statistics.median(theirs)
        paired = statistics.median(a / b for a, b in zip(ours, theirs))
        results.update(pytorch_epoch_seconds=theirs, pytorch_median_seconds=tmed,
                       ratio=med / tmed, paired_ratio=paired,
                       pytorch_test_loss=torch_trainer.evaluate(data.test_x))
        print(f"pytorch:  median {tmed:.2f} s per epoch, {n / tmed:,.0f} examples/s; test loss "
              f"{results['pytorch_test_loss']:.2f}")
        print(f"ratio numpyvae / pytorch, median epoch time: {med / tmed:.2f} "
              f"(median of the epoch-by-epoch ratios: {paired:.2f})")
    if not args.no_memory:
        results["peak_memory_mb"] = peak_memory_mb(args)
        print(f"peak memory of `numpyvae train` on {args.dataset}: "
              f"{results['peak_memory_mb']:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

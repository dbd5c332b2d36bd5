"""Paired timing of numpyvae's training step: this checkout against another git revision.

    python scripts/ab_step.py HEAD~1                      # 400 pairs of 5-step blocks
    python scripts/ab_step.py a5221b8 --pairs 1000 --data-dir ../shared/data/mnist
    python scripts/ab_step.py --self                      # this checkout against itself

Both versions of the package train their own copy of the pytorch/examples network (784-400-20,
relu, Bernoulli, Adam at 1e-3, batch 128) in one process, taking turns every ``--block``
steps and alternating which goes first. Each pair of neighbouring blocks gives a ratio of the
time per step, this checkout over the other; the median and the geometric mean of those
ratios are printed.

Why: on a shared virtual machine the speed of the same code drifts by tens of percent within
minutes, so whole epochs, or runs one after the other, cannot resolve a change of a few
percent. Blocks of a few steps taken in turn see the same machine, and the ratios of 400
pairs resolve about 0.3%: run ``--self`` to see the spread of the tree against itself, and
run a comparison twice before believing a difference.

The other revision is exported with ``git archive`` into a temporary folder and imported
under the name ``numpyvae_base``; it must have the same ``Trainer.train_epoch`` as this one
(all revisions since the trainer's first version do). The steps are timed by the trainer
itself (``totals["seconds"]``), so turning from one version to the other costs nothing
timed.

Both versions share one process, so a change that alters what the process shares (OpenBLAS's
threads and their settings, the optimizer's thread pool) can slow the other version's steps
too, and then reads as faster than it is. Check the median times per step that the script
prints against a ``--self`` run. Compare such a change in two processes taking turns instead.
"""
import argparse
import itertools
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # this checkout's numpyvae, before any installed one
import numpyvae  # noqa: E402

# Before anything imports numpy: OpenBLAS's idle threads must sleep soon for the optimizer's
# two threads to pay, and OpenBLAS reads that setting when numpy loads it.
numpyvae.configure_openblas()

MODULES = ("vae", "optim", "train", "datasets")
for _module in MODULES:
    __import__(f"numpyvae.{_module}")
from numpyvae.engine import threads  # noqa: E402

# The module of the optimizer's threads: numpyvae.engine.threads, or in revisions before the
# package's engine/ folder, numpyvae.parallel.
THREADS_MODULES = ("engine.threads", "parallel")

sys.path.insert(0, str(ROOT / "scripts"))
import benchmark  # noqa: E402  (its epoch_in_parts: an epoch a few batches at a time)


def export_revision(revision, folder, repo=ROOT):
    """numpyvae at ``revision`` of the git repository ``repo``, as the package
    ``numpyvae_base`` in ``folder``."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", revision, "numpyvae"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"ab_step.py: cannot export numpyvae at {revision!r}: "
                         f"{archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    (Path(folder) / "numpyvae").rename(Path(folder) / "numpyvae_base")


def threads_module_name(package_folder):
    """Which of THREADS_MODULES the package in ``package_folder`` has."""
    for module in THREADS_MODULES:
        if (Path(package_folder) / (module.replace(".", "/") + ".py")).exists():
            return module
    expected = " or ".join(module.replace(".", "/") + ".py" for module in THREADS_MODULES)
    raise SystemExit(f"ab_step.py: the package in {package_folder} has no module for the "
                     f"optimizer's threads; expected {expected}")


def import_package(name, folder):
    """The package ``name`` from ``folder`` (a fresh import), with the optimizer's threads
    switched as in this checkout's package: the second copy loads after numpy, too late to
    tell on its own whether OpenBLAS was set up for them."""
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]                   # a copy imported before
    threads_module = threads_module_name(Path(folder) / name)
    sys.path.insert(0, str(folder))
    try:
        __import__(name)
        for module in MODULES + (threads_module,):
            __import__(f"{name}.{module}")
    finally:
        sys.path.remove(str(folder))
    package = sys.modules[name]
    if threads_module == "parallel":
        package.parallel.ENABLED = threads.enabled()
    else:
        package.engine.threads.FORCE = threads.enabled()
    return package


def make_trainer(package, train_x, seed):
    model = package.vae.VAE(train_x.shape[1], 20, hidden=(400,), seed=seed)
    optimizer = package.optim.make_optimizer("adam", {"theta": model.flat_parameters},
                                             lr=1e-3)
    return package.train.Trainer(model, optimizer, train_x, batch_size=128, seed=seed)


def blocks(trainer, block):
    """A generator: each ``next()`` trains ``block`` more steps (epoch after epoch, in the
    benchmark's parts) and gives the seconds per step, as the trainer timed them."""
    for epoch in itertools.count():
        seconds, start = 0.0, 0
        for totals in benchmark.epoch_in_parts(trainer, epoch, block):
            yield (totals["seconds"] - seconds) / (totals["next_batch"] - start)
            seconds, start = totals["seconds"], totals["next_batch"]


def compare(runs, pairs, warmup=3):
    """Time per step of two block generators taken in turn: ``(medians, ratios)``, the ratios
    of the first over the second for each pair of neighbouring blocks."""
    for _ in range(warmup):
        next(runs[0]), next(runs[1])
    times = ([], [])
    for i in range(pairs):
        order = (0, 1) if i % 2 else (1, 0)
        for k in order:
            times[k].append(next(runs[k]))
    ratios = [a / b for a, b in zip(*times)]
    return [statistics.median(t) for t in times], ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", nargs="?", default="HEAD",
                        help="git revision to compare with (default HEAD)")
    parser.add_argument("--self", action="store_true", dest="against_itself",
                        help="compare this checkout with itself, to see the noise")
    parser.add_argument("--pairs", type=int, default=400, help="pairs of blocks (400)")
    parser.add_argument("--block", type=int, default=5, help="steps per block (5)")
    parser.add_argument("--dataset", default=None,
                        help="mnist-mini (bundled; the default) or mnist (the default with "
                             "--data-dir)")
    parser.add_argument("--data-dir", default=None, help="folder of the MNIST IDX files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("pairs", "block"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1; got {getattr(args, name)}")

    from numpyvae.datasets import load_dataset
    dataset = args.dataset or ("mnist" if args.data_dir else "mnist-mini")
    train_x = load_dataset(dataset, data_dir=args.data_dir, download=False,
                           progress=False).train_x
    folder = Path(tempfile.mkdtemp(prefix="ab_step_"))
    try:
        if args.against_itself:
            shutil.copytree(ROOT / "numpyvae", folder / "numpyvae_base")
            label = "this checkout again"
        else:
            export_revision(args.revision, folder)
            label = args.revision
        base = import_package("numpyvae_base", folder)
        runs = [blocks(make_trainer(numpyvae, train_x, args.seed), args.block),
                blocks(make_trainer(base, train_x, args.seed), args.block)]
        (ours, theirs), ratios = compare(runs, args.pairs)
    finally:
        shutil.rmtree(folder)
    geometric = math.exp(statistics.fmean(math.log(r) for r in ratios))
    print(f"{args.pairs} pairs of {args.block}-step blocks on {dataset}, optimizer threads "
          f"{'on' if threads.enabled() else 'off'}")
    print(f"this checkout: {ours * 1e3:.3f} ms per step (median); {label}: "
          f"{theirs * 1e3:.3f} ms")
    print(f"ratio this checkout / {label}: median {statistics.median(ratios):.4f}, "
          f"geometric mean {geometric:.4f}")
    return statistics.median(ratios), geometric


if __name__ == "__main__":
    main()

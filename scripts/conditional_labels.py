"""How often a conditional VAE draws the class it is asked for: the table of docs/results.md.

For each latent size and seed, it trains `numpyvae train --conditional` (10 epochs on the
bundled mnist-mini unless told otherwise), draws ``--n`` samples of every class, the decoder's
means as `numpyvae sample RUN --label Y` draws them, and reads each with a 3-nearest-neighbour
classifier on the dataset's training images. It prints the share of samples read as the class
they were drawn with, for the label 7, the mean over the labels and the lowest:

    python scripts/conditional_labels.py --z-dim 2 20 --seeds 0 1 2 3 4

The classifier's own accuracy on the test images is printed first: a share near it means the
samples are as readable as real digits. A finished run in ``--out`` is read again rather than
retrained.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from numpyvae.app.cli import positive_int  # noqa: E402
from numpyvae.datasets import DATASET_NAMES  # noqa: E402

NEIGHBOURS = 3


def quiet(*args):
    """A log that prints nothing."""


def nearest_neighbour_labels(train_x, train_y, x, k=NEIGHBOURS, chunk=500):
    """The majority label of the k training images nearest to each row of x (ties: smallest)."""
    train_x = np.asarray(train_x, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    squared_norms = np.einsum("nd,nd->n", train_x, train_x)
    n_classes = int(train_y.max()) + 1
    labels = []
    for start in range(0, len(x), chunk):
        # |x - t|^2 = |x|^2 - 2 x.t + |t|^2, and |x|^2 does not change the order over t
        distances = squared_norms[None, :] - 2.0 * x[start:start + chunk] @ train_x.T
        nearest = np.argpartition(distances, k, axis=1)[:, :k]
        votes = np.stack([np.bincount(row, minlength=n_classes) for row in train_y[nearest]])
        labels.append(votes.argmax(axis=1))
    return np.concatenate(labels)


def label_shares(model, train_x, train_y, n=300, seed=0):
    """For each class c, the share of n samples drawn with label c that the classifier reads as c."""
    rng = np.random.default_rng(seed)
    shares = []
    for c in range(model.n_classes):
        _, decoded = model.sample(n, rng, y=np.full(n, c), return_decoded=True)
        shares.append(np.mean(nearest_neighbour_labels(train_x, train_y, decoded["mean"]) == c))
    return np.array(shares)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--z-dim", type=positive_int, nargs="+", default=[2, 20], metavar="K")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=positive_int, default=10)
    p.add_argument("--dataset", default="mnist-mini", choices=DATASET_NAMES)
    p.add_argument("--data-dir", help="the data folder of a full dataset")
    p.add_argument("--n", type=positive_int, default=300, help="samples per class")
    p.add_argument("--out", default="runs/conditional-labels", help="the run folders")
    args = p.parse_args(argv)

    from numpyvae.app.run import Run, open_run
    from numpyvae.datasets import load_dataset
    data = load_dataset(args.dataset, data_dir=args.data_dir)
    accuracy = np.mean(nearest_neighbour_labels(data.train_x, data.train_y, data.test_x)
                       == data.test_y)
    print(f"{NEIGHBOURS}-nearest-neighbour classifier on the {len(data.train_x):,} training "
          f"images of {args.dataset}: {accuracy:.1%} of its test images read right")
    print("\n| z_dim | seed | label 7 | mean over labels | lowest label |")
    print("|---|---|---|---|---|")
    by_z = {}
    for z_dim in args.z_dim:
        for seed in args.seeds:
            folder = Path(args.out) / f"z{z_dim}-seed{seed}"
            if (folder / "checkpoint.npz").exists():
                run = Run.resume(folder, epochs=args.epochs, log=quiet)
            else:
                run = Run.start(folder, {"dataset": args.dataset, "data_dir": args.data_dir,
                                         "conditional": True, "epochs": args.epochs,
                                         "z_dim": z_dim, "seed": seed}, log=quiet)
            run.train(progress=False)
            model, _ = open_run(folder)
            shares = label_shares(model, data.train_x, data.train_y, n=args.n, seed=seed)
            print(f"| {z_dim} | {seed} | {shares[7]:.0%} | {shares.mean():.0%} | "
                  f"{shares.min():.0%} ({shares.argmin()}) |", flush=True)
            by_z.setdefault(z_dim, []).append(shares)
    print(f"\nOver the seeds {' '.join(map(str, args.seeds))}, range (mean):\n")
    print("| z_dim | label 7 | mean over labels | lowest label |")
    print("|---|---|---|---|")
    for z_dim, rows in by_z.items():
        rows = np.array(rows)
        columns = rows[:, 7], rows.mean(axis=1), rows.min(axis=1)
        print("| " + " | ".join([str(z_dim)] + [f"{c.min():.0%}-{c.max():.0%} ({c.mean():.0%})"
                                               for c in columns]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Rebuild a subset bundled in numpyvae/data/ from the four canonical IDX files of its dataset.

    python scripts/make_subset.py mnist-mini ../shared/data/mnist
    python scripts/make_subset.py fashion-mini ../shared/data/fashion-mnist

takes the first training and test images (and their labels) of the dataset, after checking
the SHA-256 of each decompressed file, and writes them as uint8 into a compressed .npz:

    mnist-mini    numpyvae/data/mnist-mini.npz     MNIST, the first 10,000 + 2,000 images
    fashion-mini  numpyvae/data/fashion-mini.npz   Fashion-MNIST, the first 4,000 + 500 images

The source folder holds the four files themselves (raw or .gz), whatever its name. The output
is the same byte for byte on every run: the zip entries carry a fixed date and fixed
attributes, and are compressed at zlib level 9 (a different zlib build could still compress
differently; the arrays inside would be the same). The file holds four arrays: train_images
(N, 28, 28), train_labels (N,), test_images, test_labels, all uint8. It must stay at most
2,000,000 bytes; a larger one is refused before anything is written.
"""
import argparse
import dataclasses
import hashlib
import io
import sys
import zipfile

import numpy as np

from numpyvae.datasets.fashion import FASHION_MINI
from numpyvae.datasets.mnist import BUNDLED_SUBSET, load_idx_dataset
from numpyvae.datasets.sources import FASHION_MNIST, MNIST
from numpyvae.files import write_atomically

MAX_BYTES = 2_000_000
ZIP_DATE = (1980, 1, 1, 0, 0, 0)   # the earliest date a zip entry can carry


@dataclasses.dataclass(frozen=True)
class Subset:
    """A bundled subset: the first ``n_train`` / ``n_test`` images of ``source``."""

    source: object
    n_train: int
    n_test: int
    out: object


SUBSETS = {
    "mnist-mini": Subset(MNIST, 10_000, 2_000, BUNDLED_SUBSET),
    "fashion-mini": Subset(FASHION_MNIST, 4_000, 500, FASHION_MINI),
}


def npy_bytes(array):
    """``array`` in the .npy format, as bytes (what np.save would write)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(arrays):
    """A compressed .npz of ``arrays`` whose bytes depend on nothing but the arrays.

    np.savez_compressed would stamp each entry with the current time; this builds the same
    format with a fixed date.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3                # "Unix", whatever the OS
            info.external_attr = 0o644 << 16      # rw-r--r--
            zf.writestr(info, npy_bytes(array), compresslevel=9)
    return buffer.getvalue()


def take_subset(source, folder, n_train, n_test):
    """The first images and labels of the dataset whose four files are in ``folder``."""
    in_folder = dataclasses.replace(source, subfolder="")   # the files sit in folder itself
    full = load_idx_dataset(in_folder, folder, download=False)
    for split, n in (("train", n_train), ("test", n_test)):
        if not 1 <= n <= len(full[split + "_labels"]):
            raise ValueError(f"--n-{split} must be 1 to {len(full[split + '_labels'])}; got {n}")
    return {
        "train_images": full["train_images"][:n_train],
        "train_labels": full["train_labels"][:n_train],
        "test_images": full["test_images"][:n_test],
        "test_labels": full["test_labels"][:n_test],
    }


def describe(subset, data, classes):
    """What was written: each array, and the labels' count per class."""
    lines = []
    for name, array in subset.items():
        lines.append(f"  {name}: {array.dtype} {array.shape}")
    for split in ("train", "test"):
        counts = np.bincount(subset[split + "_labels"], minlength=len(classes))
        lines.append(f"  {split} images per class: " + ", ".join(
            f"{c} {n}" for c, n in zip(classes, counts)))
    lines.append(f"  SHA-256 of the file: {hashlib.sha256(data).hexdigest()}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subset", choices=sorted(SUBSETS), help="which subset to make")
    parser.add_argument("source", help="folder with the dataset's four IDX files (raw or .gz)")
    parser.add_argument("--out", help="the .npz to write (default: the one in numpyvae/data/)")
    parser.add_argument("--n-train", type=int, help="training images (default: the subset's)")
    parser.add_argument("--n-test", type=int, help="test images (default: the subset's)")
    args = parser.parse_args(argv)

    spec = SUBSETS[args.subset]
    out = args.out or spec.out
    n_train = spec.n_train if args.n_train is None else args.n_train
    n_test = spec.n_test if args.n_test is None else args.n_test
    try:
        subset = take_subset(spec.source, args.source, n_train, n_test)
    except ValueError as err:   # DatasetError included: a missing or damaged file
        print(f"error: {err}", file=sys.stderr)
        return 1
    data = npz_bytes(subset)
    if len(data) > MAX_BYTES:
        print(f"error: the subset takes {len(data)} bytes, more than the limit of {MAX_BYTES}; "
              f"use smaller --n-train / --n-test. Nothing was written.", file=sys.stderr)
        return 1
    write_atomically(out, data)
    print(f"wrote {out}: {len(data)} bytes, the first {n_train} training and {n_test} test "
          f"images of {spec.source.title}, checksums of the four files verified")
    print(describe(subset, data, spec.source.classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())

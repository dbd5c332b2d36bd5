"""Rebuild numpyvae/data/mnist-mini.npz from a folder holding the four MNIST IDX files.

    python scripts/make_mnist_mini.py ../shared/data/mnist

takes the first 10,000 training and the first 2,000 test images (and their labels) of MNIST,
after checking the SHA-256 of each decompressed file, and writes them as uint8 into a
compressed .npz. The output is the same byte for byte on every run: the zip entries carry a
fixed date and fixed attributes, and are compressed at zlib level 9 (a different zlib build
could still compress differently; the arrays inside would be the same).

The file holds four arrays: train_images (N, 28, 28), train_labels (N,), test_images,
test_labels, all uint8. It must stay at most 2,000,000 bytes.
"""
import argparse
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from numpyvae.files import atomic_write
from numpyvae.datasets.mnist import BUNDLED_SUBSET, load_mnist

N_TRAIN = 10_000
N_TEST = 2_000
MAX_BYTES = 2_000_000
ZIP_DATE = (1980, 1, 1, 0, 0, 0)   # the earliest date a zip entry can carry


def npy_bytes(array):
    """``array`` in the .npy format, as bytes (what np.save would write)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_npz(path, arrays):
    """A compressed .npz of ``arrays`` whose bytes depend on nothing but the arrays.

    np.savez_compressed would stamp each entry with the current time; this writes the same
    format with a fixed date, then renames it into place (atomic).
    """
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, "w") as zf:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3                # "Unix", whatever the OS
                info.external_attr = 0o644 << 16      # rw-r--r--
                zf.writestr(info, npy_bytes(array), compresslevel=9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="folder with the four MNIST IDX files (raw or .gz)")
    parser.add_argument("--out", default=str(BUNDLED_SUBSET), help="the .npz to write")
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--n-test", type=int, default=N_TEST)
    args = parser.parse_args(argv)

    mnist = load_mnist(args.source, download=False)
    subset = {
        "train_images": mnist["train_images"][:args.n_train],
        "train_labels": mnist["train_labels"][:args.n_train],
        "test_images": mnist["test_images"][:args.n_test],
        "test_labels": mnist["test_labels"][:args.n_test],
    }
    write_npz(args.out, subset)
    size = os.path.getsize(args.out)
    digest = hashlib.sha256(Path(args.out).read_bytes()).hexdigest()
    print(f"wrote {args.out}: {size} bytes, SHA-256 {digest}")
    for name, array in subset.items():
        print(f"  {name}: {array.dtype} {array.shape}")
    if size > MAX_BYTES:
        print(f"error: {size} bytes is more than the limit of {MAX_BYTES}; "
              f"use smaller --n-train / --n-test", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""MNIST as uint8 arrays: the full set from the four IDX files, or the bundled subset.

Both loaders return the same dict of raw arrays, checked for shape, type and label range:

    "train_images"  uint8, shape (N_train, 28, 28)
    "train_labels"  uint8, shape (N_train,), values 0..9
    "test_images"   uint8, shape (N_test, 28, 28)
    "test_labels"   uint8, shape (N_test,), values 0..9

Turning pixels into model inputs is the job of :mod:`numpyvae.datasets.transforms`.
"""
import hashlib
import os
from pathlib import Path

import numpy as np

from .download import DEFAULT_TIMEOUT, download_mnist
from .errors import DatasetError
from .idx import parse_idx, read_decompressed
from .paths import DATA_DIR_ENV, default_data_dir, find_data_file, resolve_data_dir
from .sources import MNIST_FILES, MNIST_SHA256

IMAGE_SHAPE = (28, 28)
SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
BUNDLED_SUBSET = Path(__file__).resolve().parent.parent / "data" / "mnist-mini.npz"


def check_split(images, labels, split, source):
    """Raise :class:`DatasetError` unless images and labels form a valid MNIST split.

    Parameters
    ----------
    images : ndarray, expected uint8 of shape (N, 28, 28)
    labels : ndarray, expected uint8 of shape (N,) with values 0..9
    split : str
        "train" or "test", for the message.
    source : str
        Where the arrays came from, for the message.
    """
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(f"{source}: {split} images must be uint8 of shape (N, 28, 28) "
                           f"(IDX magic 0x00000803); got {images.dtype} of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(f"{source}: {split} labels must be uint8 of shape (N,) "
                           f"(IDX magic 0x00000801); got {labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise DatasetError(f"{source}: {split} has {len(images)} images but {len(labels)} "
                           f"labels; the two files must hold the same number")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{source}: {split} labels must be digits 0..9; "
                           f"got {labels.max()}")


def read_verified(path, sha256=None):
    """The array of an IDX file, after checking the SHA-256 of its decompressed content.

    Parameters
    ----------
    path : pathlib.Path
    sha256 : str, optional
        Expected SHA-256 (hex); None skips the check.
    """
    data = read_decompressed(path)
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256.lower():
            raise DatasetError(
                f"{path}: checksum mismatch: its decompressed content has SHA-256 {got}, "
                f"expected {sha256}. The file is damaged or is not the MNIST file of that "
                f"name; delete it and it will be downloaded again.")
    return parse_idx(data, source=str(path))


def load_mnist(data_dir=None, download=True, progress=True, mirrors=None, checksums=None,
               timeout=DEFAULT_TIMEOUT):
    """Full MNIST (60,000 training and 10,000 test images) from the four IDX files.

    Each file may be raw or gzipped (``<name>`` or ``<name>.gz``). Missing files are
    downloaded when ``download`` is True. Every file is checked against its SHA-256 on every
    load (about a tenth of a second), so a damaged file cannot pass silently.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        The folder; by default $NUMPYVAE_DATA, else the per-user cache folder.
    download : bool
        Fetch missing files from the mirrors.
    progress : bool
        Show a progress line on stderr while downloading.
    mirrors : list of str, optional
        See :func:`~numpyvae.datasets.download.resolve_mirrors`.
    checksums : dict of str -> str, optional
        File name -> SHA-256 of the decompressed file, for all four files; by default
        :data:`~numpyvae.datasets.sources.MNIST_SHA256`. Tests pass their own.
    timeout : float
        Seconds to wait for a mirror at any one moment.

    Returns
    -------
    dict of str -> ndarray
        See the module docstring.
    """
    folder = resolve_data_dir(data_dir)
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"the data folder {folder} is a file, not a folder")
    checksums = MNIST_SHA256 if checksums is None else checksums
    names = [name for pair in MNIST_FILES.values() for name in pair]
    unknown = [name for name in names if name not in checksums]
    if unknown:
        raise ValueError(f"checksums must give a SHA-256 for each of {names}; "
                         f"missing {unknown}")
    missing = [name for name in names if find_data_file(folder, name) is None]
    if missing and not download:
        raise DatasetError(
            f"MNIST files missing from {folder}: {', '.join(missing)} (raw or .gz). "
            f"Allow the download, or copy the files there. The folder is --data-dir if "
            f"given, else ${DATA_DIR_ENV}, else {default_data_dir()}.")
    if missing:
        download_mnist(folder, mirrors=mirrors, checksums={n: checksums[n] for n in missing},
                       progress=progress, timeout=timeout)
    arrays = {}
    for split, (images_name, labels_name) in MNIST_FILES.items():
        images_path = find_data_file(folder, images_name)
        labels_path = find_data_file(folder, labels_name)
        images = read_verified(images_path, checksums[images_name])
        labels = read_verified(labels_path, checksums[labels_name])
        check_split(images, labels, split, f"{images_path.name} / {labels_path.name} in {folder}")
        arrays[split + "_images"], arrays[split + "_labels"] = images, labels
    return arrays


def load_mnist_mini(path=BUNDLED_SUBSET):
    """The subset of MNIST bundled with the package (see numpyvae/data/MNIST-MINI.md).

    Parameters
    ----------
    path : pathlib.Path
        The .npz file; the one inside the package by default.

    Returns
    -------
    dict of str -> ndarray
        See the module docstring; the first 10,000 training and 2,000 test images of MNIST.
    """
    if not os.path.isfile(path):
        raise DatasetError(f"the bundled subset {path} is missing: the installation of "
                           f"numpyvae is incomplete, reinstall it")
    with np.load(path, allow_pickle=False) as npz:
        absent = [key for key in SPLIT_KEYS if key not in npz.files]
        if absent:
            raise DatasetError(f"{path} lacks the arrays {absent}; it holds {npz.files}")
        arrays = {key: npz[key] for key in SPLIT_KEYS}
    for split in ("train", "test"):
        check_split(arrays[split + "_images"], arrays[split + "_labels"], split, str(path))
    return arrays

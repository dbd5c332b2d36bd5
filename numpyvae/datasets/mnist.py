"""MNIST as uint8 arrays: the full set from the four IDX files, or the bundled subset.

The same loaders read any dataset in MNIST's format (:class:`~.sources.IdxSource`); see
:mod:`numpyvae.datasets.fashion` for Fashion-MNIST. Every loader returns the same dict of raw
arrays, checked for shape, type and label range:

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

from .download import DEFAULT_TIMEOUT, download_missing
from .errors import DatasetError
from .idx import parse_idx, read_decompressed
from .paths import DATA_DIR_ENV, dataset_folder, default_data_dir, find_data_file
from .sources import MNIST

IMAGE_SHAPE = (28, 28)
SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
DATA_FOLDER = Path(__file__).resolve().parent.parent / "data"
BUNDLED_SUBSET = DATA_FOLDER / "mnist-mini.npz"


def check_split(images, labels, split, source, labels_are="digits"):
    """Raise :class:`DatasetError` unless images and labels form a valid MNIST split.

    Parameters
    ----------
    images : ndarray, expected uint8 of shape (N, 28, 28)
    labels : ndarray, expected uint8 of shape (N,) with values 0..9
    split : str
        "train" or "test", for the message.
    source : str
        Where the arrays came from, for the message.
    labels_are : str
        What the labels are, for the message ("digits", "class numbers").
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
        raise DatasetError(f"{source}: {split} labels must be {labels_are} 0..9; "
                           f"got {labels.max()}")


def read_verified(path, sha256=None, title="MNIST"):
    """The array of an IDX file, after checking the SHA-256 of its decompressed content.

    Parameters
    ----------
    path : pathlib.Path
    sha256 : str, optional
        Expected SHA-256 (hex); None skips the check.
    title : str
        The dataset the file belongs to, for the message.
    """
    data = read_decompressed(path)
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256.lower():
            raise DatasetError(
                f"{path}: checksum mismatch: its decompressed content has SHA-256 {got}, "
                f"expected {sha256}. The file is damaged or is not the {title} file of that "
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
    return load_idx_dataset(MNIST, data_dir, download=download, progress=progress,
                            mirrors=mirrors, checksums=checksums, timeout=timeout)


def load_idx_dataset(source, data_dir=None, download=True, progress=True, mirrors=None,
                     checksums=None, timeout=DEFAULT_TIMEOUT):
    """A dataset in MNIST's format from its four IDX files, downloaded when missing.

    The files are looked for in the dataset's folder: the data folder itself (MNIST) or its
    subfolder ``source.subfolder`` (Fashion-MNIST; see
    :func:`~numpyvae.datasets.paths.dataset_folder`). Each is checked against its SHA-256 on
    every load.

    Parameters
    ----------
    source : IdxSource
        :data:`~numpyvae.datasets.sources.MNIST` or
        :data:`~numpyvae.datasets.sources.FASHION_MNIST`.
    data_dir, download, progress, mirrors, timeout
        As for :func:`load_mnist`.
    checksums : dict of str -> str, optional
        By default ``source.sha256``.

    Returns
    -------
    dict of str -> ndarray
        See the module docstring.
    """
    folder = dataset_folder(source.subfolder, data_dir)
    for candidate in (folder.parent, folder) if source.subfolder else (folder,):
        if candidate.exists() and not candidate.is_dir():
            raise DatasetError(f"the data folder {candidate} is a file, not a folder")
    checksums = source.sha256 if checksums is None else checksums
    names = source.file_names
    unknown = [name for name in names if name not in checksums]
    if unknown:
        raise ValueError(f"checksums must give a SHA-256 for each of {names}; "
                         f"missing {unknown}")
    missing = [name for name in names if find_data_file(folder, name) is None]
    if missing and not download:
        raise DatasetError(_missing_message(source, folder, missing))
    if missing:
        download_missing(folder, {n: checksums[n] for n in missing}, source, mirrors=mirrors,
                         progress=progress, timeout=timeout)
    return _read_splits(source, folder, checksums)


def _read_splits(source, folder, checksums):
    """The four arrays of the files in ``folder``, each checked against its SHA-256."""
    arrays = {}
    for split, (images_name, labels_name) in source.files.items():
        images_path = find_data_file(folder, images_name)
        labels_path = find_data_file(folder, labels_name)
        images = read_verified(images_path, checksums[images_name], source.title)
        labels = read_verified(labels_path, checksums[labels_name], source.title)
        check_split(images, labels, split, f"{images_path.name} / {labels_path.name} in {folder}",
                    source.labels_are)
        arrays[split + "_images"], arrays[split + "_labels"] = images, labels
    return arrays


def _missing_message(source, folder, missing):
    """What to say when files are missing and downloading is not allowed."""
    where = (f"The folder is --data-dir if given, else ${DATA_DIR_ENV}, else "
             f"{default_data_dir()}")
    if source.subfolder:
        where += (f"; {source.title} reads the subfolder {source.subfolder}/ of it, so that "
                  f"its files, named like MNIST's, stay apart from them")
        if any(find_data_file(folder.parent, name) for name in missing):
            where += (f". {folder.parent} itself holds files of those names: if they are "
                      f"{source.title}'s, move them into {folder}")
    return (f"{source.title} files missing from {folder}: {', '.join(missing)} (raw or .gz). "
            f"Allow the download, or copy the files there. {where}.")


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
    return load_bundled(path, MNIST)


def load_bundled(path, source):
    """A subset shipped inside the package, as a .npz of the four uint8 arrays.

    Parameters
    ----------
    path : str or os.PathLike
        The .npz file.
    source : IdxSource
        The dataset it is a subset of, for the checks of its labels.

    Returns
    -------
    dict of str -> ndarray
        See the module docstring.
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
        check_split(arrays[split + "_images"], arrays[split + "_labels"], split, str(path),
                    source.labels_are)
    return arrays

"""Data for numpyvae: MNIST from its IDX files, downloaded if needed, or the bundled subset.

- :func:`load_dataset` -> :class:`Dataset`: the entry point ("mnist-mini" or "mnist").
- ``paths``: which folder holds the data (argument, $NUMPYVAE_DATA, per-user cache).
- ``idx``: the IDX file format, read and write. ``download``: mirrors, checksums, atomic
  writes. ``mnist``: the four files or the bundled subset as uint8 arrays.
- ``transforms``: grey levels, static / dynamic / threshold binarization, denoising noise.

See docs/data.md.
"""
from .dataset import BINARIZATIONS, DATASET_NAMES, Dataset, load_dataset
from .download import download_file, download_mnist, resolve_mirrors
from .errors import DatasetError, DownloadError
from .idx import format_idx, parse_idx, read_idx, write_idx
from .mnist import load_mnist, load_mnist_mini
from .paths import DATA_DIR_ENV, default_data_dir, resolve_data_dir
from .sources import DEFAULT_MIRRORS, MIRRORS_ENV, MNIST_FILES, MNIST_SHA256
from .transforms import (binarize_dynamic, binarize_static, binarize_threshold, corrupt,
                         grey_levels)

__all__ = [
    "load_dataset", "Dataset", "DatasetError", "DownloadError", "DATASET_NAMES",
    "BINARIZATIONS", "default_data_dir", "resolve_data_dir", "DATA_DIR_ENV",
    "download_mnist", "download_file", "resolve_mirrors", "DEFAULT_MIRRORS", "MIRRORS_ENV",
    "MNIST_FILES", "MNIST_SHA256", "read_idx", "write_idx", "parse_idx", "format_idx",
    "load_mnist", "load_mnist_mini", "grey_levels", "binarize_dynamic", "binarize_static",
    "binarize_threshold", "corrupt",
]

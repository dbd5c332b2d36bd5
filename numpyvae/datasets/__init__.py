"""Data for numpyvae: MNIST and Fashion-MNIST from their IDX files, downloaded if needed, or
the subsets bundled with the package.

- :func:`load_dataset` -> :class:`Dataset`: the entry point ("mnist-mini", "mnist",
  "fashion-mini" or "fashion-mnist").
- ``paths``: which folder holds the data (argument, $NUMPYVAE_DATA, per-user cache).
- ``sources``: each dataset's files, checksums, mirrors and class names.
- ``idx``: the IDX file format, read and write. ``download``: mirrors, checksums, atomic
  writes. ``mnist``, ``fashion``: the four files or the bundled subset as uint8 arrays.
- ``transforms``: grey levels, static / dynamic / threshold binarization, denoising noise,
  dequantization.

See docs/data.md.
"""
from .dataset import (BINARIZATIONS, DATASET_CLASSES, DATASET_DESCRIPTIONS, DATASET_NAMES,
                      Dataset, load_dataset)
from .download import (download_fashion_mnist, download_file, download_missing,
                       download_mnist, resolve_mirrors)
from .errors import DatasetError, DownloadError
from .fashion import load_fashion_mini, load_fashion_mnist
from .idx import format_idx, parse_idx, read_idx, write_idx
from .mnist import load_idx_dataset, load_mnist, load_mnist_mini
from .paths import DATA_DIR_ENV, dataset_folder, default_data_dir, resolve_data_dir
from .sources import (DEFAULT_MIRRORS, FASHION_MNIST, FASHION_MNIST_CLASSES,
                      FASHION_MNIST_FILES, FASHION_MNIST_MIRRORS, FASHION_MNIST_MIRRORS_ENV,
                      FASHION_MNIST_SHA256, MIRRORS_ENV, MNIST, MNIST_CLASSES, MNIST_FILES,
                      MNIST_SHA256, IdxSource)
from .transforms import (binarize_dynamic, binarize_static, binarize_threshold, corrupt,
                         dequantize, dequantize_static, grey_levels, pixels_from_grey)

__all__ = [
    "load_dataset", "Dataset", "DatasetError", "DownloadError", "DATASET_NAMES",
    "DATASET_DESCRIPTIONS", "DATASET_CLASSES", "BINARIZATIONS", "default_data_dir",
    "resolve_data_dir", "dataset_folder", "DATA_DIR_ENV",
    "download_mnist", "download_fashion_mnist", "download_missing", "download_file",
    "resolve_mirrors", "DEFAULT_MIRRORS", "MIRRORS_ENV",
    "IdxSource", "MNIST", "FASHION_MNIST", "MNIST_FILES", "MNIST_SHA256", "MNIST_CLASSES",
    "FASHION_MNIST_FILES", "FASHION_MNIST_SHA256", "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_MIRRORS_ENV", "FASHION_MNIST_CLASSES",
    "read_idx", "write_idx", "parse_idx", "format_idx",
    "load_mnist", "load_mnist_mini", "load_fashion_mnist", "load_fashion_mini",
    "load_idx_dataset",
    "grey_levels", "binarize_dynamic", "binarize_static", "binarize_threshold", "corrupt",
    "dequantize", "dequantize_static", "pixels_from_grey",
]

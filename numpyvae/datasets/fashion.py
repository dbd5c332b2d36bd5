"""Fashion-MNIST as uint8 arrays: the full set from its four IDX files, or the bundled subset.

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017; Zalando Research) has MNIST's format, sizes and
file names: 60,000 training and 10,000 test images of 28x28 grey levels, of ten kinds of
clothing (:data:`~numpyvae.datasets.sources.FASHION_MNIST_CLASSES`). Because its files are
named like MNIST's, they live in the subfolder ``fashion-mnist`` of the data folder. The
loaders return the dict of arrays of :mod:`numpyvae.datasets.mnist`.
"""
from .download import DEFAULT_TIMEOUT
from .mnist import DATA_FOLDER, load_bundled, load_idx_dataset
from .sources import FASHION_MNIST

FASHION_MINI = DATA_FOLDER / "fashion-mini.npz"


def load_fashion_mnist(data_dir=None, download=True, progress=True, mirrors=None,
                       checksums=None, timeout=DEFAULT_TIMEOUT):
    """Full Fashion-MNIST from ``<data folder>/fashion-mnist/``, downloaded when missing.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        The data folder (not the subfolder); by default $NUMPYVAE_DATA, else the per-user
        cache folder. The files are read from, and downloaded into, its subfolder
        ``fashion-mnist``.
    download : bool
        Fetch missing files from Fashion-MNIST's upstream URLs
        (:data:`~numpyvae.datasets.sources.FASHION_MNIST_MIRRORS`, or
        $NUMPYVAE_FASHION_MNIST_MIRRORS).
    progress : bool
        Show a progress line on stderr while downloading.
    mirrors : list of str, optional
        See :func:`~numpyvae.datasets.download.resolve_mirrors`.
    checksums : dict of str -> str, optional
        By default :data:`~numpyvae.datasets.sources.FASHION_MNIST_SHA256`.
    timeout : float
        Seconds to wait for a mirror at any one moment.

    Returns
    -------
    dict of str -> ndarray
        "train_images", "train_labels", "test_images", "test_labels", all uint8.
    """
    return load_idx_dataset(FASHION_MNIST, data_dir, download=download, progress=progress,
                            mirrors=mirrors, checksums=checksums, timeout=timeout)


def load_fashion_mini(path=FASHION_MINI):
    """The subset of Fashion-MNIST bundled with the package (numpyvae/data/FASHION-MINI.md).

    Parameters
    ----------
    path : pathlib.Path
        The .npz file; the one inside the package by default.

    Returns
    -------
    dict of str -> ndarray
        The first 4,000 training and 500 test images of Fashion-MNIST, with their labels.
    """
    return load_bundled(path, FASHION_MNIST)

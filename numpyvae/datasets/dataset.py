"""load_dataset: a named dataset as float32 rows ready for the model, with its labels."""
import numbers

import numpy as np

from .errors import DatasetError
from .fashion import load_fashion_mini, load_fashion_mnist
from .mnist import IMAGE_SHAPE, load_mnist, load_mnist_mini
from .sources import FASHION_MNIST_CLASSES, MNIST_CLASSES
from .transforms import binarize_static, binarize_threshold, dequantize_static, grey_levels

DATASET_NAMES = ("mnist-mini", "mnist", "fashion-mini", "fashion-mnist")
DATASET_DESCRIPTIONS = {
    "mnist-mini": "the first 10,000 training and 2,000 test images of MNIST, bundled",
    "mnist": "full MNIST, 60,000 + 10,000 images, read from the data folder or downloaded",
    "fashion-mini": "the first 4,000 training and 500 test images of Fashion-MNIST, bundled",
    "fashion-mnist": "full Fashion-MNIST, 60,000 + 10,000 images of clothing, read from the "
                     "data folder's subfolder fashion-mnist/ or downloaded",
}
DATASET_CLASSES = {
    "mnist-mini": MNIST_CLASSES, "mnist": MNIST_CLASSES,
    "fashion-mini": FASHION_MNIST_CLASSES, "fashion-mnist": FASHION_MNIST_CLASSES,
}
BINARIZATIONS = (None, "static", "threshold")


class Dataset:
    """Training and test images of one dataset, as rows of grey levels or of 0/1 pixels.

    Attributes
    ----------
    name : str
    train_x : ndarray of float32, shape (N_train, 784), values in [0, 1]
        What the model sees: grey levels pixel / 255, binarized pixels, or dequantized ones.
    train_y : ndarray of int64, shape (N_train,), labels 0..9
    test_x : ndarray of float32, shape (N_test, 784)
    test_y : ndarray of int64, shape (N_test,)
    image_shape : tuple (28, 28)
        How to reshape a row into an image.
    binarize : None, "static" or "threshold"
        How the pixels were made binary (None: not binary).
    train_pixels : ndarray of uint8, shape (N_train, 784), or None
        The raw pixels 0..255 of the files, whatever ``train_x`` was made of them: what
        :func:`~numpyvae.datasets.transforms.dequantize` takes.
    test_pixels : ndarray of uint8, shape (N_test, 784), or None
    classes : tuple of str, or None
        The name of each label: label k is ``classes[k]`` ("0".."9" for MNIST, "T-shirt/top"
        .. "Ankle boot" for Fashion-MNIST).
    dequantized : bool
        Whether ``train_x`` and ``test_x`` are one fixed dequantization (pixel + u) / 256.
    """

    def __init__(self, name, train_x, train_y, test_x, test_y, image_shape=IMAGE_SHAPE,
                 binarize=None, *, train_pixels=None, test_pixels=None, classes=None,
                 dequantized=False):
        self.name = name
        self.train_x, self.train_y = train_x, train_y
        self.test_x, self.test_y = test_x, test_y
        self.image_shape = tuple(image_shape)
        self.binarize = binarize
        self.train_pixels, self.test_pixels = train_pixels, test_pixels
        self.classes = None if classes is None else tuple(classes)
        self.dequantized = bool(dequantized)

    @property
    def x_dim(self):
        """Pixels per image, the size D of an observation (784)."""
        return int(np.prod(self.image_shape))

    def __repr__(self):
        dequantized = ", dequantized=True" if self.dequantized else ""
        return (f"Dataset(name={self.name!r}, train={len(self.train_x)}, "
                f"test={len(self.test_x)}, image_shape={self.image_shape}, "
                f"binarize={self.binarize!r}{dequantized})")


def load_dataset(name="mnist-mini", data_dir=None, download=True, progress=True,
                 binarize=None, seed=0, mirrors=None, dequantize=False):
    """Load a dataset by name.

    Parameters
    ----------
    name : {"mnist-mini", "mnist", "fashion-mini", "fashion-mnist"}
        "mnist-mini" and "fashion-mini" ship inside the package and need no network.
        "mnist" is read from the data folder, "fashion-mnist" from its subfolder
        ``fashion-mnist``, and each is downloaded there when missing.
    data_dir : str or os.PathLike, optional
        The data folder; by default $NUMPYVAE_DATA, else the per-user cache. Not used by the
        bundled subsets.
    download : bool
        Whether "mnist" and "fashion-mnist" may download missing files.
    progress : bool
        Show a progress line while downloading.
    binarize : {None, "static", "threshold"}
        None keeps grey levels pixel / 255. "static" replaces them by one fixed draw
        x_b ~ Bernoulli(x) made from ``seed`` (train and test from two independent streams
        of it). "threshold" sets x_b = 1 where x > 0.5. Dynamic binarization (a new draw
        per batch) is the trainer's: load grey levels, then call
        :func:`~numpyvae.datasets.transforms.binarize_dynamic` per batch.
    seed : int >= 0
        Seed of the static binarization or of the dequantization (unused otherwise).
    mirrors : list of str, optional
        Mirror URLs for the download; see
        :func:`~numpyvae.datasets.download.resolve_mirrors`.
    dequantize : bool
        True replaces the grey levels by one fixed dequantization x = (pixel + u) / 256,
        u ~ U(0, 1), made from ``seed`` (train and test from two independent streams of it).
        A fresh dequantization per batch is the trainer's: load grey levels, then call
        :func:`~numpyvae.datasets.transforms.dequantize` per batch, and
        :func:`~numpyvae.datasets.transforms.dequantize_static` once on ``test_pixels``.
        Excludes ``binarize``.

    Returns
    -------
    Dataset
    """
    _check_options(name, binarize, seed, dequantize)
    arrays = _read_arrays(name, data_dir, download, progress, mirrors)
    train_pixels = _rows(arrays["train_images"])
    test_pixels = _rows(arrays["test_images"])
    train_seed, test_seed = np.random.SeedSequence(int(seed)).spawn(2)
    if dequantize:
        train_x = dequantize_static(train_pixels, train_seed)
        test_x = dequantize_static(test_pixels, test_seed)
    else:
        train_x = grey_levels(arrays["train_images"])
        test_x = grey_levels(arrays["test_images"])
    if binarize == "static":
        train_x = binarize_static(train_x, train_seed)
        test_x = binarize_static(test_x, test_seed)
    elif binarize == "threshold":
        train_x = binarize_threshold(train_x)
        test_x = binarize_threshold(test_x)
    return Dataset(name, train_x, arrays["train_labels"].astype(np.int64),
                   test_x, arrays["test_labels"].astype(np.int64), IMAGE_SHAPE, binarize,
                   train_pixels=train_pixels, test_pixels=test_pixels,
                   classes=DATASET_CLASSES[name], dequantized=dequantize)


def _check_options(name, binarize, seed, dequantize):
    """A DatasetError for an unknown name, a ValueError for a bad option."""
    if name not in DATASET_NAMES:
        known = "; ".join(f"{n!r}: {DATASET_DESCRIPTIONS[n]}" for n in DATASET_NAMES)
        raise DatasetError(f"unknown dataset {name!r}; the known datasets are {known}")
    if binarize not in BINARIZATIONS:
        hint = (" (dynamic binarization is a new draw per batch: load grey levels and call "
                "binarize_dynamic on each batch)" if binarize == "dynamic" else "")
        raise ValueError(f"binarize must be one of {list(BINARIZATIONS)}{hint}; "
                         f"got {binarize!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    if not isinstance(dequantize, (bool, np.bool_)):
        raise ValueError(f"dequantize must be True or False; got {dequantize!r}")
    if dequantize and binarize is not None:
        raise ValueError(f"binarize and dequantize exclude each other (binary pixels have no "
                         f"cells to spread over); got binarize={binarize!r} with "
                         f"dequantize=True")


def _read_arrays(name, data_dir, download, progress, mirrors):
    """The four uint8 arrays of the dataset ``name``."""
    if name == "mnist-mini":
        return load_mnist_mini()
    if name == "fashion-mini":
        return load_fashion_mini()
    loader = load_mnist if name == "mnist" else load_fashion_mnist
    return loader(data_dir, download=download, progress=progress, mirrors=mirrors)


def _rows(images):
    """uint8 images (N, H, W) as rows (N, H * W), without a copy."""
    return images.reshape(len(images), -1)

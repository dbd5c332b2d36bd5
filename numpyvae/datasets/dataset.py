"""load_dataset: a named dataset as float32 rows ready for the model, with its labels."""
import numbers

import numpy as np

from .errors import DatasetError
from .mnist import IMAGE_SHAPE, load_mnist, load_mnist_mini
from .transforms import binarize_static, binarize_threshold, grey_levels

DATASET_NAMES = ("mnist-mini", "mnist")
DATASET_DESCRIPTIONS = {
    "mnist-mini": "the first 10,000 training and 2,000 test images of MNIST, bundled",
    "mnist": "full MNIST, 60,000 + 10,000 images, read from the data folder or downloaded",
}
BINARIZATIONS = (None, "static", "threshold")


class Dataset:
    """Training and test images of one dataset, as rows of grey levels or of 0/1 pixels.

    Attributes
    ----------
    name : str
    train_x : ndarray of float32, shape (N_train, 784), values in [0, 1]
    train_y : ndarray of int64, shape (N_train,), digits 0..9
    test_x : ndarray of float32, shape (N_test, 784)
    test_y : ndarray of int64, shape (N_test,)
    image_shape : tuple (28, 28)
        How to reshape a row into an image.
    binarize : None, "static" or "threshold"
        How the pixels were made binary (None: grey levels).
    """

    def __init__(self, name, train_x, train_y, test_x, test_y, image_shape=IMAGE_SHAPE,
                 binarize=None):
        self.name = name
        self.train_x, self.train_y = train_x, train_y
        self.test_x, self.test_y = test_x, test_y
        self.image_shape = tuple(image_shape)
        self.binarize = binarize

    @property
    def x_dim(self):
        """Pixels per image, the size D of an observation (784)."""
        return int(np.prod(self.image_shape))

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, train={len(self.train_x)}, "
                f"test={len(self.test_x)}, image_shape={self.image_shape}, "
                f"binarize={self.binarize!r})")


def load_dataset(name="mnist-mini", data_dir=None, download=True, progress=True,
                 binarize=None, seed=0, mirrors=None):
    """Load a dataset by name.

    Parameters
    ----------
    name : {"mnist-mini", "mnist"}
        "mnist-mini" ships inside the package and needs no network. "mnist" is read from the
        data folder and downloaded there when missing.
    data_dir : str or os.PathLike, optional
        Folder of the MNIST files; by default $NUMPYVAE_DATA, else the per-user cache.
        Not used by "mnist-mini".
    download : bool
        Whether "mnist" may download missing files.
    progress : bool
        Show a progress line while downloading.
    binarize : {None, "static", "threshold"}
        None keeps grey levels pixel / 255. "static" replaces them by one fixed draw
        x_b ~ Bernoulli(x) made from ``seed`` (train and test from two independent streams
        of it). "threshold" sets x_b = 1 where x > 0.5. Dynamic binarization (a new draw
        per batch) is the trainer's: load grey levels, then call
        :func:`~numpyvae.datasets.transforms.binarize_dynamic` per batch.
    seed : int >= 0
        Seed of the static binarization (unused otherwise).
    mirrors : list of str, optional
        Mirror URLs for the download; see
        :func:`~numpyvae.datasets.download.resolve_mirrors`.

    Returns
    -------
    Dataset
    """
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

    if name == "mnist-mini":
        arrays = load_mnist_mini()
    else:
        arrays = load_mnist(data_dir, download=download, progress=progress, mirrors=mirrors)
    train_x = grey_levels(arrays["train_images"])
    test_x = grey_levels(arrays["test_images"])
    if binarize == "static":
        train_seed, test_seed = np.random.SeedSequence(int(seed)).spawn(2)
        train_x = binarize_static(train_x, train_seed)
        test_x = binarize_static(test_x, test_seed)
    elif binarize == "threshold":
        train_x = binarize_threshold(train_x)
        test_x = binarize_threshold(test_x)
    return Dataset(name, train_x, arrays["train_labels"].astype(np.int64),
                   test_x, arrays["test_labels"].astype(np.int64), IMAGE_SHAPE, binarize)

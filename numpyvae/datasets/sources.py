"""Where the datasets in MNIST's IDX format come from: files, checksums, mirrors, classes.

The SHA-256 values are those of the *decompressed* files (as listed with the copies the
project's tests use, ../shared/data/mnist and ../shared/data/fashion-mnist). Mirrors serve gzip
wrappers that differ in their header bytes, so the checksum of a .gz file means nothing; only
its content is checked.
"""
from dataclasses import dataclass

# split -> (images file, labels file), the names the MNIST page gives them (without .gz).
# Fashion-MNIST uses the same four names, which is why it lives in a subfolder of its own.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MNIST_SHA256 = {
    "train-images-idx3-ubyte":
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte":
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte":
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte":
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Tried in this order. Each serves <mirror><file>.gz.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

MIRRORS_ENV = "NUMPYVAE_MNIST_MIRRORS"

MNIST_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")

FASHION_MNIST_FILES = MNIST_FILES

FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte":
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte":
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte":
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte":
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# Upstream (zalandoresearch/fashion-mnist): the download links of its README, then the files
# of its repository under data/fashion/.
FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

FASHION_MNIST_MIRRORS_ENV = "NUMPYVAE_FASHION_MNIST_MIRRORS"

# Label k is FASHION_MNIST_CLASSES[k], as in the upstream README.
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")

FASHION_MNIST_SUBFOLDER = "fashion-mnist"


@dataclass(frozen=True)
class IdxSource:
    """A dataset in MNIST's format: what its files are called, hold and where they come from.

    Attributes
    ----------
    title : str
        The dataset's name in messages, e.g. "Fashion-MNIST".
    files : dict of str -> (str, str)
        Split ("train", "test") -> (images file, labels file), names without ``.gz``.
    sha256 : dict of str -> str
        File name -> SHA-256 (hex) of its decompressed content.
    mirrors : tuple of str
        Folder URLs tried in turn for ``<name>.gz``.
    mirrors_env : str
        The environment variable that replaces ``mirrors``.
    subfolder : str
        Where the files sit inside the data folder; "" for the data folder itself.
    classes : tuple of str
        The name of each label, label k being ``classes[k]``.
    labels_are : str
        What the labels are, for messages ("digits").
    """

    title: str
    files: dict
    sha256: dict
    mirrors: tuple
    mirrors_env: str
    subfolder: str
    classes: tuple
    labels_are: str

    @property
    def file_names(self):
        """The four file names, images then labels, training split first."""
        return [name for pair in self.files.values() for name in pair]


MNIST = IdxSource(title="MNIST", files=MNIST_FILES, sha256=MNIST_SHA256,
                  mirrors=DEFAULT_MIRRORS, mirrors_env=MIRRORS_ENV, subfolder="",
                  classes=MNIST_CLASSES, labels_are="digits")

FASHION_MNIST = IdxSource(title="Fashion-MNIST", files=FASHION_MNIST_FILES,
                          sha256=FASHION_MNIST_SHA256, mirrors=FASHION_MNIST_MIRRORS,
                          mirrors_env=FASHION_MNIST_MIRRORS_ENV,
                          subfolder=FASHION_MNIST_SUBFOLDER, classes=FASHION_MNIST_CLASSES,
                          labels_are="class numbers")

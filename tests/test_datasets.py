"""The data layer: IDX files, folder resolution, MNIST, Fashion-MNIST and their bundled
subsets, binarization, the denoising corruption and dequantization.

Oracles: IDX bytes written out by hand from the format; MNIST and Fashion-MNIST read with gzip
and np.frombuffer directly; the checksums of ../shared/data/mnist/README.md and
../shared/data/fashion-mnist/README.md, and the sanity checks the latter lists; the published
class counts of MNIST and Fashion-MNIST; binomial standard deviations for the random
transforms.
"""
import configparser
import fnmatch
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from numpyvae import VAE
from numpyvae.datasets import (DATASET_NAMES, FASHION_MNIST_CLASSES, FASHION_MNIST_SHA256,
                               MNIST_FILES, MNIST_SHA256, Dataset, DatasetError,
                               binarize_dynamic, binarize_static, binarize_threshold, corrupt,
                               default_data_dir, dequantize, dequantize_static, format_idx,
                               grey_levels, load_dataset, load_fashion_mini, load_fashion_mnist,
                               load_mnist, load_mnist_mini, parse_idx, pixels_from_grey,
                               read_idx, resolve_data_dir, write_idx)
from numpyvae.datasets.fashion import FASHION_MINI
from numpyvae.datasets.mnist import BUNDLED_SUBSET
from numpyvae.optim import Adam
from numpyvae.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = ROOT.parent / "shared" / "data" / "mnist"
REAL_FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"
needs_real_mnist = pytest.mark.skipif(not REAL_MNIST.is_dir(),
                                      reason=f"real MNIST not found at {REAL_MNIST}")
needs_real_fashion = pytest.mark.skipif(not REAL_FASHION.is_dir(),
                                        reason=f"real Fashion-MNIST not found at {REAL_FASHION}")
NAMES = [name for pair in MNIST_FILES.values() for name in pair]
MAKE_SUBSET = ROOT / "scripts" / "make_subset.py"


def read_real(name, folder=REAL_MNIST):
    """A file of the real MNIST (or of ``folder``), read without numpyvae: gzip, then skip
    the IDX header."""
    with gzip.open(folder / (name + ".gz")) as f:
        data = f.read()
    header = 16 if "images" in name else 8
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    return array.reshape(-1, 28, 28) if "images" in name else array


def write_split_files(folder, arrays):
    """Write name -> uint8 array as raw IDX files; return their checksums (all four names)."""
    checksums = {}
    for name in NAMES:
        data = arrays[name] if isinstance(arrays[name], bytes) else format_idx(arrays[name])
        (folder / name).write_bytes(data)
        checksums[name] = hashlib.sha256(data).hexdigest()
    return checksums


def small_split(n_train=4, n_test=2):
    rng = np.random.default_rng(1)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def real_mnist():
    return {name: read_real(name) for name in NAMES}


@pytest.fixture(scope="module")
def real_fashion():
    return {name: read_real(name, REAL_FASHION) for name in NAMES}


# ---------------------------------------------------------------- IDX

def test_idx_bytes_match_the_format_written_by_hand():
    array = np.array([[1, 2, 3], [250, 251, 255]], dtype=np.uint8)
    expected = (b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03"
                + bytes([1, 2, 3, 250, 251, 255]))
    assert format_idx(array) == expected
    # A big-endian int16: 0x0102 = 258 and -2 = 0xFFFE.
    assert format_idx(np.array([258, -2], dtype=np.int16)) == (
        b"\x00\x00\x0b\x01" + b"\x00\x00\x00\x02" + b"\x01\x02\xff\xfe")
    np.testing.assert_array_equal(parse_idx(expected), array)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 1, 3, 2)])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / ("a" + suffix)
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_gzipped_and_raw_files_read_the_same(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    raw = format_idx(array)
    (tmp_path / "raw").write_bytes(raw)
    (tmp_path / "zipped.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "zipped-without-suffix").write_bytes(gzip.compress(raw))
    for name in ("raw", "zipped.gz", "zipped-without-suffix"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_written_gz_is_the_same_bytes_every_time(tmp_path):
    array = np.arange(100, dtype=np.int32)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gz", "b.gz"]


@pytest.mark.parametrize("data, words", [
    (b"\x00\x00\x08", "truncated"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x02", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"abc", "is truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02" + b"abc", "extra bytes"),
    (b"\x01\x02\x08\x01\x00\x00\x00\x01" + b"a", "magic number 0x01020801"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01" + b"a", "magic number 0x00000701"),
    (b"\x00\x00\x08\x00", "magic number 0x00000800"),
    (b"\x1f\x8b\x08\x00", "gzip"),
])
def test_bad_idx_data_raises_dataset_error(data, words):
    with pytest.raises(DatasetError, match=re.escape(words)):
        parse_idx(data, source="the file")
    assert issubclass(DatasetError, ValueError)


def test_truncated_gzip_file_raises_dataset_error(tmp_path):
    zipped = gzip.compress(format_idx(np.arange(1000, dtype=np.int32)))
    (tmp_path / "cut.gz").write_bytes(zipped[:len(zipped) // 2])
    with pytest.raises(DatasetError, match="cut.gz.*not a complete gzip"):
        read_idx(tmp_path / "cut.gz")


@pytest.mark.parametrize("array", [np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool),
                                   np.float32(1.0)])
def test_arrays_idx_cannot_hold_are_refused(array):
    with pytest.raises(ValueError, match="array must"):
        format_idx(array)


# ---------------------------------------------------------------- folders

def test_data_dir_argument_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMPYVAE_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"


def test_default_folder_follows_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMPYVAE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir() == tmp_path / "xdg" / "numpyvae"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")      # the XDG spec: ignore it
    assert default_data_dir(system="posix") == tmp_path / "home" / ".cache" / "numpyvae"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("NUMPYVAE_DATA", "")                      # empty counts as unset
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "numpyvae"


def test_default_folder_on_windows(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert default_data_dir(system="nt") == tmp_path / "Local" / "numpyvae"


def test_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NUMPYVAE_DATA", "~/data")
    assert resolve_data_dir() == tmp_path / "data"
    assert resolve_data_dir("~/other") == tmp_path / "other"


def test_loader_uses_the_environment_variable(tmp_path, monkeypatch):
    arrays = small_split()
    checksums = write_split_files(tmp_path, arrays)
    monkeypatch.setenv("NUMPYVAE_DATA", str(tmp_path))
    data = load_mnist(download=False, checksums=checksums)
    np.testing.assert_array_equal(data["test_images"], arrays["t10k-images-idx3-ubyte"])


def test_bad_data_dir_argument_is_refused():
    with pytest.raises(ValueError, match="data_dir must be a folder path"):
        resolve_data_dir(3)


# ---------------------------------------------------------------- full MNIST

@needs_real_mnist
def test_checksum_constants_match_the_readme():
    readme = (REAL_MNIST / "README.md").read_text()
    table = dict(re.findall(r"\| (\S+)\.gz \|[^|]*\| ([0-9a-f]{64}) \|", readme))
    assert table == MNIST_SHA256


@needs_real_mnist
def test_real_files_have_the_real_checksums():
    for name in NAMES:
        with gzip.open(REAL_MNIST / (name + ".gz")) as f:
            assert hashlib.sha256(f.read()).hexdigest() == MNIST_SHA256[name]


@needs_real_mnist
def test_full_mnist_from_the_shared_folder(real_mnist):
    ds = load_dataset("mnist", data_dir=REAL_MNIST, download=False)
    assert ds.train_x.shape == (60000, 784) and ds.test_x.shape == (10000, 784)
    assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int64
    assert ds.image_shape == (28, 28) and ds.x_dim == 784
    assert ds.train_x.min() == 0.0 and ds.train_x.max() == 1.0
    assert ds.test_x.min() == 0.0 and ds.test_x.max() == 1.0
    # The published class counts of MNIST.
    np.testing.assert_array_equal(np.bincount(ds.train_y), [5923, 6742, 5958, 6131, 5842,
                                                            5421, 5918, 6265, 5851, 5949])
    np.testing.assert_array_equal(np.bincount(ds.test_y), [980, 1135, 1032, 1010, 982,
                                                           892, 958, 1028, 974, 1009])
    # Grey levels are pixel / 255, compared in float64.
    pixels = real_mnist["t10k-images-idx3-ubyte"].reshape(10000, 784)
    np.testing.assert_allclose(ds.test_x, pixels / 255.0, rtol=1e-7, atol=0)
    np.testing.assert_array_equal(ds.train_y, real_mnist["train-labels-idx1-ubyte"])


def test_raw_files_load_like_gzipped_ones(tmp_path):
    arrays = small_split()
    checksums = write_split_files(tmp_path, arrays)
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):   # two of four zipped
        raw = (tmp_path / name).read_bytes()
        (tmp_path / name).unlink()
        (tmp_path / (name + ".gz")).write_bytes(gzip.compress(raw))
    data = load_mnist(tmp_path, download=False, checksums=checksums)
    for split, (images, labels) in MNIST_FILES.items():
        np.testing.assert_array_equal(data[split + "_images"], arrays[images])
        np.testing.assert_array_equal(data[split + "_labels"], arrays[labels])


@needs_real_mnist
def test_a_damaged_real_file_fails_its_checksum(tmp_path):
    for name in NAMES:
        shutil.copy(REAL_MNIST / (name + ".gz"), tmp_path / (name + ".gz"))
    labels = bytearray(gzip.decompress((tmp_path / "train-labels-idx1-ubyte.gz").read_bytes()))
    labels[100] = (labels[100] + 1) % 10                # still a valid label file
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes(labels))
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte: checksum mismatch"):
        load_dataset("mnist", data_dir=tmp_path, download=False)


def test_missing_files_without_download_are_named(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path) in message and all(name in message for name in NAMES)


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        load_dataset("mnist", data_dir=tmp_path / "f", download=False)


# ------------------------------------------------ DatasetError cases on small files

def test_small_valid_files_load(tmp_path):
    arrays = small_split()
    data = load_mnist(tmp_path, download=False, checksums=write_split_files(tmp_path, arrays))
    np.testing.assert_array_equal(data["train_images"], arrays["train-images-idx3-ubyte"])


def test_truncated_file(tmp_path):
    arrays = small_split()
    arrays["t10k-images-idx3-ubyte"] = format_idx(arrays["t10k-images-idx3-ubyte"])[:-10]
    checksums = write_split_files(tmp_path, arrays)
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte is truncated"):
        load_mnist(tmp_path, download=False, checksums=checksums)


def test_wrong_magic_number(tmp_path):
    arrays = small_split()
    arrays["train-images-idx3-ubyte"] = arrays["train-labels-idx1-ubyte"]   # a label file
    checksums = write_split_files(tmp_path, arrays)
    with pytest.raises(DatasetError, match="train images must be uint8 of shape .N, 28, 28. "
                                           r"\(IDX magic 0x00000803\)"):
        load_mnist(tmp_path, download=False, checksums=checksums)


def test_not_an_idx_file(tmp_path):
    arrays = small_split()
    arrays["train-labels-idx1-ubyte"] = b"<html>404 Not Found</html>"
    checksums = write_split_files(tmp_path, arrays)
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte has magic number"):
        load_mnist(tmp_path, download=False, checksums=checksums)


def test_checksum_mismatch(tmp_path):
    checksums = write_split_files(tmp_path, small_split())
    checksums["t10k-labels-idx1-ubyte"] = "ab" * 32
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte: checksum mismatch.*"
                                           "expected abab"):
        load_mnist(tmp_path, download=False, checksums=checksums)


def test_inconsistent_image_and_label_counts(tmp_path):
    arrays = small_split()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:3]
    checksums = write_split_files(tmp_path, arrays)
    with pytest.raises(DatasetError, match="train has 4 images but 3 labels"):
        load_mnist(tmp_path, download=False, checksums=checksums)


def test_labels_must_be_digits(tmp_path):
    arrays = small_split()
    arrays["t10k-labels-idx1-ubyte"] = np.array([3, 12], dtype=np.uint8)
    checksums = write_split_files(tmp_path, arrays)
    with pytest.raises(DatasetError, match="digits 0..9; got 12"):
        load_mnist(tmp_path, download=False, checksums=checksums)


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(DatasetError) as info:
        load_dataset("cifar10")
    assert "'cifar10'" in str(info.value)
    assert all(f"'{name}'" in str(info.value) for name in DATASET_NAMES)
    assert DATASET_NAMES == ("mnist-mini", "mnist", "fashion-mini", "fashion-mnist")


@pytest.mark.parametrize("kwargs, words", [
    ({"binarize": "dynamic"}, "binarize_dynamic on each batch"),
    ({"binarize": True}, "binarize must be one of"),
    ({"seed": -1}, "seed must be an integer >= 0; got -1"),
    ({"seed": 1.5}, "seed must be an integer"),
])
def test_bad_options_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        load_dataset(**kwargs)


# ---------------------------------------------------------------- the bundled subset

def test_subset_loads_offline(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("mnist-mini must not touch the network")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("NUMPYVAE_DATA", str(tmp_path / "nothing-here"))
    ds = load_dataset()
    assert isinstance(ds, Dataset) and ds.name == "mnist-mini"
    assert ds.train_x.shape == (10000, 784) and ds.test_x.shape == (2000, 784)
    assert ds.train_x.dtype == np.float32 and ds.test_y.dtype == np.int64
    assert 0.0 <= ds.train_x.min() and ds.train_x.max() <= 1.0
    assert set(np.unique(ds.train_y)) == set(range(10))
    assert not (tmp_path / "nothing-here").exists()


def test_subset_fits_in_two_megabytes():
    assert BUNDLED_SUBSET.stat().st_size <= 2_000_000
    with np.load(BUNDLED_SUBSET, allow_pickle=False) as npz:
        assert all(npz[key].dtype == np.uint8 for key in npz.files)


@needs_real_mnist
def test_subset_is_the_first_images_of_mnist(real_mnist):
    mini = load_mnist_mini()
    np.testing.assert_array_equal(mini["train_images"],
                                  real_mnist["train-images-idx3-ubyte"][:10000])
    np.testing.assert_array_equal(mini["train_labels"],
                                  real_mnist["train-labels-idx1-ubyte"][:10000])
    np.testing.assert_array_equal(mini["test_images"],
                                  real_mnist["t10k-images-idx3-ubyte"][:2000])
    np.testing.assert_array_equal(mini["test_labels"],
                                  real_mnist["t10k-labels-idx1-ubyte"][:2000])
    ds = load_dataset("mnist-mini")
    np.testing.assert_allclose(
        ds.train_x, real_mnist["train-images-idx3-ubyte"][:10000].reshape(-1, 784) / 255.0,
        rtol=1e-7, atol=0)


def test_broken_subset_file_is_a_dataset_error(tmp_path):
    np.savez(tmp_path / "partial.npz", train_images=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match="lacks the arrays"):
        load_mnist_mini(tmp_path / "partial.npz")
    with pytest.raises(DatasetError, match="reinstall"):
        load_mnist_mini(tmp_path / "absent.npz")


# ---------------------------------------------------------------- binarization

def bernoulli_tolerance(p, n, sigmas=5.0):
    """``sigmas`` binomial standard deviations of the mean of n Bernoulli(p) draws."""
    return sigmas * np.sqrt(p * (1 - p) / n)


def test_static_binarization_is_fixed_by_its_seed():
    a = load_dataset(binarize="static", seed=0)
    b = load_dataset(binarize="static", seed=0)
    c = load_dataset(binarize="static", seed=1)
    grey = load_dataset()
    np.testing.assert_array_equal(a.train_x, b.train_x)
    np.testing.assert_array_equal(a.test_x, b.test_x)
    assert a.train_x.dtype == np.float32 and set(np.unique(a.train_x)) == {0.0, 1.0}
    differ = np.mean(a.train_x != c.train_x)
    # Two independent draws differ at a pixel with probability 2 p (1 - p). (With unequal
    # probabilities the variance is at most that of equal ones with the same mean.)
    expected = np.mean(2 * grey.train_x * (1 - grey.train_x), dtype=np.float64)
    assert abs(differ - expected) < bernoulli_tolerance(expected, grey.train_x.size)
    # Black pixels stay 0 and white ones 1.
    assert np.all(a.train_x[grey.train_x == 0] == 0) and np.all(a.train_x[grey.train_x == 1] == 1)
    # On average a pixel is on with its grey-level probability.
    p = grey.train_x.mean(dtype=np.float64)
    assert abs(a.train_x.mean(dtype=np.float64) - p) < bernoulli_tolerance(p, grey.train_x.size)


def test_static_binarization_of_the_first_rows_is_a_prefix():
    # So the binarized mnist-mini is the first rows of the binarized mnist (same seed).
    x = np.random.default_rng(4).random((50, 784), dtype=np.float32)
    seed = np.random.SeedSequence(3).spawn(2)[0]           # as load_dataset does
    np.testing.assert_array_equal(binarize_static(x[:20], seed), binarize_static(x, seed)[:20])


def test_static_binarization_does_not_change_its_input():
    x = np.full((3, 5), 0.5, dtype=np.float32)
    binarize_static(x, seed=0)
    assert np.all(x == 0.5)


@pytest.mark.parametrize("p", [0.0, 0.02, 0.3, 0.5, 0.9, 1.0])
def test_dynamic_binarization_has_the_grey_level_as_mean(p):
    x = np.full((200, 784), p, dtype=np.float32)
    x_b = binarize_dynamic(x, np.random.default_rng(11))
    assert x_b.dtype == np.float32 and x_b.shape == x.shape
    assert set(np.unique(x_b)) <= {0.0, 1.0}
    n = x.size
    assert abs(x_b.mean(dtype=np.float64) - p) <= bernoulli_tolerance(p, n)


def test_dynamic_binarization_draws_afresh_each_call():
    x = load_dataset().train_x[:128]
    rng = np.random.default_rng(5)
    first, second = binarize_dynamic(x, rng), binarize_dynamic(x, rng)
    expected = np.mean(2 * x * (1 - x))      # P(two draws differ) = 2 p (1 - p)
    differ = np.mean(first != second)
    assert abs(differ - expected) < bernoulli_tolerance(expected, x.size)
    np.testing.assert_array_equal(binarize_dynamic(x, np.random.default_rng(5)), first)


def test_threshold_binarization_is_pixel_at_least_128():
    ds = load_dataset(binarize="threshold")
    pixels = load_mnist_mini()["train_images"].reshape(-1, 784)
    np.testing.assert_array_equal(ds.train_x, (pixels >= 128).astype(np.float32))
    np.testing.assert_array_equal(binarize_threshold(np.array([0.49, 0.5, 0.51])), [0, 0, 1])


@pytest.mark.parametrize("function", [binarize_dynamic, corrupt])
def test_random_transforms_want_a_generator(function):
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        function(np.zeros((2, 3), np.float32), 0)


@pytest.mark.parametrize("function", [binarize_dynamic, corrupt,
                                      lambda x, rng: binarize_static(x, 0),
                                      lambda x, rng: binarize_threshold(x)])
def test_transforms_want_grey_levels(function):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"grey levels in \[0, 1\]; got values in \[0, 255\]"):
        function(np.array([[0.0, 255.0]]), rng)
    with pytest.raises(ValueError, match="float array"):
        function(np.array([[0, 255]], dtype=np.uint8), rng)


# ---------------------------------------------------------------- denoising

def test_corrupt_is_the_reference_add_noise():
    # run_main.py of hwalsuklee/tensorflow-mnist-VAE: the input is multiplied by one draw of
    # randint(2) and then a second draw of randint(2) is added. Case by case:
    x = load_dataset().train_x[:64]
    rng = np.random.default_rng(9)
    keep = rng.integers(0, 2, size=x.shape)
    add = rng.integers(0, 2, size=x.shape)
    expected = np.select([(keep == 0) & (add == 0), (keep == 0) & (add == 1),
                          (keep == 1) & (add == 0)],
                         [np.zeros_like(x), np.ones_like(x), x], default=x + 1)
    x_before = x.copy()
    x_tilde = corrupt(x, np.random.default_rng(9))
    np.testing.assert_array_equal(x_tilde, expected)
    assert x_tilde.dtype == np.float32 and x_tilde.shape == x.shape
    np.testing.assert_array_equal(x, x_before)


def test_corrupt_outcomes_each_have_probability_one_quarter():
    p = np.float32(0.3)
    x = np.full((100, 784), p, dtype=np.float32)
    x_tilde = corrupt(x, np.random.default_rng(2))
    n = x.size
    for value in (0.0, 1.0, p, p + 1):
        share = np.mean(np.isclose(x_tilde, value))
        assert abs(share - 0.25) < bernoulli_tolerance(0.25, n)
    assert abs(x_tilde.mean(dtype=np.float64) - (p / 2 + 0.5)) < 0.01
    assert x_tilde.min() >= 0 and x_tilde.max() <= 2


def test_corrupted_input_feeds_the_vae_as_a_denoiser():
    x = load_dataset().train_x[:16]
    model = VAE(784, 2, hidden=(8,), seed=0)
    v = np.random.default_rng(0).standard_normal((1, 16, 2)).astype(np.float32)
    x_tilde = corrupt(x, np.random.default_rng(1))
    clean = model.loss(x, v)
    noisy = model.loss(x, v, x_input=x_tilde)
    assert np.isfinite(noisy) and noisy != clean


def make_subset(subset, source, out, *extra):
    """Run scripts/make_subset.py as documented, with this checkout's numpyvae whether or not
    it is installed; the finished process."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(MAKE_SUBSET), subset, str(source),
                           "--out", str(out), *extra], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=path))


def assert_same_arrays(made_path, shipped_path):
    with np.load(made_path, allow_pickle=False) as made, \
            np.load(shipped_path, allow_pickle=False) as shipped:
        assert sorted(made.files) == sorted(shipped.files)
        for name in shipped.files:
            assert np.array_equal(made[name], shipped[name]), name


@needs_real_mnist
def test_make_subset_rebuilds_mnist_mini(tmp_path):
    """scripts/make_subset.py mnist-mini, run as documented, gives the arrays that ship."""
    result = make_subset("mnist-mini", REAL_MNIST, tmp_path / "mini.npz")
    assert result.returncode == 0, result.stderr
    assert_same_arrays(tmp_path / "mini.npz", BUNDLED_SUBSET)


@needs_real_fashion
def test_make_subset_rebuilds_fashion_mini_the_same_bytes_twice(tmp_path):
    for name in ("a.npz", "b.npz"):
        result = make_subset("fashion-mini", REAL_FASHION, tmp_path / name)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert_same_arrays(tmp_path / "a.npz", FASHION_MINI)
    assert "checksums of the four files verified" in result.stdout


@needs_real_mnist
def test_make_subset_refuses_another_datasets_files(tmp_path):
    result = make_subset("fashion-mini", REAL_MNIST, tmp_path / "x.npz")
    assert result.returncode == 1
    assert "checksum mismatch" in result.stderr and "Fashion-MNIST" in result.stderr
    assert list(tmp_path.iterdir()) == []


@needs_real_fashion
def test_make_subset_writes_nothing_over_two_megabytes(tmp_path):
    result = make_subset("fashion-mini", REAL_FASHION, tmp_path / "x.npz", "--n-train", "6000")
    assert result.returncode == 1
    assert "more than the limit of 2000000" in result.stderr
    assert "Nothing was written" in result.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- Fashion-MNIST

FASHION_README = REAL_FASHION / "README.md"


@needs_real_fashion
def test_fashion_checksum_constants_match_the_readme():
    table = dict(re.findall(r"\| (\S+)\.gz \|[^|]*\| ([0-9a-f]{64}) \|",
                            FASHION_README.read_text()))
    assert table == FASHION_MNIST_SHA256


@needs_real_fashion
def test_full_fashion_mnist_from_the_shared_folder(real_fashion):
    # The data folder is the parent; Fashion-MNIST's files are in its subfolder fashion-mnist.
    ds = load_dataset("fashion-mnist", data_dir=REAL_FASHION.parent, download=False)
    assert ds.name == "fashion-mnist"
    assert ds.train_x.shape == (60000, 784) and ds.test_x.shape == (10000, 784)
    assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int64
    assert ds.image_shape == (28, 28) and ds.x_dim == 784
    # The README's sanity checks, and the published balance: 6,000 / 1,000 per class.
    np.testing.assert_array_equal(ds.train_y[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    np.testing.assert_array_equal(ds.test_y[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    np.testing.assert_array_equal(np.bincount(ds.train_y), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(ds.test_y), [1000] * 10)
    assert round(ds.train_pixels.mean(dtype=np.float64), 2) == 72.94
    # Pixels as in the files, grey levels pixel / 255, labels as in the files.
    pixels = real_fashion["t10k-images-idx3-ubyte"].reshape(10000, 784)
    np.testing.assert_array_equal(ds.test_pixels, pixels)
    assert ds.test_pixels.dtype == np.uint8
    np.testing.assert_allclose(ds.test_x, pixels / 255.0, rtol=1e-7, atol=0)
    np.testing.assert_array_equal(ds.train_y, real_fashion["train-labels-idx1-ubyte"])
    assert ds.classes == FASHION_MNIST_CLASSES
    assert ds.classes[ds.train_y[0]] == "Ankle boot" and ds.classes[0] == "T-shirt/top"


@needs_real_fashion
def test_fashion_files_in_the_data_folder_itself_are_not_read(tmp_path):
    for name in NAMES:
        (tmp_path / (name + ".gz")).symlink_to(REAL_FASHION / (name + ".gz"))
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert f"Fashion-MNIST files missing from {tmp_path / 'fashion-mnist'}" in message
    assert "subfolder fashion-mnist/" in message
    assert f"{tmp_path} itself holds files of those names" in message


@needs_real_mnist
@needs_real_fashion
def test_mnist_and_fashion_mnist_share_a_data_folder(tmp_path, monkeypatch):
    (tmp_path / "fashion-mnist").mkdir()
    for name in NAMES:
        (tmp_path / (name + ".gz")).symlink_to(REAL_MNIST / (name + ".gz"))
        (tmp_path / "fashion-mnist" / (name + ".gz")).symlink_to(REAL_FASHION / (name + ".gz"))
    monkeypatch.setenv("NUMPYVAE_DATA", str(tmp_path))
    mnist = load_dataset("mnist", download=False)
    fashion = load_dataset("fashion-mnist", download=False)
    assert np.bincount(mnist.test_y)[1] == 1135 and np.bincount(fashion.test_y)[1] == 1000
    assert mnist.classes == tuple("0123456789")


def small_split_files(folder, seed):
    """Four small valid IDX files in ``folder``; (arrays by name, their checksums)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 3, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 2, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    return arrays, write_split_files(folder, arrays)


def test_each_dataset_reads_its_own_folder(tmp_path, monkeypatch):
    mnist, mnist_sums = small_split_files(tmp_path, seed=1)
    fashion, fashion_sums = small_split_files(tmp_path / "fashion-mnist", seed=2)
    monkeypatch.setenv("NUMPYVAE_DATA", str(tmp_path))
    got_mnist = load_mnist(download=False, checksums=mnist_sums)
    got_fashion = load_fashion_mnist(download=False, checksums=fashion_sums)
    np.testing.assert_array_equal(got_mnist["train_images"], mnist["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(got_fashion["train_images"],
                                  fashion["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(load_fashion_mnist(tmp_path, download=False,
                                                     checksums=fashion_sums)["test_labels"],
                                  fashion["t10k-labels-idx1-ubyte"])


def test_fashion_default_folder_is_a_subfolder_of_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMPYVAE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(DatasetError, match=re.escape(
            f"missing from {tmp_path / 'xdg' / 'numpyvae' / 'fashion-mnist'}:")):
        load_dataset("fashion-mnist", download=False)


def test_fashion_checksum_mismatch_names_fashion_mnist(tmp_path):
    _, checksums = small_split_files(tmp_path / "fashion-mnist", seed=3)
    checksums["train-images-idx3-ubyte"] = "cd" * 32
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte: checksum mismatch.*"
                                           "not the Fashion-MNIST file of that name"):
        load_fashion_mnist(tmp_path, download=False, checksums=checksums)


def test_fashion_labels_must_be_class_numbers(tmp_path):
    folder = tmp_path / "fashion-mnist"
    arrays, _ = small_split_files(folder, seed=4)
    arrays["t10k-labels-idx1-ubyte"] = np.array([3, 10], dtype=np.uint8)
    checksums = write_split_files(folder, arrays)
    with pytest.raises(DatasetError, match=r"test labels must be class numbers 0..9; got 10"):
        load_fashion_mnist(tmp_path, download=False, checksums=checksums)


@pytest.mark.parametrize("where", ["data folder", "subfolder"])
def test_fashion_folder_that_is_a_file_is_refused(tmp_path, where):
    if where == "data folder":
        data_dir = tmp_path / "f"
        data_dir.write_bytes(b"")
        bad = data_dir
    else:
        data_dir = tmp_path
        bad = tmp_path / "fashion-mnist"
        bad.write_bytes(b"")
    with pytest.raises(DatasetError, match=re.escape(f"{bad} is a file, not a folder")):
        load_dataset("fashion-mnist", data_dir=data_dir, download=False)


# ---------------------------------------------------------------- fashion-mini

def test_fashion_mini_loads_offline(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("fashion-mini must not touch the network")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("NUMPYVAE_DATA", str(tmp_path / "nothing-here"))
    ds = load_dataset("fashion-mini")
    assert isinstance(ds, Dataset) and ds.name == "fashion-mini"
    assert ds.train_x.shape == (4000, 784) and ds.test_x.shape == (500, 784)
    assert ds.train_x.dtype == np.float32 and ds.test_y.dtype == np.int64
    assert ds.train_pixels.shape == (4000, 784) and ds.train_pixels.dtype == np.uint8
    np.testing.assert_array_equal(ds.train_x, ds.train_pixels / np.float32(255))
    assert set(np.unique(ds.train_y)) == set(range(10))
    assert ds.classes == FASHION_MNIST_CLASSES
    assert not (tmp_path / "nothing-here").exists()


def test_fashion_mini_fits_in_two_megabytes_and_ships():
    assert FASHION_MINI.stat().st_size <= 2_000_000
    with np.load(FASHION_MINI, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["test_images", "test_labels", "train_images",
                                     "train_labels"]
        assert all(npz[key].dtype == np.uint8 for key in npz.files)
    # setup.cfg's package data takes the subset and its provenance and licence file.
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["numpyvae"].split(",")]
    for path in (FASHION_MINI, FASHION_MINI.with_name("FASHION-MINI.md")):
        relative = path.relative_to(ROOT / "numpyvae").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative


def test_fashion_mini_provenance_file_states_the_facts():
    text = FASHION_MINI.with_name("FASHION-MINI.md").read_text(encoding="utf-8")
    # The MIT licence of Fashion-MNIST ships with the data, in full.
    flat = " ".join(text.split())
    assert "Copyright © 2017 Zalando SE" in flat
    assert ("The above copyright notice and this permission notice shall be included in all "
            "copies or substantial portions of the Software.") in flat
    assert "THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF ANY KIND" in flat
    # The checksums it states are the ones checked; the size is the file's.
    stated = dict(re.findall(r"\| (\S+-ubyte) \| ([0-9a-f]{64}) \|", text))
    assert stated == FASHION_MNIST_SHA256
    assert f"{FASHION_MINI.stat().st_size:,} bytes" in flat
    mini = load_fashion_mini()
    for split in ("train", "test"):
        counts = " | ".join(str(n) for n in np.bincount(mini[split + "_labels"]))
        assert f"| {counts} |" in text


@needs_real_fashion
def test_fashion_mini_is_the_first_images_of_fashion_mnist(real_fashion):
    mini = load_fashion_mini()
    for split, (images, labels), n in (("train", MNIST_FILES["train"], 4000),
                                       ("test", MNIST_FILES["test"], 500)):
        np.testing.assert_array_equal(mini[split + "_images"], real_fashion[images][:n])
        np.testing.assert_array_equal(mini[split + "_labels"], real_fashion[labels][:n])


def test_every_dataset_has_its_class_names():
    assert load_dataset("mnist-mini").classes == tuple(str(d) for d in range(10))
    assert load_dataset("fashion-mini").classes == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
        "Bag", "Ankle boot")


def test_raw_pixels_stay_whatever_the_model_sees():
    grey = load_dataset("mnist-mini")
    binary = load_dataset("mnist-mini", binarize="threshold")
    np.testing.assert_array_equal(binary.train_pixels, grey.train_pixels)
    np.testing.assert_array_equal(grey.test_x, grey.test_pixels / np.float32(255))
    np.testing.assert_array_equal(
        grey.train_pixels, load_mnist_mini()["train_images"].reshape(-1, 784))


# ---------------------------------------------------------------- dequantization

def uniform_tolerance(n, sigmas=5.0):
    """``sigmas`` standard deviations of the mean of n draws of U(0, 1): sqrt(1/12 / n)."""
    return sigmas * np.sqrt(1 / 12 / n)


def check_dequantized(x, pixels):
    """x is float32 (N, D) in (0, 1) and in its pixel's cell: floor(256 x) = pixel."""
    assert x.dtype == np.float32 and x.shape == pixels.shape
    assert x.min() > 0 and x.max() < 1
    np.testing.assert_array_equal(np.floor(256 * x.astype(np.float64)), pixels)


def test_dequantize_puts_each_pixel_in_its_cell():
    pixels = load_dataset("fashion-mini").train_pixels[:1000]
    x = dequantize(pixels, np.random.default_rng(0))
    check_dequantized(x, pixels)
    u = 256 * x.astype(np.float64) - pixels            # the noise, u ~ U(0, 1)
    assert abs(u.mean() - 0.5) < uniform_tolerance(u.size)
    assert abs(u.var() - 1 / 12) < 0.002
    # Uniform: each tenth of (0, 1) holds a tenth of the draws.
    shares = np.bincount((u * 10).astype(int).ravel(), minlength=10) / u.size
    assert np.all(np.abs(shares - 0.1) < 5 * np.sqrt(0.1 * 0.9 / u.size))


@pytest.mark.parametrize("pixel", [0, 1, 127, 254, 255])
def test_dequantize_stays_inside_the_extreme_cells(pixel):
    # Enough draws that u rounding onto 1 in float32 (a chance of about 1e-5 each) would show.
    pixels = np.full((1000, 784), pixel, dtype=np.uint8)
    x = dequantize(pixels, np.random.default_rng(pixel))
    check_dequantized(x, pixels)


def test_dequantize_takes_pixels_images_or_grey_levels_alike():
    ds = load_dataset("fashion-mini")
    pixels = ds.train_pixels[:64]
    expected = dequantize(pixels, np.random.default_rng(3))
    images = pixels.reshape(64, 28, 28)
    np.testing.assert_array_equal(dequantize(images, np.random.default_rng(3)), expected)
    np.testing.assert_array_equal(dequantize(ds.train_x[:64], np.random.default_rng(3)),
                                  expected)
    grey64 = pixels / 255.0                              # float64 grey levels
    np.testing.assert_array_equal(dequantize(grey64, np.random.default_rng(3)), expected)


def test_pixels_from_grey_inverts_grey_levels_exactly():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    back = pixels_from_grey(grey_levels(pixels))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, pixels.reshape(1, 256))
    np.testing.assert_array_equal(pixels_from_grey(pixels / 255.0), pixels)


def test_dequantize_draws_afresh_and_repeats_with_the_seed():
    pixels = load_dataset("fashion-mini").test_pixels[:100]
    rng = np.random.default_rng(5)
    first, second = dequantize(pixels, rng), dequantize(pixels, rng)
    assert np.mean(first != second) > 0.99
    np.testing.assert_array_equal(dequantize(pixels, np.random.default_rng(5)), first)
    np.testing.assert_array_equal(dequantize_static(pixels, 7), dequantize_static(pixels, 7))
    assert np.mean(dequantize_static(pixels, 7) != dequantize_static(pixels, 8)) > 0.99
    before = pixels.copy()
    dequantize(pixels, rng)
    np.testing.assert_array_equal(pixels, before)


def test_static_dequantization_of_the_first_rows_is_a_prefix():
    pixels = np.random.default_rng(4).integers(0, 256, (50, 784), dtype=np.uint8)
    seed = np.random.SeedSequence(3).spawn(2)[0]           # as load_dataset does
    np.testing.assert_array_equal(dequantize_static(pixels[:17], seed),
                                  dequantize_static(pixels, seed)[:17])


def test_dequantized_dataset_is_fixed_by_its_seed():
    a = load_dataset("fashion-mini", dequantize=True, seed=0)
    b = load_dataset("fashion-mini", dequantize=True, seed=0)
    c = load_dataset("fashion-mini", dequantize=True, seed=1)
    assert a.dequantized and not load_dataset("fashion-mini").dequantized
    assert "dequantized=True" in repr(a)
    check_dequantized(a.train_x, a.train_pixels)
    check_dequantized(a.test_x, a.test_pixels)
    np.testing.assert_array_equal(a.train_x, b.train_x)
    np.testing.assert_array_equal(a.test_x, b.test_x)
    assert np.mean(a.train_x != c.train_x) > 0.99
    # Training and test sets come from two independent streams of the seed.
    assert np.mean(a.test_x != dequantize_static(a.test_pixels, 0)) > 0.99
    np.testing.assert_array_equal(a.train_y, load_dataset("fashion-mini").train_y)


@needs_real_fashion
def test_dequantized_fashion_mini_is_the_first_rows_of_fashion_mnist():
    full = load_dataset("fashion-mnist", data_dir=REAL_FASHION.parent, download=False,
                        dequantize=True, seed=2)
    mini = load_dataset("fashion-mini", dequantize=True, seed=2)
    np.testing.assert_array_equal(mini.train_x, full.train_x[:4000])
    np.testing.assert_array_equal(mini.test_x, full.test_x[:500])


def test_dequantize_per_batch_in_the_trainer():
    """The trainer's per-batch hook takes dequantize as it takes binarize_dynamic."""
    ds = load_dataset("fashion-mini")
    seen = []

    def recording(x, rng):
        out = dequantize(x, rng)
        seen.append((x.copy(), out))
        return out

    model = VAE(784, 2, hidden=(8,), likelihood="gaussian", seed=0)
    trainer = Trainer(model, Adam({"theta": model.flat_parameters}, lr=1e-3),
                      ds.train_x[:64], batch_size=32, seed=0, binarize_dynamic=recording)
    totals = trainer.train_epoch(0)
    assert totals["examples"] == 64 and np.isfinite(totals["objective"])
    assert len(seen) == 2
    for grey, x in seen:
        check_dequantized(x, pixels_from_grey(grey))


@pytest.mark.parametrize("images, words", [
    (np.zeros(784, dtype=np.uint8), "images must have shape (N, D) or (N, H, W)"),
    (np.zeros((2, 784), dtype=np.int64), "images must be uint8 pixels 0..255 or float grey "
                                         "levels pixel / 255; got dtype int64"),
    (np.full((2, 784), 255.0), "images must hold grey levels in [0, 1]; got values in "
                               "[255, 255]"),
    (np.full((2, 784), 0.5, dtype=np.float32), "images must hold grey levels pixel / 255"),
])
def test_dequantize_refuses_what_is_not_pixels(images, words):
    for call in (lambda: dequantize(images, np.random.default_rng(0)),
                 lambda: dequantize_static(images, 0)):
        with pytest.raises(ValueError, match=re.escape(words)):
            call()


def test_dequantized_data_cannot_be_dequantized_again():
    x = dequantize(np.zeros((1, 784), dtype=np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"got [0-9.e-]+ at index \(0, \d+\), which is "
                                         r"[0-9.]+ / 255, not a whole pixel value"):
        dequantize(x, np.random.default_rng(0))
    with pytest.raises(ValueError, match="x must hold grey levels pixel / 255"):
        pixels_from_grey(x)


@pytest.mark.parametrize("call, words", [
    (lambda: dequantize(np.zeros((1, 4), np.uint8), 0), "rng must be a numpy.random.Generator"),
    (lambda: dequantize_static(np.zeros((1, 4), np.uint8), -1),
     "seed must be an integer >= 0 (or a numpy.random.SeedSequence); got -1"),
    (lambda: dequantize_static(np.zeros((1, 4), np.uint8), 1.5), "seed must be an integer"),
    (lambda: load_dataset(dequantize="yes"), "dequantize must be True or False; got 'yes'"),
    (lambda: load_dataset(dequantize=True, binarize="static"),
     "binarize and dequantize exclude each other"),
])
def test_bad_dequantization_options_are_refused(call, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        call()


@needs_real_fashion
def test_a_data_folder_named_fashion_mnist_is_the_datasets_own(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in NAMES:
        (folder / (name + ".gz")).symlink_to(REAL_FASHION / (name + ".gz"))
    ds = load_dataset("fashion-mnist", data_dir=folder, download=False)
    assert np.bincount(ds.test_y).tolist() == [1000] * 10
    assert sorted(p.name for p in folder.iterdir()) == sorted(n + ".gz" for n in NAMES)

"""The data layer: IDX files, folder resolution, MNIST and its bundled subset, binarization,
and the denoising corruption.

Oracles: IDX bytes written out by hand from the format; MNIST read with gzip and
np.frombuffer directly; the checksums of ../shared/data/mnist/README.md; the published class
counts of MNIST; binomial standard deviations for the random transforms.
"""
import gzip
import hashlib
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from numpyvae import VAE
from numpyvae.datasets import (DATASET_NAMES, MNIST_FILES, MNIST_SHA256, Dataset, DatasetError,
                               binarize_dynamic, binarize_static, binarize_threshold, corrupt,
                               default_data_dir, format_idx, load_dataset, load_mnist,
                               load_mnist_mini, parse_idx, read_idx, resolve_data_dir, write_idx)
from numpyvae.datasets.mnist import BUNDLED_SUBSET

REAL_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
needs_real_mnist = pytest.mark.skipif(not REAL_MNIST.is_dir(),
                                      reason=f"real MNIST not found at {REAL_MNIST}")
NAMES = [name for pair in MNIST_FILES.values() for name in pair]


def read_real(name):
    """A file of the real MNIST, read without numpyvae: gzip, then skip the IDX header."""
    with gzip.open(REAL_MNIST / (name + ".gz")) as f:
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
        load_dataset("fashion-mnist")
    assert "'fashion-mnist'" in str(info.value)
    assert all(f"'{name}'" in str(info.value) for name in DATASET_NAMES)
    assert DATASET_NAMES == ("mnist-mini", "mnist")


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


@needs_real_mnist
def test_make_mnist_mini_rebuilds_the_bundled_subset(tmp_path):
    """scripts/make_mnist_mini.py, run as documented, gives the arrays that ship."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_mnist_mini.py"
    out = tmp_path / "mini.npz"
    subprocess.run([sys.executable, str(script), str(REAL_MNIST), "--out", str(out)],
                   check=True, capture_output=True)
    with np.load(out, allow_pickle=False) as made, \
            np.load(BUNDLED_SUBSET, allow_pickle=False) as shipped:
        assert sorted(made.files) == sorted(shipped.files)
        for name in shipped.files:
            assert np.array_equal(made[name], shipped[name]), name

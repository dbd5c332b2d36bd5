"""From uint8 pixels to what the model sees: grey levels, binarized images, corrupted inputs.

- :func:`grey_levels`: x = pixel / 255 in [0, 1], float32 (the default; as the pytorch/examples
  VAE and the code sample of the notes use).
- :func:`binarize_static`: one fixed draw x_b ~ Bernoulli(x) from a seed, the same on every
  load, so that every epoch (and every run) sees the same binary images.
- :func:`binarize_dynamic`: a fresh draw every call; the trainer calls it once per batch.
- :func:`binarize_threshold`: x_b = 1 where x > 0.5; no randomness at all.
- :func:`corrupt`: the noisy encoder input of a denoising VAE, the clean x stays the target.
- :func:`dequantize`: x = (pixel + u) / 256 with u ~ U(0, 1), a fresh draw every call (one per
  batch); :func:`dequantize_static`: one fixed draw from a seed (the test set). Both take uint8
  pixels or grey levels, which :func:`pixels_from_grey` turns back into pixels exactly.
"""
import numbers

import numpy as np

from .. import validate


def grey_levels(images):
    """uint8 images to float32 grey levels in [0, 1], one row per image.

    Parameters
    ----------
    images : ndarray of uint8, shape (N, H, W)

    Returns
    -------
    x : ndarray of float32, shape (N, H * W), x = pixel / 255
    """
    x = images.reshape(len(images), -1).astype(np.float32)
    x /= 255   # in place: full MNIST would otherwise need a second 188 MB array
    return x


def _check_grey(x, name="x"):
    """``x`` as a float array whose values lie in [0, 1], or a ValueError saying why not."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise ValueError(f"{name} must be a float array of grey levels in [0, 1]; "
                         f"got dtype {x.dtype}")
    if x.size and not (x.min() >= 0 and x.max() <= 1):
        raise ValueError(f"{name} must hold grey levels in [0, 1]; got values in "
                         f"[{x.min():.4g}, {x.max():.4g}]")
    return x


def binarize_dynamic(x, rng):
    """A fresh Bernoulli draw x_b ~ Bernoulli(x), pixel by pixel.

    Each pixel is 1 with probability equal to its grey level: x_b = 1 where u < x, with
    u ~ U[0, 1). Call it once per batch so that every epoch sees new binary images.

    Parameters
    ----------
    x : ndarray of float, any shape, values in [0, 1]
    rng : numpy.random.Generator

    Returns
    -------
    x_b : ndarray of float32, same shape as x, of 0.0 and 1.0
    """
    x = _check_grey(x)
    validate.generator("rng", rng)
    u = rng.random(x.shape, dtype=np.float32)
    return (u < x).astype(np.float32)


def binarize_static(x, seed):
    """One fixed Bernoulli draw x_b ~ Bernoulli(x), the same for the same seed.

    Row i of the result depends only on the seed and rows 0..i of x (the uniform numbers are
    drawn in row order), so the binarized mnist-mini is the first rows of the binarized mnist.

    Parameters
    ----------
    x : ndarray of float, shape (N, D), values in [0, 1]
    seed : int >= 0 or numpy.random.SeedSequence

    Returns
    -------
    x_b : ndarray of float32, shape (N, D), of 0.0 and 1.0
    """
    x = _check_grey(x)
    _check_seed(seed)
    u = np.random.default_rng(seed).random(x.shape, dtype=np.float32)
    u[...] = u < x   # reuse the draw's memory for the 0/1 result (full MNIST: 188 MB)
    return u


def binarize_threshold(x, threshold=0.5):
    """x_b = 1 where x > threshold, else 0: a deterministic binarization.

    With MNIST's x = pixel / 255 and the default 0.5, this is pixel >= 128.

    Parameters
    ----------
    x : ndarray of float, any shape, values in [0, 1]
    threshold : float

    Returns
    -------
    x_b : ndarray of float32, same shape as x, of 0.0 and 1.0
    """
    x = _check_grey(x)
    return (x > threshold).astype(np.float32)


def corrupt(x, rng):
    """The noisy input of a denoising VAE: x * keep + add, keep and add fair coin flips.

    The same corruption as the ``add_noise`` option of the code sample that goes with the
    notes (hwalsuklee/tensorflow-mnist-VAE, run_main.py): each pixel is multiplied by a draw
    of {0, 1} and then a second draw of {0, 1} is added, all draws independent with
    probability 1/2. So each pixel becomes, with probability 1/4 each,

        0       (keep = 0, add = 0)
        1       (keep = 0, add = 1)
        x       (keep = 1, add = 0)
        x + 1   (keep = 1, add = 1)

    Its README calls this salt-and-pepper noise; note that it is not clipped, so values reach
    up to 2 (the encoder accepts any finite input; the target x stays in [0, 1]). The keep
    mask is drawn first, then the add mask, each over the whole array, like the reference.
    Draw a fresh corruption for every batch, as the reference does.

    Parameters
    ----------
    x : ndarray of float, shape (B, D) (any shape works), values in [0, 1]
    rng : numpy.random.Generator

    Returns
    -------
    x_tilde : ndarray of float32, same shape as x, values in [0, 2]; x is not changed.
    """
    x = _check_grey(x)
    validate.generator("rng", rng)
    keep = rng.integers(0, 2, size=x.shape).astype(np.float32)
    add = rng.integers(0, 2, size=x.shape).astype(np.float32)
    return (x * keep + add).astype(np.float32)


# How far 255 x may be from a whole number for x to count as the grey level of a pixel.
# grey_levels rounds pixel / 255 to float32, which moves 255 x by at most 2e-5.
GREY_TOLERANCE = 1e-3


def pixels_from_grey(x):
    """The uint8 pixels whose grey levels are ``x``: the exact inverse of :func:`grey_levels`.

    Parameters
    ----------
    x : ndarray of float, any shape, values pixel / 255 (as :func:`grey_levels` gives them)

    Returns
    -------
    pixels : ndarray of uint8, same shape as x, pixel = round(255 x)

    Raises
    ------
    ValueError
        If ``x`` is not a float array in [0, 1], or holds a value that is not a grey level
        pixel / 255 (e.g. an already dequantized value, or a mean of grey levels).
    """
    return _grey_to_pixels(x, "x")


def _grey_to_pixels(x, name):
    """:func:`pixels_from_grey`, with the argument called ``name`` in messages."""
    x = _check_grey(x, name)
    # In the dtype of x: float32 holds 255 x to within 2e-5 of the grey level's pixel, far
    # inside GREY_TOLERANCE, and a training batch is turned back four times faster than in
    # float64.
    scaled = x * x.dtype.type(255)
    pixels = np.rint(scaled)
    off = np.abs(scaled - pixels)
    if off.size and off.max() > GREY_TOLERANCE:
        where = np.unravel_index(np.argmax(off), off.shape)
        raise ValueError(
            f"{name} must hold grey levels pixel / 255 (pixel = 0..255), such as grey_levels "
            f"gives; got {x[where]:.6g} at index {tuple(int(i) for i in where)}, which is "
            f"{scaled[where]:.4f} / 255, not a whole pixel value")
    return pixels.astype(np.uint8)


def _pixel_rows(images):
    """``images`` (uint8 pixels or grey levels, shape (N, ...)) as uint8 pixels (N, D)."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"images must have shape (N, D) or (N, H, W), one image per row; "
                         f"got shape {images.shape}")
    if images.dtype == np.uint8:
        pixels = images
    elif images.dtype.kind == "f":
        pixels = _grey_to_pixels(images, "images")
    else:
        raise ValueError(f"images must be uint8 pixels 0..255 or float grey levels "
                         f"pixel / 255; got dtype {images.dtype}")
    return pixels.reshape(len(pixels), int(np.prod(pixels.shape[1:])))


def _dequantize_pixels(pixels, rng):
    """x = (pixel + u) / 256 for uint8 rows, u uniform on (0, 1), exact in float32.

    u = (j + 1/2) / 2^15 with j uniform on 0 .. 2^15 - 1: the midpoints of 2^15 equal
    slices of (0, 1), so u has mean 1/2 and never reaches 0 or 1. Then
    2^24 x = 2^16 pixel + 2 j + 1 is an odd integer below 2^24, which float32 holds exactly:
    x lies strictly inside the cell [pixel / 256, (pixel + 1) / 256) of its pixel. (A float u
    added to the pixel in float32 would sometimes round onto the cell's upper edge.)
    """
    j = rng.integers(0, 2 ** 15, size=pixels.shape, dtype=np.int32)
    x = pixels.astype(np.float32)
    # In place, to hold no more than two arrays of the data's size (full Fashion-MNIST:
    # 188 MB each).
    x *= 2 ** 16
    j *= 2
    j += 1
    x += j
    x *= 2.0 ** -24
    return x


def dequantize(images, rng):
    """A fresh dequantization x = (pixel + u) / 256, u ~ U(0, 1) for every pixel.

    Each pixel value p becomes a point drawn uniformly in its cell [p / 256, (p + 1) / 256),
    so that the data have a density and a continuous likelihood (such as the Gaussian
    decoder's) is a proper one; see docs/data.md, "Dequantization: continuous data for a
    Gaussian decoder". Call it once per batch, as :func:`binarize_dynamic`, so that every
    epoch sees new noise.

    Parameters
    ----------
    images : ndarray, shape (N, D) or (N, H, W)
        uint8 pixels 0..255 (a dataset's ``train_pixels``), or grey levels pixel / 255 (its
        ``train_x``, or a batch of it), which are turned back into pixels exactly.
    rng : numpy.random.Generator

    Returns
    -------
    x : ndarray of float32, shape (N, D), values in (0, 1), floor(256 x) = pixel

    Notes
    -----
    u is uniform on the 2^15 midpoints (j + 1/2) / 2^15, finer than float32 can tell apart
    near 1, so that x is exactly a float32 strictly inside its cell.
    """
    pixels = _pixel_rows(images)
    validate.generator("rng", rng)
    return _dequantize_pixels(pixels, rng)


def dequantize_static(images, seed):
    """One fixed dequantization x = (pixel + u) / 256, the same for the same seed.

    For a test set that every epoch measures on the same points. Row i depends only on the
    seed and rows 0..i of ``images`` (the draws are made in row order), so the dequantized
    fashion-mini is the first rows of the dequantized fashion-mnist with the same seed.

    Parameters
    ----------
    images : ndarray, shape (N, D) or (N, H, W), uint8 pixels or grey levels pixel / 255
    seed : int >= 0 or numpy.random.SeedSequence

    Returns
    -------
    x : ndarray of float32, shape (N, D), values in (0, 1), floor(256 x) = pixel
    """
    pixels = _pixel_rows(images)
    _check_seed(seed)
    return _dequantize_pixels(pixels, np.random.default_rng(seed))


def _check_seed(seed):
    """A ValueError unless ``seed`` is an integer >= 0 or a SeedSequence."""
    if not isinstance(seed, np.random.SeedSequence) and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"seed must be an integer >= 0 (or a numpy.random.SeedSequence); "
                         f"got {seed!r}")

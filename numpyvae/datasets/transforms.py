"""From uint8 pixels to what the model sees: grey levels, binarized images, corrupted inputs.

- :func:`grey_levels`: x = pixel / 255 in [0, 1], float32 (the default; as the pytorch/examples
  VAE and the code sample of the notes use).
- :func:`binarize_static`: one fixed draw x_b ~ Bernoulli(x) from a seed, the same on every
  load, so that every epoch (and every run) sees the same binary images.
- :func:`binarize_dynamic`: a fresh draw every call; the trainer calls it once per batch.
- :func:`binarize_threshold`: x_b = 1 where x > 0.5; no randomness at all.
- :func:`corrupt`: the noisy encoder input of a denoising VAE, the clean x stays the target.
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


def _check_grey(x):
    """``x`` as a float array whose values lie in [0, 1], or a ValueError saying why not."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise ValueError(f"x must be a float array of grey levels in [0, 1]; got dtype {x.dtype}")
    if x.size and not (x.min() >= 0 and x.max() <= 1):
        raise ValueError(f"x must hold grey levels in [0, 1]; got values in "
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
    if not isinstance(seed, np.random.SeedSequence) and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"seed must be an integer >= 0 (or a numpy.random.SeedSequence); "
                         f"got {seed!r}")
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

"""Seeing what the model learned: generation, latent factors and what follows from them.

A trained VAE is used in two directions, eq. (35) (the end of the lecture notes):

- generation: draw z ~ N(0, I), decode it into mu_x (and sigma_x), and if wanted draw
  x ~ P(x|z);
- latent factors: encode an image x into mu and sigma of q(z|x).

A conditional model (``VAE(..., n_classes=C)``) does both given a label y: generation draws
x ~ P(x|z, y), and the latent factors are those of q(z|x, y). Each function here takes the
labels as ``y`` then, and :func:`class_grid` decodes the same z with every label.

Everything here returns arrays; :mod:`numpyvae.plots` turns them into figures. Arrays come out
in the model's dtype (float32 for a trained model).
"""
import math
from statistics import NormalDist

import numpy as np

from . import validate

# ---------------------------------------------------------------- generation, eq. (35)


def generate(model, n, rng, draws=False, y=None):
    """Generate n images: z ~ N(0, I), then the parameters of P(x|z), eq. (35).

    Parameters
    ----------
    model : numpyvae.VAE
    n : int >= 1
        How many images.
    rng : numpy.random.Generator
    draws : bool
        Also draw x ~ P(x|z). The decoder mean is the usual picture of a VAE sample; a draw
        adds the pixel noise of the likelihood (salt and pepper for Bernoulli).
    y : ndarray of int, shape (n,), optional
        The class of each image, for a conditional model (required by it): x ~ P(x|z, y).

    Returns
    -------
    dict of str -> ndarray
        ``"z"`` (n, K): the latent codes; ``"mean"`` (n, D): mu_x, the Bernoulli probabilities
        or the Gaussian mean; ``"sigma"`` (n, D): sigma_x, only for Gaussian likelihoods;
        ``"x"`` (n, D): the draws x ~ P(x|z), only when ``draws`` is True.

    Notes
    -----
    z is drawn first, then x: with the same ``rng`` state, ``draws=True`` and ``draws=False``
    give the same z and the same means.
    """
    n = validate.positive_int("n", n)
    validate.generator("rng", rng)
    _check_bool("draws", draws)
    y = model.check_y(y, n)
    z = rng.standard_normal((n, model.z_dim), dtype=model.dtype)     # eq. (35): z ~ N(0, I)
    decoded = model.decode(z, y)
    out = {"z": z, "mean": decoded["mean"]}
    if "sigma" in decoded:
        # A writable copy: a fixed sigma_x comes as a read-only broadcast of one number.
        out["sigma"] = np.array(decoded["sigma"])
    if draws:
        out["x"] = model.likelihood.sample(decoded, rng)             # eq. (35): x ~ P(x|z)
    if y is not None:
        out["y"] = y
    return out


def class_grid(model, n, rng, draws=False):
    """The decoder means for n draws of z, each decoded with every label: a conditional model.

    Row c decodes the n codes with label c, and column j holds one z for every label. Reading
    across a row the style changes and the class stays; reading down a column the class
    changes and the style, which z carries, stays.

    Parameters
    ----------
    model : numpyvae.VAE with n_classes = C
    n : int >= 1
        How many z, one per column.
    rng : numpy.random.Generator
    draws : bool
        Also draw x ~ P(x|z, y) for every cell.

    Returns
    -------
    dict of str -> ndarray
        ``"z"`` (n, K): the codes; ``"y"`` (C * n,): the label of each cell, row by row
        (0 n times, then 1 n times, ...); ``"mean"`` (C * n, D), and ``"sigma"`` and ``"x"`` as
        in :func:`generate`, one row per cell in the same order.
    """
    if model.n_classes is None:
        raise ValueError("class_grid needs a conditional model (built with n_classes); this "
                         "model is unconditional: use generate")
    n = validate.positive_int("n", n)
    validate.generator("rng", rng)
    _check_bool("draws", draws)
    z = rng.standard_normal((n, model.z_dim), dtype=model.dtype)     # eq. (35): z ~ N(0, I)
    y = np.repeat(np.arange(model.n_classes), n)                     # row c: label c
    decoded = model.decode(np.tile(z, (model.n_classes, 1)), y)      # row c: the same n z
    out = {"z": z, "y": y, "mean": decoded["mean"]}
    if "sigma" in decoded:
        out["sigma"] = np.array(decoded["sigma"])
    if draws:
        out["x"] = model.likelihood.sample(decoded, rng)             # x ~ P(x|z, y)
    return out


# ---------------------------------------------------------------- latent factors, eq. (35)


def latent_factors(model, x, batch_size=1000, y=None):
    """mu and sigma of q(z|x) for many images, eq. (35), a batch at a time.

    Parameters
    ----------
    model : numpyvae.VAE
    x : array_like, shape (N, D)
        One flattened image per row. It is converted to the model's dtype a batch at a time,
        so a large uint8 or memory-mapped array is never copied whole.
    batch_size : int >= 1
        Images per forward pass; bounds the memory used.
    y : array_like of int, shape (N,), optional
        The labels of the images, for a conditional model (required by it): q(z|x, y).

    Returns
    -------
    mu, sigma : ndarray, shape (N, K)
    """
    x = check_images(model, x)
    y = model.check_y(y, len(x))
    batch_size = validate.positive_int("batch_size", batch_size)
    mu = np.empty((len(x), model.z_dim), dtype=model.dtype)
    sigma = np.empty((len(x), model.z_dim), dtype=model.dtype)
    for start in range(0, len(x), batch_size):
        stop = start + batch_size
        mu[start:stop], sigma[start:stop] = model.encode(
            x[start:stop], None if y is None else y[start:stop])          # eq. (35)
    return mu, sigma


def reconstruct(model, x, batch_size=1000, y=None):
    """The decoder mean at z = mu(x), the mean of q(z|x): the usual picture of a reconstruction.

    Parameters
    ----------
    model : numpyvae.VAE
    x : array_like, shape (N, D) or (D,)
    batch_size : int >= 1
    y : array_like of int, shape (N,) (or (1,) for one image), optional
        The labels, for a conditional model (required by it): encoded and decoded with them.

    Returns
    -------
    ndarray, the shape of x
        mu_x at z = mu_{z|x}; no noise is added, neither in z nor in x.
    """
    x = np.asarray(x)
    single = x.ndim == 1
    if single and x.shape != (model.x_dim,):
        raise ValueError(f"x must have shape (N, {model.x_dim}) or ({model.x_dim},) for one "
                         f"image; got shape {x.shape}")
    x = check_images(model, x[None] if single else x)
    y = model.check_y(y, len(x))
    mu, _ = latent_factors(model, x, batch_size, y)
    means = _decode_means(model, mu, batch_size, y)
    return means[0] if single else means


def interpolate(model, x_a, x_b, steps=10, y_a=None, y_b=None, y=None):
    """Decode the straight line in z between the latent means of two images.

    Parameters
    ----------
    model : numpyvae.VAE
    x_a, x_b : array_like, shape (D,) or (1, D)
        The two images.
    steps : int >= 2
        Points on the line, both ends included.
    y_a, y_b : int, optional
        The labels of x_a and x_b, for a conditional model (required by it): each image is
        encoded with its own label, mu(x_a, y_a) and mu(x_b, y_b).
    y : int, optional
        The label the line is decoded with, for a conditional model; y_a by default. The
        line then moves the style from one image to the other while the class stays y.

    Returns
    -------
    z_path : ndarray, shape (steps, K)
        z(t) = (1 - t) mu(x_a) + t mu(x_b) for t evenly spaced in [0, 1]; the first row is
        exactly mu(x_a) and the last exactly mu(x_b).
    images : ndarray, shape (steps, D)
        The decoder mean at each point.
    """
    steps = validate.positive_int("steps", steps, minimum=2)
    y_a, y_b = _one_label(model, y_a, "y_a"), _one_label(model, y_b, "y_b")
    y = y_a if y is None else _one_label(model, y, "y")
    mu_a = latent_factors(model, _one_image(model, x_a, "x_a"), y=y_a)[0][0]
    mu_b = latent_factors(model, _one_image(model, x_b, "x_b"), y=y_b)[0][0]
    t = np.linspace(0, 1, steps, dtype=model.dtype)[:, None]
    z_path = (1 - t) * mu_a + t * mu_b
    labels = None if y is None else np.repeat(y, steps)
    return z_path, _decode_means(model, z_path, y=labels)


# ---------------------------------------------------------------- pictures of z


MANIFOLD_SPACINGS = ("linear", "quantile")


def manifold_grid(model, n=20, span=2.0, spacing="linear", y=None):
    """Decode an n x n grid of z: the learned manifold of a model with a 2-D latent space.

    Parameters
    ----------
    model : numpyvae.VAE with z_dim = 2
    n : int >= 2
        Points per side.
    span : float > 0
        Both coordinates run from -span to span.
    spacing : {"linear", "quantile"}
        ``"linear"``: evenly spaced in z. ``"quantile"``: evenly spaced in probability under
        the prior, z = Phi^{-1}(p) for p evenly spaced in [Phi(-span), Phi(span)], as in
        Kingma & Welling's Figure 4: the same extent, with points closer together near 0,
        where the prior puts its mass.
    y : int, optional
        The label every point is decoded with, for a conditional model (required by it).

    Returns
    -------
    z_grid : ndarray, shape (n * n, 2)
        Row-major as the picture is read: row i of the picture, column j, is entry i * n + j.
        Column j has z_1 = the j-th value from the left (increasing); row i has z_2 = the i-th
        value from the top (decreasing), so that z_2 points up in the picture.
    images : ndarray, shape (n * n, D)
        The decoder mean at each z.
    """
    if model.z_dim != 2:
        raise ValueError(f"manifold needs z_dim = 2; this model has z_dim = {model.z_dim}. "
                         "Use scatter, which projects onto two principal components")
    n = validate.positive_int("n", n, minimum=2)
    span = validate.positive_float("span", span)
    values = _grid_values(n, span, spacing)
    z_1, z_2 = np.meshgrid(values, values[::-1])       # z_2 decreasing down the rows
    z_grid = np.column_stack([z_1.ravel(), z_2.ravel()]).astype(model.dtype)
    y = _one_label(model, y, "y")
    labels = None if y is None else np.repeat(y, n * n)
    return z_grid, _decode_means(model, z_grid, y=labels)


def _grid_values(n, span, spacing):
    """n increasing values from -span to span, float64."""
    if spacing == "linear":
        return np.linspace(-span, span, n)
    if spacing == "quantile":
        p_low = float(normal_cdf(-span))
        if p_low == 0.0:
            raise ValueError(f"span must be at most 37 for spacing='quantile' (beyond, the "
                             f"prior's tail probability rounds to 0); got {span}")
        probabilities = np.linspace(p_low, 1 - p_low, n)
        values = inverse_normal_cdf(probabilities)
        values[[0, -1]] = -span, span        # exactly the ends, whatever the rounding
        return values
    raise ValueError(f"spacing must be one of {list(MANIFOLD_SPACINGS)}; got {spacing!r}")


def pca_2d(points):
    """Project points onto their first two principal components (SVD of the centred data).

    It always projects, also for K = 2 (then it rotates the points onto their axes of most
    variance); :func:`numpyvae.plots.plot_scatter` shows 2-D latents as they are instead.

    Parameters
    ----------
    points : array_like, shape (N, K), N >= 2, K >= 2

    Returns
    -------
    projected : ndarray, shape (N, 2)
        Coordinates along the two components, of the centred points.
    components : ndarray, shape (2, K)
        The unit directions, by decreasing variance. A direction is fixed only up to its
        sign; each is turned so that its entry of largest magnitude is positive.
    explained_variance_ratio : ndarray, shape (2,)
        The share of the total variance along each component (sums to <= 1; zeros when all
        points coincide).
    """
    points = np.asarray(points)
    if points.dtype.kind not in "biuf":
        raise ValueError(f"points must hold real numbers; got dtype {points.dtype}")
    if points.ndim != 2 or points.shape[0] < 2 or points.shape[1] < 2:
        raise ValueError(f"points must have shape (N, K) with N >= 2 points and K >= 2 "
                         f"coordinates; got shape {points.shape}")
    if points.dtype.kind != "f":
        points = points.astype(np.float64)
    if not np.isfinite(points).all():
        raise ValueError("points must be finite; got NaN or infinity")
    centred = points - points.mean(axis=0)
    _, singular_values, right_vectors = np.linalg.svd(centred, full_matrices=False)
    components = right_vectors[:2]
    largest = np.abs(components).argmax(axis=1)
    components = components * np.sign(components[[0, 1], largest])[:, None]
    projected = centred @ components.T
    variances = singular_values ** 2
    total = variances.sum()
    ratio = variances[:2] / total if total > 0 else np.zeros(2, dtype=points.dtype)
    return projected, components, ratio


# ---------------------------------------------------------------- the normal CDF and its inverse

# numpy has no normal quantile function and scipy is not a dependency; the standard library's
# NormalDist has one (Wichura's AS241, accurate to about 1e-16).
_inv_cdf = np.vectorize(NormalDist().inv_cdf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def normal_cdf(x):
    """Phi(x) = P(Z <= x) for Z ~ N(0, 1), elementwise, as float64 of the shape of x."""
    # erfc, not 1 + erf: it keeps full relative precision far in the lower tail.
    return 0.5 * _erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0))


def inverse_normal_cdf(p):
    """Phi^{-1}(p), the standard normal quantile, elementwise.

    Parameters
    ----------
    p : array_like, any shape, every value in (0, 1)

    Returns
    -------
    ndarray of float64, the shape of p
    """
    p = np.asarray(p, dtype=np.float64)
    inside = (p > 0) & (p < 1)            # False for NaN too
    if not inside.all():
        raise ValueError(f"p must lie strictly between 0 and 1; got {p[~inside].flat[0]!r}")
    return _inv_cdf(p)


# ---------------------------------------------------------------- checks and helpers


def _decode_means(model, z, batch_size=1000, y=None):
    """The decoder mean for each row of z, shape (N, K) -> (N, D), a batch at a time; y holds
    the labels (N,) of a conditional model."""
    means = np.empty((len(z), model.x_dim), dtype=model.dtype)
    for start in range(0, len(z), batch_size):
        stop = start + batch_size
        means[start:stop] = model.decode(z[start:stop],
                                         None if y is None else y[start:stop])["mean"]
    return means


def check_images(model, x, name="x"):
    """x as an array of shape (N, D) (not yet converted: the model converts each batch)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != model.x_dim or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, {model.x_dim}): N >= 1 images of "
                         f"{model.x_dim} pixels each, flattened; got shape {x.shape}")
    return x


def _one_image(model, x, name):
    """One image of shape (D,) or (1, D) as an array of shape (1, D)."""
    x = np.asarray(x)
    if x.shape not in ((model.x_dim,), (1, model.x_dim)):
        raise ValueError(f"{name} must be one image of shape ({model.x_dim},) or "
                         f"(1, {model.x_dim}); got shape {x.shape}")
    return x.reshape(1, model.x_dim)


def _one_label(model, label, name):
    """One label (an int) as an array of shape (1,) for a conditional model, None for an
    unconditional one; the model refuses, naming ``name``, a label it cannot take."""
    if label is not None and np.ndim(label) == 0:
        label = [label]
    return model.check_y(label, 1, name)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")

"""The figures people expect from a VAE, as matplotlib Figures.

Every function builds a :class:`matplotlib.figure.Figure` with the object-oriented API, never
pyplot: nothing needs a display, no global figure manager keeps figures alive, and a notebook
shows a returned Figure as it is. Write one to disk with :func:`save_figure`.

Images are drawn in grey scale with a fixed range, black = 0 and white = 1, so that a grey
pixel looks the same in every figure; Gaussian means outside [0, 1] are clipped for display.
A flattened image of D pixels is reshaped row by row (C order) and drawn with its first row at
the top, as MNIST stores it.

A conditional model (``VAE(..., n_classes=C)``) needs the labels of what it encodes and
decodes: the functions take them as ``y``, and :func:`plot_class_grid` draws the same z with
every label.
"""
import math
import numbers
import os

import matplotlib
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import inference, validate
from ..evaluate import learns_sigma_x
from ..files import atomic_write

GAP = 2                   # image pixels of white between the cells of a grid
INCHES_PER_PIXEL = 0.02   # 2 screen pixels per image pixel at 100 dpi ...
MAX_IMAGE_INCHES = 8.0    # ... unless the grid would be wider or taller than this
MIN_WIDTH = 4.0           # room for a title
GREY = matplotlib.colormaps["gray"].with_extremes(bad="white")   # empty cells are white
SIGMA_COLOURS = matplotlib.colormaps["viridis"].with_extremes(bad="white")


# ---------------------------------------------------------------- grids of images


def image_grid(images, image_shape=(28, 28), ncols=None, title=None):
    """A grid of grey-scale images, read row by row.

    Parameters
    ----------
    images : array_like, shape (N, h * w) or (N, h, w)
        Values in [0, 1]; others are clipped.
    image_shape : tuple (h, w)
        How to reshape a flattened image.
    ncols : int >= 1, optional
        Images per row; about sqrt(N) by default.
    title : str, optional
        What is shown; "N images" by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = _as_images(images, image_shape)
    count = len(images)
    if ncols is None:
        ncols = math.ceil(math.sqrt(count))
    ncols = min(validate.positive_int("ncols", ncols), count)
    mosaic, _, _ = _mosaic(images, ncols, GAP)
    fig = Figure(figsize=_figsize(mosaic.shape, 0.25, 0.75), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, mosaic)
    _hide_frame(ax)
    ax.set_title(title if title is not None else f"{count} images")
    return fig


def plot_samples(model, n, rng, draws=False, image_shape=None, y=None, class_names=None):
    """Generated images: decoder means mu_x(z), or draws x ~ P(x|z), for z ~ N(0, I).

    Parameters
    ----------
    model : numpyvae.VAE
    n : int >= 1
    rng : numpy.random.Generator
    draws : bool
        Show draws x ~ P(x|z) instead of the decoder means: x ~ N(mu_x, sigma_x^2) for a
        Gaussian decoder, x ~ Bernoulli(mu_x) (0 or 1) for Bernoulli.
    image_shape : tuple (h, w), optional
        (28, 28) for D = 784; a square image otherwise.
    y : array_like of int, shape (n,), optional
        The class of each image, for a conditional model (required by it): P(x|z, y).
    class_names : sequence of str, optional
        The name of each class, for the title; the numbers 0, 1, ... by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    out = inference.generate(model, n, rng, draws=draws, y=y)
    likelihood = model.config["likelihood"]
    given = "" if y is None else ", y"
    if draws and likelihood == "bernoulli":
        what = f"Draws $x \\sim$ Bernoulli$(\\mu_x(z{given}))$"
    elif draws:
        what = f"Draws $x \\sim N(\\mu_x(z{given}), \\sigma_x^2)$ ({likelihood})"
    else:
        what = f"Decoder means $\\mu_x(z{given})$"
    title = f"{what} for {n} samples $z \\sim N(0, I)$"
    if y is not None:
        classes = np.unique(out["y"])
        title += (f",\nclass {_class_name(classes[0], class_names)}" if len(classes) == 1
                  else ",\neach with its class y")
    if likelihood != "bernoulli":
        title += ", clipped to [0, 1]" if y is not None else ",\nclipped to [0, 1]"
    return image_grid(out["x"] if draws else out["mean"],
                      _image_shape(model, image_shape), title=title)


def plot_class_grid(model, n, rng, draws=False, class_names=None, image_shape=None):
    """A conditional model's images of every class: one row per class, one z per column.

    Each column decodes one z ~ N(0, I) with every label (:func:`numpyvae.inference.class_grid`).
    Reading across a row the style changes and the class stays; reading down a column the
    class changes and the style, which z carries, stays.

    Parameters
    ----------
    model : numpyvae.VAE with n_classes = C
    n : int >= 1
        How many z: the columns.
    rng : numpy.random.Generator
    draws : bool
        Show draws x ~ P(x|z, y) instead of the decoder means.
    class_names : sequence of str, optional
        The row labels, one per class; the numbers 0, 1, ... by default.
    image_shape : tuple (h, w), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    out = inference.class_grid(model, n, rng, draws=draws)
    if class_names is None:
        class_names = range(model.n_classes)
    names = [str(name) for name in class_names]
    if len(names) != model.n_classes:
        raise ValueError(f"class_names must name the model's {model.n_classes} classes; "
                         f"got {len(names)} names")
    images = _as_images(out["x"] if draws else out["mean"], _image_shape(model, image_shape))
    mosaic, row_centres, _ = _mosaic(images, n, GAP)
    longest = max(len(name) for name in names)
    fig = Figure(figsize=_figsize(mosaic.shape, 0.5 + 0.07 * longest, 1.0),
                 layout="constrained")
    ax = fig.add_subplot()
    _show(ax, mosaic)
    _hide_frame(ax)
    ax.set_yticks(row_centres, names)
    ax.set_ylabel("class $y$")
    ax.set_xlabel("one $z \\sim N(0, I)$ per column: the style stays down a column")
    what = "Draws $x \\sim P(x|z, y)$" if draws else "Decoder means $\\mu_x(z, y)$"
    title = f"{what}: one row per class, the same {n} z in every row"
    if model.config["likelihood"] != "bernoulli":
        title += ",\nclipped to [0, 1]"
    ax.set_title(title)
    return fig


def _first_images(model, x, y, n, image_shape):
    """The first n images of x (checked), their labels for a conditional model, and the shape
    they are drawn in."""
    n = validate.positive_int("n", n)
    x = inference.check_images(model, x)
    y = model.check_y(y, len(x))
    return x[:n], None if y is None else y[:n], _image_shape(model, image_shape)


def plot_reconstructions(model, x, n=8, image_shape=None, y=None):
    """Images and their reconstructions, in alternating rows labelled "data"/"reconstruction".

    Parameters
    ----------
    model : numpyvae.VAE
    x : array_like, shape (N, D)
        The first min(n, N) images are shown.
    n : int >= 1
    image_shape : tuple (h, w), optional
    y : array_like of int, shape (N,), optional
        The labels of the images, for a conditional model (required by it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x, y, shape = _first_images(model, x, y, n, image_shape)
    data = _as_images(x, shape, "x")
    recon = _as_images(inference.reconstruct(model, x, y=y), shape)
    ncols = min(len(data), 10)
    rows, labels = [], []
    for start in range(0, len(data), ncols):
        for part, label in ((data, "data"), (recon, "reconstruction")):
            rows.append(_pad_row(part[start:start + ncols], ncols))
            labels.append(label)
    mosaic, row_centres, _ = _mosaic(np.concatenate(rows), ncols, GAP)
    fig = Figure(figsize=_figsize(mosaic.shape, 1.25, 0.75), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, mosaic)
    _hide_frame(ax)
    ax.set_yticks(row_centres, labels)
    ax.set_title("Reconstructions: decoder mean at $z = \\mu(x)$, the mean of $q(z|x)$")
    return fig


def plot_sigma_x(model, x, n=8, image_shape=None, y=None):
    """Images, their reconstruction means mu_x and the decoder's sigma_x, pixel by pixel.

    Three rows: the images; the decoder mean mu_x at z = mu(x); and sigma_x at the same z in
    colour, on a logarithmic colour bar in the units of sigma_x (a grey level runs from 0 to
    1) whose bottom is the floor. It shows what the decoder learned to be unsure of. Pixels
    in the darkest colour sit at the floor, where the likelihood rewards them most
    (docs/data.md).

    Parameters
    ----------
    model : numpyvae.VAE whose decoder learns sigma_x ("gaussian" or "gaussian-shared")
    x : array_like, shape (N, D)
        The first min(n, N) images are shown.
    n : int >= 1
    image_shape : tuple (h, w), optional
    y : array_like of int, shape (N,), optional
        The labels of the images, for a conditional model (required by it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not learns_sigma_x(model):
        raise ValueError(f"plot_sigma_x needs a decoder that learns sigma_x (gaussian or "
                         f"gaussian-shared); this model's likelihood is "
                         f"{model.config['likelihood']!r}")
    x, y, shape = _first_images(model, x, y, n, image_shape)
    mu, _ = inference.latent_factors(model, x, y=y)
    decoded = model.decode(mu, y)
    images = _mosaic(_as_images(x, shape, "x"), len(x), GAP)[0]
    means = _mosaic(_as_images(decoded["mean"], shape), len(x), GAP)[0]
    sigma = np.asarray(decoded["sigma"], dtype=np.float64).reshape(len(x), *shape)
    floor = model.config["sigma_x_floor"]

    fig = Figure(figsize=_figsize((3 * images.shape[0] + 2 * GAP, images.shape[1]), 2.25, 1.0),
                 layout="constrained")
    axes = fig.subplots(3, 1)
    _show(axes[0], images)
    _show(axes[1], means)
    norm = LogNorm(vmin=min(floor, sigma.min()), vmax=max(sigma.max(), 1.5 * floor))
    drawn = axes[2].imshow(np.ma.masked_invalid(_mosaic(sigma, len(x), GAP)[0]),
                           cmap=SIGMA_COLOURS, norm=norm, origin="upper",
                           interpolation="nearest")
    for ax, label in zip(axes, ("image", "mean $\\mu_x$", "$\\sigma_x$")):
        _hide_frame(ax)
        ax.set_ylabel(label)
    bar = fig.colorbar(drawn, ax=axes)
    bar.set_label(f"$\\sigma_x$, log scale from the floor {floor:g}")
    shared = " (one sigma_x for every pixel)" if model.likelihood.sigma_kind == "shared" else ""
    axes[0].set_title(f"What the decoder is unsure of: $\\mu_x$ and $\\sigma_x$ at "
                      f"$z = \\mu(x)${shared}")
    return fig


def plot_interpolation(model, x_a, x_b, steps=10, image_shape=None, y_a=None, y_b=None,
                       y=None):
    """Decoder means along the straight line in z from mu(x_a) to mu(x_b), between x_a and x_b.

    Parameters
    ----------
    model : numpyvae.VAE
    x_a, x_b : array_like, shape (D,) or (1, D)
    steps : int >= 2
    image_shape : tuple (h, w), optional
    y_a, y_b, y : int, optional
        For a conditional model: the labels of x_a and x_b (required), and the label the
        line is decoded with (y_a by default); see :func:`numpyvae.inference.interpolate`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _, path = inference.interpolate(model, x_a, x_b, steps, y_a=y_a, y_b=y_b, y=y)
    shape = _image_shape(model, image_shape)
    row = np.concatenate([_as_images(np.reshape(x_a, (1, -1)), shape, "x_a"),
                          _as_images(path, shape),
                          _as_images(np.reshape(x_b, (1, -1)), shape, "x_b")])
    mosaic, _, col_centres = _mosaic(row, len(row), GAP)
    fig = Figure(figsize=_figsize(mosaic.shape, 0.25, 1.0), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, mosaic)
    _hide_frame(ax)
    t = np.linspace(0, 1, steps)
    shown = _tick_indices(steps, 12)
    ax.set_xticks([col_centres[0]] + [col_centres[1 + i] for i in shown] + [col_centres[-1]],
                  ["$x_a$"] + [f"{t[i]:.2g}" for i in shown] + ["$x_b$"])
    ax.set_xlabel("$t$, on the line $z = (1 - t)\\,\\mu(x_a) + t\\,\\mu(x_b)$")
    title = "Interpolation: decoder means between the latent means of two images"
    if model.n_classes is not None:
        title += f",\ndecoded with the label y = {y_a if y is None else y}"
    ax.set_title(title)
    return fig


def plot_manifold(model, n=20, span=2.0, spacing="linear", image_shape=None, y=None):
    """The decoder mean over an n x n grid of z, for a model with z_dim = 2, as one image.

    Parameters
    ----------
    model : numpyvae.VAE with z_dim = 2
    n, span, spacing, y
        As in :func:`numpyvae.inference.manifold_grid` (y: the label of a conditional model).
    image_shape : tuple (h, w), optional

    Returns
    -------
    matplotlib.figure.Figure
        z_1 grows to the right and z_2 upwards; the ticks give their values.
    """
    z_grid, images = inference.manifold_grid(model, n, span, spacing, y=y)
    mosaic, row_centres, col_centres = _mosaic(
        _as_images(images, _image_shape(model, image_shape)), n, 0)
    fig = Figure(figsize=_figsize(mosaic.shape, 0.75, 1.0), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, mosaic)
    z_1, z_2 = z_grid[:n, 0], z_grid[::n, 1]      # left to right; top to bottom
    shown = _symmetric_tick_indices(n)
    ax.set_xticks(col_centres[shown], [f"{z_1[i]:.2f}" for i in shown])
    ax.set_yticks(row_centres[shown], [f"{z_2[i]:.2f}" for i in shown])
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    where = {"linear": "evenly spaced in z",
             "quantile": "evenly spaced in prior probability"}[spacing]
    given = "" if y is None else f", class y = {y}"
    ax.set_title(f"Decoder means over a {n} x {n} grid of z in [-{span:g}, {span:g}]$^2$"
                 f"{given},\n{where}")
    return fig


# ---------------------------------------------------------------- the latent space


def plot_scatter(model, x, labels, class_names=None, y=None):
    """The latent means mu(x) of many images, coloured by label.

    For z_dim = 2 the means are drawn as they are (axes z_1, z_2); for z_dim > 2 they are
    projected onto their first two principal components (:func:`numpyvae.inference.pca_2d`).

    Parameters
    ----------
    model : numpyvae.VAE with z_dim >= 2
    x : array_like, shape (N, D)
    labels : array_like of int, shape (N,), or None
        Class of each image, 0 <= label < 20; None draws every point in one colour.
    class_names : sequence of str, optional
        Names for the colour bar's ticks; the numbers 0, 1, ... by default.
    y : array_like of int, shape (N,), optional
        The labels the encoder reads, for a conditional model (required by it): mu(x, y).
        Usually ``labels`` again.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if model.z_dim < 2:
        raise ValueError(f"scatter needs z_dim >= 2; this model has z_dim = {model.z_dim}")
    x = inference.check_images(model, x)
    if labels is not None:
        labels, names = _check_labels(labels, len(x), class_names)
    mu, _ = inference.latent_factors(model, x, y=y)
    if model.z_dim == 2:
        coords = mu
        xlabel, ylabel = "$z_1$", "$z_2$"
        what = f"Latent means $\\mu(x)$ of {len(mu)} images"
    else:
        coords, _, ratio = inference.pca_2d(mu)
        xlabel = f"PC 1 ({100 * ratio[0]:.0f}% of variance)"
        ylabel = f"PC 2 ({100 * ratio[1]:.0f}% of variance)"
        what = (f"Latent means $\\mu(x)$ of {len(mu)} images, projected from "
                f"{model.z_dim} dimensions\nonto their first two principal components")
    # A fixed shuffle of the drawing order, so that no class is drawn wholly over another.
    order = np.random.default_rng(0).permutation(len(coords))
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    ax = fig.add_subplot()
    style = {"s": 4, "alpha": 0.7, "linewidths": 0, "rasterized": True}   # raster: small PDFs
    if labels is None:
        ax.scatter(coords[order, 0], coords[order, 1], color="C0", **style)
    else:
        colours = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"].colors
        classes = np.arange(len(names))
        points = ax.scatter(coords[order, 0], coords[order, 1], c=labels[order],
                            cmap=ListedColormap(colours[:len(names)]),
                            norm=BoundaryNorm(np.append(classes, len(names)) - 0.5, len(names)),
                            **style)
        bar = fig.colorbar(points, ax=ax, ticks=classes)
        bar.set_ticklabels(names)
        bar.set_label("label")
        what += ", coloured by label"
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(what)
    return fig


# ---------------------------------------------------------------- learning curves

CURVE_KEYS = ("train_loss", "test_loss", "train_recon", "test_recon", "train_kl", "test_kl",
              "train_iwae_loss", "test_iwae_loss")


def plot_curves(metrics):
    """Learning curves: the negative ELBO and its two parts, reconstruction and KL, per epoch.

    Three panels side by side, each with its own scale: the KL term is often ten times
    smaller than the reconstruction term, and flat in a plot shared with it. For a run on the
    importance-weighted bound, the first panel also shows -L_k, dashed, beside the negative
    ELBO: the bound is the tighter, so its curves lie below.

    Parameters
    ----------
    metrics : list of dict
        One dict per epoch, as :func:`read_metrics` returns, with "epoch" and any of
        train_loss, test_loss, train_recon, test_recon, train_kl, test_kl, and for an
        importance-weighted run train_iwae_loss and test_iwae_loss (with its k under
        "iwae_samples"), in nats per example. A value that is missing, None or NaN is left
        out of its curve (such as the test values of an epoch without evaluation). Records
        whose "loss_unit" says "-log density" (a Gaussian decoder) are titled so.

    Returns
    -------
    matplotlib.figure.Figure
    """
    records = _check_metrics(metrics)
    fig = Figure(figsize=(14.0, 4.5), layout="constrained")
    k = next((r["iwae_samples"] for r in records
              if isinstance(r.get("iwae_samples"), int) and r["iwae_samples"] > 0), "k")
    bound = f"$-\\mathcal{{L}}_{{{k}}}$"
    iwae = any(_is_number(r.get(key)) for r in records
               for key in ("train_iwae_loss", "test_iwae_loss"))
    panels = zip(fig.subplots(1, 3), ("loss", "recon", "kl"), (
        f"Negative ELBO and negative IWAE bound {bound}" if iwae else "Negative ELBO",
        "Reconstruction: $E_q[-\\log P(x|z)]$",
        "KL$(q(z|x)\\,\\|\\,p(z))$"))
    drawn = 0
    for ax, part, title in panels:
        series = [(f"train_{part}", "train", "C0"), (f"test_{part}", "test", "C1")]
        if part == "loss" and iwae:
            series = [("train_loss", "train -ELBO", "C0"), ("test_loss", "test -ELBO", "C1"),
                      ("train_iwae_loss", f"train {bound}", "C0", "--"),
                      ("test_iwae_loss", f"test {bound}", "C1", "--")]
        drawn += _draw_curves(ax, records, series)
        ax.set_title(title)
    if drawn == 0:
        raise ValueError(f"metrics has no values to plot: none of its records has a number "
                         f"under any of {list(CURVE_KEYS)}")
    density = any(str(r.get("loss_unit", "")).endswith("-log density") for r in records)
    fig.suptitle("Learning curves, in nats per example"
                 + (" (-log densities: a Gaussian decoder)" if density else ""))
    return fig


def _draw_curves(ax, records, series):
    """Draw each (key, label, colour[, line style]) that has values; return how many were
    drawn."""
    drawn = 0
    for key, label, colour, *style in series:
        epochs = [r["epoch"] for r in records if _is_number(r.get(key))]
        values = [r[key] for r in records if _is_number(r.get(key))]
        if values:
            ax.plot(epochs, values, color=colour, marker="o", markersize=3, label=label,
                    linestyle=style[0] if style else "-")
            drawn += 1
    if drawn:
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per example")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return drawn


def _check_metrics(metrics):
    if isinstance(metrics, (str, bytes, os.PathLike)):
        raise ValueError("metrics must be a list of dicts; to read a file, pass "
                         f"read_metrics(path); got {metrics!r}")
    records = list(metrics)
    if not records:
        raise ValueError("metrics must hold at least one record (one dict per epoch); got none")
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not _is_number(record.get("epoch")):
            raise ValueError(f"metrics[{i}] must be a dict with a number under \"epoch\"; "
                             f"got {record!r}")
    return records


def _is_number(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


# ---------------------------------------------------------------- saving


def save_figure(fig, path, dpi=100):
    """Write a figure to ``path``, atomically, at exactly its size in inches times ``dpi``.

    The format follows the extension (.png, .pdf, .svg, ...). The figure is written to a
    temporary file in the same folder, then moved over ``path``: a reader never sees half a
    file, and a failure leaves an existing file as it was. No tight bounding box: a PNG of a
    figure of (w, h) inches is floor(w * dpi) x floor(h * dpi) pixels, whatever it shows
    (the figures of this module measure whole quarter inches, so a dpi that is a multiple
    of 4 gives exactly w * dpi x h * dpi).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or os.PathLike
    dpi : float > 0
    """
    path = os.fspath(path)
    dpi = validate.positive_float("dpi", dpi)
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    formats = fig.canvas.get_supported_filetypes()
    if extension not in formats:
        raise ValueError(f"path must end in one of {sorted('.' + f for f in formats)}; "
                         f"got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"path must be in an existing folder; {folder!r} does not exist")
    with atomic_write(path) as file:
        fig.savefig(file, format=extension, dpi=dpi)


# ---------------------------------------------------------------- helpers


def _as_images(images, image_shape, name="images"):
    """images (N, h * w) or (N, h, w) -> float64 array (N, h, w), clipped to [0, 1]."""
    height, width = _check_image_shape(image_shape)
    arr = np.asarray(images)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    given = arr.shape
    if arr.ndim == 2 and arr.shape[1] == height * width:
        arr = arr.reshape(len(arr), height, width)          # row by row: C order
    if arr.ndim != 3 or arr.shape[1:] != (height, width) or len(arr) < 1:
        raise ValueError(f"{name} must have shape (N, {height * width}) or "
                         f"(N, {height}, {width}) for image_shape ({height}, {width}), "
                         f"N >= 1; got shape {given}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got NaN or infinity")
    return np.clip(arr, 0.0, 1.0)


def _check_image_shape(image_shape):
    try:
        height, width = image_shape
        return (validate.positive_int("image_shape[0]", height),
                validate.positive_int("image_shape[1]", width))
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be a pair of integers (height, width) >= 1; "
                         f"got {image_shape!r}") from None


def _image_shape(model, image_shape):
    """The given shape, or a square one for the model's D (28 x 28 for MNIST)."""
    if image_shape is not None:
        height, width = _check_image_shape(image_shape)
        if height * width != model.x_dim:
            raise ValueError(f"image_shape must have {model.x_dim} pixels, the model's x_dim; "
                             f"got {image_shape!r}")
        return height, width
    side = math.isqrt(model.x_dim)
    if side * side != model.x_dim:
        raise ValueError(f"image_shape is needed: x_dim = {model.x_dim} is not a square "
                         "number, so the images cannot be drawn as squares")
    return side, side


def _mosaic(images, ncols, gap):
    """Tile images (N, h, w) row by row into one array; NaN in the gaps and empty cells.

    Returns the mosaic and the pixel coordinates of the centres of its rows and columns.
    """
    count, height, width = images.shape
    nrows = math.ceil(count / ncols)
    mosaic = np.full((nrows * (height + gap) - gap, ncols * (width + gap) - gap), np.nan)
    for k, image in enumerate(images):
        row, col = divmod(k, ncols)
        top, left = row * (height + gap), col * (width + gap)
        mosaic[top:top + height, left:left + width] = image
    row_centres = np.arange(nrows) * (height + gap) + (height - 1) / 2
    col_centres = np.arange(ncols) * (width + gap) + (width - 1) / 2
    return mosaic, row_centres, col_centres


def _pad_row(images, ncols):
    """images (m, h, w), m <= ncols, padded with NaN images to (ncols, h, w)."""
    pad = np.full((ncols - len(images),) + images.shape[1:], np.nan)
    return np.concatenate([images, pad])


def _show(ax, mosaic):
    """Draw a mosaic in grey, black = 0 and white = 1, its first row at the top."""
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=GREY, vmin=0.0, vmax=1.0, origin="upper",
              interpolation="nearest")


def _hide_frame(ax):
    """No ticks and no frame: around a grid of images, they carry no information."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _tick_indices(n, most):
    """At most ``most`` indices out of range(n), evenly spread, first and last included."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, most))).astype(int))


def _symmetric_tick_indices(n):
    """About 5 indices out of range(n), placed symmetrically about the middle of the grid."""
    left = np.unique(np.round(np.linspace(0, (n - 1) // 2, 3)).astype(int))
    return np.unique(np.concatenate([left, n - 1 - left]))


def _figsize(mosaic_shape, extra_width, extra_height):
    """(width, height) in inches for a mosaic of (rows, cols) pixels plus room for labels.

    Rounded up to quarter inches, so that the pixel size at a whole dpi is a whole number.
    """
    rows, cols = mosaic_shape
    scale = min(INCHES_PER_PIXEL, MAX_IMAGE_INCHES / max(rows, cols))
    width = max(cols * scale + extra_width, MIN_WIDTH)
    height = rows * scale + extra_height
    return math.ceil(width * 4) / 4, math.ceil(height * 4) / 4


def _class_name(label, class_names):
    """The name of a class for a title: its number, and its name when there is one."""
    if class_names is None or str(class_names[label]) == str(label):
        return str(label)
    return f"{label} ({class_names[label]})"


def _check_labels(labels, count, class_names):
    """labels as an int array (count,) and the names of the classes."""
    labels = np.asarray(labels)
    if labels.shape != (count,) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be an integer array of shape ({count},), one per "
                         f"image; got shape {labels.shape} and dtype {labels.dtype}")
    if class_names is None:
        class_names = [str(i) for i in range(max(10, int(labels.max()) + 1))]
    class_names = [str(name) for name in class_names]
    if len(class_names) > 20:
        raise ValueError(f"plot_scatter can colour at most 20 classes; got "
                         f"{len(class_names)}")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(f"labels must lie in [0, {len(class_names) - 1}]; got values in "
                         f"[{labels.min()}, {labels.max()}]")
    return labels, class_names

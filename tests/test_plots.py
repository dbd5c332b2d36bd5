"""Tests of numpyvae.app.plots: every figure renders from a small trained model, saves to a PNG of
the expected pixel size that is not blank, and shows what it claims (checked against the
model's encode/decode called directly, and against the pixels of the saved file).
"""
import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Every test here draws a figure: without matplotlib (a runtime dependency, which CI installs)
# the module is skipped, as tests/conftest.py does test by test elsewhere.
pytest.importorskip("matplotlib", reason="matplotlib, a runtime dependency of numpyvae "
                                         "(setup.cfg), is not installed in this interpreter")
from matplotlib.image import imread  # noqa: E402

from numpyvae import VAE  # noqa: E402
from numpyvae.app import plots  # noqa: E402
from numpyvae.app.run import read_metrics  # noqa: E402
from numpyvae.inference import generate  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def load_images(n):
    """The first n MNIST test images (N, 784) in [0, 1] and labels; synthetic bars without it."""
    if not MNIST.is_dir():
        return synthetic_bars(n)
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz", "rb") as file:
        pixels = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 784)[:n]
    with gzip.open(MNIST / "t10k-labels-idx1-ubyte.gz", "rb") as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8)[:n]
    return (pixels / 255).astype(np.float32), labels


def synthetic_bars(n, seed=0):
    """28 x 28 images of a bar through the centre at one of 10 angles (the label), shifted."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    rows, cols = np.mgrid[0:28, 0:28] - 13.5
    images = np.empty((n, 28, 28), dtype=np.float32)
    for k, (label, shift) in enumerate(zip(labels, rng.integers(-2, 3, (n, 2)))):
        angle = math.pi * label / 10
        y, x = rows - shift[0], cols - shift[1]
        distance = np.abs(x * math.sin(angle) - y * math.cos(angle))
        images[k] = np.clip(1.5 - distance, 0, 1) * (x * x + y * y < 100)
    return images.reshape(n, 784), labels


def train(model, x, steps=300, batch_size=100, lr=3e-3, seed=0):
    """A few hundred steps of Adam, written out here so that the test needs no trainer."""
    rng = np.random.default_rng(seed)
    theta = model.flat_parameters                  # a view: updated in place
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t in range(1, steps + 1):
        batch = x[rng.integers(0, len(x), batch_size)]
        noise = rng.standard_normal((1, batch_size, model.z_dim), dtype=np.float32)
        model.compute_gradients(batch, noise)
        g = model.flat_gradients
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)


@pytest.fixture(scope="module")
def trained():
    """A VAE(784, 2, hidden=(64,)) trained on 1000 images, and 500 other images to show."""
    x, labels = load_images(1500)
    model = VAE(784, 2, hidden=(64,), seed=0)
    noise = np.random.default_rng(1).standard_normal((1, 500, 2), dtype=np.float32)
    before = model.loss(x[1000:], noise)
    train(model, x[:1000])
    assert model.loss(x[1000:], noise) < before - 100       # it learned something
    return model, x[1000:], labels[1000:]


def saved_png(fig, folder, dpi=80, name="figure.png"):
    """Save with plots.save_figure and read the pixels back: (H, W, 3) floats in [0, 1]."""
    path = Path(folder) / name
    plots.save_figure(fig, path, dpi=dpi)
    return imread(path)[..., :3]


def mosaic_of(fig):
    """The array drawn by the figure's (first) image, NaN where it is masked."""
    data = fig.axes[0].images[0].get_array()
    return np.ma.filled(data.astype(float), np.nan)


def cell(mosaic, row, col, gap=plots.GAP):
    """The 28 x 28 image in cell (row, col) of a mosaic."""
    top, left = row * (28 + gap), col * (28 + gap)
    return mosaic[top:top + 28, left:left + 28]


FIGURES = {
    "samples": lambda m, x, y: plots.plot_samples(m, 16, np.random.default_rng(0)),
    "draws": lambda m, x, y: plots.plot_samples(m, 9, np.random.default_rng(0), draws=True),
    "reconstructions": lambda m, x, y: plots.plot_reconstructions(m, x, n=8),
    "manifold": lambda m, x, y: plots.plot_manifold(m, n=10),
    "manifold-quantile": lambda m, x, y: plots.plot_manifold(m, n=10, spacing="quantile"),
    "scatter": lambda m, x, y: plots.plot_scatter(m, x, y),
    "scatter-pca": lambda m, x, y: plots.plot_scatter(VAE(784, 5, hidden=(32,)), x, y),
    "interpolation": lambda m, x, y: plots.plot_interpolation(m, x[0], x[1], steps=8),
    "grid": lambda m, x, y: plots.image_grid(x[:10], ncols=5, title="Ten test images"),
    "sigma_x": lambda m, x, y: plots.plot_sigma_x(
        VAE(784, 2, hidden=(16,), likelihood="gaussian"), x, n=6),
    "classes": lambda m, x, y: plots.plot_class_grid(
        VAE(784, 2, hidden=(16,), n_classes=10), 5, np.random.default_rng(0)),
    "curves": lambda m, x, y: plots.plot_curves([
        {"epoch": 1, "train_loss": 200.0, "train_recon": 180.0, "train_kl": 20.0,
         "test_loss": 190.0, "test_recon": 171.0, "test_kl": 19.0},
        {"epoch": 2, "train_loss": 160.0, "train_recon": 139.0, "train_kl": 21.0}]),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_saves_at_its_size_and_is_not_blank(trained, tmp_path, name):
    fig = FIGURES[name](*trained)
    dpi = 72 + len(name)                        # any dpi: the size follows it
    pixels = saved_png(fig, tmp_path, dpi=dpi)
    width, height = fig.get_size_inches() * dpi
    assert pixels.shape == (math.floor(height), math.floor(width), 3)   # whole pixels only
    assert pixels.std() > 0.05
    assert fig.axes[0].get_title() != ""            # every figure says what it shows


def test_pixel_size_follows_the_figure_size_not_its_contents(tmp_path):
    fig = plots.image_grid(np.zeros((4, 784)), title="a title far longer than the figure " * 5)
    fig.set_size_inches(3.0, 2.5)
    assert saved_png(fig, tmp_path, dpi=100).shape == (250, 300, 3)


def test_nothing_imports_pyplot():
    # pyplot would pick a GUI backend and keep figures alive; the plots must not need it.
    code = ("import sys, numpy as np, numpyvae.app.plots as p; "
            "p.image_grid(np.zeros((2, 784))); p.plot_curves([{'epoch': 1, 'train_loss': 1}]); "
            "print('matplotlib.pyplot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------- image grids


def test_image_grid_is_upright_grey_with_a_fixed_range(tmp_path):
    # Quadrants: top left 0.5 (grey), top right 1.7 (white when clipped), bottom left -0.4
    # (black when clipped), bottom right 0 (black).
    image = np.zeros((28, 28))
    image[:14, :14], image[:14, 14:], image[14:, :14] = 0.5, 1.7, -0.4
    fig = plots.image_grid(image.reshape(1, 784), title="")
    grey = saved_png(fig, tmp_path, dpi=100).mean(axis=2)
    # The image is where the figure is not white: the grey and black quadrants.
    rows, cols = np.nonzero(grey < 0.75)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()

    def at(fy, fx):                  # mean of a small patch at a fraction of the image
        y, x = round(top + fy * (bottom - top)), round(left + fx * (right - left))
        return grey[y - 2:y + 3, x - 2:x + 3].mean()

    assert at(0.25, 0.25) == pytest.approx(0.5, abs=0.02)
    assert at(0.25, 0.75) == pytest.approx(1.0, abs=0.02)
    assert at(0.75, 0.25) == pytest.approx(0.0, abs=0.02)
    assert at(0.75, 0.75) == pytest.approx(0.0, abs=0.02)


def test_image_grid_does_not_stretch_the_contrast(tmp_path):
    # Only greys 0.25 and 0.5: with an automatic range they would show as black and white.
    image = np.full((28, 28), 0.25)
    image[:, 14:] = 0.5
    grey = saved_png(plots.image_grid(image.reshape(1, 784), title=""), tmp_path).mean(axis=2)
    rows, cols = np.nonzero(grey < 0.75)
    middle = (rows.min() + rows.max()) // 2
    left = cols.min() + (cols.max() - cols.min()) // 4
    right = cols.max() - (cols.max() - cols.min()) // 4
    assert grey[middle, left] == pytest.approx(0.25, abs=0.02)
    assert grey[middle, right] == pytest.approx(0.5, abs=0.02)


def test_image_grid_lays_images_out_row_by_row():
    images = np.random.default_rng(0).random((5, 784))
    mosaic = mosaic_of(plots.image_grid(images, ncols=3))
    assert mosaic.shape == (2 * 28 + plots.GAP, 3 * 28 + 2 * plots.GAP)
    for k in range(5):
        np.testing.assert_allclose(cell(mosaic, *divmod(k, 3)), images[k].reshape(28, 28))
    assert np.isnan(cell(mosaic, 1, 2)).all()                 # the sixth cell is empty


def test_image_grid_default_title_says_what_is_shown():
    assert plots.image_grid(np.zeros((3, 28, 28))).axes[0].get_title() == "3 images"


@pytest.mark.parametrize("kwargs, message", [
    ({"images": np.zeros((2, 100))}, r"images must have shape \(N, 784\) or \(N, 28, 28\)"),
    ({"images": np.zeros((0, 784))}, r"N >= 1; got shape \(0, 784\)"),
    ({"images": np.full((1, 784), np.nan)}, "images must be finite"),
    ({"images": np.zeros((2, 784)), "ncols": 0}, "ncols must be an integer >= 1; got 0"),
    ({"images": np.zeros((2, 784)), "image_shape": (28,)}, "image_shape must be a pair"),
])
def test_image_grid_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.image_grid(**kwargs)


def test_plot_samples_shows_means_or_0_1_draws(trained):
    model = trained[0]
    means = plots.plot_samples(model, 4, np.random.default_rng(3))
    draws = plots.plot_samples(model, 4, np.random.default_rng(3), draws=True)
    assert means.axes[0].get_title().startswith("Decoder means")
    assert draws.axes[0].get_title().startswith("Draws")
    expected = generate(model, 4, np.random.default_rng(3))["mean"]
    np.testing.assert_allclose(cell(mosaic_of(means), 0, 1), expected[1].reshape(28, 28),
                               atol=1e-6)
    pixels = mosaic_of(draws)
    assert set(np.unique(pixels[~np.isnan(pixels)])) == {0.0, 1.0}


def test_plot_samples_of_a_gaussian_model_says_it_clips():
    model = VAE(784, 2, hidden=(16,), likelihood="gaussian")
    fig = plots.plot_samples(model, 4, np.random.default_rng(0), draws=True)
    assert "clipped to [0, 1]" in fig.axes[0].get_title()
    pixels = mosaic_of(fig)
    assert pixels[~np.isnan(pixels)].min() >= 0 and pixels[~np.isnan(pixels)].max() <= 1


@pytest.mark.parametrize("likelihood,law", [("bernoulli", "Bernoulli$(\\mu_x(z))$"),
                                            ("gaussian", "N(\\mu_x(z), \\sigma_x^2)")])
def test_plot_samples_names_the_law_of_its_draws(likelihood, law):
    model = VAE(784, 2, hidden=(16,), likelihood=likelihood)
    title = plots.plot_samples(model, 4, np.random.default_rng(0), draws=True).axes[0].get_title()
    assert title.startswith("Draws $x \\sim") and law in title


@pytest.mark.parametrize("likelihood", ["gaussian", "gaussian-shared"])
def test_plot_sigma_x_shows_images_means_and_sigma_x(trained, likelihood):
    _, x, _ = trained
    model = VAE(784, 2, hidden=(16,), likelihood=likelihood, sigma_x_floor=0.02, seed=3)
    fig = plots.plot_sigma_x(model, x, n=5)
    image, mean, sigma = fig.axes[:3]
    assert [ax.get_ylabel() for ax in fig.axes[:3]] == ["image", "mean $\\mu_x$",
                                                       "$\\sigma_x$"]
    mu, _ = model.encode(x[:5])
    decoded = model.decode(mu)                               # at z = mu(x), as titled
    assert "$z = \\mu(x)$" in image.get_title()
    np.testing.assert_allclose(cell(mosaic_of(fig), 0, 4), x[4].reshape(28, 28))
    shown = np.ma.filled(mean.images[0].get_array().astype(float), np.nan)
    np.testing.assert_allclose(cell(shown, 0, 2), np.clip(decoded["mean"][2], 0, 1)
                               .reshape(28, 28), rtol=1e-6)
    shown = np.ma.filled(sigma.images[0].get_array().astype(float), np.nan)
    for k in range(5):                                       # sigma_x as it is, not clipped
        np.testing.assert_allclose(cell(shown, 0, k), decoded["sigma"][k].reshape(28, 28),
                                   rtol=1e-6)
    bar = fig.axes[3]                                        # the colour bar, in sigma_x
    assert "floor 0.02" in bar.get_ylabel()
    assert sigma.images[0].norm.vmin == pytest.approx(0.02)
    assert sigma.images[0].norm.vmax == pytest.approx(max(decoded["sigma"][:5].max(), 0.03))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian-fixed"])
def test_plot_sigma_x_needs_a_learned_sigma_x(likelihood):
    model = VAE(784, 2, hidden=(16,), likelihood=likelihood)
    with pytest.raises(ValueError, match=f"needs a decoder that learns sigma_x .*"
                                         f"likelihood is '{likelihood}'"):
        plots.plot_sigma_x(model, np.zeros((2, 784)))


def test_plot_reconstructions_pairs_data_and_reconstruction(trained):
    model, x, _ = trained
    fig = plots.plot_reconstructions(model, x, n=12)          # two blocks of 10 columns
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["data", "reconstruction"] * 2
    mosaic = mosaic_of(fig)
    recon = model.decode(model.encode(x[:12])[0])["mean"]
    for k in (0, 9, 11):
        block, col = divmod(k, 10)
        np.testing.assert_allclose(cell(mosaic, 2 * block, col), x[k].reshape(28, 28))
        np.testing.assert_allclose(cell(mosaic, 2 * block + 1, col), recon[k].reshape(28, 28),
                                   atol=1e-5)


def test_plot_reconstructions_rejects_a_wrong_image_size(trained):
    with pytest.raises(ValueError, match=r"x must have shape \(N, 784\).*got shape \(3, 100\)"):
        plots.plot_reconstructions(trained[0], np.zeros((3, 100)))


def test_plot_interpolation_runs_from_x_a_to_x_b(trained):
    model, x, _ = trained
    fig = plots.plot_interpolation(model, x[0], x[1], steps=5)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "$x_a$" and labels[-1] == "$x_b$" and len(labels) == 7
    mosaic = mosaic_of(fig)
    np.testing.assert_allclose(cell(mosaic, 0, 0), x[0].reshape(28, 28))
    np.testing.assert_allclose(cell(mosaic, 0, 6), x[1].reshape(28, 28))
    start = model.decode(model.encode(x[:1])[0])["mean"]
    np.testing.assert_allclose(cell(mosaic, 0, 1), start.reshape(28, 28), atol=1e-5)


# ---------------------------------------------------------------- the latent space


def test_plot_manifold_labels_its_axes_with_z(trained):
    fig = plots.plot_manifold(trained[0], n=20, span=2.0)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$z_1$", "$z_2$")
    x_labels = [t.get_text() for t in ax.get_xticklabels()]
    y_labels = [t.get_text() for t in ax.get_yticklabels()]
    assert x_labels[0] == "-2.00" and x_labels[-1] == "2.00"        # z_1 grows to the right
    assert y_labels[0] == "2.00" and y_labels[-1] == "-2.00"        # z_2 grows upwards
    values = np.array([float(label) for label in x_labels])
    np.testing.assert_array_equal(values, -values[::-1])            # symmetric about 0
    assert mosaic_of(fig).shape == (20 * 28, 20 * 28)               # one image, no gaps


def test_plot_manifold_needs_a_2d_latent_space():
    with pytest.raises(ValueError, match="manifold needs z_dim = 2; this model has z_dim = 3"):
        plots.plot_manifold(VAE(784, 3, hidden=(16,)))


def test_plot_scatter_of_2d_latents_shows_the_means(trained):
    model, x, labels = trained
    fig = plots.plot_scatter(model, x, labels)
    ax, bar = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$z_1$", "$z_2$")
    assert [t.get_text() for t in bar.get_yticklabels()] == [str(d) for d in range(10)]
    offsets = np.asarray(ax.collections[0].get_offsets())
    colours = np.asarray(ax.collections[0].get_array())
    mu = model.encode(x)[0]
    order = np.lexsort(offsets.T)
    np.testing.assert_allclose(offsets[order], mu[np.lexsort(mu.T)], atol=1e-5)
    np.testing.assert_array_equal(colours[order], labels[np.lexsort(mu.T)])


def test_plot_scatter_projects_more_dimensions_onto_principal_components(trained):
    _, x, labels = trained
    model = VAE(784, 5, hidden=(32,), seed=3)
    ax = plots.plot_scatter(model, x, labels).axes[0]
    eigenvalues = np.linalg.eigvalsh(np.cov(model.encode(x)[0].astype(np.float64),
                                            rowvar=False))[::-1]
    share = 100 * eigenvalues / eigenvalues.sum()
    assert ax.get_xlabel() == f"PC 1 ({share[0]:.0f}% of variance)"
    assert ax.get_ylabel() == f"PC 2 ({share[1]:.0f}% of variance)"


def test_plot_scatter_rejects_bad_labels_and_1d_latents(trained):
    model, x, labels = trained
    with pytest.raises(ValueError, match=r"labels must be an integer array of shape \(500,\)"):
        plots.plot_scatter(model, x, labels[:10])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        plots.plot_scatter(model, x[:2], np.array([0, -1]))
    with pytest.raises(ValueError, match="scatter needs z_dim >= 2; this model has z_dim = 1"):
        plots.plot_scatter(VAE(784, 1, hidden=(16,)), x, labels)


def test_plot_scatter_without_labels_has_no_colour_bar(trained):
    model, x, _ = trained
    assert len(plots.plot_scatter(model, x, None).axes) == 1


# ---------------------------------------------------------------- learning curves


def write_lines(path, lines, end="\n"):
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


def test_read_metrics_and_plot_curves_skip_missing_test_values(tmp_path):
    records = [
        {"epoch": 1, "train_loss": 210.5, "train_recon": 190.0, "train_kl": 20.5,
         "test_loss": 200.0, "test_recon": 181.0, "test_kl": 19.0},
        {"epoch": 2, "train_loss": 170.0, "train_recon": 148.0, "train_kl": 22.0},
        {"epoch": 3, "train_loss": 160.0, "train_recon": 137.0, "train_kl": 23.0,
         "test_loss": None, "test_recon": float("nan"), "test_kl": 22.5},
    ]
    path = write_lines(tmp_path / "metrics.jsonl", [json.dumps(r) for r in records] + [""])
    read = read_metrics(path)
    assert read[:2] == records[:2] and read[2]["test_loss"] is None
    fig = plots.plot_curves(read)
    loss, recon, kl = ({line.get_label(): line for line in ax.get_lines()} for ax in fig.axes)
    np.testing.assert_array_equal(loss["train"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss["train"].get_ydata(), [210.5, 170.0, 160.0])
    np.testing.assert_array_equal(loss["test"].get_xdata(), [1])
    np.testing.assert_array_equal(recon["test"].get_ydata(), [181.0])
    np.testing.assert_array_equal(kl["test"].get_xdata(), [1, 3])
    np.testing.assert_array_equal(kl["train"].get_ydata(), [20.5, 22.0, 23.0])
    for ax in fig.axes:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "nats per example")
    assert fig.texts[0].get_text() == "Learning curves, in nats per example"


def test_plot_curves_says_when_the_losses_are_densities():
    record = {"epoch": 1, "train_loss": -900.0, "loss_unit": "nats, -log density"}
    title = plots.plot_curves([record]).texts[0].get_text()
    assert "-log densities" in title


def test_plot_curves_of_an_iwae_run_shows_the_bound_beside_the_elbo():
    records = [{"epoch": e, "objective": "iwae", "iwae_samples": 5,
                "train_loss": 150.0 - e, "test_loss": 148.0 - e,
                "train_iwae_loss": 140.0 - e, "test_iwae_loss": 139.0 - 2 * e,
                "train_recon": 120.0, "test_recon": 119.0, "train_kl": 30.0, "test_kl": 29.0}
               for e in (1, 2, 3)]
    fig = plots.plot_curves(records)
    loss, recon, _ = ({line.get_label(): line for line in ax.get_lines()} for ax in fig.axes)
    bound = "$-\\mathcal{L}_{5}$"
    assert sorted(loss) == sorted(["train -ELBO", "test -ELBO", f"train {bound}",
                                   f"test {bound}"])
    np.testing.assert_array_equal(loss[f"test {bound}"].get_ydata(), [137.0, 135.0, 133.0])
    np.testing.assert_array_equal(loss["train -ELBO"].get_ydata(), [149.0, 148.0, 147.0])
    assert loss[f"train {bound}"].get_linestyle() == "--"
    assert loss["train -ELBO"].get_linestyle() == "-"
    assert fig.axes[0].get_title() == f"Negative ELBO and negative IWAE bound {bound}"
    assert sorted(recon) == ["test", "train"]             # the other panels are the ELBO's
    elbo_only = plots.plot_curves([{k: v for k, v in r.items() if "iwae" not in k}
                                   for r in records])
    assert elbo_only.axes[0].get_title() == "Negative ELBO"
    assert sorted(line.get_label() for line in elbo_only.axes[0].get_lines()) == \
        ["test", "train"]


def test_read_metrics_skips_a_last_line_still_being_written(tmp_path):
    path = write_lines(tmp_path / "m.jsonl", ['{"epoch": 1, "train_loss": 3.0}',
                                              '{"epoch": 2, "train_lo'], end="")
    assert read_metrics(path) == [{"epoch": 1, "train_loss": 3.0}]


@pytest.mark.parametrize("lines, message", [
    (['{"epoch": 1}', '{"epoch": 2,', '{"epoch": 3}'], "line 2: not valid JSON"),
    (['{"epoch": 1}', "[1, 2]"], r"line 2: expected a JSON object"),
])
def test_read_metrics_rejects_bad_lines(tmp_path, lines, message):
    with pytest.raises(ValueError, match=message):
        read_metrics(write_lines(tmp_path / "m.jsonl", lines))


@pytest.mark.parametrize("metrics, message", [
    ([], "metrics must hold at least one record"),
    ([{"train_loss": 1.0}], r"metrics\[0\] must be a dict with a number under \"epoch\""),
    ([{"epoch": 1, "lr": 0.1}], "metrics has no values to plot"),
    ("metrics.jsonl", r"metrics must be a list of dicts; to read a file, pass read_metrics"),
])
def test_plot_curves_rejects_bad_metrics(metrics, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_curves(metrics)


# ---------------------------------------------------------------- saving


def test_save_figure_writes_other_formats(tmp_path):
    fig = plots.image_grid(np.zeros((1, 784)))
    plots.save_figure(fig, tmp_path / "grid.pdf")
    plots.save_figure(fig, str(tmp_path / "grid.svg"))
    assert (tmp_path / "grid.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (tmp_path / "grid.svg").read_bytes()[:1000]
    assert sorted(os.listdir(tmp_path)) == ["grid.pdf", "grid.svg"]    # nothing else


def test_save_figure_leaves_the_old_file_when_it_fails(tmp_path, monkeypatch):
    path = tmp_path / "figure.png"
    path.write_bytes(b"the old figure")
    fig = plots.image_grid(np.zeros((1, 784)))

    def fail_halfway(file, **kwargs):
        file.write(b"half a PNG")
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", fail_halfway)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save_figure(fig, path)
    assert path.read_bytes() == b"the old figure"
    assert sorted(os.listdir(tmp_path)) == ["figure.png"]        # no temporary file left


@pytest.mark.parametrize("name, dpi, message", [
    ("figure.xyz", 100, r"path must end in one of \[.*'\.png'"),
    ("figure", 100, "path must end in one of"),
    ("missing/figure.png", 100, "path must be in an existing folder"),
    ("figure.png", 0, "dpi must be a finite number > 0; got 0"),
])
def test_save_figure_rejects_bad_arguments(tmp_path, name, dpi, message):
    with pytest.raises(ValueError, match=message):
        plots.save_figure(plots.image_grid(np.zeros((1, 784))), tmp_path / name, dpi=dpi)


# ---------------------------------------------------------------- the conditional VAE

FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")


def conditional_model(likelihood="bernoulli"):
    return VAE(784, 3, hidden=(16,), likelihood=likelihood, n_classes=10, seed=4)


def test_plot_class_grid_gives_a_row_to_each_class_and_a_column_to_each_z():
    model = conditional_model()
    fig = plots.plot_class_grid(model, 4, np.random.default_rng(2), class_names=FASHION)
    out = generate(model, 4, np.random.default_rng(2), y=np.zeros(4, int))   # the same z
    mosaic = mosaic_of(fig)
    assert mosaic.shape == (10 * 28 + 9 * plots.GAP, 4 * 28 + 3 * plots.GAP)
    for c, j in [(0, 0), (3, 1), (9, 3)]:                # cell (c, j): z_j with the label c
        expected = model.decode(out["z"][j:j + 1], np.array([c]))["mean"]
        np.testing.assert_allclose(cell(mosaic, c, j), expected.reshape(28, 28), atol=1e-6)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(FASHION)
    assert "one row per class, the same 4 z in every row" in ax.get_title()
    assert "the style stays down a column" in ax.get_xlabel()
    draws = mosaic_of(plots.plot_class_grid(model, 2, np.random.default_rng(2), draws=True))
    assert set(np.unique(draws[~np.isnan(draws)])) == {0.0, 1.0}


def test_plot_class_grid_refuses_what_it_cannot_draw():
    with pytest.raises(ValueError, match="class_names must name the model's 10 classes; "
                                         "got 3 names"):
        plots.plot_class_grid(conditional_model(), 2, np.random.default_rng(0),
                              class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="class_grid needs a conditional model"):
        plots.plot_class_grid(VAE(784, 2, hidden=(16,)), 2, np.random.default_rng(0))


def test_plot_samples_of_one_class_says_which():
    model = conditional_model("gaussian")
    y = np.full(6, 3)
    fig = plots.plot_samples(model, 6, np.random.default_rng(1), y=y, class_names=FASHION)
    title = fig.axes[0].get_title()
    assert title.startswith("Decoder means $\\mu_x(z, y)$") and "class 3 (Dress)" in title
    expected = generate(model, 6, np.random.default_rng(1), y=y)["mean"]
    np.testing.assert_allclose(cell(mosaic_of(fig), 1, 2), np.clip(expected[5], 0, 1)
                               .reshape(28, 28), atol=1e-6)
    mixed = plots.plot_samples(model, 2, np.random.default_rng(1), y=np.array([1, 2]))
    assert "each with its class y" in mixed.axes[0].get_title()
    with pytest.raises(ValueError, match=r"y is required: this model is conditional"):
        plots.plot_samples(model, 2, np.random.default_rng(1))


def test_plot_reconstructions_of_a_conditional_model_reads_the_labels(trained):
    _, x, labels = trained
    model = conditional_model()
    y = np.asarray(labels[:3], dtype=np.int64)
    fig = plots.plot_reconstructions(model, x[:3], y=y)
    recon = model.decode(model.encode(x[:3], y)[0], y)["mean"]
    np.testing.assert_allclose(cell(mosaic_of(fig), 1, 2), recon[2].reshape(28, 28),
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"y is required: this model is conditional"):
        plots.plot_reconstructions(model, x[:3])

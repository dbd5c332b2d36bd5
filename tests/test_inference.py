"""Tests of numpyvae.inference: generation, latent factors, pictures of z, Phi^{-1}.

Each result is compared with an independent oracle: sample statistics with tolerances derived
from the sample size (5 standard errors; the seeds are fixed, so a test never flickers), the
model's own encode/decode called directly, closed forms, and the standard library's
statistics.NormalDist for the normal quantiles.
"""
import math
import re
import statistics

import numpy as np
import pytest

from numpyvae import VAE
from numpyvae.inference import (generate, interpolate, inverse_normal_cdf, latent_factors,
                                manifold_grid, normal_cdf, pca_2d, reconstruct)

NORMAL = statistics.NormalDist()


def small_model(likelihood="bernoulli", x_dim=6, z_dim=3, **kwargs):
    return VAE(x_dim, z_dim, hidden=(8,), likelihood=likelihood, seed=1, **kwargs)


def images(n, x_dim=784, seed=0):
    return np.random.default_rng(seed).random((n, x_dim), dtype=np.float32)


# ---------------------------------------------------------------- generate


def test_generate_z_is_standard_normal():
    n = 40_000
    out = generate(small_model(), n, np.random.default_rng(0))
    z = out["z"]
    assert z.shape == (n, 3) and z.dtype == np.float32
    z = z.astype(np.float64)
    # Standard errors: of a mean 1/sqrt(n), of a variance sqrt(2/n), of a correlation 1/sqrt(n).
    np.testing.assert_array_less(np.abs(z.mean(axis=0)), 5 / math.sqrt(n))
    np.testing.assert_array_less(np.abs(z.var(axis=0) - 1), 5 * math.sqrt(2 / n))
    correlation = np.corrcoef(z, rowvar=False)[np.triu_indices(3, k=1)]
    np.testing.assert_array_less(np.abs(correlation), 5 / math.sqrt(n))


def test_generate_mean_is_the_decoder_at_z():
    model = small_model()
    out = generate(model, 50, np.random.default_rng(1))
    assert set(out) == {"z", "mean"}                       # Bernoulli: no sigma, no draws
    assert out["mean"].shape == (50, 6) and out["mean"].dtype == np.float32
    np.testing.assert_array_equal(out["mean"], model.decode(out["z"])["mean"])


def test_generate_bernoulli_draws_are_0_or_1_with_frequency_mean():
    n = 100_000
    out = generate(small_model(), n, np.random.default_rng(2), draws=True)
    x, p = out["x"], out["mean"].astype(np.float64)
    assert x.shape == (n, 6) and x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0}
    # Each x_nd is Bernoulli(p_nd), independently: sum_n (x_nd - p_nd) has variance
    # sum_n p_nd (1 - p_nd).
    error = (x - p).sum(axis=0)
    standard_error = np.sqrt((p * (1 - p)).sum(axis=0))
    np.testing.assert_array_less(np.abs(error), 5 * standard_error)


def test_generate_gaussian_draws_have_the_decoder_mean_and_sigma():
    n = 50_000
    model = small_model("gaussian")
    out = generate(model, n, np.random.default_rng(3), draws=True)
    assert set(out) == {"z", "mean", "sigma", "x"}
    assert out["sigma"].shape == (n, 6) and out["x"].dtype == np.float32
    np.testing.assert_array_equal(out["sigma"], model.decode(out["z"])["sigma"])
    residual = ((out["x"] - out["mean"]) / out["sigma"]).astype(np.float64).ravel()
    assert abs(residual.mean()) < 5 / math.sqrt(residual.size)
    assert abs(residual.var() - 1) < 5 * math.sqrt(2 / residual.size)


def test_generate_fixed_sigma_is_the_given_constant():
    out = generate(small_model("gaussian-fixed", sigma_x=0.3), 20, np.random.default_rng(4))
    assert out["sigma"].shape == (20, 6)
    np.testing.assert_array_equal(out["sigma"], np.float32(0.3))
    out["sigma"][0, 0] = 1.0                               # a plain, writable array


def test_generate_with_and_without_draws_share_z_and_means():
    model = small_model()
    plain = generate(model, 30, np.random.default_rng(5))
    drawn = generate(model, 30, np.random.default_rng(5), draws=True)
    np.testing.assert_array_equal(plain["z"], drawn["z"])
    np.testing.assert_array_equal(plain["mean"], drawn["mean"])


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "10"])
def test_generate_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        generate(small_model(), n, np.random.default_rng(0))


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0)])
def test_generate_rejects_a_rng_that_is_not_a_generator(rng):
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        generate(small_model(), 3, rng)


def test_generate_rejects_draws_that_is_not_a_bool():
    with pytest.raises(ValueError, match="draws must be True or False; got 'yes'"):
        generate(small_model(), 3, np.random.default_rng(0), draws="yes")


# ---------------------------------------------------------------- latent factors


def test_latent_factors_in_batches_equal_encode_at_once(monkeypatch):
    model = VAE(784, 4, hidden=(32,), seed=2)
    x = images(250)
    mu_all, sigma_all = model.encode(x)
    batches = []
    encode = model.encode
    monkeypatch.setattr(model, "encode",
                        lambda xb, y=None: batches.append(len(xb)) or encode(xb, y))
    mu, sigma = latent_factors(model, x, batch_size=60)
    assert batches == [60, 60, 60, 60, 10]                 # memory bounded by batch_size
    assert mu.shape == sigma.shape == (250, 4) and mu.dtype == np.float32
    np.testing.assert_allclose(mu, mu_all, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma, sigma_all, rtol=1e-5, atol=1e-6)


def test_latent_factors_of_uint8_images_are_checked_by_the_model():
    model = VAE(784, 2, hidden=(16,))
    pixels = (images(5) * 255).astype(np.uint8)
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        latent_factors(model, pixels)


@pytest.mark.parametrize("shape", [(5, 100), (784,), (0, 784), (2, 28, 28)])
def test_latent_factors_reject_a_wrong_image_size(shape):
    model = VAE(784, 2, hidden=(16,))
    with pytest.raises(ValueError) as err:
        latent_factors(model, np.zeros(shape, dtype=np.float32))
    assert "x must have shape (N, 784)" in str(err.value)
    assert f"got shape {shape}" in str(err.value)


def test_latent_factors_reject_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        latent_factors(VAE(784, 2, hidden=(16,)), images(3), batch_size=0)


# ---------------------------------------------------------------- reconstruct


def test_reconstruct_is_the_decoder_mean_at_the_latent_mean():
    model = VAE(784, 3, hidden=(32,), seed=3)
    x = images(40)
    expected = model.decode(model.encode(x)[0])["mean"]
    np.testing.assert_allclose(reconstruct(model, x, batch_size=7), expected,
                               rtol=1e-5, atol=1e-6)
    single = reconstruct(model, x[3])
    assert single.shape == (784,)
    np.testing.assert_allclose(single, expected[3], rtol=1e-5, atol=1e-6)


def test_reconstruct_rejects_a_wrong_image_size():
    model = VAE(784, 2, hidden=(16,))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 784\).*got shape \(4, 100\)"):
        reconstruct(model, images(4, x_dim=100))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 784\) or \(784,\) for one "
                                         r"image; got shape \(100,\)"):
        reconstruct(model, np.zeros(100))


# ---------------------------------------------------------------- interpolate


def test_interpolate_runs_evenly_from_one_latent_mean_to_the_other():
    model = VAE(784, 3, hidden=(32,), seed=4)
    x = images(2)
    mu = np.concatenate([model.encode(x[:1])[0], model.encode(x[1:])[0]])   # one at a time
    z_path, path_images = interpolate(model, x[0], x[1:2], steps=7)
    assert z_path.shape == (7, 3) and path_images.shape == (7, 784)
    np.testing.assert_array_equal(z_path[0], mu[0])
    np.testing.assert_array_equal(z_path[-1], mu[1])
    step = (mu[1] - mu[0]) / 6
    np.testing.assert_allclose(np.diff(z_path, axis=0), np.tile(step, (6, 1)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path_images, model.decode(z_path)["mean"], rtol=1e-5, atol=1e-6)


def test_interpolate_rejects_bad_arguments():
    model = VAE(784, 2, hidden=(16,))
    x = images(2)
    with pytest.raises(ValueError, match="steps must be an integer >= 2; got 1"):
        interpolate(model, x[0], x[1], steps=1)
    with pytest.raises(ValueError, match=r"x_b must be one image of shape \(784,\)"):
        interpolate(model, x[0], x)
    with pytest.raises(ValueError, match=r"x_a must be one image.*got shape \(100,\)"):
        interpolate(model, np.zeros(100), x[1])


# ---------------------------------------------------------------- manifold grid


def test_manifold_grid_linear_is_read_row_by_row_with_z2_up():
    model = VAE(784, 2, hidden=(16,), seed=5)
    n, span = 5, 1.5
    z_grid, grid_images = manifold_grid(model, n=n, span=span)
    assert z_grid.shape == (25, 2) and grid_images.shape == (25, 784)
    value = [-span + 2 * span * k / (n - 1) for k in range(n)]     # written out
    for i in range(n):             # row of the picture, from the top
        for j in range(n):         # column, from the left
            np.testing.assert_allclose(z_grid[i * n + j], [value[j], value[n - 1 - i]],
                                       atol=1e-6)
    np.testing.assert_allclose(grid_images, model.decode(z_grid)["mean"], rtol=1e-5, atol=1e-6)


def test_manifold_grid_quantile_is_evenly_spaced_in_probability():
    model = VAE(784, 2, hidden=(16,), seed=5)
    n, span = 6, 2.0
    z_grid, _ = manifold_grid(model, n=n, span=span, spacing="quantile")
    p_low = NORMAL.cdf(-span)
    expected = [NORMAL.inv_cdf(p_low + (1 - 2 * p_low) * k / (n - 1)) for k in range(n)]
    np.testing.assert_allclose(z_grid[:n, 0], expected, atol=1e-6)           # z_1, left to right
    np.testing.assert_allclose(z_grid[::n, 1], expected[::-1], atol=1e-6)    # z_2, top to bottom


def test_manifold_grid_needs_a_2d_latent_space():
    with pytest.raises(ValueError) as err:
        manifold_grid(VAE(784, 5, hidden=(16,)))
    assert str(err.value) == ("manifold needs z_dim = 2; this model has z_dim = 5. Use "
                              "scatter, which projects onto two principal components")


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 1}, "n must be an integer >= 2; got 1"),
    ({"n": 0}, "n must be an integer >= 2; got 0"),
    ({"span": 0}, "span must be a finite number > 0; got 0"),
    ({"span": float("inf")}, "span must be a finite number > 0; got inf"),
    ({"spacing": "log"}, "spacing must be one of ['linear', 'quantile']; got 'log'"),
    ({"span": 50, "spacing": "quantile"}, "span must be at most 37 for spacing='quantile'"),
])
def test_manifold_grid_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as err:
        manifold_grid(VAE(784, 2, hidden=(16,)), **kwargs)
    assert message in str(err.value)


# ---------------------------------------------------------------- the normal CDF and its inverse


@pytest.mark.parametrize("p, quantile", [
    (0.5, 0.0),
    (0.975, 1.959963984540054),          # the 95% two-sided interval
    (0.025, -1.959963984540054),
    (0.95, 1.6448536269514722),
    (0.99, 2.3263478740408408),
    (0.999, 3.090232306167813),
    (0.8413447460685429, 1.0),           # Phi(1)
    (1e-10, -6.361340902404056),
])
def test_inverse_normal_cdf_known_quantiles(p, quantile):
    assert inverse_normal_cdf(p) == pytest.approx(quantile, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("x, p", [
    (0.0, 0.5),
    (1.0, 0.8413447460685429),
    (-3.0, 0.0013498980316301),
    (-10.0, 7.619853024160527e-24),      # far in the tail: full relative precision
])
def test_normal_cdf_known_values(x, p):
    assert normal_cdf(x) == pytest.approx(p, rel=1e-12)


def test_inverse_normal_cdf_round_trips_through_the_cdf():
    # normal_cdf, not NormalDist.cdf: the latter computes 1 + erf and so loses the tail.
    x = np.linspace(-8, 8, 321)
    p = normal_cdf(x)
    np.testing.assert_allclose(inverse_normal_cdf(p[x < 0]), x[x < 0], rtol=1e-12)
    # Above 0, p rounds to a multiple of 2^-53 near 1: x comes back to within that rounding.
    np.testing.assert_allclose(inverse_normal_cdf(p[(x > 0) & (x < 5)]), x[(x > 0) & (x < 5)],
                               rtol=1e-9)
    assert inverse_normal_cdf(p).shape == (321,)
    assert np.all(np.diff(inverse_normal_cdf(np.linspace(0.01, 0.99, 99))) > 0)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_inverse_normal_cdf_rejects_p_outside_0_1(p):
    with pytest.raises(ValueError, match="p must lie strictly between 0 and 1"):
        inverse_normal_cdf([0.5, p])


# ---------------------------------------------------------------- pca_2d


def test_pca_2d_finds_known_directions():
    # Points on a product grid t u + s w + offset: t and s are uncorrelated, with variances 4
    # and 1/2, along orthonormal directions u and w of R^5.
    u = np.array([1, 2, 0, 2, 0]) / 3.0
    w = np.array([0, 0, 3, 0, 4]) / 5.0
    t, s = np.meshgrid(np.linspace(-3, 3, 7), np.linspace(-1, 1, 5))
    t, s = t.ravel(), s.ravel()
    offset = np.array([10.0, -4.0, 2.0, 0.0, 7.0])
    points = t[:, None] * u + s[:, None] * w + offset
    projected, components, ratio = pca_2d(points)
    np.testing.assert_allclose(components, [u, w], atol=1e-12)   # largest entry positive
    np.testing.assert_allclose(projected, np.column_stack([t, s]), atol=1e-12)
    np.testing.assert_allclose(ratio, [4 / 4.5, 0.5 / 4.5], rtol=1e-12)


def test_pca_2d_agrees_with_the_eigenvectors_of_the_covariance():
    rng = np.random.default_rng(6)
    points = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    projected, components, ratio = pca_2d(points)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(points, rowvar=False))
    np.testing.assert_allclose(ratio, eigenvalues[::-1][:2] / eigenvalues.sum(), rtol=1e-10)
    assert ratio.sum() <= 1
    for k in range(2):
        v = eigenvectors[:, -1 - k]
        np.testing.assert_allclose(abs(components[k] @ v), 1, rtol=1e-10)
    np.testing.assert_allclose(projected.var(axis=0, ddof=1), eigenvalues[::-1][:2],
                               rtol=1e-10)


def test_pca_2d_of_coinciding_points_explains_nothing():
    _, _, ratio = pca_2d(np.ones((4, 3)))
    np.testing.assert_array_equal(ratio, [0, 0])


@pytest.mark.parametrize("shape", [(10,), (10, 1), (1, 4), (2, 3, 4)])
def test_pca_2d_rejects_a_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"points must have shape \(N, K\).*" + re.escape(str(shape))):
        pca_2d(np.zeros(shape))

"""The reparameterization z_j = mu + sigma * v_j: its gradients and its statistics."""
import numpy as np
import pytest

from numpyvae.gradcheck import BAR_SMOOTH, check_gradients
from numpyvae.reparam import draw_noise, reparameterize_backward, reparameterize_forward


@pytest.mark.points(1, task="reparameterize")
@pytest.mark.parametrize("r", [1, 4])
def test_reparameterization_gradients(r):
    rng = np.random.default_rng(r)
    mu = rng.standard_normal((3, 2))
    sigma = rng.uniform(0.2, 2.0, size=(3, 2))
    v = rng.standard_normal((r, 3, 2))
    dz = rng.standard_normal((r, 3, 2))
    _, cache = reparameterize_forward(mu, sigma, v)
    dmu, dsigma = reparameterize_backward(dz, cache)
    report = check_gradients(lambda: np.sum(reparameterize_forward(mu, sigma, v)[0] * dz),
                             {"mu": mu, "sigma": sigma}, {"mu": dmu, "sigma": dsigma},
                             bar=BAR_SMOOTH, equations={"mu": (10,), "sigma": (11,)})
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="reparameterize")
def test_reparameterization_sums_over_the_samples():
    """With dL/dz_j = 1 for every j, dL/dmu counts the r samples, eq. (10)."""
    mu, sigma = np.zeros((2, 3)), np.ones((2, 3))
    v = np.random.default_rng(0).standard_normal((5, 2, 3))
    _, cache = reparameterize_forward(mu, sigma, v)
    dmu, dsigma = reparameterize_backward(np.ones_like(v), cache)
    np.testing.assert_allclose(dmu, 5.0)
    np.testing.assert_allclose(dsigma, v.sum(axis=0))


@pytest.mark.points(1, task="reparameterize")
@pytest.mark.parametrize("sigma_value", [0.3, 2.5])
def test_sampled_z_has_mean_mu_and_standard_deviation_sigma(sigma_value):
    """The check a gradient check cannot make: sigma scales v, not sigma^2.

    With sigma = 0.3 the standard deviation of sigma^2 * v would be 0.09, with 2.5 it would
    be 6.25; the tolerances below are a few standard errors of the estimates.
    """
    n = 200_000
    mu = np.array([[1.5, -2.0]])
    sigma = np.array([[sigma_value, 1.0]])
    v = draw_noise(np.random.default_rng(7), n, 1, 2)
    z, _ = reparameterize_forward(mu, sigma, v)
    z = z[:, 0, :]
    se_mean = sigma[0] / np.sqrt(n)
    se_std = sigma[0] / np.sqrt(2 * n)
    np.testing.assert_array_less(np.abs(z.mean(axis=0) - mu[0]), 5 * se_mean)
    np.testing.assert_array_less(np.abs(z.std(axis=0) - sigma[0]), 5 * se_std)


def test_draw_noise_shape_and_dtype():
    v = draw_noise(np.random.default_rng(0), 3, 4, 5, dtype=np.float32)
    assert v.shape == (3, 4, 5) and v.dtype == np.float32

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
    """Eqs. (10)-(11) by hand: r = 3 samples of one example with K = 2.

    dL/dmu = dz_1 + dz_2 + dz_3 = (1 + 2 + 1, 1 + 1 - 1) = (4, 1), and
    dL/dsigma = v_1 dz_1 + v_2 dz_2 + v_3 dz_3 = (1 + 1 - 1, -2 + 1 - 3) = (1, -4).
    """
    mu, sigma = np.zeros((1, 2)), np.ones((1, 2))
    v = np.array([[[1.0, -2.0]], [[0.5, 1.0]], [[-1.0, 3.0]]])
    dz = np.array([[[1.0, 1.0]], [[2.0, 1.0]], [[1.0, -1.0]]])
    _, cache = reparameterize_forward(mu, sigma, v)
    dmu, dsigma = reparameterize_backward(dz, cache)
    np.testing.assert_allclose(
        dmu, [[4.0, 1.0]], rtol=1e-12,
        err_msg="eq. (10): dL/dmu adds up dL/dz_j over the r samples (a sum, not a mean, and "
                "not one sample only), giving one row per example, shape (B, K)")
    np.testing.assert_allclose(
        dsigma, [[1.0, -4.0]], rtol=1e-12,
        err_msg="eq. (11): dL/dsigma adds up v_j * dL/dz_j over the r samples: each sample's "
                "dz is weighted by its own noise v_j (not by sigma, not by v_j^2)")


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
    assert np.shape(z) == (n, 1, 2), (
        f"z must have shape (r, B, K) = {(n, 1, 2)}, one row per noise draw; got "
        f"{np.shape(z)} (eq. (9))")
    z = z[:, 0, :]
    mean, std = z.mean(axis=0), z.std(axis=0)
    se_mean = sigma[0] / np.sqrt(n)
    se_std = sigma[0] / np.sqrt(2 * n)
    for k in range(2):
        assert abs(mean[k] - mu[0, k]) < 5 * se_mean[k], (
            f"the sample mean of z[..., {k}] is {mean[k]:.4f}, but z = mu + sigma v has mean "
            f"mu = {mu[0, k]} (eq. (9)); it differs by {abs(mean[k] - mu[0, k]):.3g}, more "
            f"than 5 standard errors ({5 * se_mean[k]:.3g}): check that mu is added")
        assert abs(std[k] - sigma[0, k]) < 5 * se_std[k], (
            f"the sample standard deviation of z[..., {k}] is {std[k]:.4f}, but z = mu + "
            f"sigma v has standard deviation sigma = {sigma[0, k]} (eq. (9)); it differs by "
            f"{abs(std[k] - sigma[0, k]):.3g}, more than 5 standard errors "
            f"({5 * se_std[k]:.3g}): check sigma against sigma^2, the noise is scaled by the "
            f"standard deviation")


def test_draw_noise_shape_and_dtype():
    v = draw_noise(np.random.default_rng(0), 3, 4, 5, dtype=np.float32)
    assert v.shape == (3, 4, 5) and v.dtype == np.float32

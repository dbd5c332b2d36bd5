"""The closed-form KL(N(mu, sigma^2) || N(0, I)): gradients, and a Monte Carlo check."""
import numpy as np
import pytest

from numpyvae.gradcheck import BAR_SMOOTH, check_gradients
from numpyvae.kl import kl_backward, kl_forward
from numpyvae.sigma import log_var_backward, log_var_forward, softplus_backward, softplus_forward


def _mu_sigma(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 3)), rng.uniform(0.3, 2.0, size=(4, 3))


@pytest.mark.points(1, task="kl")
def test_kl_gradients_with_respect_to_mu_and_sigma():
    mu, sigma = _mu_sigma()
    dkl = np.random.default_rng(1).standard_normal(4)
    _, cache = kl_forward(mu, sigma)
    dmu, dsigma = kl_backward(dkl, cache)
    report = check_gradients(lambda: np.sum(kl_forward(mu, sigma)[0] * dkl),
                             {"mu": mu, "sigma": sigma}, {"mu": dmu, "sigma": dsigma},
                             bar=BAR_SMOOTH, equations={"mu": (13,), "sigma": (14,)})
    assert report.passed, report.failure_message()


def test_kl_gradient_through_log_sigma_squared():
    """eq. (15): dKL/ds = (exp(s) - 1) / 2, by chaining eq. (14) with eq. (7)."""
    rng = np.random.default_rng(2)
    mu, s = rng.standard_normal((4, 3)), rng.uniform(-3, 3, size=(4, 3))
    dkl = rng.standard_normal(4)

    def f():
        sigma, _ = log_var_forward(s)
        return np.sum(kl_forward(mu, sigma)[0] * dkl)

    sigma, sigma_cache = log_var_forward(s)
    _, cache = kl_forward(mu, sigma)
    _, dsigma = kl_backward(dkl, cache)
    ds = log_var_backward(dsigma, sigma_cache)
    np.testing.assert_allclose(ds, dkl[:, None] * (np.exp(s) - 1) / 2, rtol=1e-12)
    report = check_gradients(f, {"s": s}, {"s": ds}, bar=BAR_SMOOTH, equations={"s": (14, 7, 15)})
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="sigma")
def test_log_var_sigma_gradient():
    """eq. (7) alone, without the KL: dL/ds = dL/dsigma * sigma / 2."""
    rng = np.random.default_rng(4)
    s, dsigma = rng.uniform(-4, 4, size=(5, 2)), rng.standard_normal((5, 2))
    _, cache = log_var_forward(s)
    ds = log_var_backward(dsigma, cache)
    report = check_gradients(lambda: np.sum(log_var_forward(s)[0] * dsigma),
                             {"s": s}, {"s": ds}, bar=BAR_SMOOTH, equations={"s": (6, 7)})
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="sigma")
def test_softplus_sigma_gradient():
    rng = np.random.default_rng(3)
    s, dsigma = rng.uniform(-4, 4, size=(5, 2)), rng.standard_normal((5, 2))
    _, cache = softplus_forward(s, floor=0.01)
    ds = softplus_backward(dsigma, cache)
    report = check_gradients(lambda: np.sum(softplus_forward(s, 0.01)[0] * dsigma),
                             {"s": s}, {"s": ds}, bar=BAR_SMOOTH, equations={"s": (8,)})
    assert report.passed, report.failure_message()


def test_log_var_parameterization_gives_standard_deviation():
    s = np.log(np.array([[0.25, 4.0]]))            # variances 0.25 and 4
    sigma, _ = log_var_forward(s)
    np.testing.assert_allclose(sigma, [[0.5, 2.0]], rtol=1e-12)


@pytest.mark.points(1, task="kl")
@pytest.mark.parametrize("seed", [0, 1])
def test_closed_form_matches_monte_carlo(seed):
    """KL = E_q[log q(z) - log p(z)], estimated from 400k draws of z ~ q.

    log q and log p are the Gaussian log-densities written out; the tolerance is five
    standard errors of the Monte Carlo mean.
    """
    mu, sigma = _mu_sigma(seed)
    n = 400_000
    rng = np.random.default_rng(10 + seed)
    z = mu + sigma * rng.standard_normal((n,) + mu.shape)
    log_q = np.sum(-0.5 * np.log(2 * np.pi * sigma ** 2) - (z - mu) ** 2 / (2 * sigma ** 2), axis=-1)
    log_p = np.sum(-0.5 * np.log(2 * np.pi) - z ** 2 / 2, axis=-1)
    samples = log_q - log_p                        # (n, B)
    estimate, se = samples.mean(axis=0), samples.std(axis=0) / np.sqrt(n)
    kl, _ = kl_forward(mu, sigma)
    np.testing.assert_array_less(np.abs(kl - estimate), 5 * se)


@pytest.mark.points(1, task="kl")
def test_kl_sums_over_latent_dimensions_not_the_batch():
    """One value per example: the notes' sum over the wrong index would mix examples."""
    mu = np.array([[0.0, 0.0], [1.0, 2.0]])
    sigma = np.ones((2, 2))
    kl, _ = kl_forward(mu, sigma)
    np.testing.assert_allclose(kl, [0.0, 0.5 * (1 + 4)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_is_finite_for_extreme_log_variances(dtype):
    s = np.linspace(-50, 50, 11, dtype=dtype)[None, :]
    mu = np.zeros_like(s)
    with np.errstate(all="raise"):
        sigma, sigma_cache = log_var_forward(s)
        kl, cache = kl_forward(mu, sigma)
        _, dsigma = kl_backward(np.ones(1, dtype=dtype), cache)
        ds = log_var_backward(dsigma, sigma_cache)
    assert kl.dtype == dtype and ds.dtype == dtype
    assert np.isfinite(kl).all() and np.isfinite(ds).all()
    np.testing.assert_allclose(ds, (np.exp(s.astype(float)) - 1) / 2, rtol=1e-3)

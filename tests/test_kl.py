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
    """eq. (7) alone, without the KL: the chain rule through sigma = exp(s/2)."""
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

    z is drawn by numpy's own normal sampler; log q(z) / p(z) is the ratio of the Gaussian
    densities as section 5.1 of the derivation writes it, summed over the K dimensions; the
    tolerance is five standard errors of the Monte Carlo mean.
    """
    mu, sigma = _mu_sigma(seed)
    n = 400_000
    rng = np.random.default_rng(10 + seed)
    z = rng.normal(loc=mu, scale=sigma, size=(n,) + mu.shape)
    samples = 0.5 * np.sum(z ** 2 - ((z - mu) / sigma) ** 2 - np.log(sigma ** 2), axis=-1)  # (n, B)
    estimate, se = samples.mean(axis=0), samples.std(axis=0) / np.sqrt(n)
    kl, _ = kl_forward(mu, sigma)
    assert np.shape(kl) == estimate.shape, (
        f"kl must have shape (B,) = {estimate.shape}, one value per example summed over the "
        f"K latent dimensions; got {np.shape(kl)} (eq. (12))")
    for i in range(len(estimate)):
        assert abs(kl[i] - estimate[i]) < 5 * se[i], (
            f"example {i}: the KL differs from the Monte Carlo estimate of E_q[log q - log p] "
            f"by {abs(kl[i] - estimate[i]):.4g} (KL {kl[i]:.5f}, estimate {estimate[i]:.5f}, "
            f"more than 5 standard errors of {se[i]:.1g}): check sigma against sigma^2 in "
            f"eq. (12); the function takes the standard deviation sigma, and "
            f"log sigma^2 = 2 log sigma")


@pytest.mark.points(1, task="kl")
def test_kl_sums_over_latent_dimensions_not_the_batch():
    """One value per example: the notes' sum over the wrong index would mix examples.

    The first example is the prior itself, mu = 0 and sigma = 1, whose KL is 0; the second
    has mu = (1, 2) and sigma = 1: 1/2 (1 + 4) = 2.5 by eq. (12).
    """
    mu = np.array([[0.0, 0.0], [1.0, 2.0]])
    sigma = np.ones((2, 2))
    kl, _ = kl_forward(mu, sigma)
    np.testing.assert_allclose(
        kl, [0.0, 0.5 * (1 + 4)], atol=1e-15,
        err_msg="eq. (12): one KL per example, summed over the K latent dimensions (axis -1), "
                "not over the batch; it is 0 at the prior (mu = 0, sigma = 1)")


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

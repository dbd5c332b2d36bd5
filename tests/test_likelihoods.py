"""Decoder likelihoods: gradients with respect to their outputs, values, and extremes."""
import math

import numpy as np
import pytest

import oracle
from numpyvae.gradcheck import BAR_SMOOTH, check_gradients
from numpyvae.likelihoods import (bernoulli_nll_backward, bernoulli_nll_forward,
                                  gaussian_nll_backward, gaussian_nll_forward,
                                  gaussian_shared_nll_backward)
from numpyvae.stable import positive_part, sigmoid, softplus


def _data(seed=0, shape=(2, 3, 4)):
    rng = np.random.default_rng(seed)
    return rng, rng.uniform(0, 1, size=shape[1:])


@pytest.mark.points(1, task="bernoulli")
def test_bernoulli_gradient_with_respect_to_logits():
    rng, x = _data()
    logits = rng.uniform(-4, 4, size=(2, 3, 4))
    dnll = rng.standard_normal((2, 3))
    dlogits = bernoulli_nll_backward(dnll, bernoulli_nll_forward(x, logits)[1])
    report = check_gradients(lambda: np.sum(bernoulli_nll_forward(x, logits)[0] * dnll),
                             {"logits": logits}, {"logits": dlogits}, bar=BAR_SMOOTH,
                             equations={"logits": (16, 18)})
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="bernoulli")
def test_bernoulli_gradient_is_the_probability_minus_x_times_the_seed():
    """Eq. (18) by its value: dL/da = dL/dnll * (sigmoid(a) - x), each sample's seed
    broadcast over its pixels, shape (r, B, D) from x of shape (B, D)."""
    x = np.array([[0.0, 1.0, 0.25], [1.0, 0.0, 0.5]])
    logits = np.array([[[0.0, 2.0, -1.0], [3.0, -3.0, 0.5]],
                       [[-2.0, 0.0, 4.0], [1.0, 1.0, -1.0]]])
    dnll = np.array([[1.0, -2.0], [0.5, 3.0]])
    got = bernoulli_nll_backward(dnll, bernoulli_nll_forward(x, logits)[1])
    expected = np.empty_like(logits)
    for j in range(2):
        for i in range(2):
            for d in range(3):
                p = 1 / (1 + math.exp(-logits[j, i, d]))
                expected[j, i, d] = dnll[j, i] * (p - x[i, d])
    assert np.shape(got) == logits.shape, (
        f"dlogits must have the shape of the logits, {logits.shape}; got {np.shape(got)}: "
        f"dnll holds one seed per sample and example, shape (r, B), and each seed multiplies "
        f"all D pixels of its row (eq. (18))")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15,
                               err_msg="eq. (18): dL/da = dL/dnll * (sigmoid(a) - x)")


_EXTREMES = [-1000, -88.8, -17, -1e-30, 0, 1e-30, 17, 88.8, 1000]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_is_right_to_rounding_everywhere(dtype):
    """Eq. (17) against log(1 + e^a) in float64 from 0 to 1000 nats."""
    a = np.concatenate([np.linspace(-40, 40, 8001), _EXTREMES]).astype(dtype)
    got = softplus(a)
    assert got.dtype == dtype
    exact = np.logaddexp(0, a.astype(np.float64))
    # Within two units of the dtype's precision of max(1, the value).
    worst = np.argmax(np.abs(got - exact) / np.maximum(1, exact))
    assert abs(got[worst] - exact[worst]) <= 2 * np.finfo(dtype).eps * max(1, exact[worst]), (
        f"softplus at a = {a[worst]!r}: got {got[worst]!r}, exact {exact[worst]!r}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_right_to_rounding_everywhere_and_warns_of_nothing(dtype):
    """1 / (1 + e^-a), whose exp overflows to inf far below 0, against float64 (float128
    where numpy has it) for a from -1000 to 1000: a few units of relative precision, or
    the smallest normal number absolutely, in the far tail where float32 denormals lose
    digits."""
    a = np.concatenate([np.linspace(-120, 120, 24001), _EXTREMES, [-745, 745]]).astype(dtype)
    with np.errstate(all="raise"):
        got = sigmoid(a)
    assert got.dtype == dtype
    wide = np.longdouble if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else float
    exact = 1 / (1 + np.exp(-a.astype(wide)))
    error = np.abs(got - exact)
    allowed = 4 * np.finfo(dtype).eps * exact + np.finfo(dtype).tiny
    worst = np.argmax(error / allowed)
    assert error[worst] <= allowed[worst], (
        f"sigmoid({a[worst]!r}) = {got[worst]!r}, exact {float(exact[worst])!r}")
    assert got[a == -1000] == 0 and got[a == 1000] == 1


def test_sigmoid_keeps_nan_and_takes_infinities_to_their_limits():
    got = sigmoid(np.array([np.nan, -np.inf, np.inf, 0.0]))
    np.testing.assert_array_equal(got, [np.nan, 0.0, 1.0, 0.5])
    assert sigmoid(np.arange(-2, 3)).dtype == np.float64         # integers become float64
    assert sigmoid(np.float32(2.0)).dtype == np.float32


@pytest.mark.parametrize("a", [
    np.array([[-2.5, 0.0, 3.0], [-0.0, 1e-30, -1e-30]], dtype=np.float32),
    np.array([np.nan, -np.inf, np.inf, -7.0]),
    np.float32(-1.5), np.array(4.0), np.arange(-3, 3).reshape(2, 1, 3), [-1.0, 2.0]],
    ids=["float32 matrix", "float64 specials", "float32 scalar", "0-d", "int 3-d", "list"])
def test_positive_part_is_max_of_a_and_0_in_the_dtype_of_a(a):
    got = positive_part(a)
    assert got.dtype == np.asarray(a).dtype and got.shape == np.shape(a)
    np.testing.assert_array_equal(got, np.maximum(a, 0))      # nan stays nan


def test_bernoulli_loss_is_finite_and_exact_at_extreme_logits():
    """Eq. (16) with the softplus of eq. (17): x = 1 at a = -1000 and x = 0 at a = 1000 cost
    1000 nats each, exactly, with nothing overflowing."""
    x = np.array([[0.0, 1.0, 0.0, 1.0]])
    logits = np.array([[[-1000.0, -1000.0, 1000.0, 1000.0]]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        nll, _ = bernoulli_nll_forward(x, logits)
    assert nll[0, 0] == 2000.0


@pytest.mark.points(1, task="gaussian")
def test_gaussian_gradients_with_respect_to_mean_and_sigma():
    rng, x = _data(1)
    mean = rng.standard_normal((2, 3, 4))
    sigma = rng.uniform(0.2, 2.0, size=(2, 3, 4))
    dnll = rng.standard_normal((2, 3))
    dmean, dsigma = gaussian_nll_backward(dnll, gaussian_nll_forward(x, mean, sigma)[1])
    report = check_gradients(lambda: np.sum(gaussian_nll_forward(x, mean, sigma)[0] * dnll),
                             {"mean": mean, "sigma": sigma}, {"mean": dmean, "sigma": dsigma},
                             bar=BAR_SMOOTH, equations={"mean": (19, 20), "sigma": (19, 21)})
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="gaussian")
def test_gaussian_fixed_sigma_gradient_with_respect_to_mean():
    rng, x = _data(2)
    mean = rng.standard_normal((1, 3, 4))
    dnll = rng.standard_normal((1, 3))
    dmean, _ = gaussian_nll_backward(dnll, gaussian_nll_forward(x, mean, 0.7)[1])
    report = check_gradients(lambda: np.sum(gaussian_nll_forward(x, mean, 0.7)[0] * dnll),
                             {"mean": mean}, {"mean": dmean}, bar=BAR_SMOOTH,
                             equations={"mean": (19, 20)})
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="gaussian-shared")
def test_gaussian_shared_sigma_gradient_by_finite_differences():
    """One sigma_x of shape (1,) for every pixel of every sample: eqs. (20) and (47)."""
    rng, x = _data(5)
    mean = rng.uniform(0, 1, size=(2, 3, 4))
    sigma = np.array([0.3])
    dnll = rng.standard_normal((2, 3))
    dmean, dsigma = gaussian_shared_nll_backward(dnll, gaussian_nll_forward(x, mean, sigma)[1])
    assert np.shape(dsigma) == (1,), (
        f"dsigma must have the shape of sigma, (1,): one sigma_x is shared by all pixels, so "
        f"its gradient is one number (eq. (47)); got shape {np.shape(dsigma)}")
    report = check_gradients(lambda: np.sum(gaussian_nll_forward(x, mean, sigma)[0] * dnll),
                             {"mean": mean, "sigma": sigma}, {"mean": dmean, "sigma": dsigma},
                             bar=BAR_SMOOTH, equations={"mean": (19, 20), "sigma": (19, 47)})
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="gaussian-shared")
def test_gaussian_shared_sigma_gradient_is_eq_21_summed_over_every_pixel():
    """Eq. (47) by its value, from explicit loops: sum over samples j, examples i and pixels
    d of dL/dnll_ji (1/sigma - (x_id - mu_jid)^2 / sigma^3); float32 in, float32 out."""
    for dtype in (np.float64, np.float32):
        check_shared_sigma_gradient_value(dtype)


def check_shared_sigma_gradient_value(dtype):
    x = np.array([[0.0, 1.0, 0.25], [0.5, 0.75, 1.0]], dtype=dtype)
    mean = np.array([[[0.1, 0.8, 0.3], [0.5, 0.5, 0.9]],
                     [[0.0, 0.6, 0.2], [0.4, 0.9, 0.7]]], dtype=dtype)
    sigma = np.array([0.5], dtype=dtype)
    dnll = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=dtype)
    _, dsigma = gaussian_shared_nll_backward(dnll, gaussian_nll_forward(x, mean, sigma)[1])
    expected = 0.0
    for j in range(2):
        for i in range(2):
            for d in range(3):
                r = float(x[i, d]) - float(mean[j, i, d])
                expected += float(dnll[j, i]) * (1 / 0.5 - r * r / 0.5 ** 3)
    assert np.shape(dsigma) == (1,), (
        f"dsigma must have shape (1,), like sigma; got {np.shape(dsigma)} (eq. (47))")
    assert np.asarray(dsigma).dtype == dtype, (
        f"dsigma must keep the dtype of sigma, {np.dtype(dtype).name}; got "
        f"{np.asarray(dsigma).dtype}")
    np.testing.assert_allclose(
        dsigma, [expected], rtol=1e-5 if dtype == np.float32 else 1e-12,
        err_msg="eq. (47): the shared sigma_x is in every term of eq. (19), so its gradient is "
                "eq. (21) summed over every pixel d, example i and sample j, each term times "
                "its seed dL/dnll_ji")


def test_the_shared_sigma_gradient_vanishes_at_the_root_mean_square_residual():
    """What a gradient check cannot see: with the means fixed, the best shared sigma_x is the
    root-mean-square residual (eq. (47) set to zero), and (47) changes sign there."""
    rng, x = _data(6, shape=(3, 50, 20))
    mean = np.clip(x + rng.normal(0, 0.2, size=(3, 50, 20)), 0, 1)
    best = np.sqrt(np.mean((x - mean) ** 2))
    dnll = np.ones((3, 50))
    grad = {}
    for scale in (0.9, 1.0, 1.1):
        sigma = np.array([best * scale])
        grad[scale] = gaussian_shared_nll_backward(
            dnll, gaussian_nll_forward(x, mean, sigma)[1])[1][0]
    assert abs(grad[1.0]) < 1e-9 * (3 * 50 * 20) / best
    assert grad[0.9] < 0 < grad[1.1]


def test_bernoulli_nll_matches_its_formula():
    rng, x = _data(3)
    x[0, 0], x[1, 1] = 0.0, 1.0
    logits = rng.uniform(-6, 6, size=(3, 4))
    nll, _ = bernoulli_nll_forward(x, logits)
    p = 1 / (1 + np.exp(-logits))
    for i in range(3):
        assert nll[i] == pytest.approx(oracle.bernoulli_nll(x[i], p[i]), rel=1e-12)


def test_gaussian_nll_matches_its_formula():
    rng, x = _data(4)
    mean = rng.standard_normal((3, 4))
    sigma = rng.uniform(0.1, 3.0, size=(3, 4))
    nll, _ = gaussian_nll_forward(x, mean, sigma)
    for i in range(3):
        assert nll[i] == pytest.approx(oracle.gaussian_nll(x[i], mean[i], sigma[i]), rel=1e-12)


def test_bernoulli_nll_is_the_cross_entropy_at_a_known_point():
    """p = 0.5 costs log 2 per pixel; x = 1 with p = sigmoid(2) costs log(1 + e^-2)."""
    nll, _ = bernoulli_nll_forward(np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]]))
    assert nll[0] == pytest.approx(math.log(2) + math.log1p(math.exp(-2)), rel=1e-14)


@pytest.mark.points(1, task="bernoulli")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bernoulli_is_finite_for_huge_logits_and_binary_x(dtype):
    x = np.array([[0.0, 1.0, 0.0, 1.0]], dtype=dtype)
    logits = np.array([[[1000.0, -1000.0, -1000.0, 1000.0]]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        nll, cache = bernoulli_nll_forward(x, logits)
    # sigmoid(a) = 1 / (1 + e^-a) may overflow to 1 / inf = 0, which is right (eq. (17)).
    with np.errstate(over="ignore", under="ignore"):
        dlogits = bernoulli_nll_backward(np.ones((1, 1), dtype=dtype), cache)
    assert dlogits.dtype == dtype, (
        f"dlogits must keep the dtype of the logits, {np.dtype(dtype).name}; got "
        f"{dlogits.dtype}: build eq. (18) from the arrays given, so that a float32 model "
        f"stays float32")
    assert nll.dtype == dtype
    # Wrong by 1000 nats on pixels 0 and 1, right (cost ~0) on 2 and 3.
    np.testing.assert_allclose(nll, [[2000.0]], rtol=1e-6)
    np.testing.assert_allclose(
        dlogits, [[[1.0, -1.0, 0.0, 0.0]]], atol=1e-6,
        err_msg="eq. (18) at logits of +-1000: sigmoid(a) - x is 1 or -1 on a wrong pixel and "
                "0 on a right one; use the sigmoid of numpyvae.stable (eq. (17)), and never "
                "go through log p or 1 / (p (1 - p))")

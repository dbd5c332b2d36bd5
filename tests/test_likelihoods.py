"""Decoder likelihoods: gradients with respect to their outputs, values, and extremes."""
import math

import numpy as np
import pytest

import oracle
from numpyvae.gradcheck import BAR_SMOOTH, check_gradients
from numpyvae.likelihoods import (bernoulli_nll_backward, bernoulli_nll_forward,
                                  gaussian_nll_backward, gaussian_nll_forward)
from numpyvae.stable import positive_part, sigmoid, softplus, softplus_sum_from_sigmoid


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


def test_bernoulli_backward_computes_the_probabilities_it_was_not_given():
    rng, x = _data()
    logits = rng.uniform(-4, 4, size=(2, 3, 4))
    dnll = rng.standard_normal((2, 3))
    nll, cache = bernoulli_nll_forward(x, logits)
    assert cache[2] is None                      # the forward computes no sigmoid of its own
    given = bernoulli_nll_backward(dnll, bernoulli_nll_forward(x, logits, sigmoid(logits))[1])
    np.testing.assert_array_equal(bernoulli_nll_backward(dnll, cache), given)


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


@pytest.mark.parametrize("width", [784, 1, 2, 3, 15, 17, 31, 33, 99])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_sums_from_the_sigmoid_are_right_to_rounding_everywhere(dtype, width):
    """The sums over the last axis of eq. (17)'s sigmoid form, whose logs are taken of
    products of folded columns (odd widths keep a middle column) small enough not to
    underflow, against float64 sums of log(1 + e^a), from 0 to 1000 nats per entry."""
    rng = np.random.default_rng(width)
    pool = np.concatenate([np.linspace(-40, 40, 801), _EXTREMES])
    a = rng.choice(pool, size=(3, 40, width)).astype(dtype)
    a[0, 0] = np.resize(_EXTREMES, width)          # each extreme in one row
    a[1, 0] = 0.0                                  # the smallest factors, 1/2: no underflow
    a[2, 0] = rng.uniform(-1, 1, size=width)
    got = softplus_sum_from_sigmoid(a, sigmoid(a))
    assert got.dtype == dtype and got.shape == (3, 40)
    terms = np.logaddexp(0, a.astype(np.float64))
    exact = terms.sum(axis=-1)
    # Each entry is right to two units of the dtype's precision of max(1, its value), as the
    # elementwise form; the sums may add that up over the row, and round once per entry.
    bound = 4 * np.finfo(dtype).eps * np.maximum(1, terms).sum(axis=-1)
    excess = np.abs(got - exact) / bound
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert excess[worst] <= 1, (
        f"sum of softplus over a row of {width}: got {got[worst]!r}, exact {exact[worst]!r}, "
        f"allowed error {bound[worst]:.3g}")


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


def test_bernoulli_loss_is_the_same_given_the_probabilities():
    """Training passes sigmoid(logits) to the forward, which then uses the sigmoid form of
    softplus; an evaluation does not. Both give the loss of eq. (16), extremes included."""
    rng, x = _data()
    x = np.concatenate([x, [[0.0, 1.0, 0.0, 1.0]]])
    logits = np.concatenate([rng.uniform(-30, 30, size=(2, 3, 4)),
                             np.broadcast_to([[[-1000.0, -1000.0, 1000.0, 1000.0]]], (2, 1, 4))],
                            axis=1)
    plain, _ = bernoulli_nll_forward(x, logits)
    given, cache = bernoulli_nll_forward(x, logits, sigmoid(logits))
    assert cache[2] is not None                  # kept for the backward
    np.testing.assert_allclose(given, plain, rtol=1e-13, atol=1e-12)
    assert given[0, -1] == 2000.0                # x = 1 at a = -1000 and x = 0 at a = 1000


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
    dmean, dsigma = gaussian_nll_backward(dnll, gaussian_nll_forward(x, mean, 0.7)[1],
                                          sigma_grad=False)
    assert dsigma is None
    report = check_gradients(lambda: np.sum(gaussian_nll_forward(x, mean, 0.7)[0] * dnll),
                             {"mean": mean}, {"mean": dmean}, bar=BAR_SMOOTH,
                             equations={"mean": (19, 20)})
    assert report.passed, report.failure_message()


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
        dlogits = bernoulli_nll_backward(np.ones((1, 1), dtype=dtype), cache)
    assert nll.dtype == dtype and dlogits.dtype == dtype
    # Wrong by 1000 nats on pixels 0 and 1, right (cost ~0) on 2 and 3.
    np.testing.assert_allclose(nll, [[2000.0]], rtol=1e-6)
    np.testing.assert_allclose(dlogits, [[[1.0, -1.0, 0.0, 0.0]]], atol=1e-6)

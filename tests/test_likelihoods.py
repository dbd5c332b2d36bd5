"""Decoder likelihoods: gradients with respect to their outputs, values, and extremes."""
import math

import numpy as np
import pytest

import oracle
from numpyvae.gradcheck import BAR_SMOOTH, check_gradients
from numpyvae.likelihoods import (bernoulli_nll_backward, bernoulli_nll_forward,
                                  gaussian_nll_backward, gaussian_nll_forward)
from numpyvae.stable import sigmoid


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

"""The gradient-check tools themselves, and that they catch a missing 1/r in the model."""
import numpy as np
import pytest

from numpyvae import VAE, gradcheck
from numpyvae import vae as vae_module
from numpyvae.gradcheck import (check_gradients, check_model, numerical_gradient,
                                numerical_vjp, relative_error, resolution)


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    grad = numerical_gradient(lambda a: np.sum(np.sin(a) * a ** 2), x)
    np.testing.assert_allclose(grad, np.cos(x) * x ** 2 + 2 * x * np.sin(x), rtol=1e-8)


def test_numerical_gradient_restores_the_array():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    numerical_gradient(lambda a: float(np.sum(a ** 3)), x)
    assert np.array_equal(x, before)


def test_numerical_vjp_of_a_linear_map():
    A = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
    x = np.array([0.2, -0.4, 1.0])
    dout = np.array([0.7, -1.3])
    # The transpose of A times dout, worked by hand: (0.7 + 1.3, 1.4 + 0, 0.35 - 3.9).
    np.testing.assert_allclose(numerical_vjp(lambda a: A @ a, x, dout), [2.0, 1.4, -3.55],
                               rtol=1e-9)


def test_relative_error_definition():
    np.testing.assert_allclose(relative_error([1.0, 0.0, 2.0], [1.1, 0.0, -2.0]),
                               [0.1 / 2.1, 0.0, 1.0])
    assert relative_error(1e-12, 2e-12) == pytest.approx(1e-12 / 1e-8)


def test_resolution_grows_with_the_loss():
    assert resolution(1000.0) == pytest.approx(1000 * resolution(1.0))
    assert resolution(0.0) == resolution(1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_refuses_anything_but_float64(dtype):
    with pytest.raises(TypeError, match="float64.*float32 carries about 7"):
        numerical_gradient(lambda a: float(a.sum()), np.zeros(3, dtype=dtype))
    model = VAE(4, 2, hidden=(3,), dtype=np.float32)
    x, v = np.zeros((2, 4)), np.zeros((1, 2, 2))
    with pytest.raises(TypeError, match="need float64"):
        check_model(model, x, v)


def test_report_names_parameter_index_values_and_equations():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    wrong = 2 * W
    wrong[1, 0] = 100.0
    report = check_gradients(lambda: float(np.sum(W ** 2)), {"W": W}, {"W": wrong},
                             equations={"W": (25, 26)})
    row = report.rows[0]
    assert not report.passed and row.index == (1, 0)
    assert row.analytic == 100.0 and row.numeric == pytest.approx(6.0)
    message = report.failure_message()
    for part in ["'W'", "(1, 0)", "analytic 100", "numeric 6", "bar 1e-07", "eqs. (25), (26)",
                 "docs/derivation.md", "over the r samples", "1/r", "sigma^2"]:
        assert part in message, part
    assert "FAIL" in report.table()


def _small_model(seed=0):
    model = VAE(5, 2, hidden=(4,), activation="tanh", dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    return model, rng.uniform(0, 1, (3, 5)), rng.standard_normal((3, 3, 2))


def test_a_missing_one_over_r_is_caught(monkeypatch):
    """Seeds of 1/B instead of 1/(rB): the gradient is r times too large."""
    original = np.full

    def full_without_r(shape, value, dtype=None):
        if isinstance(shape, tuple) and len(shape) == 2:
            value = value * shape[0]
        return original(shape, value, dtype=dtype)

    monkeypatch.setattr(vae_module.np, "full", full_without_r)
    model, x, v = _small_model()
    assert not check_model(model, x, v).passed


def test_gradcheck_module_is_exported():
    assert gradcheck.check_model is check_model

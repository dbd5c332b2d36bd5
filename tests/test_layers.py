"""Finite-difference checks of the dense layer and of every activation, in float64."""
import numpy as np
import pytest

from numpyvae.activations import ACTIVATIONS, get_activation
from numpyvae.dense import Dense, dense_backward, dense_forward
from numpyvae.gradcheck import BAR_KINK, BAR_SMOOTH, check_gradients

KINK_MARGIN = 1e-3


def _inputs(seed, n=4, d_in=3, d_out=5):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d_in)), rng.standard_normal((d_in, d_out)),
            rng.standard_normal(d_out), rng.standard_normal((n, d_out)))


def _off_kink_inputs(activation):
    """Inputs whose pre-activations stay KINK_MARGIN away from 0 (relu's kink)."""
    for seed in range(100):
        x, W, b, dout = _inputs(seed)
        if ACTIVATIONS[activation].smooth or np.abs(x @ W + b).min() > KINK_MARGIN:
            return x, W, b, dout
    raise AssertionError("no seed keeps the pre-activations off the kink")


def test_dense_forward_is_affine():
    x, W, b, _ = _inputs(0)
    y, _ = dense_forward(x, W, b)
    expected = np.array([[sum(x[n, i] * W[i, j] for i in range(3)) + b[j] for j in range(5)]
                         for n in range(4)])
    np.testing.assert_allclose(y, expected, rtol=1e-12)


@pytest.mark.points(1, task="dense-backward")
@pytest.mark.parametrize("wrt, equation", [("x", 24), ("W", 25), ("b", 26)])
def test_dense_backward_alone(wrt, equation):
    """One gradient of the dense layer at a time, eqs. (24)-(26): partial credit for each."""
    x, W, b, dout = _inputs(3)
    dx, dW, db = dense_backward(dout, dense_forward(x, W, b)[1])
    arrays, analytic = {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db}
    report = check_gradients(lambda: np.sum(dense_forward(x, W, b)[0] * dout),
                             {wrt: arrays[wrt]}, {wrt: analytic[wrt]},
                             equations={wrt: (equation,)})
    assert report.passed, report.failure_message()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_then_activation_gradients(activation):
    """Gradients with respect to the input, the weights and the bias, for each activation."""
    act = get_activation(activation)
    x, W, b, dout = _off_kink_inputs(activation)

    def f():
        return np.sum(act.forward(dense_forward(x, W, b)[0])[0] * dout)

    a, dense_cache = dense_forward(x, W, b)
    _, act_cache = act.forward(a)
    dx, dW, db = dense_backward(act.backward(dout, act_cache), dense_cache)
    bar = BAR_SMOOTH if act.smooth else BAR_KINK
    report = check_gradients(f, {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db}, bar=bar)
    assert report.passed, report.failure_message()


@pytest.mark.points(1, task="activations")
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_activation_alone(activation):
    """dL/da = dL/dy * f'(a), eq. (27), against central differences of f itself."""
    act = get_activation(activation)
    rng = np.random.default_rng(1)
    a = rng.uniform(-3, 3, size=(6, 4))
    a[np.abs(a) < KINK_MARGIN] = 0.5
    dy = rng.standard_normal(a.shape)
    _, cache = act.forward(a)
    da = act.backward(dy, cache)
    eq = {"identity": 28, "relu": 29, "leaky_relu": 30, "elu": 31, "tanh": 32, "sigmoid": 33,
          "softplus": 34}[activation]
    report = check_gradients(lambda: np.sum(act.forward(a)[0] * dy), {"a": a}, {"a": da},
                             equations={"a": (27, eq)},
                             bar=BAR_SMOOTH if act.smooth else BAR_KINK)
    assert report.passed, report.failure_message()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_activation_values(activation):
    """The forward against the textbook definition at points where it is exact."""
    a = np.array([-2.0, -0.5, 0.5, 2.0])
    y, _ = get_activation(activation).forward(a)
    expected = {
        "identity": a,
        "relu": np.array([0, 0, 0.5, 2.0]),
        "leaky_relu": np.array([-0.02, -0.005, 0.5, 2.0]),
        "elu": np.array([np.exp(-2.0) - 1, np.exp(-0.5) - 1, 0.5, 2.0]),
        "tanh": (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a)),
        "sigmoid": 1 / (1 + np.exp(-a)),
        "softplus": np.log(1 + np.exp(a)),
    }[activation]
    np.testing.assert_allclose(y, expected, rtol=1e-12)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_dtype_and_do_not_overflow(activation, dtype):
    act = get_activation(activation)
    a = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y, cache = act.forward(a)
    # A backward may write sigmoid(a) as 1 / (1 + e^-a), whose exp overflows harmlessly to
    # 1 / inf = 0 (eq. (17)): only the result must be finite.
    with np.errstate(over="ignore", under="ignore"):
        da = act.backward(np.ones_like(a), cache)
    assert y.dtype == dtype and da.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(da).all()


@pytest.mark.points(1, task="dense-backward")
def test_dense_backward_returns_arrays_of_the_right_shapes_and_leaves_its_inputs_alone():
    """dx (N, D_in), dW (D_in, D_out), db (D_out,), eqs. (24)-(26), and nothing else changed."""
    x, W, b, dout = _inputs(4, n=6, d_in=3, d_out=5)
    before = [a.copy() for a in (x, W, dout)]
    dx, dW, db = dense_backward(dout, dense_forward(x, W, b)[1])
    for name, got, shape, eq in [("dx", dx, x.shape, 24), ("dW", dW, W.shape, 25),
                                 ("db", db, b.shape, 26)]:
        assert np.shape(got) == shape, (
            f"{name} must have shape {shape}, the shape of what it is the gradient of; got "
            f"{np.shape(got)} (eq. ({eq}))")
    for name, a, old in zip(("x", "W", "dy"), (x, W, dout), before):
        np.testing.assert_array_equal(a, old, err_msg=f"dense_backward must not change {name}")


def test_dense_layer_stores_its_gradients_where_the_model_keeps_them():
    x, W, b, dout = _inputs(2)
    params = {"l.W": W, "l.b": b}
    grads = {"l.W": np.zeros_like(W), "l.b": np.zeros_like(b)}
    kept = grads["l.W"]
    layer = Dense("l", params, grads)
    y = layer.forward(x)
    np.testing.assert_allclose(y, x @ W + b)
    dx = layer.backward(dout)
    expected_dx, expected_dW, expected_db = dense_backward(dout, (x, W))
    assert grads["l.W"] is kept                    # the model's own array, filled in
    np.testing.assert_array_equal(grads["l.W"], expected_dW)
    np.testing.assert_array_equal(grads["l.b"], expected_db)
    np.testing.assert_array_equal(dx, expected_dx)
    layer.forward(x)
    assert layer.backward(dout, input_grad=False) is None


def test_dense_layer_refuses_a_gradient_of_the_wrong_shape(monkeypatch):
    import numpyvae.dense as dense
    x, W, b, dout = _inputs(2)
    layer = Dense("enc.h1", {"enc.h1.W": W, "enc.h1.b": b},
                  {"enc.h1.W": np.zeros_like(W), "enc.h1.b": np.zeros_like(b)})
    layer.forward(x)
    transposed = (None, np.zeros((5, 3)), np.zeros(5))      # dW of shape (D_out, D_in)
    monkeypatch.setattr(dense, "dense_backward", lambda dy, cache, input_grad=True: transposed)
    with pytest.raises(ValueError, match=r"dense_backward returned dW of shape \(5, 3\) for "
                                         r"'enc.h1.W'; expected \(3, 5\).*eq. \(25\)"):
        layer.backward(dout)

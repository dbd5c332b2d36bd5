"""The conditional VAE: its one new layer, eqs. (56)-(58), the labels through the model, and
what a gradient check cannot see (which label each row reads)."""
import numpy as np
import pytest

import oracle
from numpyvae import VAE
from numpyvae.app.checkpoint import load_checkpoint, save_checkpoint
from numpyvae.conditional import concat_dense_backward, concat_dense_forward, onehot
from numpyvae.gradcheck import check_gradients
from numpyvae.inference import class_grid, generate, interpolate, latent_factors
from numpyvae.optim import Adam
from numpyvae.train import Trainer

C = 4


def layer_inputs(seed=0, n=6, d_in=3, d_out=5):
    """x, y, W, Wy, b and an upstream gradient; label 1 twice, label 3 never."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 1, 2, 1, 0, 2])[:n]
    return (rng.standard_normal((n, d_in)), y, rng.standard_normal((d_in, d_out)),
            rng.standard_normal((C, d_out)), rng.standard_normal(d_out),
            rng.standard_normal((n, d_out)))


# ---------------------------------------------------------------- the layer, eqs. (56)-(58)


def test_onehot_rows():
    e = onehot(np.array([2, 0, 2]), 3)
    np.testing.assert_array_equal(e, [[0, 0, 1], [1, 0, 0], [0, 0, 1]])


def test_forward_is_the_concatenation_times_the_stacked_weights():
    """eq. (56): x W + Wy[y] + b is [x, onehot(y)] [W; Wy] + b, written out."""
    x, y, W, Wy, b, _ = layer_inputs()
    a, _ = concat_dense_forward(x, y, W, Wy, b)
    u = np.hstack([x, oracle.onehot(y, C)])
    np.testing.assert_allclose(a, u @ np.vstack([W, Wy]) + b, rtol=1e-13, atol=1e-13)


@pytest.mark.points(1, task="concat-backward")
@pytest.mark.parametrize("wrt,equation", [("x", 57), ("W", 58), ("Wy", 58), ("b", 26)])
def test_backward_against_central_differences(wrt, equation):
    x, y, W, Wy, b, da = layer_inputs(1)
    a, cache = concat_dense_forward(x, y, W, Wy, b)
    dx, dW, dWy, db = concat_dense_backward(da, cache)
    arrays = {"x": x, "W": W, "Wy": Wy, "b": b}
    analytic = {"x": dx, "W": dW, "Wy": dWy, "b": db}
    report = check_gradients(lambda: np.sum(concat_dense_forward(x, y, W, Wy, b)[0] * da),
                             {wrt: arrays[wrt]}, {wrt: analytic[wrt]},
                             equations={wrt: (equation,)})
    assert report.passed, report.failure_message()


def test_the_input_gradient_is_the_x_block_and_the_label_block_is_dropped():
    """eq. (57): dL/d[x, e] = dL/da [W; Wy]^T; dL/dx is its first D_in columns."""
    x, y, W, Wy, b, da = layer_inputs(2)
    dx, *_ = concat_dense_backward(da, concat_dense_forward(x, y, W, Wy, b)[1])
    du = da @ np.vstack([W, Wy]).T                          # (N, D_in + C)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, du[:, :x.shape[1]], rtol=1e-13)
    assert concat_dense_backward(da, concat_dense_forward(x, y, W, Wy, b)[1],
                                 input_grad=False)[0] is None


@pytest.mark.points(1, task="concat-backward")
def test_the_label_rows_sum_the_upstream_rows_by_class():
    """eq. (58): row c of dL/dWy sums dL/da over the rows of class c; an absent class gets 0."""
    x, y, W, Wy, b, da = layer_inputs(3)
    _, dW, dWy, _ = concat_dense_backward(da, concat_dense_forward(x, y, W, Wy, b)[1])
    for c in range(C):
        np.testing.assert_allclose(
            dWy[c], da[y == c].sum(axis=0), rtol=1e-13, atol=1e-15,
            err_msg=f"eq. (58): row {c} of dWy must be the sum of the rows of da whose label "
                    f"is {c}")
    assert not dWy[3].any(), "eq. (58): a class with no example in the batch gets a zero row"
    expected = np.hstack([x, oracle.onehot(y, C)]).T @ da    # (25) on the concatenation
    np.testing.assert_allclose(np.vstack([dW, dWy]), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.points(1, task="concat-backward")
def test_the_layer_keeps_float32():
    x, y, W, Wy, b, da = (a.astype(np.float32) if a.dtype.kind == "f" else a
                          for a in layer_inputs(4))
    a, cache = concat_dense_forward(x, y, W, Wy, b)
    assert a.dtype == np.float32
    grads = concat_dense_backward(da, cache)
    assert [g.dtype for g in grads] == [np.float32] * 4, (
        f"dx, dW, dWy and db must keep the dtype of da, float32; got "
        f"{[g.dtype.name for g in grads]} (eqs. (57), (58), (26)): build them from the arrays "
        f"given, e.g. a one-hot matrix in da's dtype")


# ---------------------------------------------------------------- the model


def model_and_data(likelihood="bernoulli", r=3, batch=5, **kwargs):
    model = VAE(6, 2, hidden=(5, 4), likelihood=likelihood, activation="tanh",
                dtype=np.float64, seed=3, sigma_x=0.5, n_classes=C, **kwargs)
    rng = np.random.default_rng(7)
    x = rng.uniform(0.05, 0.95, (batch, 6))
    v = rng.standard_normal((r, batch, 2))
    y = np.array([3, 0, 3, 1, 2])[:batch]
    return model, x, v, y


def test_parameters_add_a_label_matrix_to_each_first_layer():
    model = VAE(784, 20, hidden=(400, 100), n_classes=10, seed=0)
    shapes = {name: a.shape for name, a in model.parameters().items()}
    plain = {name: a.shape for name, a in VAE(784, 20, hidden=(400, 100)).parameters().items()}
    assert shapes == {**plain, "enc.h1.Wy": (10, 400), "dec.h1.Wy": (10, 100)}
    assert list(shapes)[:3] == ["enc.h1.W", "enc.h1.Wy", "enc.h1.b"]
    # nn.Linear(D_in + C, D_out)'s start: U(-1/sqrt(D_in + C), 1/sqrt(D_in + C)), W and Wy alike
    for name, fan_in in [("enc.h1", 784 + 10), ("dec.h1", 20 + 10)]:
        for part in ("W", "Wy", "b"):
            values = model.parameters()[f"{name}.{part}"]
            assert np.abs(values).max() <= 1 / np.sqrt(fan_in)
            assert np.abs(values).max() > 0.9 / np.sqrt(fan_in), (name, part)
    assert model.config["n_classes"] == 10 and "n_classes=10" in repr(model)


def test_an_unconditional_model_is_unchanged():
    a, b = VAE(6, 2, hidden=(5,), seed=1), VAE(6, 2, hidden=(5,), seed=1, n_classes=None)
    assert a.config["n_classes"] is None and "n_classes" not in repr(a)
    for name, value in a.parameters().items():
        np.testing.assert_array_equal(value, b.parameters()[name])


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_the_loss_against_the_written_out_concatenation(likelihood):
    """The negative conditional ELBO, eq. (55), from the oracle's [x, onehot(y)] [W; Wy]."""
    model, x, v, y = model_and_data(likelihood)
    params, config = model.parameters(), model.config
    mu, sigma, _ = oracle.encode(params, config, x, y)
    total = 0.0
    for i in range(len(x)):
        kl = 0.5 * np.sum(mu[i] ** 2 + sigma[i] ** 2 - np.log(sigma[i] ** 2) - 1)
        recon = 0.0
        for j in range(len(v)):
            z = mu[i] + sigma[i] * v[j, i]
            out, _ = oracle.decode(params, config, z[None], y[i:i + 1])
            recon += (oracle.bernoulli_nll(x[i], out["mean"][0]) if likelihood == "bernoulli"
                      else oracle.gaussian_nll(x[i], out["mean"][0], out["sigma"][0]))
        total += recon / len(v) + kl
    assert model.loss(x, v, y=y) == pytest.approx(total / len(x), rel=1e-10)


def test_every_sample_reads_the_label_of_its_example():
    """The decoder flattens (r, B) into rows; row (j, i) must read y_i. A gradient check cannot
    see a wrong pairing, since the forward and the backward would share it."""
    model, _, v, y = model_and_data(r=3)
    z = v * 0.7 + 0.1                                        # (r, B, K)
    together = model.decode(z, y)["mean"]
    for j in range(len(z)):
        alone, _ = oracle.decode(model.parameters(), model.config, z[j], y)
        np.testing.assert_allclose(together[j], alone["mean"], rtol=1e-12)


def test_the_label_changes_the_output_through_its_own_row_only():
    model, x, _, _ = model_and_data()
    z = np.random.default_rng(0).standard_normal((4, 2))
    means = {c: model.decode(z, np.full(4, c))["mean"] for c in range(C)}
    assert all(not np.allclose(means[0], means[c]) for c in range(1, C))
    mus = {c: model.encode(x, np.full(len(x), c))[0] for c in range(C)}
    assert not np.allclose(mus[0], mus[1])
    model.parameters()["dec.h1.Wy"][2] = 0.0                 # label 2's row, and no other
    assert np.array_equal(model.decode(z, np.full(4, 1))["mean"], means[1])
    assert not np.allclose(model.decode(z, np.full(4, 2))["mean"], means[2])


def test_sample_draws_from_the_decoder_given_the_labels():
    model, _, _, _ = model_and_data("gaussian")
    y = np.array([0, 3, 3, 1])
    x, decoded = model.sample(4, np.random.default_rng(5), return_decoded=True, y=y)
    again = model.decode(decoded["z"], y)
    np.testing.assert_array_equal(decoded["mean"], again["mean"])
    assert x.shape == (4, 6)
    out = generate(model, 4, np.random.default_rng(5), y=y)
    np.testing.assert_array_equal(out["z"], decoded["z"])
    np.testing.assert_array_equal(out["y"], y)


def test_the_class_grid_shares_each_z_down_its_column():
    model, _, _, _ = model_and_data()
    out = class_grid(model, 3, np.random.default_rng(2), draws=True)
    assert out["z"].shape == (3, 2) and out["mean"].shape == (C * 3, 6)
    assert out["x"].shape == (C * 3, 6)
    np.testing.assert_array_equal(out["y"], np.repeat(np.arange(C), 3))
    for c in range(C):                                       # row c: the 3 z with label c
        np.testing.assert_allclose(out["mean"][3 * c:3 * c + 3],
                                   model.decode(out["z"], np.full(3, c))["mean"], rtol=1e-13)
    with pytest.raises(ValueError, match="class_grid needs a conditional model"):
        class_grid(VAE(6, 2, hidden=(4,)), 3, np.random.default_rng(0))


def test_latent_factors_and_interpolation_take_labels():
    model, x, _, y = model_and_data()
    mu, _ = latent_factors(model, x, batch_size=2, y=y)
    np.testing.assert_allclose(mu, model.encode(x, y)[0], rtol=1e-13)
    z_path, images = interpolate(model, x[0], x[1], steps=4, y_a=y[0], y_b=y[1])
    np.testing.assert_array_equal(z_path[0], model.encode(x[:1], y[:1])[0][0])
    np.testing.assert_array_equal(z_path[-1], model.encode(x[1:2], y[1:2])[0][0])
    np.testing.assert_allclose(images, model.decode(z_path, np.full(4, y[0]))["mean"])
    _, other = interpolate(model, x[0], x[1], steps=4, y_a=y[0], y_b=y[1], y=2)
    np.testing.assert_allclose(other, model.decode(z_path, np.full(4, 2))["mean"])
    with pytest.raises(ValueError, match="y_b is required: this model is conditional"):
        interpolate(model, x[0], x[1], y_a=1)


def test_the_conditional_bound_at_one_sample_is_the_log_weight():
    """objective="iwae" conditioned: at S = 1, -log w = -(log P(x|z, y) + log p(z) -
    log q(z|x, y)), each density written out from the oracle's networks."""
    model, x, _, y = model_and_data()
    v = np.random.default_rng(1).standard_normal((1, 5, 2))
    params, config = model.parameters(), model.config
    mu, sigma, _ = oracle.encode(params, config, x, y)
    z = mu + sigma * v[0]
    out, _ = oracle.decode(params, config, z, y)
    log_w = []
    for i in range(len(x)):
        log_px = -oracle.bernoulli_nll(x[i], out["mean"][i])
        log_pz = sum(-0.5 * np.log(2 * np.pi) - 0.5 * zk ** 2 for zk in z[i])
        log_qz = sum(-0.5 * np.log(2 * np.pi * s ** 2) - (zk - m) ** 2 / (2 * s ** 2)
                     for zk, m, s in zip(z[i], mu[i], sigma[i]))
        log_w.append(log_px + log_pz - log_qz)
    assert model.loss(x, v, objective="iwae", y=y) == pytest.approx(-np.mean(log_w), rel=1e-10)


# ---------------------------------------------------------------- labels refused


@pytest.mark.parametrize("y,match", [
    (None, r"y is required: this model is conditional \(n_classes = 4\) and needs the label "
           r"of each example, integers 0\.\.3 of shape \(5,\)"),
    (np.array([0, 1, 2, 3, 4]), r"y must hold labels 0\.\.3 \(n_classes = 4\); got 4 at index 4"),
    (np.array([0, -1, 2, 3, 0]), r"y must hold labels 0\.\.3 .*got -1 at index 1"),
    (np.array([0.0, 1.0, 2.0, 3.0, 0.0]), r"y must hold integer labels 0\.\.3; got dtype float64"),
    (np.array([True, False, True, False, True]), r"y must hold integer labels .*dtype bool"),
    (np.array([0, 1, 2]), r"y must have shape \(5,\), one label per example; got shape \(3,\)"),
    (np.zeros((5, 1), dtype=int), r"y must have shape \(5,\), .*got shape \(5, 1\)"),
    (3, r"y must have shape \(5,\), .*got shape \(\)"),
    ("abc", r"y must hold integer labels 0\.\.3; got dtype <U3"),
])
def test_a_conditional_model_refuses_bad_labels_by_name(y, match):
    model, x, v, _ = model_and_data()
    calls = [lambda: model.loss(x, v, y=y), lambda: model.loss_and_grad(x, v, y=y),
             lambda: model.compute_gradients(x, v, y=y), lambda: model.elbo_terms(x, v, y=y),
             lambda: model.loss(x, v, objective="iwae", y=y), lambda: model.encode(x, y),
             lambda: model.decode(v[0], y), lambda: model.decode(v, y),
             lambda: model.sample(5, np.random.default_rng(0), y=y)]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


def test_an_unconditional_model_refuses_labels():
    model = VAE(6, 2, hidden=(4,), dtype=np.float64)
    x, v = np.full((3, 6), 0.5), np.zeros((1, 3, 2))
    message = (r"y must be None: this model is unconditional \(built without n_classes\) and "
               r"takes no labels; got an array of shape \(3,\)")
    for call in (lambda: model.loss_and_grad(x, v, y=np.zeros(3, int)),
                 lambda: model.encode(x, np.zeros(3, int)),
                 lambda: model.decode(v[0], np.zeros(3, int)),
                 lambda: model.sample(3, np.random.default_rng(0), y=np.zeros(3, int)),
                 lambda: latent_factors(model, x, y=np.zeros(3, int))):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=r"y_a must be None: this model is unconditional"):
        interpolate(model, x[0], x[1], y_a=1)


@pytest.mark.parametrize("kwargs,match", [
    ({"n_classes": 1}, r"n_classes must be an integer >= 2; got 1"),
    ({"n_classes": 2.0}, r"n_classes must be an integer >= 2; got 2\.0"),
    ({"n_classes": True}, r"n_classes must be an integer >= 2; got True"),
    ({"n_classes": 3, "hidden": ()}, r"n_classes needs at least one hidden layer: the label "
                                     r"enters the first hidden layer of each network"),
])
def test_bad_n_classes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAE(6, 2, **{"hidden": (4,), **kwargs})


def test_the_trainer_needs_the_labels_of_a_conditional_model():
    model, x, _, y = model_and_data()
    optimizer = Adam({"theta": model.flat_parameters}, lr=1e-3)
    with pytest.raises(ValueError, match=r"train_y is required: this model is conditional"):
        Trainer(model, optimizer, x)
    with pytest.raises(ValueError, match=r"train_y must have shape \(5,\)"):
        Trainer(model, optimizer, x, train_y=y[:3])
    plain = VAE(6, 2, hidden=(4,), dtype=np.float64)
    with pytest.raises(ValueError, match=r"train_y must be None: this model is unconditional"):
        Trainer(plain, Adam({"theta": plain.flat_parameters}), x, train_y=y)


def test_a_step_reads_each_image_with_its_own_label(monkeypatch):
    model, x, _, y = model_and_data()
    trainer = Trainer(model, Adam({"theta": model.flat_parameters}, lr=1e-3), x, train_y=y,
                      batch_size=2)
    seen = []
    compute = model.compute_gradients
    monkeypatch.setattr(model, "compute_gradients",
                        lambda xb, *a, y=None, **k: seen.append((xb.copy(), y.copy()))
                        or compute(xb, *a, y=y, **k))
    trainer.train_epoch(0)
    for xb, yb in seen:
        for row, label in zip(xb, yb):
            assert label == y[np.flatnonzero((x == row).all(axis=1))[0]]
    assert sum(len(yb) for _, yb in seen) == len(x)


def test_a_checkpoint_keeps_n_classes(tmp_path):
    model, x, v, y = model_and_data()
    save_checkpoint(tmp_path / "c.npz", model)
    loaded = load_checkpoint(tmp_path / "c.npz")["model"]
    assert loaded.n_classes == C and loaded.config == model.config
    assert loaded.loss(x, v, y=y) == model.loss(x, v, y=y)

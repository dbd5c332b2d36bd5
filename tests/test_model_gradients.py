"""Finite-difference check of the full model, every parameter, in float64.

The grid: each likelihood x a smooth and a relu activation x r in {1, 3} x beta in {0, 1}
x z_dim in {1, 2} x batch in {1, 5}, with two hidden layers. The conditional model
(n_classes) is checked on the ELBO and the importance-weighted bound, for the Bernoulli and a
Gaussian decoder.
"""
import itertools

import numpy as np
import pytest

import oracle
from numpyvae import VAE
from numpyvae.gradcheck import BAR_KINK, BAR_SMOOTH, check_model
from numpyvae.likelihoods import LIKELIHOODS
from numpyvae.reparam import reparameterize_forward

X_DIM, HIDDEN = 6, (5, 4)
KINK_MARGIN = 1e-3
GRID = list(itertools.product(LIKELIHOODS, ["tanh", "relu"],
                              [1, 3], [0.0, 1.0], [1, 2], [1, 5]))


def make_case(likelihood, activation, r, z_dim, batch, **kwargs):
    """A float64 model and data; for relu, the first seed whose pre-activations are off 0.

    The decoder's pre-activations are those at the z the model itself samples: the package's
    reparameterize_forward (a task the full model builds on) makes it from the noise.
    """
    model, x, v, _ = make_labelled_case(likelihood, activation, r, z_dim, batch, **kwargs)
    return model, x, v


def make_labelled_case(likelihood, activation, r, z_dim, batch, y=None, **kwargs):
    """As make_case, with the labels ``y`` of a conditional model (``n_classes`` in kwargs)."""
    for seed in range(50):
        model = VAE(X_DIM, z_dim, hidden=HIDDEN, likelihood=likelihood, activation=activation,
                    dtype=np.float64, seed=seed, sigma_x=0.5, **kwargs)
        rng = np.random.default_rng(100 + seed)
        x = rng.uniform(0.05, 0.95, size=(batch, X_DIM))
        v = rng.standard_normal((r, batch, z_dim))
        if activation != "relu":
            return model, x, v, y
        z, _ = reparameterize_forward(*model.encode(x, y), v)
        pre = oracle.pre_activations(model.parameters(), model.config, x, z, y)
        if np.abs(pre).min() > KINK_MARGIN:
            return model, x, v, y
    raise AssertionError("no seed keeps every relu input off the kink")


@pytest.mark.parametrize("likelihood,activation,r,beta,z_dim,batch", GRID)
def test_every_parameter_gradient(likelihood, activation, r, beta, z_dim, batch):
    model, x, v = make_case(likelihood, activation, r, z_dim, batch)
    report = check_model(model, x, v, beta)
    assert {row.bar for row in report.rows} == {BAR_SMOOTH if activation == "tanh" else BAR_KINK}
    assert [row.name for row in report.rows] == list(model.parameters())
    assert report.passed, "\n" + report.table() + "\n" + report.failure_message()


@pytest.mark.points(1, task="full-model")
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian-fixed"])
def test_full_model_for_grading(likelihood, activation):
    """The graded check of the whole model (an integration task: it passes only when every
    task on the model's path is right). The same case as one of the grid's above."""
    model, x, v = make_case(likelihood, activation, 3, 2, 5)
    report = check_model(model, x, v, 1.0)
    assert report.passed, "\n" + report.table() + "\n" + report.failure_message()


@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "sigmoid", "softplus", "identity"])
def test_other_activations(activation):
    model, x, v = make_case("bernoulli", activation, 2, 2, 3)
    report = check_model(model, x, v, 1.0)
    assert report.passed, "\n" + report.table() + "\n" + report.failure_message()


@pytest.mark.parametrize("options", [
    {"sigma_parameterization": "softplus"},
    {"mean_activation": "identity"},
])
@pytest.mark.parametrize("likelihood", ["gaussian", "gaussian-shared", "gaussian-fixed"])
def test_other_parameterizations(options, likelihood):
    model, x, v = make_case(likelihood, "tanh", 2, 2, 3, **options)
    report = check_model(model, x, v, 0.5)
    assert report.passed, "\n" + report.table() + "\n" + report.failure_message()


def test_single_hidden_layer_and_no_hidden_layer():
    for hidden in [(4,), ()]:
        model = VAE(X_DIM, 2, hidden=hidden, dtype=np.float64, activation="tanh", seed=3)
        rng = np.random.default_rng(0)
        x, v = rng.uniform(0, 1, (3, X_DIM)), rng.standard_normal((2, 3, 2))
        report = check_model(model, x, v)
        assert report.passed, report.failure_message()


def test_denoising_input_gradients():
    model, x, v = make_case("bernoulli", "tanh", 2, 2, 3)
    x_input = np.clip(x + 0.3, 0, 1.2)
    loss, grads = model.loss_and_grad(x, v, 1.0, x_input=x_input)
    from numpyvae.gradcheck import check_gradients
    report = check_gradients(lambda: model.loss(x, v, 1.0, x_input=x_input),
                             model.parameters(), grads)
    assert report.passed, report.failure_message()
    assert loss != pytest.approx(model.loss(x, v, 1.0))


# Four classes, five examples: class 2 twice (its gradient row sums two rows of dL/da),
# class 3 never (its row is zero).
LABELS = np.array([0, 2, 1, 2, 0])


@pytest.mark.parametrize("objective", ["elbo", "iwae"])
@pytest.mark.parametrize("r", [1, 3])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_conditional_model_every_parameter_gradient(likelihood, activation, r, objective):
    model, x, v, y = make_labelled_case(likelihood, activation, r, 2, 5, y=LABELS, n_classes=4)
    report = check_model(model, x, v, 1.0, objective=objective, y=y)
    assert [row.name for row in report.rows] == list(model.parameters())
    assert {"enc.h1.Wy", "dec.h1.Wy"} <= {row.name for row in report.rows}
    assert report.passed, "\n" + report.table() + "\n" + report.failure_message()
    equations = {row.name: row.equations for row in report.rows}
    for name in ("enc.h1.Wy", "enc.h1.W", "dec.h1.Wy", "dec.h1.W"):
        assert 58 in equations[name] and 25 not in equations[name], name
    assert 57 in equations["enc.mu.W"] and 57 not in equations["dec.h2.W"]


def test_conditional_failure_message_names_the_label_equation():
    """A wrong gradient of Wy sends the student to eq. (58)."""
    model, x, v, y = make_labelled_case("bernoulli", "tanh", 2, 2, 5, y=LABELS, n_classes=4)
    _, grads = model.loss_and_grad(x, v, y=y)
    grads["dec.h1.Wy"] = grads["dec.h1.Wy"] * 2
    from numpyvae.gradcheck import check_gradients
    report = check_gradients(lambda: model.loss(x, v, y=y), model.parameters(), grads,
                             equations={n: model.equations_for(n) for n in grads})
    assert not report.passed
    assert "gradient of 'dec.h1.Wy' is wrong" in report.failure_message()
    assert "(58)" in report.failure_message()

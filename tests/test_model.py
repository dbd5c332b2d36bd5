"""The VAE's public API, its encoder against the oracle, robustness and bad input."""
import numpy as np
import pytest

import oracle
from numpyvae import VAE
from numpyvae.likelihoods import LIKELIHOODS


def _data(model, batch=4, r=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, model.x_dim))
    return x, rng.standard_normal((r, batch, model.z_dim))


# ------------------------------------------------------------------ API and shapes

def test_defaults_match_the_documented_signature():
    model = VAE(784, 20)
    assert model.config["hidden"] == [400] and model.config["likelihood"] == "bernoulli"
    assert model.config["activation"] == "relu" and model.dtype == np.float32
    assert model.parameters()["enc.h1.W"].shape == (784, 400)
    assert model.parameters()["dec.logits.W"].shape == (400, 784)


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_shapes_and_keys(likelihood):
    model = VAE(6, 3, hidden=(5, 4), likelihood=likelihood, dtype=np.float64)
    x, v = _data(model)
    mu, sigma = model.encode(x)
    assert mu.shape == sigma.shape == (4, 3) and (sigma > 0).all()
    for z in (v[0], v):
        out = model.decode(z)
        assert out["mean"].shape == z.shape[:-1] + (6,)
        assert ("sigma" in out) == (likelihood != "bernoulli")
        if "sigma" in out:
            assert out["sigma"].shape == out["mean"].shape and (out["sigma"] > 0).all()
        assert not any(k.startswith("_") for k in out)
    loss, grads = model.loss_and_grad(x, v)
    params = model.parameters()
    assert list(grads) == list(params)
    assert all(grads[k].shape == params[k].shape for k in params)
    assert isinstance(loss, float)


def test_parameters_are_the_live_arrays():
    model = VAE(6, 2, hidden=(5,), dtype=np.float64)
    x, v = _data(model)
    before = model.loss(x, v)
    model.parameters()["dec.logits.b"][...] += 1.0
    assert model.loss(x, v) != before
    assert model.parameters()["dec.logits.b"] is not None
    assert np.shares_memory(model.parameters()["enc.h1.W"], model.flat_parameters)


def test_returned_gradients_are_not_overwritten_by_the_next_call():
    model = VAE(6, 2, hidden=(5,), dtype=np.float64)
    x, v = _data(model)
    _, first = model.loss_and_grad(x, v)
    kept = {k: g.copy() for k, g in first.items()}
    model.loss_and_grad(x * 0.5, v)
    assert all(np.array_equal(first[k], kept[k]) for k in kept)


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_float32_model_stays_float32(likelihood):
    model = VAE(6, 2, hidden=(5,), likelihood=likelihood)
    x, v = _data(model)                                   # float64 inputs
    mu, sigma = model.encode(x)
    out = model.decode(v)
    _, grads = model.loss_and_grad(x, v)
    terms = model.elbo_terms(x, v)
    draws, decoded = model.sample(3, np.random.default_rng(0), return_decoded=True)
    arrays = [mu, sigma, draws, model.flat_parameters, model.flat_gradients, *out.values(),
              *grads.values(), *terms.values(), *decoded.values()]
    assert all(a.dtype == np.float32 for a in arrays), [a.dtype for a in arrays]


def test_same_seed_same_model_and_float64_close_to_float32():
    a, b = VAE(6, 2, hidden=(5,), seed=3), VAE(6, 2, hidden=(5,), seed=3)
    c = VAE(6, 2, hidden=(5,), seed=3, dtype=np.float64)
    assert np.array_equal(a.flat_parameters, b.flat_parameters)
    for name, value in c.parameters().items():
        np.testing.assert_allclose(a.parameters()[name], value, rtol=1e-6)
    assert not np.array_equal(a.flat_parameters, VAE(6, 2, hidden=(5,), seed=4).flat_parameters)


def test_initialization_is_uniform_with_bound_one_over_sqrt_fan_in():
    W = VAE(400, 2, hidden=(300,), seed=0).parameters()["enc.h1.W"]
    bound = 1 / np.sqrt(400)
    assert np.abs(W).max() <= bound
    # U(-c, c) has variance c^2 / 3; 120k draws pin it to within a few percent.
    assert W.var() == pytest.approx(bound ** 2 / 3, rel=0.03)


# ------------------------------------------------------------------ the encoder

def test_encoder_sigma_is_the_standard_deviation():
    """sigma = exp(s/2) for s = log sigma^2 computed from the parameters by hand."""
    model = VAE(5, 2, hidden=(4,), dtype=np.float64, seed=2)
    x, _ = _data(model)
    mu, sigma, _ = oracle.encode(model.parameters(), model.config, x)
    got_mu, got_sigma = model.encode(x)
    np.testing.assert_allclose(got_mu, mu, rtol=1e-12)
    np.testing.assert_allclose(got_sigma, sigma, rtol=1e-12)


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_sample_draws_from_the_decoder(likelihood):
    model = VAE(4, 2, hidden=(3,), likelihood=likelihood, dtype=np.float64, seed=0)
    for name, array in model.parameters().items():
        if name.startswith("dec.") and name.endswith(".W") and not name.startswith("dec.h"):
            array[...] = 0                         # P(x|z) no longer depends on z
    n = 20_000
    x, decoded = model.sample(n, np.random.default_rng(1), return_decoded=True)
    assert x.shape == (n, 4) and decoded["z"].shape == (n, 2)
    # z ~ N(0, I): mean within 5 standard errors of 0, standard deviation within 5 of 1
    assert np.abs(decoded["z"].mean(axis=0)).max() < 5 / np.sqrt(n)
    assert np.abs(decoded["z"].std(axis=0) - 1).max() < 5 / np.sqrt(2 * n)
    mean = decoded["mean"][0]                      # the same for every z: weights are 0
    if likelihood == "bernoulli":
        assert set(np.unique(x)) <= {0.0, 1.0}
        se = np.sqrt(mean * (1 - mean) / n)
        assert (np.abs(x.mean(axis=0) - mean) < 5 * se).all()
    else:
        sigma = decoded["sigma"][0]
        assert (np.abs(x.mean(axis=0) - mean) < 5 * sigma / np.sqrt(n)).all()
        assert (np.abs(x.std(axis=0) - sigma) < 5 * sigma / np.sqrt(2 * n)).all()


def test_sample_is_reproducible_from_the_generator():
    model = VAE(4, 2, hidden=(3,))
    a = model.sample(5, np.random.default_rng(9))
    b = model.sample(5, np.random.default_rng(9))
    assert np.array_equal(a, b)


# ------------------------------------------------------------------ robustness

@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("log_var", [-50.0, -10.0, 0.0, 10.0, 50.0])
def test_extreme_log_variance_gives_finite_loss_and_gradients(likelihood, dtype, log_var):
    model = VAE(6, 2, hidden=(5,), likelihood=likelihood, dtype=dtype, seed=0)
    p = model.parameters()
    p["enc.log_var.W"][...] = 0
    p["enc.log_var.b"][...] = log_var
    x, v = _data(model)
    x[0] = 0.0
    x[1] = 1.0
    # An exp may overflow to inf where the math allows it (1 / (1 + inf) = 0, eq. (17)); any
    # inf or nan that reaches the loss or a gradient fails the test.
    with np.errstate(over="ignore", invalid="raise", divide="raise"):
        loss, grads = model.loss_and_grad(x, v)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("logit", [-1000.0, 1000.0])
def test_huge_logits_and_binary_x_give_finite_loss_and_gradients(dtype, logit):
    model = VAE(6, 2, hidden=(5,), dtype=dtype, seed=0)
    p = model.parameters()
    p["dec.logits.W"][...] = 0
    p["dec.logits.b"][...] = logit
    x, v = _data(model)
    x = (x > 0.5).astype(dtype)
    with np.errstate(over="ignore", invalid="raise", divide="raise"):   # as above
        loss, grads = model.loss_and_grad(x, v)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    # Each pixel that disagrees with the logit's sign costs 1000 nats.
    wrong = (x == 0).sum() if logit > 0 else (x == 1).sum()
    assert loss == pytest.approx(1000 * wrong / x.shape[0], rel=1e-3, abs=1.0)


def test_learned_sigma_x_never_goes_below_its_floor():
    model = VAE(6, 2, hidden=(5,), likelihood="gaussian", sigma_x_floor=0.05, dtype=np.float64)
    model.parameters()["dec.sigma.b"][...] = -1000.0
    x, v = _data(model)
    assert model.decode(v[0])["sigma"].min() == pytest.approx(0.05)
    with np.errstate(over="ignore"):            # sigmoid(-1000) = 1 / (1 + inf) = 0
        loss, grads = model.loss_and_grad(x * 0, v)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("kwargs,match", [
    ({"z_dim": 0}, r"z_dim must be an integer >= 1; got 0"),
    ({"z_dim": 2.5}, r"z_dim must be an integer >= 1; got 2.5"),
    ({"x_dim": -3}, r"x_dim must be an integer >= 1; got -3"),
    ({"likelihood": "poisson"}, r"likelihood must be one of \['bernoulli', 'gaussian', "
                                r"'gaussian-shared', 'gaussian-fixed'\]; got 'poisson'"),
    ({"activation": "swish"}, r"activation must be one of .*'relu'.*; got 'swish'"),
    ({"hidden": (4, 0)}, r"hidden sizes must be an integer >= 1; got 0"),
    ({"dtype": np.float16}, r"dtype must be numpy.float32 or numpy.float64; got float16"),
    ({"sigma_parameterization": "exp"}, r"sigma_parameterization must be one of"),
    ({"likelihood": "gaussian-fixed", "sigma_x": 0.0}, r"sigma_x must be a finite number > 0"),
    ({"likelihood": "gaussian", "sigma_x_floor": 0.0}, r"sigma_x_floor must be > 0"),
    ({"likelihood": "gaussian-shared", "sigma_x_floor": 0.0},
     r"sigma_x_floor must be > 0 for the gaussian-shared likelihood"),
])
def test_bad_constructor_arguments(kwargs, match):
    args = {"x_dim": 6, "z_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        VAE(args.pop("x_dim"), args.pop("z_dim"), **args)


def _good():
    model = VAE(6, 2, hidden=(5,), dtype=np.float64)
    x, v = _data(model, batch=4, r=2)
    return model, x, v


@pytest.mark.parametrize("make,match", [
    (lambda x, v: (x[:, :5], v), r"x must have shape \(B, 6\); got \(4, 5\)"),
    (lambda x, v: (x[0], v), r"x must have shape \(B, 6\); got \(6,\)"),
    (lambda x, v: (x, v[0]), r"v must have shape \(r, 4, 2\); got \(4, 2\)"),
    (lambda x, v: (x, v[:, :3]), r"v must have shape \(r, 4, 2\); got \(2, 3, 2\)"),
    (lambda x, v: (x, v[..., :1]), r"v must have shape \(r, 4, 2\); got \(2, 4, 1\)"),
    (lambda x, v: (np.where(np.arange(6) == 2, np.nan, x), v),
     r"x must be finite; got nan at index \(0, 2\)"),
    (lambda x, v: (x, np.full_like(v, np.inf)), r"v must be finite; got inf"),
    (lambda x, v: (x + 0.5, v), r"x must lie in \[0, 1\] for the bernoulli likelihood; "
                                r"got values in \[0.5\d*, 1.\d+\]"),
    (lambda x, v: (x - 1.0, v), r"x must lie in \[0, 1\] for the bernoulli likelihood"),
    (lambda x, v: (x.astype(str), v), r"x must hold real numbers; got dtype <U"),
])
def test_bad_x_and_v(make, match):
    model, x, v = _good()
    bad_x, bad_v = make(x, v)
    with pytest.raises(ValueError, match=match):
        model.loss_and_grad(bad_x, bad_v)


def test_gaussian_accepts_x_outside_the_unit_interval():
    model = VAE(6, 2, hidden=(5,), likelihood="gaussian", dtype=np.float64)
    x, v = _data(model)
    assert np.isfinite(model.loss(3 * x - 1, v))


@pytest.mark.parametrize("beta", [-1.0, float("nan"), "one"])
def test_bad_beta(beta):
    model, x, v = _good()
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        model.loss_and_grad(x, v, beta)


def test_bad_sample_arguments():
    model = VAE(6, 2, hidden=(5,))
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        model.sample(0, np.random.default_rng())
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        model.sample(3, np.random.RandomState(0))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 2\) or \(r, B, 2\)"):
        model.decode(np.zeros(2))


def test_gaussian_shared_has_one_sigma_x_for_every_pixel_starting_at_the_fixed_default():
    from numpyvae.likelihoods import DEFAULT_SIGMA_X
    model = VAE(6, 2, hidden=(5,), likelihood="gaussian-shared", dtype=np.float64)
    t = model.parameters()["dec.sigma_x.t"]
    assert t.shape == (1,) and "dec.sigma.W" not in model.parameters()
    out = model.decode(np.zeros((3, 2)))
    np.testing.assert_allclose(out["sigma"], DEFAULT_SIGMA_X, rtol=1e-12)   # floor + softplus(t)
    t[...] = -2.0
    expected = 0.01 + np.log1p(np.exp(-2.0))                     # eq. (22), the default floor
    np.testing.assert_allclose(model.decode(np.ones((4, 2)))["sigma"], expected, rtol=1e-12)
    assert model.equations_for("dec.sigma_x.t") == (4, 19, 21, 22, 47)
    high = VAE(6, 2, likelihood="gaussian-shared", sigma_x_floor=0.2, dtype=np.float64)
    np.testing.assert_allclose(high.decode(np.zeros((1, 2)))["sigma"], 0.4, rtol=1e-12)


def test_gaussian_defaults_sigmoid_means_and_the_documented_sigma_x():
    from numpyvae.likelihoods import DEFAULT_SIGMA_X
    assert VAE(6, 2, likelihood="gaussian").config["mean_activation"] == "sigmoid"
    assert VAE(6, 2).config["mean_activation"] == "identity"      # unused by Bernoulli
    fixed = VAE(6, 2, likelihood="gaussian-fixed", dtype=np.float64)
    assert fixed.config["sigma_x"] == DEFAULT_SIGMA_X
    np.testing.assert_array_equal(fixed.decode(np.zeros((2, 2)))["sigma"], DEFAULT_SIGMA_X)
    means = fixed.decode(np.random.default_rng(0).normal(0, 30, (50, 2)))["mean"]
    assert ((means > 0) & (means < 1)).all()

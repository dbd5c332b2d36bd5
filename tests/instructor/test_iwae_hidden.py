"""Task 'iwae-bound' against the reference of iwae_reference.py, on random inputs (hidden).

The visible tests of tests/test_evaluate.py check hand-worked and closed-form cases; these
compare values on random models, weights and noise with a reference written independently of
the package (log q from the density of z, the log-mean-exp in decimal arithmetic). The
reparameterization is the reference's here too, so that only this task's code is graded. The
autograder runs them; the student copy does not hold them.
"""
import numpy as np
import pytest

import iwae_reference
from numpyvae import VAE, evaluate
from numpyvae.evaluate import importance_weighted_log_likelihood, log_mean_exp, log_weights

LME_HINT = ("Re-read eq. (39): the log of the mean of exp(w) along the given axis, with the "
            "largest term of that axis factored out.")
LOG_W_HINT = ("Re-read eqs. (37)-(38): log w = log P(x|z) + log p(z) - log q(z|x), each "
              "density summed over the latent dimensions, and log q written with the noise v.")


@pytest.fixture
def reference_reparameterization(monkeypatch):
    """The reference's z = mu + sigma v in place of the package's (task 'reparameterize')."""
    def reparameterize(mu, sigma, v):
        z = np.array(iwae_reference.samples_of_q(mu, sigma, v), dtype=v.dtype)
        return z, (sigma, v)

    monkeypatch.setattr(evaluate, "reparameterize_forward", reparameterize)


def _model(likelihood, activation, seed, z_dim=3, x_dim=7, spread=0.0):
    model = VAE(x_dim, z_dim, hidden=(5,), likelihood=likelihood, activation=activation,
                dtype=np.float64, seed=seed, sigma_x=0.7)
    if spread:
        # a q(z|x) far from the posterior: log weights spread over many nats
        model.parameters()["enc.log_var.b"][...] = spread
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (4, x_dim))
    return model, x, rng


@pytest.mark.points(1, task="iwae-bound", hidden=True)
def test_log_mean_exp_on_random_weights():
    rng = np.random.default_rng(10)
    cases = [
        (rng.normal(-100.0, 30.0, 40), 0),
        (rng.normal(0.0, 1.0, (25, 3)), 0),
        (rng.normal(-700.0, 200.0, (3, 30)), 1),                 # exp underflows
        (rng.normal(650.0, 150.0, (2, 20, 3)), 1),                # exp overflows
        (rng.normal(-5.0, 2.0, (4, 3, 6)), -1),
        (rng.normal(-50.0, 10.0, (1, 5)), 0),                     # one term per column
        (rng.normal(0.0, 5.0, (30, 3)) + [-1500.0, 0.0, 600.0], 0),   # columns far apart
    ]
    for w, axis in cases:
        with np.errstate(all="ignore"):
            got = log_mean_exp(w, axis=axis)
        expected = iwae_reference.log_mean_exp_along(w, axis)
        assert np.shape(got) == expected.shape, (
            f"log_mean_exp of shape {w.shape} along axis {axis} returned shape "
            f"{np.shape(got)}; expected {expected.shape}. {LME_HINT}")
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-11), (
            f"log_mean_exp of weights of shape {w.shape} (mean {w.mean():.1f}, sd "
            f"{w.std():.1f}) along axis {axis}: largest error "
            f"{np.nanmax(np.abs(np.asarray(got, dtype=float) - expected)):.3g} "
            f"(got {np.ravel(got)[:3]}..., expected {np.ravel(expected)[:3]}...). {LME_HINT}")


@pytest.mark.points(1, task="iwae-bound", hidden=True)
@pytest.mark.usefixtures("reference_reparameterization")
def test_log_weights_on_random_models():
    for seed, (likelihood, activation, spread) in enumerate(
            [("bernoulli", "relu", 0.0), ("gaussian", "tanh", -2.0),
             ("gaussian-fixed", "elu", 1.5), ("bernoulli", "tanh", -3.0)]):
        model, x, rng = _model(likelihood, activation, seed, spread=spread)
        v = rng.standard_normal((5, 4, 3))
        with np.errstate(all="ignore"):
            got = log_weights(model, x, v)
        expected = iwae_reference.log_weights(model, x, v)
        assert np.shape(got) == (5, 4), (
            f"log_weights returned shape {np.shape(got)}; expected (K, B) = (5, 4). "
            f"{LOG_W_HINT}")
        assert np.allclose(got, expected, rtol=1e-10, atol=1e-9), (
            f"log_weights of a random {likelihood} model ({activation}) differs from the "
            f"reference by up to {np.nanmax(np.abs(got - expected)):.3g} nats "
            f"(got {got[0].round(4)}, expected {expected[0].round(4)} for the first sample). "
            f"{LOG_W_HINT}")


@pytest.mark.points(1, task="iwae-bound", hidden=True)
@pytest.mark.usefixtures("reference_reparameterization")
def test_the_importance_weighted_estimate_over_chunks(monkeypatch):
    """importance_weighted_log_likelihood, which combines chunks of samples through
    log_mean_exp, against the reference with the very noise it drew."""
    drawn = []
    reparameterize = evaluate.reparameterize_forward          # the reference's, from the fixture

    def recording(mu, sigma, v):
        drawn.append(v.copy())
        return reparameterize(mu, sigma, v)

    monkeypatch.setattr(evaluate, "reparameterize_forward", recording)
    for seed, (likelihood, spread) in enumerate([("bernoulli", -3.0), ("gaussian", 1.0)]):
        model, x, _ = _model(likelihood, "tanh", seed + 20, spread=spread)
        drawn.clear()
        with np.errstate(all="ignore"):
            got = importance_weighted_log_likelihood(
                model, x, np.random.default_rng(seed), samples=40,
                max_elements=7 * x.shape[0] * x.shape[1])       # chunks of 7 samples
        expected = iwae_reference.importance_weighted(model, x, np.concatenate(drawn))
        assert np.allclose(got, expected, rtol=1e-10, atol=1e-9), (
            f"the importance-weighted estimate of log p(x) with K = 40 samples in chunks of "
            f"7 ({likelihood} model) differs from the reference: got {got}, expected "
            f"{expected}. Re-read eqs. (36)-(39): each chunk's log-mean-exp is combined with "
            f"the others through log_mean_exp too, so it must be right for any axis, any "
            f"shape and weights far apart.")

"""The importance-weighted log-likelihood: against the ELBO, in K, and against quadrature."""
import numpy as np
import pytest

from numpyvae import VAE
from numpyvae.evaluate import (evaluate_elbo, importance_weighted_log_likelihood, log_mean_exp,
                               log_weights)


def _model(z_dim=2, likelihood="bernoulli", seed=0, poor_q=True):
    model = VAE(8, z_dim, hidden=(6,), likelihood=likelihood, activation="tanh",
                dtype=np.float64, seed=seed)
    if poor_q:
        # q(z|x) narrower than the posterior, so that the bounds differ visibly.
        model.parameters()["enc.log_var.b"][...] = -1.0
    x = np.random.default_rng(seed).uniform(0, 1, (4, 8))
    return model, x


def test_log_mean_exp_is_stable_and_correct():
    w = np.array([[-1000.0, 0.5], [-1001.0, 1.5], [-999.0, -0.5]])
    expected_second = np.log(np.mean(np.exp(w[:, 1])))
    expected_first = -1000 + np.log(np.mean(np.exp(w[:, 0] + 1000)))
    np.testing.assert_allclose(log_mean_exp(w, axis=0), [expected_first, expected_second],
                               rtol=1e-14)


def test_log_weights_match_the_densities_written_out():
    model, x = _model(z_dim=1)
    v = np.random.default_rng(1).standard_normal((3, 4, 1))
    mu, sigma = model.encode(x)
    z = mu + sigma * v
    p = model.decode(z)["mean"]
    log_px = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)
    log_pz = (-0.5 * np.log(2 * np.pi) - z ** 2 / 2)[..., 0]
    log_qz = (-np.log(sigma * np.sqrt(2 * np.pi)) - (z - mu) ** 2 / (2 * sigma ** 2))[..., 0]
    np.testing.assert_allclose(log_weights(model, x, v), log_px + log_pz - log_qz, rtol=1e-10)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_never_below_the_elbo(likelihood):
    """log-mean-exp of the weights >= their mean, and >= the (closed-form-KL) ELBO."""
    model, x = _model(likelihood=likelihood)
    rng = np.random.default_rng(2)
    v = rng.standard_normal((1000, 4, 2))
    w = log_weights(model, x, v)
    assert (log_mean_exp(w, axis=0) >= w.mean(axis=0)).all()

    iw = importance_weighted_log_likelihood(model, x, np.random.default_rng(3), samples=1000)
    v_elbo = rng.standard_normal((4000, 4, 2))
    neg_elbo = model.elbo_terms(x, v_elbo)["loss"]
    # the ELBO estimate's own noise, from the spread of its 4000 single-sample terms
    per_sample = np.stack([model.elbo_terms(x, v_elbo[j:j + 1])["loss"] for j in range(200)])
    se = per_sample.std(axis=0) / np.sqrt(4000)
    assert (iw >= -neg_elbo - 4 * se).all()


def test_tightens_as_k_grows():
    """The mean of L_K over 300 repetitions rises with K = 1, 10, 100 by more than its noise."""
    model, x = _model(seed=4)
    rng = np.random.default_rng(5)
    means, ses = [], []
    for K in (1, 10, 100):
        runs = np.array([importance_weighted_log_likelihood(model, x, rng, samples=K).mean()
                         for _ in range(300)])
        means.append(runs.mean())
        ses.append(runs.std() / np.sqrt(len(runs)))
    for i in range(2):
        assert means[i + 1] - means[i] > 3 * np.hypot(ses[i], ses[i + 1]), (means, ses)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian-fixed"])
def test_agrees_with_quadrature_for_a_one_dimensional_latent(likelihood):
    """With z_dim = 1, p(x) = int p(x|z) N(z; 0, 1) dz on a fine grid (trapezoid rule)."""
    model, x = _model(z_dim=1, likelihood=likelihood, seed=6, poor_q=False)
    grid = np.linspace(-12, 12, 24001)
    dz = grid[1] - grid[0]
    dec = model.decode(grid[:, None])
    if likelihood == "bernoulli":
        p = dec["mean"][:, None, :]                           # (G, 1, D)
        log_px_z = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)   # (G, B)
    else:
        m, s = dec["mean"][:, None, :], dec["sigma"][:, None, :]
        log_px_z = np.sum(-np.log(s * np.sqrt(2 * np.pi)) - (x - m) ** 2 / (2 * s ** 2), -1)
    log_joint = log_px_z + (-0.5 * np.log(2 * np.pi) - grid ** 2 / 2)[:, None]
    weights = np.full(len(grid), dz)
    weights[[0, -1]] = dz / 2
    top = log_joint.max(axis=0)
    log_px = top + np.log(np.sum(weights[:, None] * np.exp(log_joint - top), axis=0))

    iw = importance_weighted_log_likelihood(model, x, np.random.default_rng(7), samples=5000)
    np.testing.assert_allclose(iw, log_px, atol=0.02)


def test_chunking_does_not_change_the_result():
    model, x = _model()
    a = importance_weighted_log_likelihood(model, x, np.random.default_rng(8), samples=300)
    b = importance_weighted_log_likelihood(model, x, np.random.default_rng(8), samples=300,
                                           max_elements=8 * 4 * 7)   # chunks of 7 samples
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_evaluate_elbo_averages_over_the_dataset():
    model, x = _model()
    x = np.concatenate([x] * 3)
    result = evaluate_elbo(model, x, np.random.default_rng(9), samples=2, batch_size=5)
    rng = np.random.default_rng(9)
    direct = np.concatenate([model.elbo_terms(x[i:i + 5], rng.standard_normal((2, len(x[i:i + 5]), 2)))["loss"]
                             for i in range(0, 12, 5)])
    assert result["loss"] == pytest.approx(direct.mean(), rel=1e-12)
    assert result["loss"] == pytest.approx(result["recon"] + result["kl"], rel=1e-12)


def test_bad_arguments():
    model, x = _model()
    with pytest.raises(ValueError, match="samples must be an integer >= 1; got 0"):
        importance_weighted_log_likelihood(model, x, np.random.default_rng(), samples=0)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 8\)"):
        importance_weighted_log_likelihood(model, x[:, :3], np.random.default_rng())


def test_evaluation_never_computes_the_bernoulli_probabilities(monkeypatch):
    # The loss's value needs only the logits; computing sigmoid(logits) over every sample of
    # an importance-weighted evaluation cost about 15% of its time.
    from numpyvae.likelihoods import bernoulli

    model, x = _model()
    expected_iw = importance_weighted_log_likelihood(model, x, np.random.default_rng(2), 50)
    expected_elbo = evaluate_elbo(model, x, np.random.default_rng(3))

    def forbidden(a):
        raise AssertionError("sigmoid was called")

    monkeypatch.setattr(bernoulli, "sigmoid", forbidden)
    with pytest.raises(AssertionError, match="sigmoid was called"):
        model.decode(np.zeros((1, 2)))                     # the patch does take effect
    np.testing.assert_array_equal(
        importance_weighted_log_likelihood(model, x, np.random.default_rng(2), 50), expected_iw)
    assert evaluate_elbo(model, x, np.random.default_rng(3)) == expected_elbo


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian-fixed"])
def test_the_likelihood_on_two_cores_gives_the_same_estimate_bit_for_bit(likelihood,
                                                                          monkeypatch):
    from numpyvae.engine import threads

    model, x = _model(likelihood=likelihood)
    monkeypatch.setattr(threads, "FORCE", False)
    one_core = importance_weighted_log_likelihood(model, x, np.random.default_rng(4), 30)
    monkeypatch.setattr(threads, "FORCE", True)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    monkeypatch.setattr(threads, "MIN_CHUNK", 1)
    split = []
    run = threads.run
    monkeypatch.setattr(threads, "run", lambda tasks: (split.append(len(tasks)), run(tasks)))
    two_cores = importance_weighted_log_likelihood(model, x, np.random.default_rng(4), 30)
    assert split and set(split) == {2}                 # the work was split in two
    np.testing.assert_array_equal(two_cores, one_core)

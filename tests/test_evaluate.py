"""The importance-weighted bound: task 'iwae-bound' (graded), and the evaluation built on it.

The graded tests check ``log_mean_exp`` and ``log_weights`` on cases worked out by hand or in
closed form, with a model made for it: q(z|x) = N(MU, diag SIGMA^2) for every x, and a decoder
that ignores z (every pixel's probability is 1/2), so that log P(x|z) = -D log 2, the
posterior is the prior and log p(x) = -D log 2 exactly. They draw the samples z themselves and
pass the noise that gives them, so they never run the reparameterization (task
'reparameterize'). The ungraded tests check importance_weighted_log_likelihood and
evaluate_elbo, which use these functions, against the ELBO, in K and against quadrature.
"""
import math
from statistics import NormalDist

import numpy as np
import pytest

from numpyvae import VAE, evaluate
from numpyvae.evaluate import (evaluate_elbo, importance_weighted_log_likelihood, log_mean_exp,
                               log_weights)

D = 6                                  # pixels
MU = np.array([0.5, -1.0])             # q(z|x) = N(MU, diag SIGMA^2), whatever x
SIGMA = np.array([1.4, 1.2])
KL = 0.8062062065848324                # eq. (12) at MU and SIGMA
LOG_PX = -D * math.log(2)              # log P(x|z) for every z, hence log p(x)


def _constant_model():
    """The VAE of the graded tests: q(z|x) = N(MU, diag SIGMA^2) and P(x_d = 1|z) = 1/2."""
    model = VAE(D, 2, hidden=(3,), likelihood="bernoulli", activation="tanh",
                dtype=np.float64, seed=0)
    params = model.parameters()
    for value in params.values():
        value[...] = 0.0
    params["enc.mu.b"][...] = MU
    params["enc.log_var.b"][...] = np.log(SIGMA ** 2)     # s = log sigma^2, eq. (6)
    return model


def _log_weights_at(z, monkeypatch, batch=3):
    """log_weights of the constant model at samples z (K, B, 2) chosen by the test.

    The noise passed is the v that gives these z, and the reparameterization is replaced by a
    stand-in that returns z, so that no other task's code runs.
    """
    monkeypatch.setattr(evaluate, "reparameterize_forward",
                        lambda mu, sigma, v: (z, (sigma, v)))
    x = np.random.default_rng(0).uniform(0, 1, (batch, D))
    return log_weights(_constant_model(), x, (z - MU) / SIGMA)


def _expected_log_w(z):
    """log P(x|z) + log p(z) - log q(z|x) from the standard library's normal densities."""
    prior = NormalDist(0.0, 1.0)
    posts = [NormalDist(m, s) for m, s in zip(MU, SIGMA)]
    out = np.empty(z.shape[:-1])
    for index in np.ndindex(out.shape):
        out[index] = LOG_PX + sum(math.log(prior.pdf(zk)) - math.log(q.pdf(zk))
                                  for zk, q in zip(z[index], posts))
    return out


def _quietly(function, *args, **kwargs):
    """The function's result with numpy's floating-point warnings off: an overflow or a log of
    0 shows in the value, which the tests check and explain."""
    with np.errstate(all="ignore"):
        return function(*args, **kwargs)


LME_HINT = ("Re-read eq. (39): factor out m, the largest term along the axis, take the log of "
            "the mean of exp(w - m) and add m back; exp of the terms themselves under- or "
            "overflows.")


@pytest.mark.points(1, task="iwae-bound")
def test_log_mean_exp_of_hand_worked_weights():
    log3 = math.log(3)
    cases = [   # (w, expected, why)
        ([0.0, log3], math.log(2), "the mean of 1 and 3 is 2"),
        ([-1000.0, -1000.0 + log3], -1000 + math.log(2), "as above, times exp(-1000)"),
        ([1000.0, 1000.0 + log3], 1000 + math.log(2), "as above, times exp(1000)"),
        ([-1000.0, 1000.0], 1000 - math.log(2), "half of exp(1000), the other term is nothing"),
        ([-7.25], -7.25, "one term is its own log-mean-exp"),
    ] + [([c] * 4, c, "equal weights: the log-mean-exp is that weight")
         for c in (-1000.0, -100.0, 0.0, 100.0, 1000.0)]
    for w, expected, why in cases:
        got = _quietly(log_mean_exp, np.array(w))
        assert np.shape(got) == (), (
            f"log_mean_exp of an array of shape ({len(w)},) returned shape {np.shape(got)}; "
            f"expected a single number (shape ()): the sum of eq. (39) removes the axis of "
            f"the K terms")
        assert np.isfinite(got) and \
            math.isclose(float(got), expected, rel_tol=1e-12, abs_tol=1e-12), (
            f"log_mean_exp({w}) returned {got!r}; expected {expected!r} ({why}). {LME_HINT}")

    w = np.array([[0.0, log3, -2000.0], [log3, 0.0, -2000.0 + log3]])   # (2, 3)
    for axis, expected in ((1, [math.log(4 / 3), math.log(4 / 3)]),
                           (0, [math.log(2), math.log(2), -2000 + math.log(2)])):
        got = _quietly(log_mean_exp, w, axis=axis)
        assert np.shape(got) == (len(expected),) and np.allclose(got, expected, rtol=1e-12), (
            f"log_mean_exp of an array of shape (2, 3) along axis={axis} returned {got!r}; "
            f"expected {expected} (shape ({len(expected)},)): the mean is over that axis only, "
            f"and so is the largest term. {LME_HINT}")

    w = np.random.default_rng(1).normal(-100.0, 30.0, (50, 4))
    got, mean = _quietly(log_mean_exp, w, axis=0), w.mean(axis=0)
    assert np.all(got >= mean), (
        f"log_mean_exp {got} is below the mean {mean} of the same terms, which Jensen's "
        f"inequality rules out (section 11). {LME_HINT}")


# Slips that shift every log w by the same amount (got - expected), at these MU and SIGMA.
_SLIPS = (
    (float(np.sum(np.log(SIGMA))), "log q(z|x) has log sigma^2 where eq. (37) has log sigma"),
    (-2 * float(np.sum(np.log(SIGMA))), "log q(z|x) has +log sigma where eq. (37) has -log sigma"),
    (math.log(2 * math.pi), "log p(z) lacks its -1/2 log 2 pi per latent dimension, eq. (38)"),
    (-math.log(2 * math.pi), "log q(z|x) lacks its -1/2 log 2 pi per latent dimension, "
                             "eq. (37)"),
)


@pytest.mark.points(1, task="iwae-bound")
def test_log_weights_in_closed_form(monkeypatch):
    z = np.array([[[0.5, -1.0], [0.0, 0.0], [2.0, 1.5]],
                  [[-1.5, 0.3], [0.9, -2.2], [0.5, 1.0]]])       # (K = 2, B = 3, 2)
    got = _quietly(_log_weights_at, z, monkeypatch)
    expected = _expected_log_w(z)
    assert isinstance(got, np.ndarray) and got.shape == (2, 3), (
        f"log_weights returned shape {np.shape(got)}; expected (K, B) = (2, 3): log p(z) and "
        f"log q(z|x) are sums over the latent dimensions only (the last axis), eqs. "
        f"(37)-(38)")
    assert got.dtype == np.float64, f"log_weights returned {got.dtype}; expected float64"
    if not np.allclose(got, expected, rtol=1e-12, atol=1e-10):
        diff = got - expected
        slip = next((why for size, why in _SLIPS if np.allclose(diff, size, atol=1e-9)),
                    None)
        prior = [[sum(math.log(NormalDist().pdf(zk)) for zk in zb) for zb in zs] for zs in z]
        pytest.fail(
            f"log_weights differs from log P(x|z) + log p(z) - log q(z|x) computed from the "
            f"normal densities: got {got.tolist()}, expected {expected.tolist()} (difference "
            f"{diff.tolist()}). Here log P(x|z) = -{D} log 2 = {LOG_PX:.6f} for every z, "
            f"log p(z) = {np.round(prior, 6).tolist()}, and q(z|x) = N({MU.tolist()}, "
            f"diag {np.round(SIGMA ** 2, 6).tolist()}), the same for every x."
            + (f" The difference is that of a known slip: {slip}." if slip else "")
            + " Re-read eqs. (37)-(38): log q(z|x) is written with the noise v, and log w is "
              "log P + log p - log q.")


@pytest.mark.points(1, task="iwae-bound")
def test_the_bound_lies_between_the_elbo_and_log_px(monkeypatch):
    """Where log p(x) is known: the ELBO at K = 1, then tighter, and close to log p(x)."""
    rng = np.random.default_rng(2)
    z = rng.normal(MU, SIGMA, (20000, 3, 2))                      # z ~ q(z|x), 3 examples
    w = _quietly(_log_weights_at, z, monkeypatch)
    assert np.shape(w) == (20000, 3), f"log_weights returned shape {np.shape(w)}; expected (K, B)"

    elbo = LOG_PX - KL
    k1 = w.mean(axis=0)                      # the K = 1 bound, averaged over 20000 draws
    se = w.std(axis=0) / math.sqrt(len(w))
    assert np.all(np.abs(k1 - elbo) < 4 * se), (
        f"at K = 1 the bound is the ELBO (section 11, property 2): the mean of log w over "
        f"20000 samples of q should be E_q[log P(x|z)] - KL = {LOG_PX:.4f} - {KL:.4f} = "
        f"{elbo:.4f} to within {4 * se.max():.3f}; got {k1}. Re-read eqs. (37)-(38).")

    bound = _quietly(log_mean_exp, w[:5000], axis=0)            # K = 5000, eq. (36)
    assert np.all(bound >= w[:5000].mean(axis=0)), (
        f"the importance-weighted bound {bound} is below the mean of its own log weights "
        f"{w[:5000].mean(axis=0)}, which Jensen's inequality rules out. {LME_HINT}")
    assert np.all(np.abs(bound - LOG_PX) < 0.1), (
        f"with K = 5000 samples the bound should be within 0.1 of log p(x) = {LOG_PX:.4f} "
        f"(this model's posterior is its prior), far above the ELBO {elbo:.4f}; got {bound}. "
        f"Re-read eqs. (36) and (39): the log of the mean of the weights, not the mean of "
        f"their logs.")


def _model(z_dim=2, likelihood="bernoulli", seed=0, poor_q=True):
    model = VAE(8, z_dim, hidden=(6,), likelihood=likelihood, activation="tanh",
                dtype=np.float64, seed=seed)
    if poor_q:
        # q(z|x) narrower than the posterior, so that the bounds differ visibly.
        model.parameters()["enc.log_var.b"][...] = -1.0
    x = np.random.default_rng(seed).uniform(0, 1, (4, 8))
    return model, x


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
    prior = np.array([NormalDist().pdf(g) for g in grid])
    weights = np.full(len(grid), dz)
    weights[[0, -1]] = dz / 2
    # 8 pixels: p(x|z) p(z) is far from underflow, so the integral is summed as it stands
    log_px = np.log(np.sum((weights * prior)[:, None] * np.exp(log_px_z), axis=0))

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
    direct = np.concatenate([
        model.elbo_terms(x[i:i + 5], rng.standard_normal((2, len(x[i:i + 5]), 2)))["loss"]
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


# ---------------------------------------------------------------- reports: eq. (48), the floor


def test_bits_per_dimension_of_densities_known_by_hand():
    from numpyvae.evaluate import bits_per_dimension

    D = 784
    # A uniform density on (0, 1)^D, p(x) = 1: -log p(x) = 0, and a pixel costs its byte.
    assert bits_per_dimension(0.0, D) == pytest.approx(8.0, abs=1e-12)
    # p(x) = 2^D on (0, 1/2)^D knows that every pixel is below 128: 7 bits are left.
    assert bits_per_dimension(-D * math.log(2), D) == pytest.approx(7.0, abs=1e-12)
    # p(x) = 256^D on one cell: the image is known, nothing is left to store.
    assert bits_per_dimension(-D * math.log(256), D) == pytest.approx(0.0, abs=1e-12)


def test_bits_per_dimension_against_the_formula():
    from numpyvae.evaluate import bits_per_dimension

    nats = np.array([[-1595.2, 0.0], [300.5, 4000.0]])
    expected = (nats + 10 * math.log(256)) / (10 * math.log(2))      # eq. (48), D = 10
    np.testing.assert_allclose(bits_per_dimension(nats, 10), expected, rtol=1e-14)
    assert isinstance(bits_per_dimension(12.5, 10), float)
    with pytest.raises(ValueError, match="x_dim must be an integer >= 1; got 0"):
        bits_per_dimension(1.0, 0)


def _gaussian_with_sigma(likelihood, t, floor=0.05):
    """A gaussian model whose sigma_x ignores z: softplus(t) over the floor, t per pixel
    (gaussian) or one t for all (gaussian-shared)."""
    model = VAE(len(np.atleast_1d(t)), 2, hidden=(3,), likelihood=likelihood,
                sigma_x_floor=floor, dtype=np.float64, seed=0)
    params = model.parameters()
    if likelihood == "gaussian":
        params["dec.sigma.W"][...] = 0.0
        params["dec.sigma.b"][...] = t
    else:
        params["dec.sigma_x.t"][...] = t
    return model


def test_share_at_the_sigma_floor_is_a_direct_count():
    from numpyvae.evaluate import share_at_sigma_floor

    floor = 0.05
    # softplus(t) = a share of the floor: far below, just below and just above 1e-3 of it
    shares = np.array([1e-9, 5e-4, 9.9e-4, 1.01e-3, 2e-3, 0.5, 3.0])
    t = np.log(np.expm1(shares * floor))                   # softplus(t) = shares * floor
    model = _gaussian_with_sigma("gaussian", np.concatenate([t, [-60.0]]), floor)
    x = np.random.default_rng(0).uniform(0, 1, (7, model.x_dim))
    sigma = floor + np.log1p(np.exp(np.concatenate([t, [-60.0]])))   # independent of z
    expected = np.count_nonzero(sigma < floor * 1.001) / model.x_dim  # 4 of 8 pixels
    assert expected == 0.5
    assert share_at_sigma_floor(model, x, batch_size=3) == pytest.approx(expected)


@pytest.mark.parametrize("t,share", [(-60.0, 1.0), (0.0, 0.0)])
def test_share_at_the_floor_of_one_shared_sigma_is_all_or_nothing(t, share):
    from numpyvae.evaluate import share_at_sigma_floor

    model = _gaussian_with_sigma("gaussian-shared", t)                # one pixel will do
    assert share_at_sigma_floor(model, np.random.default_rng(1).uniform(0, 1, (4, 1))) == share


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian-fixed"])
def test_no_share_at_the_floor_without_a_learned_sigma(likelihood):
    from numpyvae.evaluate import share_at_sigma_floor

    model = VAE(6, 2, hidden=(3,), likelihood=likelihood)
    assert share_at_sigma_floor(model, np.full((2, 6), 0.5, dtype=np.float32)) is None


def test_share_at_the_floor_refuses_images_of_another_size():
    from numpyvae.evaluate import share_at_sigma_floor

    model = VAE(6, 2, hidden=(3,), likelihood="gaussian")
    with pytest.raises(ValueError, match=r"x must have shape \(N, 6\).*got shape \(2, 5\)"):
        share_at_sigma_floor(model, np.zeros((2, 5)))

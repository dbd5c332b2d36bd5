"""Training on the importance-weighted bound, eqs. (49)-(54) of docs/derivation.md.

The graded tests of task 'iwae-gradient' come first: the normalized weights, the bound's
backward and the log weights' backward on cases worked out by hand (its hidden tests compare
the same functions with a reference written with loops, on random inputs). The rest are not
graded: finite differences in float64 for every gradient, the bound's own pieces and the whole
model for every likelihood. Then what a gradient check cannot see: the loss against a direct
formula written here from the densities, the bound at S = 1 against the closed-form ELBO in
expectation, the bound rising with S, finite values at log weights of +-1000, and normalized
weights that sum to 1.
"""
import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

import oracle
from numpyvae import VAE, iwae
from numpyvae import vae as vae_module
from numpyvae.evaluate import importance_weighted_log_likelihood
from numpyvae.gradcheck import (BAR_KINK, BAR_SMOOTH, check_model, numerical_vjp,
                                relative_error, resolution)
from numpyvae.iwae import iwae_bound_backward, iwae_bound_forward, log_weights_backward
from numpyvae.likelihoods import LIKELIHOODS
from numpyvae.reparam import reparameterize_forward
from test_model_gradients import make_case

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _model(likelihood="bernoulli", z_dim=2, seed=0, dtype=np.float64):
    """A small model whose q(z|x) is narrower than its posterior, so that the bounds of
    different S differ visibly (as in tests/test_evaluate.py)."""
    model = VAE(8, z_dim, hidden=(6,), likelihood=likelihood, activation="tanh",
                dtype=dtype, seed=seed)
    model.parameters()["enc.log_var.b"][...] = -1.0
    x = np.random.default_rng(seed).uniform(0, 1, (4, 8)).astype(dtype)
    return model, x


def _repeated(x, n):
    """n copies of each row of x, as one batch: n independent draws of the bound per example
    come from one call."""
    return np.tile(x, (n, 1))


def _chunk_means(values, chunks):
    """The mean of ``values`` and its standard error, from the means of equal chunks."""
    means = np.array([np.mean(c) for c in np.array_split(values, chunks)])
    return float(means.mean()), float(means.std(ddof=1) / math.sqrt(chunks))


# ---------------------------------------------------------------- graded: task 'iwae-gradient'
#
# Hand-worked cases of the three functions the task blanks, in float64 and in float32. They run
# no other task's code: the bound that iwae_bound_forward returns beside the normalized weights
# comes from log_mean_exp (task 'iwae-bound'), which these tests replace by a stand-in that
# returns the bounds of their log weights, worked out by hand.

E = math.e
SHARES = [1 / (1 + E + E ** 2), E / (1 + E + E ** 2), E ** 2 / (1 + E + E ** 2)]   # 1 : e : e^2
LME_012 = math.log((1 + E + E ** 2) / 3)            # log (1/3)(e^0 + e^1 + e^2)

# (log w (S, B), the bound of each column, w~ (S, B), the shape); every log weight is exact in
# float32 too. The columns of the first: log weights 0, 1, 2 (weights in the ratio 1 : e : e^2);
# the same at +1000, where exp overflows, and at -1000, where it underflows; -1000, +1000 and 0
# (weights e^-2000, 1 and e^-1000 of the largest, which round to 0, 1 and 0); three equal ones.
FORWARD_CASES = [
    (np.array([[0.0, 1000.0, -1000.0, -1000.0, -7.25],
               [1.0, 1001.0, -999.0, 1000.0, -7.25],
               [2.0, 1002.0, -998.0, 0.0, -7.25]]),
     [LME_012, 1000 + LME_012, -1000 + LME_012, 1000 - math.log(3), -7.25],
     np.array([SHARES, SHARES, SHARES, [0.0, 1.0, 0.0], [1 / 3] * 3]).T,
     "S = 3 samples of B = 5 examples"),
    (np.array([[-7.25, 1000.0, -1000.0]]), [-7.25, 1000.0, -1000.0], np.ones((1, 3)),
     "S = 1 sample of B = 3 examples, where the one sample takes all the weight"),
]
W_TILDE_HINT = ("Re-read eq. (50): w~_l = w_l / sum_l' w_l', the softmax of each example's "
                "log weights over its S samples (axis 0); exp overflows above a log weight of "
                "about 709 (89 in float32) and underflows below -745, so compute it in the "
                "second form of eq. (50), with each example's largest log weight m_i "
                "subtracted first.")


@pytest.mark.points(1, task="iwae-gradient")
def test_normalized_weights_of_hand_worked_log_weights(monkeypatch):
    for log_w, bound, expected, what in FORWARD_CASES:
        for dtype in (np.float64, np.float32):
            monkeypatch.setattr(iwae, "log_mean_exp",
                                lambda w, axis=0, b=bound: np.asarray(b, dtype=w.dtype))
            with np.errstate(all="ignore"):
                _, got = iwae_bound_forward(log_w.astype(dtype))
            case = f"log weights in {np.dtype(dtype).name}, {what}"
            assert isinstance(got, np.ndarray) and got.shape == log_w.shape, (
                f"iwae_bound_forward's normalized weights (the cache) have shape "
                f"{np.shape(got)} for {case}; expected {log_w.shape}, one weight per sample "
                f"and example. {W_TILDE_HINT}")
            assert got.dtype == dtype, (
                f"iwae_bound_forward's normalized weights are {got.dtype} for log weights in "
                f"{np.dtype(dtype).name}; expected {np.dtype(dtype).name}, the dtype of log_w "
                f"(mind the constants and the dtype of arrays you make). {W_TILDE_HINT}")
            # Rounding allowed: a few units in the last place of the largest log weight (a
            # weight computed through the bound, as w_l / (S e^bound), loses that much).
            tol = 8 * np.finfo(dtype).eps * np.maximum(1.0, np.abs(log_w).max(axis=0))
            bad = [b for b in range(log_w.shape[1])
                   if not (np.all(np.isfinite(got[:, b]))
                           and np.allclose(got[:, b], expected[:, b], rtol=0, atol=tol[b]))]
            assert not bad, (
                f"iwae_bound_forward's normalized weights for {case}: example {bad[0]}, "
                f"with log weights {log_w[:, bad[0]].tolist()}, got "
                f"{got[:, bad[0]].tolist()}, expected "
                f"{np.round(expected[:, bad[0]], 12).tolist()} (an example's weights lie in "
                f"[0, 1] and sum to 1). {W_TILDE_HINT}")


BOUND_BACKWARD_HINT = ("Re-read eq. (51): dL/dlog w_il = dL/dL_S(x_i) * w~_il, each sample l of "
                       "example i gets that example's dbound_i times its own normalized weight; "
                       "dbound has one entry per example (axis 1 of the weights), none per "
                       "sample.")


@pytest.mark.points(1, task="iwae-gradient")
def test_bound_backward_of_hand_worked_weights():
    cases = [   # (dbound (B,), w~ (S, B), dL/dlog w (S, B), what)
        ([-0.5, 2.0, 4.0], [[0.25, 1.0, 0.5], [0.75, 0.0, 0.5]],
         [[-0.125, 2.0, 2.0], [-0.375, 0.0, 2.0]], "S = 2 samples of B = 3 examples"),
        ([1.0, -2.0], [[0.25, 0.9], [0.75, 0.1]], [[0.25, -1.8], [0.75, -0.2]],
         "S = B = 2: example i's dbound_i goes to column i of the weights, never to row i"),
        ([-0.25] * 4, [[1.0] * 4], [[-0.25] * 4],
         "S = 1 with the model's seed -1/B at B = 4: the one sample takes all of it"),
    ]
    for dbound, w_tilde, expected, what in cases:
        for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-6)):
            got = iwae_bound_backward(np.array(dbound, dtype=dtype),
                                      np.array(w_tilde, dtype=dtype))
            case = (f"dbound = {dbound} and normalized weights {w_tilde} in "
                    f"{np.dtype(dtype).name} ({what})")
            assert isinstance(got, np.ndarray) and got.shape == np.shape(expected), (
                f"iwae_bound_backward returned shape {np.shape(got)} for {case}; expected "
                f"(S, B) = {np.shape(expected)}, the shape of the log weights. "
                f"{BOUND_BACKWARD_HINT}")
            assert got.dtype == dtype, (
                f"iwae_bound_backward returned {got.dtype} for {case}; expected "
                f"{np.dtype(dtype).name}, the dtype of its inputs. {BOUND_BACKWARD_HINT}")
            assert np.allclose(got, expected, rtol=rtol, atol=0), (
                f"iwae_bound_backward for {case}: got {got.tolist()}, expected {expected}. "
                f"{BOUND_BACKWARD_HINT}")


# S = 2 samples of B = 3 examples in K = 2 dimensions: the gradients worked out by hand.
LW_DLOG_W = [[0.5, -1.0, 0.25], [1.5, 2.0, -0.75]]             # column sums 2, 1, -0.5
LW_Z = [[[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]],
        [[2.0, 1.0], [-0.5, 4.0], [0.0, -2.0]]]
LW_SIGMA = [[0.5, 2.0], [1.0, 4.0], [0.25, 1.0]]
LW_DZ = [[[-0.5, 1.0], [0.5, 0.0], [0.25, -0.75]],              # dlog_w * -z
         [[-3.0, -1.5], [1.0, -8.0], [0.0, -1.5]]]
LW_DSIGMA = [[4.0, 1.0], [1.0, 0.25], [-2.0, -0.5]]             # (sum over l of dlog_w) / sigma


@pytest.mark.points(1, task="iwae-gradient")
def test_log_weights_backward_of_hand_worked_samples():
    for dtype in (np.float64, np.float32):
        dlog_w, z, sigma = (np.array(a, dtype=dtype) for a in (LW_DLOG_W, LW_Z, LW_SIGMA))
        got = log_weights_backward(dlog_w, (z, sigma))
        name = np.dtype(dtype).name
        assert isinstance(got, tuple) and len(got) == 3, (
            f"log_weights_backward must return the three gradients (dlog_px, dz, dsigma); got "
            f"{type(got).__name__}. Re-read eqs. (53)-(54) and the three terms of log w in "
            f"section 11.1.")
        checks = [
            ("dlog_px", (2, 3), LW_DLOG_W,
             "log w = log P(x|z) + log p(z) - log q(z|x) (section 11.1, the three terms of "
             "log w): the likelihood's term enters with +1, so dL/dlog P(x|z_l) is dL/dlog w_l "
             "itself, the seed of eq. (51) passed on"),
            ("dz", (2, 3, 2), LW_DZ,
             "Re-read eq. (53): dlog p(z)/dz = -z, so each sample's dL/dz_l is dL/dlog w_l "
             "times -z_l, for each of its K dimensions"),
            ("dsigma", (3, 2), LW_DSIGMA,
             "Re-read eq. (54): dlog q(z|x)/dsigma = -1/sigma with the noise held fixed, and "
             "log q enters log w with a minus sign, so each sample adds dL/dlog w_l times "
             "+1/sigma, summed over the S samples of its example"),
        ]
        for (what, shape, expected, hint), value in zip(checks, got):
            assert isinstance(value, np.ndarray) and value.shape == shape, (
                f"log_weights_backward's {what} has shape {np.shape(value)}; expected {shape} "
                f"(S = 2 samples, B = 3 examples, K = 2 dimensions). {hint}.")
            assert value.dtype == dtype, (
                f"log_weights_backward's {what} is {value.dtype} for inputs in {name}; "
                f"expected {name}. {hint}.")
            assert np.allclose(value, expected, rtol=1e-12 if dtype == np.float64 else 1e-6,
                               atol=0), (
                f"log_weights_backward's {what} in {name}, with dlog_w = {LW_DLOG_W}, z = "
                f"{LW_Z} and sigma = {LW_SIGMA}: got {value.tolist()}, expected {expected}. "
                f"{hint}.")


# ---------------------------------------------------------------- the pieces, by finite differences

@pytest.mark.parametrize("S", [1, 2, 7])
def test_bound_backward_matches_central_differences(S):
    rng = np.random.default_rng(S)
    log_w = rng.normal(0.0, 3.0, (S, 4))
    dbound = rng.normal(size=4)
    bound, cache = iwae_bound_forward(log_w)
    analytic = iwae_bound_backward(dbound, cache)
    numeric = numerical_vjp(lambda lw: iwae_bound_forward(lw)[0], log_w, dbound)
    assert analytic.shape == (S, 4)
    # entries below the resolution of a central difference must agree in absolute terms, eq. (46)
    floor = resolution(np.abs(dbound * bound).sum()) / BAR_SMOOTH
    error = relative_error(analytic, numeric, floor).max()
    assert error < BAR_SMOOTH, (f"iwae_bound_backward differs from central differences: "
                                f"{error:.2e}; re-read eq. (51)")


def test_log_weights_backward_matches_central_differences():
    """(53) against log p(z) written here, and (54) against log q(z|x) written as the density
    of z, with z = mu + sigma v made again from the noise at every perturbation: the total
    derivative that section 11.1 says (54) is."""
    rng = np.random.default_rng(5)
    S, B, K = 3, 4, 2
    mu, sigma = rng.normal(size=(B, K)), rng.uniform(0.3, 2.0, (B, K))
    v = rng.standard_normal((S, B, K))
    z, _ = reparameterize_forward(mu, sigma, v)
    dlog_w = rng.normal(size=(S, B))
    dlog_px, dz, dsigma = log_weights_backward(dlog_w, (z, sigma))

    def log_prior(z_):
        return -0.5 * (z_ * z_).sum(axis=-1) - K * HALF_LOG_2PI

    def log_q_as_a_density(mu_, sigma_):
        z_, _ = reparameterize_forward(mu_, sigma_, v)
        return np.sum(-((z_ - mu_) / sigma_) ** 2 / 2 - np.log(sigma_) - HALF_LOG_2PI, axis=-1)

    assert np.array_equal(dlog_px, dlog_w)
    numeric_dz = numerical_vjp(log_prior, z.copy(), dlog_w)
    assert relative_error(dz, numeric_dz).max() < 1e-7, "re-read eq. (53)"
    # log q enters log w with a minus sign
    numeric_dsigma = numerical_vjp(lambda s: -log_q_as_a_density(mu, s), sigma, dlog_w)
    assert relative_error(dsigma, numeric_dsigma).max() < 1e-7, "re-read eq. (54)"
    numeric_dmu = numerical_vjp(lambda m: -log_q_as_a_density(m, sigma), mu, dlog_w)
    assert np.abs(numeric_dmu).max() < 1e-9, "log q(z|x) does not depend on mu, eq. (54)"


# ---------------------------------------------------------------- the whole model

GRID = list(itertools.product(LIKELIHOODS, ["tanh", "relu"], [1, 4], [(1, 1), (2, 3)]))


@pytest.mark.parametrize("likelihood,activation,S,shape", GRID)
def test_every_parameter_gradient_of_the_bound(likelihood, activation, S, shape):
    z_dim, batch = shape
    model, x, v = make_case(likelihood, activation, S, z_dim, batch)
    report = check_model(model, x, v, objective="iwae")
    assert {row.bar for row in report.rows} == {BAR_SMOOTH if activation == "tanh" else BAR_KINK}
    assert [row.name for row in report.rows] == list(model.parameters())
    assert report.passed, "\n" + report.table() + "\n" + report.failure_message()


@pytest.mark.parametrize("options", [{"sigma_parameterization": "softplus"},
                                     {"mean_activation": "identity"}])
def test_other_parameterizations(options):
    model, x, v = make_case("gaussian", "tanh", 3, 2, 3, **options)
    report = check_model(model, x, v, objective="iwae")
    assert report.passed, "\n" + report.table() + "\n" + report.failure_message()


def test_failures_name_the_equations_of_the_bound(monkeypatch):
    """A backward that loses log q's share of dL/dsigma fails on sigma's parameters only, and
    says to re-read eq. (54)."""
    def without_log_q(dlog_w, cache):
        dlog_px, dz, dsigma = log_weights_backward(dlog_w, cache)
        return dlog_px, dz, 0 * dsigma

    monkeypatch.setattr(vae_module, "log_weights_backward", without_log_q)
    model, x, v = make_case("bernoulli", "tanh", 3, 2, 3)
    report = check_model(model, x, v, objective="iwae")
    failed = {row.name for row in report.rows if not row.passed}
    assert failed and all(name.startswith("enc.") and not name.startswith("enc.mu.")
                          for name in failed), report.table()
    assert "(54)" in report.failure_message()


def test_equations_for_the_bound():
    model = VAE(6, 2, hidden=(5,), activation="tanh", dtype=np.float64)
    decoder, mu, s = (set(model.equations_for(name, "iwae"))
                      for name in ("dec.h1.W", "enc.mu.W", "enc.log_var.b"))
    for path in (decoder, mu, s):
        assert {49, 50, 51, 52} <= path and not {4, 13, 14} & path
    assert 53 not in decoder and 54 not in decoder
    assert 53 in mu and 54 not in mu                     # log q does not depend on mu, eq. (54)
    assert {53, 54, 7} <= s
    assert model.equations_for("enc.mu.W") == model.equations_for("enc.mu.W", "elbo")
    with pytest.raises(ValueError, match=r"objective must be one of \['elbo', 'iwae'\]; "
                                         r"got 'iwea'"):
        model.equations_for("enc.mu.W", "iwea")


# ---------------------------------------------------------------- what a gradient check cannot see

def _direct_bound(model, x, v):
    """log (1/S) sum_l w_l of each example, from the densities written out one number at a
    time, with the networks of tests/oracle.py."""
    params, config = model.parameters(), model.config
    mu, sigma, _ = oracle.encode(params, config, x)
    z, _ = reparameterize_forward(mu, sigma, v)
    S, B, _ = v.shape
    bound = np.empty(B)
    for i in range(B):
        weights = []
        for l in range(S):
            decoded, _ = oracle.decode(params, config, z[l, i][None])
            if config["likelihood"] == "bernoulli":
                log_px = -oracle.bernoulli_nll(x[i], decoded["mean"][0])
            else:
                sigma_x = decoded["sigma"][0]
                if config["likelihood"] == "gaussian-shared":   # one sigma_x, eq. (47)
                    t = params["dec.sigma_x.t"][0]
                    sigma_x = np.full_like(sigma_x,
                                           config["sigma_x_floor"] + math.log1p(math.exp(t)))
                log_px = -oracle.gaussian_nll(x[i], decoded["mean"][0], sigma_x)
            log_prior = sum(math.log(NormalDist().pdf(zk)) for zk in z[l, i])
            log_q = sum(math.log(NormalDist(m, s).pdf(zk))
                        for zk, m, s in zip(z[l, i], mu[i], sigma[i]))
            weights.append(math.exp(log_px + log_prior - log_q))
        bound[i] = math.log(sum(weights) / S)
    return bound


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_the_loss_against_a_direct_formula(likelihood):
    model, x, v = make_case(likelihood, "tanh", 5, 2, 3)
    expected = -_direct_bound(model, x, v).mean()
    assert model.loss(x, v, objective="iwae") == pytest.approx(expected, rel=1e-10, abs=1e-10)
    loss, _ = model.loss_and_grad(x, v, objective="iwae")
    assert loss == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_the_parts_are_the_elbo_of_the_same_samples():
    """recon + kl = -1/S sum_l log w_l, the ELBO of the same samples with the KL by Monte Carlo:
    never below the loss (Jensen, for every draw); and its recon is the ELBO's, eq. (2)."""
    model, x = _model()
    v = np.random.default_rng(1).standard_normal((6, 4, 2))
    loss, recon, kl = model.compute_gradients(x, v, objective="iwae", return_parts=True)
    assert recon == pytest.approx(float(model.elbo_terms(x, v)["recon"].mean()), rel=1e-12)
    assert loss < recon + kl
    assert loss == pytest.approx(model.loss(x, v, objective="iwae"), rel=1e-14)


def test_at_S_1_the_bound_is_the_elbo_in_expectation():
    """With one sample, -log w = -log P(x|z) + log q - log p: the negative ELBO with the KL by
    Monte Carlo. On the same noise, it and eq. (2) at r = 1 differ only by log q - log p - KL,
    whose mean under q is 0 (section 11.1). 50000 draws per example, in 100 chunks."""
    model, x = _model()
    rows = _repeated(x, 50000)
    v = np.random.default_rng(3).standard_normal((1, len(rows), 2))
    _, recon, _ = model.compute_gradients(rows, v, objective="iwae", return_parts=True)
    assert recon == pytest.approx(float(model.elbo_terms(rows, v)["recon"].mean()), rel=1e-12)

    chunks = 100
    diffs = [model.loss(r, vv, objective="iwae") - model.loss(r, vv)
             for r, vv in zip(np.array_split(rows, chunks), np.array_split(v, chunks, axis=1))]
    mean, se = _chunk_means(np.array(diffs), chunks)
    assert se > 0 and abs(mean) < 4 * se, (
        f"at S = 1 the bound's loss minus the ELBO's (same noise) should average 0; got "
        f"{mean:.4f} with standard error {se:.4f}")
    # The test can tell a slip: log sigma^2 for log sigma in log q would shift that mean by
    # sum_k log sigma_k, about -1 nat for this q.
    shift = np.log(model.encode(x)[1]).sum(axis=1).mean()
    assert abs(shift) > 20 * se, (shift, se)


def test_the_bound_rises_with_S():
    """E[L_S] on a fixed model, each from 10000 draws per example: L_1 < L_2 < L_5 < L_20,
    each step by more than 4 standard errors, and all below the S = 5000 estimate of log p(x)."""
    model, x = _model()
    rng = np.random.default_rng(4)
    means, errors = [], []
    for S in (1, 2, 5, 20):
        n = 10000
        rows = _repeated(x, n)
        v = rng.standard_normal((S, len(rows), 2))
        chunk_losses = [model.loss(r, vv, objective="iwae")
                        for r, vv in zip(np.array_split(rows, 50), np.array_split(v, 50, axis=1))]
        mean, se = _chunk_means(-np.array(chunk_losses), 50)
        means.append(mean)
        errors.append(se)
    for a, b, ea, eb in zip(means, means[1:], errors, errors[1:]):
        assert b - a > 4 * math.hypot(ea, eb), (means, errors)
    log_px = importance_weighted_log_likelihood(model, x, np.random.default_rng(5),
                                                samples=5000).mean()
    assert means[-1] < log_px, (means, log_px)


@pytest.mark.parametrize("log_w,bound,weights", [
    ([1000.0, -1000.0], 1000 - math.log(2), [1.0, 0.0]),
    ([-1000.0, -1000.0], -1000.0, [0.5, 0.5]),
    ([1000.0, 1000.0 + math.log(3)], 1000 + math.log(2), [0.25, 0.75]),
    ([-1000.0, 1000.0, 0.0], 1000 - math.log(3), [0.0, 1.0, 0.0]),
])
def test_the_bound_is_finite_at_log_weights_of_plus_minus_1000(log_w, bound, weights):
    log_w = np.array(log_w)[:, None]                          # S samples of one example
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        got, cache = iwae_bound_forward(log_w)
        dlog_w = iwae_bound_backward(np.array([-1.0]), cache)
    assert got[0] == pytest.approx(bound, rel=1e-15)
    # 1000 + log 3 is stored to about 1e-13, and its weights are as exact as that
    assert np.allclose(cache[:, 0], weights, rtol=0, atol=1e-12)
    assert cache.max() <= 1 and cache.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.isfinite(dlog_w).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("logit", [-1000.0, 1000.0])
def test_a_model_with_log_weights_near_minus_thousands_trains(dtype, logit):
    model = VAE(6, 2, hidden=(5,), dtype=dtype, seed=0)
    p = model.parameters()
    p["dec.logits.W"][...] = 0
    p["dec.logits.b"][...] = logit
    rng = np.random.default_rng(0)
    x = (rng.uniform(0, 1, (4, 6)) > 0.5).astype(dtype)
    v = rng.standard_normal((5, 4, 2)).astype(dtype)
    with np.errstate(over="ignore", invalid="raise", divide="raise"):   # 1 / (1 + inf) = 0
        loss, grads = model.loss_and_grad(x, v, objective="iwae")
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    wrong = (x == 0).sum() if logit > 0 else (x == 1).sum()
    assert loss == pytest.approx(1000 * wrong / x.shape[0], rel=1e-2)


def test_normalized_weights_sum_to_1():
    rng = np.random.default_rng(6)
    log_w = rng.normal(-100.0, 300.0, (50, 7))              # spread over hundreds of nats
    _, w_tilde = iwae_bound_forward(log_w)
    assert np.all((w_tilde >= 0) & (w_tilde <= 1))
    assert np.allclose(w_tilde.sum(axis=0), 1.0, rtol=0, atol=1e-13)
    moderate = rng.normal(0.0, 2.0, (5, 3))                 # where exp is safe: w / sum w
    _, w_tilde = iwae_bound_forward(moderate)
    assert np.allclose(w_tilde, np.exp(moderate) / np.exp(moderate).sum(axis=0), rtol=1e-14)
    _, w_tilde = iwae_bound_forward(moderate[:1])
    assert np.array_equal(w_tilde, np.ones((1, 3)))          # one sample takes all the weight


def test_decoder_gradients_at_S_1_are_the_elbos():
    """log p(z) and log q(z|x) do not depend on the decoder, so at S = 1 (weight 1) its
    gradients are those of eq. (2) at r = 1 on the same noise."""
    model, x = _model()
    v = np.random.default_rng(7).standard_normal((1, 4, 2))
    _, iwae_grads = model.loss_and_grad(x, v, objective="iwae")
    _, elbo_grads = model.loss_and_grad(x, v)
    for name in iwae_grads:
        if name.startswith("dec."):
            assert np.allclose(iwae_grads[name], elbo_grads[name], rtol=1e-12, atol=1e-15), name


def test_float32_model_matches_float64():
    model64, x = _model()
    model32 = VAE(8, 2, hidden=(6,), likelihood="bernoulli", activation="tanh",
                  dtype=np.float32, seed=0)
    model32.set_parameters(model64.parameters())
    v = np.random.default_rng(8).standard_normal((5, 4, 2))
    loss64, grads64 = model64.loss_and_grad(x, v, objective="iwae")
    loss32, grads32 = model32.loss_and_grad(x.astype(np.float32), v.astype(np.float32),
                                            objective="iwae")
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name, g in grads32.items():
        assert g.dtype == np.float32
        assert np.allclose(g, grads64[name], rtol=1e-3, atol=1e-4 * np.abs(grads64[name]).max())


def test_one_encoder_pass_and_the_samples_as_one_decoder_batch(monkeypatch):
    model, x = _model()
    v = np.random.default_rng(9).standard_normal((5, 4, 2))
    calls = []
    encode, decode = model.encoder.forward, model.decoder.forward
    monkeypatch.setattr(model.encoder, "forward",
                        lambda x_, **kw: calls.append(("encoder", x_.shape))
                        or encode(x_, **kw))
    monkeypatch.setattr(model.decoder, "forward",
                        lambda z, **kw: calls.append(("decoder", z.shape)) or decode(z, **kw))
    model.loss_and_grad(x, v, objective="iwae")
    assert calls == [("encoder", (4, 8)), ("decoder", (5, 4, 2))]


# ---------------------------------------------------------------- arguments

@pytest.mark.parametrize("kwargs,match", [
    ({"objective": "iwea"}, r"objective must be one of \['elbo', 'iwae'\]; got 'iwea'"),
    ({"objective": "iwae", "beta": 0.5},
     r"beta must be 1 with objective='iwae'; got 0\.5\. The importance-weighted bound"),
    ({"objective": "iwae", "x_input": np.zeros((4, 8))},
     r"x_input must be None with objective='iwae' .*got an array of shape \(4, 8\)"),
])
def test_bad_arguments_are_named(kwargs, match):
    model, x = _model()
    v = np.zeros((2, 4, 2))
    for call in (model.loss, model.loss_and_grad,
                 lambda *a, **k: model.compute_gradients(*a, check=False, **k)):
        with pytest.raises(ValueError, match=match):
            call(x, v, **kwargs)


def test_the_elbo_stays_the_default():
    model, x = _model()
    v = np.random.default_rng(10).standard_normal((3, 4, 2))
    assert model.loss(x, v) == model.loss(x, v, objective="elbo")
    assert model.loss(x, v) != pytest.approx(model.loss(x, v, objective="iwae"))

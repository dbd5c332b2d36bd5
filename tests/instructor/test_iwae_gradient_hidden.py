"""Task 'iwae-gradient' against the reference of iwae_reference.py, on random inputs (hidden).

The visible tests of tests/test_iwae.py check hand-worked cases; these compare the three
functions on random log weights, samples and seeds with a reference written independently of
the package: the normalized weights from 50-digit exps, the bound's derivative as a central
difference of the decimal log-mean-exp, and log q's share of dL/dsigma from the density of z.
The shapes include S = 1 and S = B, where a gradient broadcast along the wrong axis has the
right shape and the wrong values. The bound that iwae_bound_forward returns beside the weights
is log_mean_exp's (task 'iwae-bound'); the reference's stands in for it here, so that only
this task's code is graded. The autograder runs them; the student copy does not hold them.
"""
import numpy as np
import pytest

import iwae_reference
from numpyvae import iwae
from numpyvae.iwae import iwae_bound_backward, iwae_bound_forward, log_weights_backward

W_TILDE_HINT = ("Re-read eq. (50): w~_l = w_l / sum_l' w_l' over the S samples (axis 0) of "
                "each example, computed in its second form, with each example's largest log "
                "weight subtracted before exp, so that it stays finite at any log weights.")
BOUND_BACKWARD_HINT = ("Re-read eq. (51): dL/dlog w_il = dbound_i * w~_il, example i's dbound "
                       "(one entry per example, axis 1 of the weights) times each sample's "
                       "normalized weight.")
HINTS = {
    "dlog_px": ("Re-read the three terms of log w in section 11.1: log P(x|z) enters log w with "
                "+1, so dL/dlog P(x|z_l) = dL/dlog w_l, the seed of eq. (51) passed on."),
    "dz": "Re-read eq. (53): dlog p(z)/dz = -z, times each sample's dL/dlog w_l.",
    "dsigma": ("Re-read eq. (54): -log q(z|x) adds +1/sigma per unit of dL/dlog w_l, summed "
               "over the S samples of each example (log q does not depend on z or mu with the "
               "noise held fixed)."),
}


@pytest.fixture
def reference_bound(monkeypatch):
    """The reference's log-mean-exp in place of the package's (task 'iwae-bound')."""
    monkeypatch.setattr(iwae, "log_mean_exp", lambda w, axis=0: iwae_reference.log_mean_exp_along(
        w, axis).astype(np.asarray(w).dtype))


def _random_log_w(rng):
    """(log w, what it is): spreads of many nats, ties, columns far apart, S = 1 and S = B."""
    return [
        (rng.normal(-100.0, 300.0, (50, 7)), "S = 50, B = 7, spread over hundreds of nats"),
        (rng.normal(0.0, 2.0, (4, 4)), "S = B = 4, moderate"),
        (rng.normal(0.0, 5.0, (6, 3)) + [-1500.0, 0.0, 900.0], "columns far apart"),
        (np.repeat(rng.normal(-90.0, 20.0, (1, 5)), 3, axis=0)
         + np.array([[0.0], [0.0], [-4.0]]), "two samples tie for the largest log weight"),
        (rng.normal(-700.0, 400.0, (1, 6)), "S = 1"),
        (rng.normal(0.0, 3.0, (9, 2)).astype(np.float32), "S = 9, B = 2 in float32"),
    ]


@pytest.mark.points(1, task="iwae-gradient", hidden=True)
@pytest.mark.usefixtures("reference_bound")
def test_normalized_weights_on_random_log_weights():
    for log_w, what in _random_log_w(np.random.default_rng(30)):
        with np.errstate(all="ignore"):
            _, got = iwae_bound_forward(log_w)
        expected = iwae_reference.normalized_weights(log_w)
        assert isinstance(got, np.ndarray) and got.shape == log_w.shape, (
            f"iwae_bound_forward's normalized weights have shape {np.shape(got)} for log "
            f"weights of shape {log_w.shape} ({what}); expected {log_w.shape}. {W_TILDE_HINT}")
        assert got.dtype == log_w.dtype, (
            f"iwae_bound_forward's normalized weights are {got.dtype} for log weights in "
            f"{log_w.dtype} ({what}); expected {log_w.dtype}. {W_TILDE_HINT}")
        rtol, atol = (1e-10, 1e-14) if log_w.dtype == np.float64 else (1e-5, 1e-7)
        ok = np.isfinite(got) & np.isclose(got, expected, rtol=rtol, atol=atol)
        assert ok.all(), (
            f"iwae_bound_forward's normalized weights for log weights of shape {log_w.shape} "
            f"({what}) differ from the reference: at (sample, example) "
            f"{tuple(int(i) for i in np.argwhere(~ok)[0])}, got "
            f"{got[tuple(np.argwhere(~ok)[0])]!r}, expected "
            f"{expected[tuple(np.argwhere(~ok)[0])]!r}. {W_TILDE_HINT}")


@pytest.mark.points(1, task="iwae-gradient", hidden=True)
def test_bound_backward_on_random_weights():
    rng = np.random.default_rng(31)
    for log_w, what in _random_log_w(rng):
        S, B = log_w.shape
        dtype = log_w.dtype
        for dbound in (np.full(B, -1.0 / B), rng.normal(0.0, 2.0, B)):
            dbound = dbound.astype(dtype)
            w_tilde = iwae_reference.normalized_weights(log_w).astype(dtype)
            got = iwae_bound_backward(dbound, w_tilde)
            expected = iwae_reference.bound_backward(dbound, log_w)
            assert isinstance(got, np.ndarray) and got.shape == (S, B), (
                f"iwae_bound_backward returned shape {np.shape(got)} for dbound of shape "
                f"({B},) and weights of shape ({S}, {B}) ({what}); expected ({S}, {B}). "
                f"{BOUND_BACKWARD_HINT}")
            assert got.dtype == dtype, (
                f"iwae_bound_backward returned {got.dtype} for inputs in {dtype}; expected "
                f"{dtype}. {BOUND_BACKWARD_HINT}")
            rtol, atol = (1e-10, 1e-14) if dtype == np.float64 else (1e-5, 1e-7)
            scale = np.abs(dbound).max()
            ok = np.isclose(got, expected, rtol=rtol, atol=atol * scale)
            assert ok.all(), (
                f"iwae_bound_backward with weights of shape ({S}, {B}) ({what}) and dbound "
                f"{np.round(dbound, 4).tolist()} differs from the derivative of eq. (49): at "
                f"(sample, example) {tuple(int(i) for i in np.argwhere(~ok)[0])}, got "
                f"{got[tuple(np.argwhere(~ok)[0])]!r}, expected "
                f"{expected[tuple(np.argwhere(~ok)[0])]!r}. {BOUND_BACKWARD_HINT}")


@pytest.mark.points(1, task="iwae-gradient", hidden=True)
def test_log_weights_backward_on_random_samples():
    rng = np.random.default_rng(32)
    for S, B, K, dtype in [(5, 3, 4, np.float64), (1, 4, 2, np.float64), (3, 3, 3, np.float64),
                           (2, 6, 1, np.float64), (4, 2, 3, np.float32)]:
        mu = rng.normal(0.0, 2.0, (B, K))
        sigma = np.exp(rng.uniform(np.log(0.01), np.log(5.0), (B, K)))
        v = rng.standard_normal((S, B, K))
        z = np.array(iwae_reference.samples_of_q(mu, sigma, v))
        dlog_w = rng.normal(0.0, 1.0, (S, B)) / B
        dlog_w, z, sigma = (a.astype(dtype) for a in (dlog_w, z, sigma))
        got = log_weights_backward(dlog_w, (z, sigma))
        expected = iwae_reference.log_weights_backward(dlog_w, mu, sigma, z)
        assert isinstance(got, tuple) and len(got) == 3, (
            f"log_weights_backward must return (dlog_px, dz, dsigma); got "
            f"{type(got).__name__}. Re-read eqs. (53)-(54).")
        rtol = 1e-10 if dtype == np.float64 else 1e-5
        for name, value, want in zip(("dlog_px", "dz", "dsigma"), got, expected):
            case = f"S = {S}, B = {B}, K = {K} in {np.dtype(dtype).name}"
            assert isinstance(value, np.ndarray) and value.shape == want.shape, (
                f"log_weights_backward's {name} has shape {np.shape(value)} with {case}; "
                f"expected {want.shape}. {HINTS[name]}")
            assert value.dtype == dtype, (
                f"log_weights_backward's {name} is {value.dtype} for inputs in "
                f"{np.dtype(dtype).name}; expected {np.dtype(dtype).name}. {HINTS[name]}")
            ok = np.isclose(value, want, rtol=rtol, atol=rtol * np.abs(want).max())
            assert ok.all(), (
                f"log_weights_backward's {name} with {case} differs from the reference: at "
                f"{tuple(int(i) for i in np.argwhere(~ok)[0])}, got "
                f"{value[tuple(np.argwhere(~ok)[0])]!r}, expected "
                f"{want[tuple(np.argwhere(~ok)[0])]!r}. {HINTS[name]}")

"""The model against a direct formula, and the gradient check against injected mistakes.

Both need the solutions written out: the negative ELBO of reference_solutions.py holds the
reparameterization and the KL, and the mistakes a student makes are wrong versions of the
reparameterization's and the KL's backward. So these tests stay out of the student copy. None
is graded: the tasks' points come from the visible tests and the hidden ones.
"""
import numpy as np
import pytest

from numpyvae import VAE
from numpyvae import vae as vae_module
from numpyvae.gradcheck import check_model
from reference_solutions import negative_elbo

LIKELIHOODS = ["bernoulli", "gaussian", "gaussian-fixed"]


def _data(model, batch=4, r=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, model.x_dim))
    return x, rng.standard_normal((r, batch, model.z_dim))


# ------------------------------------------------------------------ the loss, recomputed

@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("beta", [0.0, 1.0, 2.5])
def test_loss_matches_a_direct_recomputation(likelihood, beta):
    """From the plain formulas, example by example and sample by sample."""
    model = VAE(5, 2, hidden=(4, 3), likelihood=likelihood, activation="tanh",
                dtype=np.float64, seed=1, sigma_x=0.8)
    x, v = _data(model, batch=3, r=4, seed=2)
    expected = negative_elbo(model.parameters(), model.config, x, v, beta)
    terms = model.elbo_terms(x, v, beta)
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-10)
    np.testing.assert_allclose(terms["loss"], terms["recon"] + beta * terms["kl"], rtol=1e-12)
    assert model.loss(x, v, beta) == pytest.approx(expected.mean(), rel=1e-10)
    assert model.loss_and_grad(x, v, beta)[0] == pytest.approx(expected.mean(), rel=1e-10)


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_loss_matches_encode_decode_and_the_formulas(likelihood):
    """The loss put together from the public encode and decode, as a student would."""
    model = VAE(5, 2, hidden=(4,), likelihood=likelihood, dtype=np.float64, seed=4)
    x, v = _data(model, batch=3, r=2, seed=5)
    mu, sigma = model.encode(x)
    out = model.decode(mu + sigma * v)
    if likelihood == "bernoulli":
        p = out["mean"]
        nll = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)
    else:
        s = out["sigma"]
        nll = np.sum(np.log(np.sqrt(2 * np.pi) * s) + (x - out["mean"]) ** 2 / (2 * s ** 2), -1)
    kl = 0.5 * np.sum(mu ** 2 + sigma ** 2 - 1 - np.log(sigma ** 2), axis=-1)
    assert model.loss(x, v, 0.7) == pytest.approx(np.mean(nll.mean(axis=0) + 0.7 * kl), rel=1e-12)


# ------------------------------------------------------------------ what the gradient check catches

def _small_model(seed=0):
    model = VAE(5, 2, hidden=(4,), activation="tanh", dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    return model, rng.uniform(0, 1, (3, 5)), rng.standard_normal((3, 3, 2))


BUGS = {
    # dL/dmu forgets to sum over the r samples: keeps sample 0 only
    "no sum over r": ("reparameterize_backward",
                      lambda dz, cache: (dz[0], (cache[1] * dz).sum(axis=0))),
    # dL/dsigma uses v_j^2 instead of v_j
    "sigma vs sigma^2": ("reparameterize_backward",
                         lambda dz, cache: (dz.sum(axis=0), (cache[1] ** 2 * dz).sum(axis=0))),
    # dKL/dsigma written as sigma - 1/sigma^2
    "KL sigma^2": ("kl_backward",
                   lambda dkl, cache: (dkl[:, None] * cache[0],
                                       dkl[:, None] * (cache[1] - 1 / cache[1] ** 2))),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_wrong_backward_is_caught(bug, monkeypatch):
    name, wrong = BUGS[bug]
    monkeypatch.setattr(vae_module, name, wrong)
    model, x, v = _small_model()
    report = check_model(model, x, v)
    assert not report.passed
    assert any(row.error > 1e-3 for row in report.rows)


def test_forward_and_backward_agreeing_on_a_mistake_pass_the_gradient_check(monkeypatch):
    """Why the other tests exist (numpy-ml's bug): z = mu + sigma^2 * v in both passes.

    The gradient check is satisfied; the direct recomputation of the loss is not.
    """
    monkeypatch.setattr(vae_module, "reparameterize_forward",
                        lambda mu, sigma, v: (mu + sigma ** 2 * v, (sigma, v)))
    monkeypatch.setattr(vae_module, "reparameterize_backward",
                        lambda dz, c: (dz.sum(axis=0), (2 * c[0] * c[1] * dz).sum(axis=0)))
    model, x, v = _small_model(1)
    model.parameters()["enc.log_var.b"][...] = 1.0     # sigma far from 1
    assert check_model(model, x, v).passed
    direct = negative_elbo(model.parameters(), model.config, x, v, 1.0).mean()
    assert abs(model.loss(x, v) - direct) > 1e-3

"""The shared sigma_x's gradient on the shapes training gives it (hidden from the student copy).

The visible tests check eq. (47) on a small (2, 2, 3) case. Training calls it with any number
of leading axes (no sample axis when the IW bound is evaluated, r samples when training), on
784 pixels, in float32, and with sigma_x near its floor: the hidden test covers those.
"""
import numpy as np
import pytest

from numpyvae.likelihoods import gaussian_nll_forward, gaussian_shared_nll_backward


def direct(dnll, x, mean, sigma):
    """Eq. (47) in float64: sum of dnll * (D / sigma - ||x - mu||^2 / sigma^3) per sample."""
    dnll, x, mean = (np.asarray(a, dtype=np.float64) for a in (dnll, x, mean))
    sigma = float(sigma[0])
    squares = np.sum((x - mean) ** 2, axis=-1)
    return np.sum(dnll * (x.shape[-1] / sigma - squares / sigma ** 3))


@pytest.mark.points(1, task="gaussian-shared", hidden=True)
def test_gaussian_shared_gradient_for_any_leading_axes_in_float32():
    for lead, sigma in [((64,), 0.2), ((5, 64), 0.0101), ((3, 2, 16), 1.7)]:
        check_case(lead, sigma)


def check_case(lead, sigma):
    rng = np.random.default_rng(len(lead))
    x = rng.random((lead[-1], 784), dtype=np.float32)
    mean = np.clip(x + rng.normal(0, 0.1, lead + (784,)), 0, 1).astype(np.float32)
    sigma = np.array([sigma], dtype=np.float32)
    dnll = (rng.standard_normal(lead) / np.prod(lead)).astype(np.float32)
    dmean, dsigma = gaussian_shared_nll_backward(dnll, gaussian_nll_forward(x, mean, sigma)[1])
    expected = direct(dnll, x, mean, sigma)
    assert np.shape(dsigma) == (1,) and np.asarray(dsigma).dtype == np.float32, (
        f"dsigma must be a float32 array of shape (1,), like sigma; got "
        f"{np.asarray(dsigma).dtype} of shape {np.shape(dsigma)}")
    assert np.shape(dmean) == lead + (784,), (
        f"dmean must have the shape of the means, {lead + (784,)}; got {np.shape(dmean)}")
    scale = np.sum(np.abs(dnll)) * 784 * (1 / sigma[0] + 1 / sigma[0] ** 3 * 0.01)
    assert abs(float(dsigma[0]) - expected) <= 1e-4 * scale, (
        f"eq. (47) with dnll of shape {lead} and sigma_x = {sigma[0]:.4g}: got "
        f"{float(dsigma[0]):.6g}, expected {expected:.6g}: sum over every leading axis (the "
        f"samples and the examples) and every pixel")

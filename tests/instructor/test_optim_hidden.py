"""The optimizers against their recurrences written out again (hidden from the student copy).

The oracles of reference_solutions.py step each entry in Python floats, as Kingma & Ba's
Algorithm 1 and Duchi et al. state them, through arbitrary gradients: what the visible tests'
hand-worked numbers and closed forms cannot reach (eps of any size, moments that change sign,
many steps). The graded ones are hidden: the autograder runs them; the student copy does not
hold them.
"""
import numpy as np
import pytest

from numpyvae.optim import SGD, Adagrad, Adam, make_optimizer
from reference_solutions import adagrad_reference, adam_reference, sgd_reference

THETA0 = [0.5, -1.5, 2.0, 0.0, -0.25]


def gradient_sequence(steps=6, seed=0):
    rng = np.random.default_rng(seed)
    return [list(rng.standard_normal(len(THETA0)) * 2) for _ in range(steps)]


def run(opt, theta, grads):
    """Step ``opt`` (over {"theta": theta}) through the gradients; theta after each step."""
    history = []
    for g in grads:
        opt.step({"theta": np.array(g, dtype=theta.dtype)})
        history.append(theta.copy())
    return np.array(history)


# The graded tests run without weight decay, so that each depends on one task's code only;
# weight decay is graded on its own, by the visible tests.


@pytest.mark.points(1, task="adam", hidden=True)
@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.5, 0.8), 0.1)])
def test_adam_without_weight_decay_matches_algorithm_1(betas, eps):
    grads = gradient_sequence(seed=1)
    expected = adam_reference(THETA0, grads, 0.05, *betas, eps)
    theta = np.array(THETA0)
    opt = Adam({"theta": theta}, lr=0.05, betas=betas, eps=eps)
    np.testing.assert_allclose(
        run(opt, theta, grads), expected, rtol=1e-12, atol=1e-14,
        err_msg=f"theta after each of 6 steps (betas {betas}, eps {eps}), against Algorithm 1 "
                f"of Kingma & Ba (eq. (42)): check the bias correction 1 - beta^t with t "
                f"counted from 1, g^2 in v, and eps added after the square root of v_hat")


@pytest.mark.points(1, task="adagrad", hidden=True)
@pytest.mark.parametrize("initial, eps", [(0.0, 1e-10), (0.5, 0.1)])
def test_adagrad_without_weight_decay_matches_duchi_et_al(initial, eps):
    grads = gradient_sequence(seed=1)
    theta = np.array(THETA0)
    opt = Adagrad({"theta": theta}, lr=0.05, eps=eps, initial_accumulator_value=initial)
    expected = adagrad_reference(THETA0, grads, 0.05, eps, 0.0, initial)
    np.testing.assert_allclose(
        run(opt, theta, grads), expected, rtol=1e-12, atol=1e-14,
        err_msg=f"theta after each of 6 steps (G_0 = {initial}, eps {eps}), against Duchi et "
                f"al.'s Adagrad (eq. (43)): G_t adds g_t^2 to the G it was given (not "
                f"reset), and eps is added after the square root of G_t")


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("momentum", [0.0, 0.8])
def test_sgd_matches_reference(momentum, weight_decay):
    grads = gradient_sequence()
    theta = np.array(THETA0)
    opt = SGD({"theta": theta}, lr=0.05, momentum=momentum, weight_decay=weight_decay)
    expected = sgd_reference(THETA0, grads, 0.05, momentum, weight_decay)
    np.testing.assert_allclose(run(opt, theta, grads), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.5, 0.8), 0.1)])
def test_adam_matches_algorithm_1(betas, eps, weight_decay):
    grads = gradient_sequence()
    theta = np.array(THETA0)
    opt = Adam({"theta": theta}, lr=0.05, betas=betas, eps=eps, weight_decay=weight_decay)
    expected = adam_reference(THETA0, grads, 0.05, *betas, eps, weight_decay)
    np.testing.assert_allclose(run(opt, theta, grads), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("initial, eps", [(0.0, 1e-10), (0.5, 0.1)])
def test_adagrad_matches_reference(initial, eps, weight_decay):
    grads = gradient_sequence()
    theta = np.array(THETA0)
    opt = Adagrad({"theta": theta}, lr=0.05, eps=eps, weight_decay=weight_decay,
                  initial_accumulator_value=initial)
    expected = adagrad_reference(THETA0, grads, 0.05, eps, weight_decay, initial)
    np.testing.assert_allclose(run(opt, theta, grads), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["sgd", "adam", "adagrad"])
def test_several_named_arrays_each_follow_the_reference(name):
    references = {"sgd": sgd_reference, "adam": adam_reference, "adagrad": adagrad_reference}
    rng = np.random.default_rng(7)
    W, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    W0, b0 = W.copy(), b.copy()
    gW = [rng.standard_normal((2, 3)) for _ in range(4)]
    gb = [rng.standard_normal(4) for _ in range(4)]
    opt = make_optimizer(name, {"W": W, "b": b}, lr=0.05)
    for dW, db in zip(gW, gb):
        opt.step({"W": dW, "b": db})
    expected_W = references[name](list(W0.ravel()), [list(d.ravel()) for d in gW], 0.05)[-1]
    expected_b = references[name](list(b0), [list(d) for d in gb], 0.05)[-1]
    np.testing.assert_allclose(W.ravel(), expected_W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b, expected_b, rtol=1e-12, atol=1e-14)

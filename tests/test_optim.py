"""Tests of the optimizers against independent oracles.

The oracles: hand-worked numbers, closed forms (plain gradient descent on a quadratic, Adam's
lr * sign(g) steps under a constant gradient, SGD momentum under a constant gradient, Adam's
moments unrolled into weighted sums), the gradient of the L2 penalty by central differences,
and the optimizers' own defining properties (decay lambda on g is no decay on g + lambda
theta; arrays stepped together move as if stepped apart).
"""
import numpy as np
import pytest

from numpyvae.gradcheck import numerical_gradient
from numpyvae.optim import (OPTIMIZERS, SGD, Adagrad, Adam, adagrad_update, adam_update,
                            add_weight_decay, make_optimizer, sgd_update)

def run(opt, theta, grads):
    """Step ``opt`` (over {"theta": theta}) through the gradients; theta after each step."""
    history = []
    for g in grads:
        opt.step({"theta": np.array(g, dtype=theta.dtype)})
        history.append(theta.copy())
    return np.array(history)


THETA0 = [0.5, -1.5, 2.0, 0.0, -0.25]


def gradient_sequence(steps=6, seed=0):
    rng = np.random.default_rng(seed)
    return [list(rng.standard_normal(len(THETA0)) * 2) for _ in range(steps)]


def assert_updated_in_place(name, array, expected, rule, equation):
    """``array``, the caller's own array, must hold ``expected`` after the update rule."""
    if np.allclose(array, expected, rtol=1e-12, atol=1e-14):
        return
    raise AssertionError(
        f"after {rule}, the caller's {name} holds {array!r} instead of {expected!r} "
        f"(eq. ({equation})). The rule must change {name} in place: write `{name} -= ...`, "
        f"`{name} += ...` or `{name}[...] = ...`; `{name} = ...` only rebinds the name inside "
        f"the function.")


# ---------------------------------------------------------------- the update rules themselves


@pytest.mark.points(1, task="sgd")
def test_sgd_update_changes_theta_and_the_velocity_in_place():
    # theta = (1, -2), u = (0.5, 0), g = (2, 4), lr = 0.1, gamma = 0.9:
    # u = 0.9 u + g = (2.45, 4), theta = theta - lr u = (0.755, -2.4)
    theta, u, g = np.array([1.0, -2.0]), np.array([0.5, 0.0]), np.array([2.0, 4.0])
    sgd_update(theta, g, u, 0.1, 0.9)
    assert_updated_in_place("u", u, [2.45, 4.0], "sgd_update", 40)
    assert_updated_in_place("theta", theta, [0.755, -2.4], "sgd_update", 40)
    np.testing.assert_array_equal(g, [2.0, 4.0], err_msg="sgd_update must not change g")


@pytest.mark.points(1, task="adam")
def test_adam_update_changes_theta_and_the_moments_in_place():
    # Two steps of Algorithm 1 by hand, b1 = 0.5, b2 = 0.75, lr = 0.1, eps = 0:
    # t = 1, g = 2: m = 1, v = 1, m_hat = 2, v_hat = 4, theta = 1 - 0.1 * 2 / 2 = 0.9
    # t = 2, g = -1: m = 0, v = 1, m_hat = 0, theta stays 0.9
    theta, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
    adam_update(theta, np.array([2.0]), m, v, 1, 0.1, 0.5, 0.75, 0.0)
    assert_updated_in_place("m", m, [1.0], "adam_update at t = 1", 42)
    assert_updated_in_place("v", v, [1.0], "adam_update at t = 1", 42)
    assert_updated_in_place("theta", theta, [0.9], "adam_update at t = 1", 42)
    adam_update(theta, np.array([-1.0]), m, v, 2, 0.1, 0.5, 0.75, 0.0)
    assert_updated_in_place("m", m, [0.0], "adam_update at t = 2", 42)
    assert_updated_in_place("v", v, [1.0], "adam_update at t = 2", 42)
    assert_updated_in_place("theta", theta, [0.9], "adam_update at t = 2", 42)


@pytest.mark.points(1, task="adagrad")
def test_adagrad_update_changes_theta_and_the_sum_of_squares_in_place():
    # G = 16 + 3^2 = 25, theta = 1 - 0.1 * 3 / 5 = 0.94 (eps = 0)
    theta, G, g = np.array([1.0]), np.array([16.0]), np.array([3.0])
    adagrad_update(theta, g, G, 0.1, 0.0)
    assert_updated_in_place("G", G, [25.0], "adagrad_update", 43)
    assert_updated_in_place("theta", theta, [0.94], "adagrad_update", 43)
    np.testing.assert_array_equal(g, [3.0], err_msg="adagrad_update must not change g")


def test_adam_adds_eps_after_the_square_root():
    # One step with eps = 1, b1 = 0.5, b2 = 0.75, lr = 0.1, g = 2: m_hat = 2, v_hat = 4, and
    # theta = 1 - 0.1 * 2 / (sqrt(4) + 1) = 1 - 0.2 / 3. (Inside the root it would be
    # 1 - 0.2 / sqrt(5).)
    theta, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
    adam_update(theta, np.array([2.0]), m, v, 1, 0.1, 0.5, 0.75, 1.0)
    np.testing.assert_allclose(theta, [1 - 0.2 / 3], rtol=1e-12,
                               err_msg="eq. (42) adds eps to the square root of v_hat, "
                                       "outside the root")


def test_adagrad_adds_eps_after_the_square_root():
    # G = 16 + 3^2 = 25, theta = 1 - 0.1 * 3 / (sqrt(25) + 1) = 0.95 with eps = 1.
    theta, G = np.array([1.0]), np.array([16.0])
    adagrad_update(theta, np.array([3.0]), G, 0.1, 1.0)
    np.testing.assert_allclose(theta, [0.95], rtol=1e-12,
                               err_msg="eq. (43) adds eps to the square root of G_t, "
                                       "outside the root")


# ---------------------------------------------------------------- hand-worked steps


@pytest.mark.points(1, task="sgd")
def test_sgd_momentum_hand_unrolled():
    # theta0 = 1, g = 1, 2, 3, lr = 0.1, mu = 0.5:
    # u1 = 1, theta1 = 0.9; u2 = 0.5 + 2 = 2.5, theta2 = 0.65; u3 = 1.25 + 3 = 4.25, theta3 = 0.225
    theta = np.array([1.0])
    history = run(SGD({"theta": theta}, lr=0.1, momentum=0.5), theta, [[1.0], [2.0], [3.0]])
    np.testing.assert_allclose(
        history[:, 0], [0.9, 0.65, 0.225], rtol=0, atol=1e-14,
        err_msg="theta after three SGD steps with momentum 0.5, against the steps worked by "
                "hand in the comment (eq. (40)): the velocity adds g_t to gamma u_{t-1}, and "
                "the step is lr times the new velocity, not lr g_t")


def test_sgd_weight_decay_hand_worked():
    # theta0 = 2, g = 1, lambda = 0.1, lr = 0.1: g' = 1.2, theta1 = 1.88;
    # g' = 1 + 0.188 = 1.188, theta2 = 1.88 - 0.1188 = 1.7612
    theta = np.array([2.0])
    history = run(SGD({"theta": theta}, lr=0.1, weight_decay=0.1), theta, [[1.0], [1.0]])
    np.testing.assert_allclose(history[:, 0], [1.88, 1.7612], rtol=0, atol=1e-14)


def test_sgd_momentum_constant_gradient_closed_form():
    # u_t = g (1 - mu^t) / (1 - mu), so theta_t = theta0 - lr g sum_{s<=t} (1 - mu^s) / (1 - mu)
    lr, mu, g, steps = 0.01, 0.9, np.array([1.0, -3.0, 0.5]), 25
    t = np.arange(1, steps + 1)
    total = (t - mu * (1 - mu ** t) / (1 - mu)) / (1 - mu)   # sum_{s<=t} (1 - mu^s) / (1 - mu)
    expected = np.array([1.0, 2.0, 3.0]) - lr * total[:, None] * g
    theta = np.array([1.0, 2.0, 3.0])
    history = run(SGD({"theta": theta}, lr=lr, momentum=mu), theta, [g] * steps)
    np.testing.assert_allclose(history, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.points(1, task="adam")
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)])
def test_adam_constant_gradient_moves_lr_sign_g_every_step(betas):
    # With bias correction m_hat = g and v_hat = g^2 exactly, so each step is lr g / (|g| + eps).
    lr, steps = 0.01, 10
    g = np.array([0.3, -2.0, 1e-2, -5.0])
    theta0 = np.array([1.0, 1.0, -1.0, 0.0])
    theta = theta0.copy()
    history = run(Adam({"theta": theta}, lr=lr, betas=betas), theta, [g] * steps)
    expected = theta0 - lr * np.arange(1, steps + 1)[:, None] * np.sign(g)
    # eps = 1e-8 against |g| >= 1e-2 shifts a step by at most lr * 1e-6.
    np.testing.assert_allclose(history, expected, rtol=0, atol=steps * lr * 1e-6,
                               err_msg="with a constant gradient, bias-corrected Adam moves "
                                       "every entry by lr sign(g) each step (eq. (42))")


def test_adam_state_holds_the_moments_of_algorithm_1():
    # m_t = (1 - b1) sum_tau b1^(t - tau) g_tau and v_t = (1 - b2) sum_tau b2^(t - tau) g_tau^2
    beta1, beta2 = 0.8, 0.95
    grads = np.array(gradient_sequence(seed=2))
    theta = np.array(THETA0)
    opt = Adam({"theta": theta}, lr=0.05, betas=(beta1, beta2))
    run(opt, theta, grads)
    t = len(grads)
    weights1 = beta1 ** np.arange(t - 1, -1, -1.0)[:, None]
    weights2 = beta2 ** np.arange(t - 1, -1, -1.0)[:, None]
    state = opt.state_dict()
    np.testing.assert_allclose(state["m.theta"], (1 - beta1) * (weights1 * grads).sum(axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(state["v.theta"],
                               (1 - beta2) * (weights2 * grads ** 2).sum(axis=0), rtol=1e-12)


def test_adam_first_step_with_weight_decay_uses_the_decayed_sign():
    # theta0 = (4, -4, 1), g = (-1, 1, 0.5), lambda = 0.5: g + lambda theta = (1, -1, 1)
    theta = np.array([4.0, -4.0, 1.0])
    run(Adam({"theta": theta}, lr=0.1, weight_decay=0.5), theta, [[-1.0, 1.0, 0.5]])
    np.testing.assert_allclose(theta, [3.9, -3.9, 0.9], rtol=0, atol=1e-8)


@pytest.mark.points(1, task="adagrad")
def test_adagrad_hand_worked():
    # theta0 = 1, g = 3, 4, lr = 0.1: G = 9, theta1 = 1 - 0.1 * 3/3 = 0.9;
    # G = 25, theta2 = 0.9 - 0.1 * 4/5 = 0.82
    theta = np.array([1.0])
    history = run(Adagrad({"theta": theta}, lr=0.1), theta, [[3.0], [4.0]])
    np.testing.assert_allclose(
        history[:, 0], [0.9, 0.82], rtol=0, atol=1e-10,
        err_msg="theta after two Adagrad steps, against the steps worked by hand in the "
                "comment (eq. (43)): G_t sums every past g^2 (G is kept between steps), and "
                "the step divides g_t by sqrt(G_t), the square root of the sum")


def test_adagrad_initial_accumulator_and_weight_decay_hand_worked():
    # G0 = 16, g = 3: G = 25, theta1 = 1 - 0.1 * 3/5 = 0.94
    theta = np.array([1.0])
    run(Adagrad({"theta": theta}, lr=0.1, initial_accumulator_value=16.0), theta, [[3.0]])
    np.testing.assert_allclose(theta, [0.94], rtol=0, atol=1e-10)
    # theta0 = 2, g = 2, lambda = 0.5: g' = 3, G = 9, theta1 = 2 - 0.1 = 1.9
    theta = np.array([2.0])
    run(Adagrad({"theta": theta}, lr=0.1, weight_decay=0.5), theta, [[2.0]])
    np.testing.assert_allclose(theta, [1.9], rtol=0, atol=1e-10)


@pytest.mark.points(1, task="weight-decay")
def test_add_weight_decay_hand_worked():
    # theta = (2, -1, 0), g = (1, 1, -3), lambda = 0.1: g + lambda theta = (1.2, 0.9, -3)
    theta, g = np.array([2.0, -1.0, 0.0]), np.array([1.0, 1.0, -3.0])
    decayed = add_weight_decay(theta, g, 0.1)
    np.testing.assert_allclose(decayed, [1.2, 0.9, -3.0], rtol=0, atol=1e-15,
                               err_msg="add_weight_decay returns g + lambda theta (eq. (41))")
    np.testing.assert_array_equal(theta, [2.0, -1.0, 0.0],
                                  err_msg="add_weight_decay must not change theta (eq. (41) "
                                          "returns a new array)")
    np.testing.assert_array_equal(g, [1.0, 1.0, -3.0],
                                  err_msg="add_weight_decay must not change g: return a new "
                                          "array instead of adding into g (eq. (41))")


@pytest.mark.points(1, task="weight-decay")
def test_add_weight_decay_is_the_gradient_of_the_l2_penalty():
    # eq. (41): g + lambda theta is the gradient of f(theta) + lambda/2 |theta|^2, checked by
    # central differences with f(theta) = sum(c theta^3), whose gradient is g = 3 c theta^2.
    rng = np.random.default_rng(5)
    theta, c, lam = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), 0.7
    decayed = add_weight_decay(theta, 3 * c * theta ** 2, lam)
    numeric = numerical_gradient(
        lambda th: np.sum(c * th ** 3) + lam / 2 * np.sum(th ** 2), theta)
    np.testing.assert_allclose(
        decayed, numeric, rtol=1e-8, atol=1e-10,
        err_msg="add_weight_decay differs from the central-difference gradient of "
                "f(theta) + lambda/2 |theta|^2 (eq. (41)): the decay term is lambda theta, "
                "not lambda or lambda/2 theta")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_weight_decay_is_the_gradient_plus_lambda_theta(name):
    # eq. (41) by its definition: decay lambda on g is no decay on g + lambda theta.
    lam, grads = 0.2, gradient_sequence(seed=3)
    theta_a, theta_b = np.array(THETA0), np.array(THETA0)
    decayed = make_optimizer(name, {"theta": theta_a}, lr=0.05, weight_decay=lam)
    plain = make_optimizer(name, {"theta": theta_b}, lr=0.05)
    for g in grads:
        decayed.step({"theta": np.array(g)})
        plain.step({"theta": np.array(g) + lam * theta_b})
        np.testing.assert_allclose(theta_a, theta_b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_several_named_arrays_move_as_if_each_were_stepped_alone(name):
    # Any dict of arrays works: a matrix and a vector stepped together take exactly the steps
    # that each takes alone, entry by entry (the rules are elementwise).
    rng = np.random.default_rng(7)
    W, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    W_alone, b_alone = W.copy(), b.copy()
    gW = [rng.standard_normal((2, 3)) for _ in range(4)]
    gb = [rng.standard_normal(4) for _ in range(4)]
    together = make_optimizer(name, {"W": W, "b": b}, lr=0.05)
    only_W = make_optimizer(name, {"W": W_alone}, lr=0.05)
    only_b = make_optimizer(name, {"b": b_alone}, lr=0.05)
    for dW, db in zip(gW, gb):
        together.step({"W": dW, "b": db})
        only_W.step({"W": dW})
        only_b.step({"b": db})
    np.testing.assert_array_equal(W, W_alone)
    np.testing.assert_array_equal(b, b_alone)


def test_changing_lr_between_steps_takes_effect():
    theta = np.array([0.0])
    opt = SGD({"theta": theta}, lr=0.1)
    opt.step({"theta": np.array([1.0])})
    opt.lr = 0.5
    opt.step({"theta": np.array([1.0])})
    assert opt.lr == 0.5
    np.testing.assert_allclose(theta, [-0.6], rtol=0, atol=1e-15)


def test_t_counts_steps():
    theta = np.zeros(2)
    opt = Adam({"theta": theta})
    assert opt.t == 0
    for k in range(1, 4):
        opt.step({"theta": np.ones(2)})
        assert opt.t == k


# ---------------------------------------------------------------- minimizing a quadratic

A_DIAG = np.array([1.0, 3.0, 10.0])
C = np.array([1.0, -2.0, 0.5])


def minimize_quadratic(opt, theta, steps, diag=A_DIAG, c=C):
    """f(theta) = 1/2 (theta - c)^T diag(a) (theta - c), whose gradient is a (theta - c)."""
    for _ in range(steps):
        opt.step({"theta": diag * (theta - c)})
    return theta


@pytest.mark.points(1, task="sgd")
def test_gradient_descent_on_quadratic_matches_closed_form():
    # theta_k - c = (1 - lr a)^k (theta_0 - c) for plain gradient descent.
    theta = np.zeros(3)
    minimize_quadratic(SGD({"theta": theta}, lr=0.1), theta, 40)
    np.testing.assert_allclose(
        theta - C, (1 - 0.1 * A_DIAG) ** 40 * (0 - C), rtol=1e-10,
        err_msg="40 steps of plain gradient descent (momentum 0) on a quadratic, against the "
                "closed form (1 - lr a)^k (theta_0 - c) (eq. (40) with gamma = 0): each step "
                "moves theta by -lr g_t")


@pytest.mark.parametrize("make, steps, tol", [
    (lambda p: SGD(p, lr=0.1), 300, 1e-10),
    (lambda p: SGD(p, lr=0.05, momentum=0.9), 500, 1e-9),
    (lambda p: Adam(p, lr=0.05), 500, 1e-8),
    (lambda p: Adagrad(p, lr=0.5), 200, 1e-10),
], ids=["sgd", "sgd-momentum", "adam", "adagrad"])
def test_minimizes_quadratic(make, steps, tol):
    theta = np.zeros(3)
    minimize_quadratic(make({"theta": theta}), theta, steps)
    assert np.abs(theta - C).max() < tol


@pytest.mark.parametrize("name, lr", [("sgd", 0.05), ("adam", 0.05), ("adagrad", 0.5)])
def test_weight_decay_moves_the_minimum_to_the_map_estimate(name, lr):
    # f + lambda/2 |theta|^2 has its minimum at a c / (a + lambda).
    lam = 2.0
    theta = np.zeros(3)
    minimize_quadratic(make_optimizer(name, {"theta": theta}, lr=lr, weight_decay=lam), theta, 2000)
    np.testing.assert_allclose(theta, A_DIAG * C / (A_DIAG + lam), rtol=0, atol=1e-8)


# ---------------------------------------------------------------- state_dict


CONFIGS = [
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-2}),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 1e-2}),
    ("adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1}),
]


def quadratic_gradient(theta):
    return (A_DIAG * (theta - C)).astype(theta.dtype)


@pytest.mark.parametrize("name, options", CONFIGS)
@pytest.mark.parametrize("through_file", [False, True])
def test_state_dict_resume_is_bit_for_bit(name, options, through_file, tmp_path):
    k, m = 4, 5
    theta_once = np.full(3, 0.1, dtype=np.float32)
    once = make_optimizer(name, {"theta": theta_once}, **options)
    for _ in range(k + m):
        once.step({"theta": quadratic_gradient(theta_once)})

    theta = np.full(3, 0.1, dtype=np.float32)
    first = make_optimizer(name, {"theta": theta}, **options)
    for _ in range(k):
        first.step({"theta": quadratic_gradient(theta)})
    state = first.state_dict()
    if through_file:
        np.savez(tmp_path / "state.npz", **state)
        with np.load(tmp_path / "state.npz", allow_pickle=False) as data:
            state = dict(data)
    theta_resumed = theta.copy()
    resumed = make_optimizer(name, {"theta": theta_resumed}, **options)
    resumed.load_state_dict(state)
    assert resumed.t == k
    for _ in range(m):
        resumed.step({"theta": quadratic_gradient(theta_resumed)})
    assert np.array_equal(theta_resumed, theta_once)
    assert resumed.t == once.t == k + m


@pytest.mark.parametrize("name, options", CONFIGS)
def test_state_dict_holds_plain_numbers_and_copies(name, options):
    theta = np.ones(3, dtype=np.float32)
    opt = make_optimizer(name, {"theta": theta}, **options)
    opt.step({"theta": np.ones(3, dtype=np.float32)})
    state = opt.state_dict()
    assert state["t"] == 1 and state["lr"] == options["lr"]
    for key, value in state.items():
        assert isinstance(value, (int, float, np.ndarray)), key
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32, key
    before = {key: np.copy(value) for key, value in state.items()}
    opt.step({"theta": np.ones(3, dtype=np.float32)})
    for key, value in state.items():
        assert np.array_equal(value, before[key]), f"{key} changed with a later step"


def test_state_dict_keys():
    params = {"theta": np.zeros(2)}
    assert set(Adam(params).state_dict()) == {
        "t", "lr", "weight_decay", "beta1", "beta2", "eps", "m.theta", "v.theta"}
    assert set(SGD(params, lr=0.1, momentum=0.5).state_dict()) == {
        "t", "lr", "weight_decay", "momentum", "u.theta"}
    assert set(SGD(params, lr=0.1).state_dict()) == {
        "t", "lr", "weight_decay", "momentum", "u.theta"}
    assert set(Adagrad(params).state_dict()) == {"t", "lr", "weight_decay", "eps", "G.theta"}


def test_load_state_dict_restores_lr():
    state = Adam({"theta": np.zeros(2)}, lr=0.02).state_dict()
    opt = Adam({"theta": np.zeros(2)}, lr=0.5)
    opt.load_state_dict(state)
    assert opt.lr == 0.02


def adam_state(**changes):
    state = Adam({"theta": np.zeros(3)}).state_dict()
    state.update(changes)
    return state


@pytest.mark.parametrize("state, match", [
    ({k: v for k, v in adam_state().items() if k != "m.theta"}, r"missing \['m.theta'\]"),
    (adam_state(extra=1.0), r"unexpected \['extra'\]"),
    (SGD({"theta": np.zeros(3)}, lr=0.1, momentum=0.5).state_dict(),
     r"another optimizer"),
    (adam_state(**{"m.theta": np.zeros(4)}), r"state\['m.theta'\] must have the shape"),
    (adam_state(**{"v.theta": -np.ones(3)}), r"state\['v.theta'\] must be >= 0"),
    (adam_state(**{"m.theta": np.array([0.0, np.nan, 0.0])}), r"state\['m.theta'\] must be finite"),
    (adam_state(t=-1), r"state\['t'\] must be an integer >= 0"),
    (adam_state(t=1.5), r"state\['t'\] must be an integer >= 0"),
    (adam_state(lr=0.0), r"state\['lr'\] must be a finite number > 0"),
    (adam_state(beta1=0.5), r"state\['beta1'\] is 0.5, but this optimizer has beta1=0.9"),
    (adam_state(weight_decay=0.1), r"state\['weight_decay'\] is 0.1"),
    ([1, 2], r"state must be a dict"),
])
def test_load_state_dict_rejects_bad_state(state, match):
    opt = Adam({"theta": np.zeros(3)})
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(state)


def test_load_state_dict_changes_nothing_when_it_fails():
    opt = Adam({"theta": np.zeros(3)})
    opt.step({"theta": np.ones(3)})
    before = opt.state_dict()
    bad = adam_state(**{"m.theta": np.full(3, 7.0), "v.theta": -np.ones(3), "t": 9})
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert opt.t == 1
    for key in before:
        assert np.array_equal(before[key], after[key]), key


# ---------------------------------------------------------------- in place, dtype, padding


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_params_are_updated_in_place_and_grads_untouched(name):
    theta = np.arange(4.0)
    grad = np.array([1.0, -1.0, 2.0, 0.5])
    grad_before = grad.copy()
    opt = make_optimizer(name, {"theta": theta}, lr=0.1, weight_decay=0.1)
    opt.step({"theta": grad})
    assert opt.params["theta"] is theta
    assert not np.array_equal(theta, np.arange(4.0))
    assert np.array_equal(grad, grad_before)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_view_is_updated_in_place(name):
    # A transposed (non-contiguous) view: its base array must change.
    base = np.zeros((3, 2))
    opt = make_optimizer(name, {"W": base.T}, lr=0.1)
    opt.step({"W": np.ones((2, 3))})
    assert np.all(base < 0)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_stays_float32(name):
    theta = np.linspace(-1, 1, 7, dtype=np.float32)
    opt = make_optimizer(name, {"theta": theta}, lr=np.float64(0.01), weight_decay=np.float64(0.1))
    for _ in range(3):
        opt.step({"theta": np.linspace(1, 2, 7)})      # a float64 gradient is converted
    assert theta.dtype == np.float32
    assert opt.params["theta"] is theta
    for kind, arrays in opt.state.items():
        assert arrays["theta"].dtype == np.float32, kind
    # and the result is the float64 computation up to float32 rounding
    theta64 = np.linspace(-1, 1, 7, dtype=np.float32).astype(np.float64)
    opt64 = make_optimizer(name, {"theta": theta64}, lr=0.01, weight_decay=0.1)
    for _ in range(3):
        opt64.step({"theta": np.linspace(1, 2, 7)})
    np.testing.assert_allclose(theta, theta64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_zero_entries_with_zero_gradient_stay_exactly_zero(name):
    # The padding of a flat parameter buffer: zero values and zero gradients, forever.
    theta = np.array([0.0, 0.0, 1.0], dtype=np.float32)
    opt = make_optimizer(name, {"theta": theta}, lr=0.1, weight_decay=0.01)
    for _ in range(5):
        opt.step({"theta": np.array([0.0, 0.0, 1.0], dtype=np.float32)})
    assert theta[0] == 0 and theta[1] == 0 and theta[2] != 1


# ---------------------------------------------------------------- make_optimizer


def test_make_optimizer_builds_each_with_its_default_lr():
    params = {"theta": np.zeros(2)}
    assert isinstance(make_optimizer("adam", params), Adam)
    assert make_optimizer("adam", params).lr == 1e-3
    assert make_optimizer("adagrad", params).lr == 1e-2
    sgd = make_optimizer("sgd", params, lr=0.1, momentum=0.9, weight_decay=0.5)
    assert isinstance(sgd, SGD) and sgd.momentum == 0.9 and sgd.weight_decay == 0.5
    adam = make_optimizer("adam", params, betas=(0.5, 0.6), eps=1e-3)
    assert adam.betas == (0.5, 0.6) and adam.eps == 1e-3
    assert OPTIMIZERS == ("sgd", "adam", "adagrad")


@pytest.mark.parametrize("args, kwargs, match", [
    (("rmsprop",), {},
     r"optimizer name must be one of \['sgd', 'adam', 'adagrad'\]; got 'rmsprop'"),
    (("sgd",), {}, r"lr must be given for 'sgd'"),
    (("adam",), {"momentum": 0.9}, r"momentum is not an option of 'adam'; its options are"),
])
def test_make_optimizer_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(*args, {"theta": np.zeros(2)}, **kwargs)


# ---------------------------------------------------------------- argument checks


def zeros3():
    return {"theta": np.zeros(3)}


@pytest.mark.parametrize("build, match", [
    (lambda: SGD(zeros3(), lr=-1.0), r"lr must be a finite number > 0; got -1.0"),
    (lambda: SGD(zeros3(), lr=0), r"lr must be a finite number > 0; got 0"),
    (lambda: Adam(zeros3(), lr=float("inf")), r"lr must be a finite number > 0; got inf"),
    (lambda: Adam(zeros3(), lr="0.1"), r"lr must be a finite number > 0; got '0.1'"),
    (lambda: Adagrad(zeros3(), lr=True), r"lr must be a finite number > 0; got True"),
    (lambda: SGD(zeros3(), lr=0.1, momentum=1.0),
     r"momentum must be a number in \[0, 1\); got 1.0"),
    (lambda: SGD(zeros3(), lr=0.1, momentum=-0.1),
     r"momentum must be a number in \[0, 1\); got -0.1"),
    (lambda: Adam(zeros3(), betas=(0.9, 1.0)), r"betas\[1\] must be a number in \[0, 1\); got 1.0"),
    (lambda: Adam(zeros3(), betas=(-0.1, 0.9)),
     r"betas\[0\] must be a number in \[0, 1\); got -0.1"),
    (lambda: Adam(zeros3(), betas=0.9), r"betas must be a pair \(beta1, beta2\)"),
    (lambda: Adam(zeros3(), betas=(0.9, 0.99, 0.999)), r"betas must be a pair \(beta1, beta2\)"),
    (lambda: Adam(zeros3(), eps=0.0), r"eps must be a finite number > 0; got 0.0"),
    (lambda: Adagrad(zeros3(), eps=-1e-10), r"eps must be a finite number > 0; got -1e-10"),
    (lambda: SGD(zeros3(), lr=0.1, weight_decay=-1),
     r"weight_decay must be a finite number >= 0; got -1"),
    (lambda: Adam(zeros3(), weight_decay=float("nan")),
     r"weight_decay must be a finite number >= 0"),
    (lambda: Adagrad(zeros3(), initial_accumulator_value=-1.0),
     r"initial_accumulator_value must be a finite number >= 0; got -1.0"),
    (lambda: Adam({}),
     r"params must be a non-empty dict of name -> float ndarray; got an empty dict"),
    (lambda: Adam(np.zeros(3)), r"params must be a non-empty dict .*; got ndarray"),
    (lambda: Adam({"w": [1.0, 2.0]}), r"params\['w'\] must be a numpy ndarray .*; got list"),
    (lambda: Adam({"w": np.zeros(3, dtype=int)}),
     r"params\['w'\] must have a float dtype; got int"),
    (lambda: Adam({3: np.zeros(3)}), r"params must be a non-empty dict .*; got the name 3"),
])
def test_constructor_rejects_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_read_only_params_are_rejected():
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\['w'\] must be writeable"):
        Adam({"w": frozen})


@pytest.mark.parametrize("grads, match", [
    ({"theta": np.zeros(3), "b": np.zeros(2)},
     r"grads must have exactly the names .*unexpected \['b'\]"),
    ({"b": np.zeros(3)}, r"missing \['theta'\], unexpected \['b'\]"),
    ({"theta": np.zeros(4)},
     r"grads\['theta'\] must have the shape of params\['theta'\], \(3,\); got \(4,\)"),
    ({"theta": np.zeros((3, 1))}, r"grads\['theta'\] must have the shape"),
    ({"theta": np.zeros(3, dtype=int)}, r"grads\['theta'\] must be a float array; got dtype int"),
    (np.zeros(3), r"grads must be a dict"),
])
def test_step_rejects_bad_grads(grads, match):
    opt = Adam(zeros3())
    with pytest.raises(ValueError, match=match):
        opt.step(grads)
    assert opt.t == 0


@pytest.mark.parametrize("value", [0.0, -1e-3, float("nan"), None])
def test_lr_setter_is_checked(value):
    opt = Adam(zeros3())
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0"):
        opt.lr = value
    assert opt.lr == 1e-3

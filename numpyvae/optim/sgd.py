"""Stochastic gradient descent, with optional momentum in PyTorch's convention, eq. (40)."""
from .base import Optimizer
from .checks import check_decay_rate, check_positive


def sgd_update(theta, g, u, lr, momentum):
    """One SGD step with momentum on one array, eq. (40). Changes theta and u in place.

    Parameters
    ----------
    theta : ndarray, any shape
        Parameters theta_{t-1}; overwritten with theta_t.
    g : ndarray, same shape as theta
        The gradient g_t (weight decay already added); not changed.
    u : ndarray, same shape as theta
        The velocity u_{t-1} (zeros before the first step); overwritten with u_t.
    lr : float
        The learning rate.
    momentum : float
        gamma of eq. (40), in [0, 1).

    Returns
    -------
    None. The caller's theta and u hold the new values: update them in place (an augmented
    assignment such as ``theta -= ...``, or ``u[...] = ...``); ``theta = theta - ...`` would
    only rebind a local name.

    Notes
    -----
    .. math:: u_t = \\gamma u_{t-1} + g_t, \\qquad \\theta_t = \\theta_{t-1} - \\mathrm{lr}\\, u_t

    With gamma = 0 this is plain gradient descent, theta_t = theta_{t-1} - lr g_t. (The other
    common form, u_t = gamma u_{t-1} + lr g_t with theta_t = theta_{t-1} - u_t, takes the same
    steps while lr is constant and differs when lr changes.)
    """
    # BEGIN SOLUTION
    u *= momentum                                  # eq. (40): gamma u_{t-1}
    u += g                                         # eq. (40): u_t = gamma u_{t-1} + g_t
    theta -= lr * u                                # eq. (40): theta_t = theta_{t-1} - lr u_t
    # END SOLUTION


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, eq. (40).

    Parameters
    ----------
    params : dict of str -> ndarray
        The live parameter arrays, updated in place by :meth:`step`.
    lr : float
        Learning rate, > 0.
    momentum : float
        gamma in [0, 1); 0 (the default) is plain gradient descent.
    weight_decay : float
        lambda >= 0 of eq. (41); see :func:`numpyvae.optim.weight_decay.add_weight_decay`.

    State: ``u`` (the velocity), saved as ``"u.<name>"``.
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        lr = check_positive("lr", lr)
        self._momentum = check_decay_rate("momentum", momentum)
        super().__init__(params, lr, weight_decay)
        self._add_state("u")

    @property
    def momentum(self):
        """gamma of eq. (40), fixed at construction."""
        return self._momentum

    def _fixed_hyperparameters(self):
        return {**super()._fixed_hyperparameters(), "momentum": self._momentum}

    def _update(self, theta, g, u):
        sgd_update(theta, g, u, self.lr, self._momentum)

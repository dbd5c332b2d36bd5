"""Adagrad (Duchi, Hazan & Singer, 2011), eq. (43): the optimizer of the AEVB paper."""
import numpy as np

from .base import Optimizer
from .checks import check_nonnegative, check_positive


def adagrad_update(theta, g, G, lr, eps):
    """One Adagrad step on one array, eq. (43). Changes theta and G in place.

    Parameters
    ----------
    theta : ndarray, any shape
        Parameters theta_{t-1}; overwritten with theta_t.
    g : ndarray, same shape as theta
        The gradient g_t (weight decay already added); not changed.
    G : ndarray, same shape as theta
        The sum of squared gradients G_{t-1}; overwritten with G_t.
    lr, eps : float
        The learning rate, and the small number added to sqrt(G_t).

    Returns
    -------
    None. Update theta and G in place (an augmented assignment such as ``theta -= ...``, or
    ``G[...] = ...``); ``G = ...`` would only rebind a local name.

    Notes
    -----
    .. math:: G_t = G_{t-1} + g_t^2, \\qquad
        \\theta_t = \\theta_{t-1} - \\mathrm{lr} \\frac{g_t}{\\sqrt{G_t} + \\epsilon}

    Each entry gets its own step size, lr / sqrt(G_t), which only shrinks: entries with large
    past gradients move slowly.
    """
    # BEGIN SOLUTION
    G += g * g                                     # eq. (43): G_t = G_{t-1} + g_t^2
    theta -= lr * g / (np.sqrt(G) + eps)           # eq. (43): theta_t
    # END SOLUTION


class Adagrad(Optimizer):
    """Adagrad, eq. (43).

    Parameters
    ----------
    params : dict of str -> ndarray
        The live parameter arrays, updated in place by :meth:`step`.
    lr : float
        Learning rate, > 0. Kingma & Welling chose it from {0.01, 0.02, 0.1}.
    eps : float
        > 0, added to sqrt(G_t).
    weight_decay : float
        lambda >= 0 of eq. (41); see :func:`numpyvae.optim.weight_decay.add_weight_decay`.
    initial_accumulator_value : float
        >= 0, the starting value of every entry of G (PyTorch's option of the same name).

    State: ``G``, saved as ``"G.<name>"``.
    """

    _NONNEGATIVE_STATE = ("G",)

    def __init__(self, params, lr=1e-2, eps=1e-10, weight_decay=0.0,
                 initial_accumulator_value=0.0):
        lr = check_positive("lr", lr)
        self._eps = check_positive("eps", eps)
        initial = check_nonnegative("initial_accumulator_value", initial_accumulator_value)
        super().__init__(params, lr, weight_decay)
        self._add_state("G", fill=initial)

    @property
    def eps(self):
        """eps of eq. (43), fixed at construction."""
        return self._eps

    def _fixed_hyperparameters(self):
        return {**super()._fixed_hyperparameters(), "eps": self._eps}

    def _update(self, theta, g, G):
        adagrad_update(theta, g, G, self.lr, self._eps)

"""Adam (Kingma & Ba, 2015), with bias correction, eq. (42)."""
import math

import numpy as np

from .base import Optimizer
from .checks import check_decay_rate, check_positive


def adam_update(theta, g, m, v, t, lr, beta1, beta2, eps, scratch):
    """One Adam step on one array, in place, eq. (42).

    Parameters
    ----------
    theta : ndarray, any shape
        Parameters theta_{t-1}; overwritten with theta_t.
    g : ndarray, same shape as theta
        The gradient g_t (weight decay already added); not changed.
    m, v : ndarray, same shape as theta
        First and second moment estimates m_{t-1}, v_{t-1}; overwritten with m_t, v_t.
    t : int
        This step's number, 1 for the first step.
    lr, beta1, beta2, eps : float
    scratch : ndarray, same shape as theta
        Work array. ``g2``, ``denom`` and ``step`` below are all this one array, reused. It
        may be g itself, since g is not read once scratch is written: the optimizer does
        that when the caller lets it overwrite the gradient.

    Notes
    -----
    .. math::
        m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2

        \\hat m_t = \\frac{m_t}{1 - \\beta_1^t}, \\qquad
        \\hat v_t = \\frac{v_t}{1 - \\beta_2^t}, \\qquad
        \\theta_t = \\theta_{t-1} - \\mathrm{lr} \\frac{\\hat m_t}{\\sqrt{\\hat v_t} + \\epsilon}

    The bias corrections undo the pull of the zero initial m and v towards 0: with a constant
    gradient g, m_hat = g and v_hat = g^2 at every t, so each entry moves by lr sign(g) (up to
    eps). eps is added after the square root, as in the paper and in PyTorch.
    """
    # BEGIN SOLUTION
    # m_t = b1 m_{t-1} + (1 - b1) g_t, computed as g_t + b1 (m_{t-1} - g_t): no work array
    m -= g                                         # eq. (42): m_{t-1} - g_t
    m *= beta1                                     # eq. (42): b1 (m_{t-1} - g_t)
    m += g                                         # eq. (42): m_t
    v *= beta2                                     # eq. (42): b2 v_{t-1}
    g2 = np.square(g, out=scratch)                 # eq. (42): g_t^2
    g2 *= 1 - beta2
    v += g2                                        # eq. (42): v_t = b2 v_{t-1} + (1 - b2) g_t^2
    # m_hat / (sqrt(v_hat) + eps) = c m_t / (sqrt(v_t) + eps'), c = sqrt(1 - b2^t) / (1 - b1^t)
    # and eps' = eps sqrt(1 - b2^t): the order of computation of Kingma & Ba's section 2,
    # one pass over the vector fewer than dividing by sqrt(1 - b2^t) first.
    root = math.sqrt(1 - beta2 ** t)
    denom = np.sqrt(v, out=scratch)                # eq. (42): sqrt(v_t)
    denom += eps * root                            # eq. (42): sqrt(v_t) + eps'
    step = np.divide(m, denom, out=scratch)        # eq. (42): m_t / (sqrt(v_t) + eps')
    step *= lr * root / (1 - beta1 ** t)           # eq. (42): lr m_hat / (sqrt(v_hat) + eps)
    theta -= step                                  # eq. (42): theta_t = theta_{t-1} - step
    # END SOLUTION


class Adam(Optimizer):
    """Adam with bias correction, eq. (42).

    Parameters
    ----------
    params : dict of str -> ndarray
        The live parameter arrays, updated in place by :meth:`step`.
    lr : float
        Learning rate, > 0.
    betas : pair of float
        (beta1, beta2), each in [0, 1): decay rates of the first and second moment estimates.
    eps : float
        > 0, added to sqrt(v_hat).
    weight_decay : float
        lambda >= 0 of eq. (41), added to the gradient before the moments (L2 regularization
        as in PyTorch's Adam, not AdamW's decoupled decay); see
        :func:`numpyvae.optim.weight_decay.add_weight_decay`.

    State: ``m`` and ``v``, saved as ``"m.<name>"`` and ``"v.<name>"``.
    """

    _NONNEGATIVE_STATE = ("v",)
    _SCRATCH_MAY_BE_G = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        lr = check_positive("lr", lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1); "
                             f"got {betas!r}") from None
        self._beta1 = check_decay_rate("betas[0]", beta1)
        self._beta2 = check_decay_rate("betas[1]", beta2)
        self._eps = check_positive("eps", eps)
        super().__init__(params, lr, weight_decay)
        self._add_state("m")
        self._add_state("v")

    @property
    def betas(self):
        """(beta1, beta2), fixed at construction."""
        return (self._beta1, self._beta2)

    @property
    def eps(self):
        """eps of eq. (42), fixed at construction."""
        return self._eps

    def _fixed_hyperparameters(self):
        return {**super()._fixed_hyperparameters(),
                "beta1": self._beta1, "beta2": self._beta2, "eps": self._eps}

    def _update(self, theta, g, state, scratch):
        adam_update(theta, g, state["m"], state["v"], self.t, self.lr,
                    self._beta1, self._beta2, self._eps, scratch)

"""Adam (Kingma & Ba, 2015), with bias correction, eq. (42)."""
import numpy as np

from .base import Optimizer
from .checks import check_decay_rate, check_positive


def adam_update(theta, g, m, v, t, lr, beta1, beta2, eps):
    """One Adam step on one array, eq. (42). Changes theta, m and v in place.

    Parameters
    ----------
    theta : ndarray, any shape
        Parameters theta_{t-1}; overwritten with theta_t.
    g : ndarray, same shape as theta
        The gradient g_t (weight decay already added); not changed.
    m, v : ndarray, same shape as theta
        The moment estimates m_{t-1} and v_{t-1} (zeros before the first step); overwritten
        with m_t and v_t.
    t : int
        This step's number, 1 for the first step.
    lr, beta1, beta2, eps : float
        The learning rate, the two decay rates and the small number added to sqrt(v_hat).

    Returns
    -------
    None. Update theta, m and v in place (an augmented assignment such as ``theta -= ...``,
    or ``m[...] = ...``); ``m = ...`` would only rebind a local name.

    Notes
    -----
    Eq. (42), Algorithm 1 of Kingma & Ba, line for line:

    .. math::
        m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2

        \\hat m_t = \\frac{m_t}{1 - \\beta_1^t}, \\qquad
        \\hat v_t = \\frac{v_t}{1 - \\beta_2^t}, \\qquad
        \\theta_t = \\theta_{t-1} - \\mathrm{lr} \\frac{\\hat m_t}{\\sqrt{\\hat v_t} + \\epsilon}

    The bias correction divides out the weight that the zero start leaves missing: with a
    constant gradient g, m_hat = g and v_hat = g^2 at every t, so each entry moves by
    lr sign(g) (up to eps). eps is added after the square root, as in the paper and PyTorch.
    """
    # BEGIN SOLUTION
    m *= beta1
    m += (1 - beta1) * g                           # eq. (42): m_t = b1 m_{t-1} + (1 - b1) g_t
    v *= beta2
    v += (1 - beta2) * g * g                       # eq. (42): v_t = b2 v_{t-1} + (1 - b2) g_t^2
    m_hat = m / (1 - beta1 ** t)                   # eq. (42): bias-corrected m_t
    v_hat = v / (1 - beta2 ** t)                   # eq. (42): bias-corrected v_t
    theta -= lr * m_hat / (np.sqrt(v_hat) + eps)   # eq. (42): theta_t
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

    State: the moments ``m`` and ``v`` of :func:`adam_update`, saved as ``"m.<name>"`` and
    ``"v.<name>"``.
    """

    _NONNEGATIVE_STATE = ("v",)

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

    def _update(self, theta, g, m, v):
        adam_update(theta, g, m, v, self.t, self.lr, self._beta1, self._beta2, self._eps)

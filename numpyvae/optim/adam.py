"""Adam (Kingma & Ba, 2015), with bias correction, eq. (42)."""
import math

import numpy as np

from .base import Optimizer
from .checks import check_decay_rate, check_positive


def adam_update(theta, g, M, V, t, lr, beta1, beta2, eps, scratch):
    """One Adam step on one array, in place, eq. (42), with the moments kept as sums.

    Parameters
    ----------
    theta : ndarray, any shape
        Parameters theta_{t-1}; overwritten with theta_t.
    g : ndarray, same shape as theta
        The gradient g_t (weight decay already added); not changed unless it is ``scratch``.
    M, V : ndarray, same shape as theta
        The discounted sums of the gradients and of their squares, M_{t-1} and V_{t-1};
        overwritten with M_t and V_t. Adam's moments are m_t = (1 - b1) M_t and
        v_t = (1 - b2) V_t.
    t : int
        This step's number, 1 for the first step.
    lr, beta1, beta2, eps : float
    scratch : ndarray, same shape as theta
        Work array. ``g2``, ``denom`` and ``step`` below are all this one array, reused. It
        may be g itself, since g is not read once scratch is written: the optimizer does
        that when the caller lets it overwrite the gradient.

    Notes
    -----
    Eq. (42), Kingma & Ba's Algorithm 1, written with sums (derivation, after eq. (42)):

    .. math::
        M_t = \\beta_1 M_{t-1} + g_t, \\qquad V_t = \\beta_2 V_{t-1} + g_t^2, \\qquad
        S_t(\\beta) = 1 + \\beta + \\dots + \\beta^{t-1} = \\frac{1 - \\beta^t}{1 - \\beta}

        \\hat m_t = \\frac{M_t}{S_t(\\beta_1)}, \\qquad
        \\hat v_t = \\frac{V_t}{S_t(\\beta_2)}, \\qquad
        \\theta_t = \\theta_{t-1} - \\mathrm{lr} \\frac{\\hat m_t}{\\sqrt{\\hat v_t} + \\epsilon}

    m_hat is a weighted average of g_1..g_t with weights beta1^(t - tau): M_t is the weighted
    sum and S_t(beta1) the sum of the weights. That is the bias correction: with a constant
    gradient g, m_hat = g and v_hat = g^2 at every t, so each entry moves by lr sign(g) (up
    to eps). eps is added after the square root, as in the paper and in PyTorch.
    """
    # BEGIN SOLUTION
    M *= beta1                                     # eq. (42): b1 M_{t-1}
    M += g                                         # eq. (42): M_t = b1 M_{t-1} + g_t
    V *= beta2                                     # eq. (42): b2 V_{t-1}
    g2 = np.square(g, out=scratch)                 # eq. (42): g_t^2
    V += g2                                        # eq. (42): V_t = b2 V_{t-1} + g_t^2
    # lr m_hat / (sqrt(v_hat) + eps) = c M_t / (sqrt(V_t) + eps r) with r = sqrt(S_t(b2)) and
    # c = lr r / S_t(b1): numerator and denominator multiplied by r, so that the scalars,
    # not the vectors, carry the bias correction.
    s1 = (1 - beta1 ** t) / (1 - beta1)            # S_t(b1), the sum of m_hat's weights
    r = math.sqrt((1 - beta2 ** t) / (1 - beta2))  # sqrt(S_t(b2))
    denom = np.sqrt(V, out=scratch)                # eq. (42): sqrt(V_t)
    denom += eps * r                               # eq. (42): r (sqrt(v_hat) + eps)
    step = np.divide(M, denom, out=scratch)        # eq. (42)
    step *= lr * r / s1                            # eq. (42): lr m_hat / (sqrt(v_hat) + eps)
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

    State: the sums ``M`` and ``V`` of :func:`adam_update`, saved as ``"M.<name>"`` and
    ``"V.<name>"``. Adam's moments m and v are (1 - beta1) M and (1 - beta2) V.
    """

    _NONNEGATIVE_STATE = ("V",)
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
        self._add_state("M")
        self._add_state("V")

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

    def load_state_dict(self, state):
        """Restore a saved state, as :meth:`Optimizer.load_state_dict`.

        A state saved before Adam kept the sums (numpyvae up to the third session's version)
        holds the moments instead, under ``"m.<name>"`` and ``"v.<name>"``; it is converted,
        M = m / (1 - beta1) and V = v / (1 - beta2), so that such a run resumes (the same
        numbers up to rounding).
        """
        if hasattr(state, "keys") and not any(f"{kind}.{name}" in state.keys()
                                              for kind in ("M", "V") for name in self.params):
            state = dict(state)
            for name in self.params:
                for old, new, beta in (("m", "M", self._beta1), ("v", "V", self._beta2)):
                    if f"{old}.{name}" in state:
                        moment = np.asarray(state.pop(f"{old}.{name}"))
                        state[f"{new}.{name}"] = moment / (1 - beta)
        super().load_state_dict(state)

    def _update(self, theta, g, state, scratch):
        adam_update(theta, g, state["M"], state["V"], self.t, self.lr,
                    self._beta1, self._beta2, self._eps, scratch)

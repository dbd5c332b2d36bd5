"""The Gaussian encoder q_phi(z|x) = N(mu, diag sigma^2).

An MLP trunk, then two dense heads: one for mu, one for s, a parameterization of sigma
(by default s = log sigma^2, so sigma = exp(s/2)).
"""
from .dense import Dense
from .mlp import MLP
from .sigma import get_sigma_parameterization


class GaussianEncoder:
    """x -> (mu, sigma) with parameters ``enc.h1``.., ``enc.mu``, ``enc.<sigma_parameterization>``.

    Parameters
    ----------
    n_hidden : int
        Number of hidden layers in the trunk.
    activation : str
    sigma_parameterization : str
        ``"log_var"`` (s = log sigma^2) or ``"softplus"`` (sigma = softplus(s)).
    params, grads : mapping of str -> ndarray
    conditional : bool
        Whether the first layer reads [x, onehot(y)] (a conditional VAE).
    """

    def __init__(self, n_hidden, activation, sigma_parameterization, params, grads,
                 conditional=False):
        self.trunk = MLP("enc", n_hidden, activation, params, grads, conditional)
        self.mu_head = Dense("enc.mu", params, grads)
        self.s_head = Dense("enc." + sigma_parameterization, params, grads)
        self._sigma_forward, self._sigma_backward = get_sigma_parameterization(
            sigma_parameterization)
        self._sigma_cache = None

    def forward(self, x, y=None):
        """x: (B, D) -> mu, sigma: (B, K); y: the labels (B,) of a conditional encoder."""
        h = self.trunk.forward(x, y)
        mu = self.mu_head.forward(h)                       # eq. (5)
        s = self.s_head.forward(h)                         # eq. (5)
        sigma, self._sigma_cache = self._sigma_forward(s)  # eq. (6)
        return mu, sigma

    def backward(self, dmu, dsigma):
        """Take dL/dmu and dL/dsigma (B, K); write the encoder's parameter gradients."""
        ds = self._sigma_backward(dsigma, self._sigma_cache)   # eq. (7) or (8): dL/dsigma dsigma/ds
        has_trunk = bool(self.trunk.layers)
        dh = self.mu_head.backward(dmu, input_grad=has_trunk)
        dh_s = self.s_head.backward(ds, input_grad=has_trunk)
        if has_trunk:
            dh += dh_s                                     # h feeds both heads: gradients add
            self.trunk.backward(dh, input_grad=False)
        self._sigma_cache = None

"""The decoder P_theta(x|z): an MLP trunk, then one dense head per distribution parameter.

The heads depend on the likelihood: ``dec.logits`` for Bernoulli, ``dec.mean`` (and
``dec.sigma`` when sigma_x is learned per pixel) for Gaussian. A likelihood may also have
parameters of its own that no head computes: gaussian-shared's one ``dec.sigma_x.t``.
"""
import numpy as np

from .dense import Dense
from .mlp import MLP


class Decoder:
    """z -> the parameters of P(x|z).

    Parameters
    ----------
    n_hidden : int
    activation : str
    likelihood : a likelihood object from :mod:`numpyvae.likelihoods`
    params, grads : mapping of str -> ndarray
    conditional : bool
        Whether the first layer reads [z, onehot(y)] (a conditional VAE).
    """

    def __init__(self, n_hidden, activation, likelihood, params, grads, conditional=False):
        self.trunk = MLP("dec", n_hidden, activation, params, grads, conditional)
        self.likelihood = likelihood
        self.heads = {name: Dense("dec." + name, params, grads) for name in likelihood.heads}
        self.own = {name: (params["dec." + name], grads["dec." + name])
                    for name in likelihood.parameters}
        self._lead_shape = None

    def forward(self, z, y=None, mean=True):
        """z: (..., K) -> dict of distribution parameters, each (..., D).

        Leading axes (the r samples and the batch) are flattened into one, so that each layer
        is one matrix product, and restored at the end. ``mean=False`` lets the likelihood
        skip what only the mean needs (the Bernoulli probabilities), for a caller that wants
        the loss and its gradient: both are computed from the logits.

        y holds the labels of a conditional decoder: shape (B,) for z of shape (B, K) or
        (r, B, K), every sample z_ij of example i reading its label y_i.
        """
        self._lead_shape = z.shape[:-1]
        rows = None
        if y is not None:                                  # row (j, i) of the flattened z
            rows = np.broadcast_to(y, self._lead_shape).reshape(-1)    # has the label y_i
        h = self.trunk.forward(z.reshape(-1, z.shape[-1]), rows)
        heads = {name: head.forward(h).reshape(*self._lead_shape, -1)
                 for name, head in self.heads.items()}
        heads.update({name: param for name, (param, _) in self.own.items()})
        return self.likelihood.decode(heads, mean=mean)

    def backward(self, dheads):
        """dL/d(head outputs) (..., D) -> dL/dz (..., K); writes the decoder's gradients."""
        for name, (_, grad) in self.own.items():
            grad[...] = dheads[name]                       # reaches no layer: z plays no part
        dh = None
        for name, head in self.heads.items():
            d = head.backward(dheads[name].reshape(-1, dheads[name].shape[-1]))
            dh = d if dh is None else dh + d               # h feeds every head: gradients add
        dz = self.trunk.backward(dh)
        return dz.reshape(*self._lead_shape, -1)

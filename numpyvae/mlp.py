"""A multilayer perceptron: dense layers, each followed by the same activation.

Both the encoder and the decoder start with one of these (their "trunk"); their output
heads are plain ``Dense`` layers on top of it.
"""
from .activations import get_activation
from .dense import Dense


class MLP:
    """Dense layers ``{prefix}.h1``, ``{prefix}.h2``, ..., each followed by ``activation``.

    Parameters
    ----------
    prefix : str
        ``"enc"`` or ``"dec"``; the layers are named ``prefix + ".h1"`` and so on.
    n_layers : int
        Number of hidden layers (0 makes the MLP the identity map).
    activation : str
        A name from :data:`numpyvae.activations.ACTIVATIONS`.
    params, grads : mapping of str -> ndarray
        The model's parameter and gradient arrays.
    """

    def __init__(self, prefix, n_layers, activation, params, grads):
        self.layers = [Dense(f"{prefix}.h{i}", params, grads) for i in range(1, n_layers + 1)]
        self.activation = get_activation(activation)
        self.caches = []

    def forward(self, x):
        """x: (N, D_in) -> h: (N, D_last)."""
        self.caches = []
        for layer in self.layers:
            h, cache = self.activation.forward(layer.forward(x))
            self.caches.append(cache)
            x = h
        return x

    def backward(self, dh, input_grad=True):
        """dh: dL/dh (N, D_last) -> dL/dx (N, D_in), or None when ``input_grad`` is False."""
        for i in reversed(range(len(self.layers))):
            da = self.activation.backward(dh, self.caches[i])   # eq. (27)
            dh = self.layers[i].backward(da, input_grad=input_grad or i > 0)
        self.caches = []
        return dh

"""A multilayer perceptron: dense layers, each followed by the same activation.

Both the encoder and the decoder start with one of these (their "trunk"); their output
heads are plain ``Dense`` layers on top of it. In a conditional model the first layer reads
[x, onehot(y)] (:class:`numpyvae.conditional.ConditionalDense`).
"""
from .activations import get_activation
from .conditional import ConditionalDense
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
    conditional : bool
        Whether the first layer also reads the label, [x, onehot(y)] (needs n_layers >= 1).
    """

    def __init__(self, prefix, n_layers, activation, params, grads, conditional=False):
        self.layers = [Dense(f"{prefix}.h{i}", params, grads) for i in range(1, n_layers + 1)]
        if conditional:
            self.layers[0] = ConditionalDense(f"{prefix}.h1", params, grads)
        self.conditional = conditional
        self.activation = get_activation(activation)
        self.caches = []

    def forward(self, x, y=None):
        """x: (N, D_in) -> h: (N, D_last); y: the labels (N,) of a conditional MLP."""
        self.caches = []
        for i, layer in enumerate(self.layers):
            a = layer.forward(x, y) if i == 0 and self.conditional else layer.forward(x)
            h, cache = self.activation.forward(a)
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

"""The dense (affine) layer y = x W + b: forward, backward, and a layer object.

The functions are the math (cs231n style); the ``Dense`` object only holds the parameter
and gradient arrays by name (numpy-ml style) and the cache between the two passes.
"""
import numpy as np


def dense_forward(x, W, b):
    """y = x W + b, eq. (23).

    Parameters
    ----------
    x : ndarray, shape (N, D_in)
    W : ndarray, shape (D_in, D_out)
    b : ndarray, shape (D_out,)

    Returns
    -------
    y : ndarray, shape (N, D_out)
    cache : tuple (x, W), what the backward needs
    """
    y = x @ W + b                                  # eq. (23)
    return y, (x, W)


def dense_backward(dy, cache, input_grad=True):
    """Gradients of the dense layer, eqs. (24)-(26).

    Parameters
    ----------
    dy : ndarray, shape (N, D_out)
        dL/dy.
    cache : tuple (x, W) from :func:`dense_forward`.
    input_grad : bool
        Whether dL/dx is wanted. The model passes False for the encoder's first layer, whose
        input is the data: nothing before it learns, so dL/dx would be thrown away, and it
        costs as much as dL/dW. Computing dx anyway is correct, only slower.

    Returns
    -------
    dx : ndarray, shape (N, D_in) (may be None when ``input_grad`` is False)
    dW : ndarray, shape (D_in, D_out)
    db : ndarray, shape (D_out,)
    """
    x, W = cache
    # BEGIN SOLUTION
    dx = dy @ W.T if input_grad else None          # eq. (24): dL/dx = dL/dy W^T
    dW = x.T @ dy                                  # eq. (25): dL/dW = x^T dL/dy
    db = np.sum(dy, axis=0)                        # eq. (26): dL/db = sum over rows of dL/dy
    # END SOLUTION
    return dx, dW, db


class Dense:
    """A dense layer: its parameters and gradients by name, and the cache between the passes.

    Parameters
    ----------
    name : str
        Prefix of the parameter names, e.g. ``"enc.h1"`` gives ``"enc.h1.W"``, ``"enc.h1.b"``.
    params, grads : mapping of str -> ndarray
        The model's parameter and gradient arrays, holding ``name + ".W"`` of shape
        (D_in, D_out) and ``name + ".b"`` of shape (D_out,). The layer reads W and b from
        ``params`` and puts dL/dW and dL/db into ``grads``.
    """

    def __init__(self, name, params, grads):
        self.name = name
        self.W, self.b = params[name + ".W"], params[name + ".b"]
        self.dW, self.db = grads[name + ".W"], grads[name + ".b"]
        self.cache = None

    def forward(self, x):
        y, self.cache = dense_forward(x, self.W, self.b)
        return y

    def backward(self, dy, input_grad=True):
        """Store dL/dW and dL/db in the model's gradients; return dL/dx (None when
        ``input_grad`` is False)."""
        dx, dW, db = dense_backward(dy, self.cache, input_grad)
        self.dW[...] = _checked(dW, self.dW.shape, f"{self.name}.W", "dW", 25)
        self.db[...] = _checked(db, self.db.shape, f"{self.name}.b", "db", 26)
        self.cache = None
        return dx if input_grad else None


def _checked(grad, shape, name, what, equation, function="dense_backward"):
    """A gradient from ``function``, refused with a clear error if its shape is off."""
    found = getattr(grad, "shape", None)
    if found != shape:
        raise ValueError(f"{function} returned {what} of shape {found} for {name!r}; "
                         f"expected {shape}, the shape of the parameter (eq. ({equation}))")
    return grad

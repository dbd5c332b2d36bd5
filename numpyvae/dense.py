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
    y = x @ W
    y += b                                         # in place: no second (N, D_out) array
    return y, (x, W)


def dense_backward(dy, cache, dW=None, db=None, input_grad=True):
    """Gradients of the dense layer, eqs. (24)-(26).

    Parameters
    ----------
    dy : ndarray, shape (N, D_out)
        dL/dy.
    cache : tuple (x, W) from :func:`dense_forward`.
    dW, db : ndarray, optional
        Where to write dL/dW (D_in, D_out) and dL/db (D_out,). A model passes its gradient
        buffer here, so nothing is copied; by default new arrays are made.
    input_grad : bool
        Whether to compute dL/dx. The first layer of the encoder does not need it: nothing
        upstream of the data has parameters.

    Returns
    -------
    dx : ndarray, shape (N, D_in), or None when ``input_grad`` is False
    dW : ndarray, shape (D_in, D_out)
    db : ndarray, shape (D_out,)
    """
    x, W = cache
    # BEGIN SOLUTION
    dW = np.matmul(x.T, dy, out=dW)                # eq. (25): dL/dW = x^T dL/dy
    db = np.sum(dy, axis=0, out=db)                # eq. (26): dL/db = sum over rows of dL/dy
    dx = dy @ W.T if input_grad else None          # eq. (24): dL/dx = dL/dy W^T
    # END SOLUTION
    return dx, dW, db


class Dense:
    """A dense layer whose W and b live in given arrays (views into a model's buffers).

    Parameters
    ----------
    name : str
        Prefix of the parameter names, e.g. ``"enc.h1"`` gives ``"enc.h1.W"``, ``"enc.h1.b"``.
    params, grads : mapping of str -> ndarray
        Hold ``name + ".W"`` of shape (D_in, D_out) and ``name + ".b"`` of shape (D_out,).
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
        """Write dL/dW and dL/db into the gradient arrays; return dL/dx (or None)."""
        dx, _, _ = dense_backward(dy, self.cache, self.dW, self.db, input_grad)
        self.cache = None
        return dx

"""The conditional VAE's one new layer: a dense layer whose input is [x, onehot(y)], eqs. (56)-(58).

A conditional VAE (Sohn, Lee & Yan, 2015) gives both networks the label y of the example:
the encoder reads [x, onehot(y)] and the decoder [z, onehot(y)]. Only the first layer of each
sees the label, so that layer is the only new piece. Its weight matrix is split by the rows of
its input, W = [W_x; W_y], and then

    [x, onehot(y)] W + b = x W_x + onehot(y) W_y + b = x W_x + W_y[y] + b      eq. (56)

since onehot(y) W_y is row y of W_y. The product with x stays one matrix product, and the
label enters as a gathered row. The model keeps W_x and W_y as two named parameters,
``enc.h1.W`` and ``enc.h1.Wy`` (``dec.h1.W`` and ``dec.h1.Wy`` in the decoder).
"""
import numpy as np

from .dense import _checked


def onehot(y, n_classes, dtype=np.float64):
    """The one-hot rows of integer labels: e[n, c] = 1 if y[n] == c, else 0.

    Parameters
    ----------
    y : ndarray of int, shape (N,), each in 0..n_classes-1
    n_classes : int
    dtype : numpy float dtype

    Returns
    -------
    e : ndarray, shape (N, n_classes)
    """
    e = np.zeros((len(y), n_classes), dtype=dtype)
    e[np.arange(len(y)), y] = 1
    return e


def concat_dense_forward(x, y, W, Wy, b):
    """a = [x, onehot(y)] [W; Wy] + b = x W + Wy[y] + b, eq. (56).

    Parameters
    ----------
    x : ndarray, shape (N, D_in)
    y : ndarray of int, shape (N,)
        The label of each row, each in 0..C-1.
    W : ndarray, shape (D_in, D_out)
        The rows of the weight matrix that multiply x.
    Wy : ndarray, shape (C, D_out)
        The rows that multiply onehot(y): row c is what label c adds.
    b : ndarray, shape (D_out,)

    Returns
    -------
    a : ndarray, shape (N, D_out)
    cache : tuple (x, y, W, Wy), what the backward needs
    """
    a = x @ W + Wy[y] + b                          # eq. (56): onehot(y) Wy is row y of Wy
    return a, (x, y, W, Wy)


def concat_dense_backward(da, cache, input_grad=True):
    """Gradients of the dense layer on [x, onehot(y)], eqs. (57)-(58) and (26).

    Parameters
    ----------
    da : ndarray, shape (N, D_out)
        dL/da.
    cache : tuple (x, y, W, Wy) from :func:`concat_dense_forward`.
    input_grad : bool
        Whether dL/dx is wanted: False for the encoder's first layer, whose x is the data.

    Returns
    -------
    dx : ndarray, shape (N, D_in) (None when ``input_grad`` is False)
        The x block of dL/d[x, onehot(y)]. The label's block is dropped: a label is data,
        with nothing before it to learn.
    dW : ndarray, shape (D_in, D_out)
    dWy : ndarray, shape (C, D_out)
        Row c is the sum of the rows of dL/da whose label is c.
    db : ndarray, shape (D_out,)

    Each gradient has the dtype of ``da``: a float32 model stays float32.
    """
    x, y, W, Wy = cache
    # BEGIN SOLUTION
    dx = da @ W.T if input_grad else None          # eq. (57): x's block of dL/da [W; Wy]^T
    dW = x.T @ da                                  # eq. (58): x's rows of [x, onehot(y)]^T dL/da
    # The one-hot product, not np.add.at(dWy, y, da), which is 30 to 50 times slower (0.5 to
    # 0.7 ms against 15 us for 128 x 400 in float32): a sixth of the default network's step.
    dWy = onehot(y, len(Wy), da.dtype).T @ da      # eq. (58): the label's rows, sums by class
    db = np.sum(da, axis=0)                        # eq. (26): dL/db = sum over rows of dL/da
    # END SOLUTION
    return dx, dW, dWy, db


class ConditionalDense:
    """The first layer of a conditional network: parameters ``name + ".W"``, ``".Wy"``, ``".b"``.

    Parameters
    ----------
    name : str
        ``"enc.h1"`` or ``"dec.h1"``.
    params, grads : mapping of str -> ndarray
        The model's parameter and gradient arrays, holding ``name + ".W"`` (D_in, D_out),
        ``name + ".Wy"`` (C, D_out) and ``name + ".b"`` (D_out,).
    """

    def __init__(self, name, params, grads):
        self.name = name
        self.W, self.Wy, self.b = (params[name + s] for s in (".W", ".Wy", ".b"))
        self.dW, self.dWy, self.db = (grads[name + s] for s in (".W", ".Wy", ".b"))
        self.cache = None

    def forward(self, x, y):
        """x: (N, D_in) and its labels y: (N,) -> a: (N, D_out)."""
        a, self.cache = concat_dense_forward(x, y, self.W, self.Wy, self.b)
        return a

    def backward(self, da, input_grad=True):
        """Store dL/dW, dL/dWy and dL/db in the model's gradients; return dL/dx (None when
        ``input_grad`` is False)."""
        dx, dW, dWy, db = concat_dense_backward(da, self.cache, input_grad)
        function = "concat_dense_backward"
        self.dW[...] = _checked(dW, self.dW.shape, f"{self.name}.W", "dW", 58, function)
        self.dWy[...] = _checked(dWy, self.dWy.shape, f"{self.name}.Wy", "dWy", 58, function)
        self.db[...] = _checked(db, self.db.shape, f"{self.name}.b", "db", 26, function)
        self.cache = None
        return dx if input_grad else None

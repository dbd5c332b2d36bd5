"""Elementwise activations, each a forward/backward pair.

``forward(a) -> (y, cache)`` applies y = f(a); ``backward(dy, cache) -> da`` returns
dL/da = dL/dy * f'(a), eq. (27). Each forward caches exactly what its backward needs,
which for most of them is the output y: f'(a) can be written in terms of y.
"""
from collections import namedtuple

import numpy as np

from .stable import positive_part, sigmoid, softplus

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0


def identity_forward(a):
    return a, None


def identity_backward(dy, cache):
    """dL/da of the identity, eqs. (27), (28); the cache is None."""
    # BEGIN SOLUTION
    return dy                                      # eq. (28): f'(a) = 1
    # END SOLUTION


def relu_forward(a):
    y = positive_part(a)                           # max(a, 0)
    return y, y


def relu_backward(dy, cache):
    """dL/da of relu, eqs. (27), (29); the cache is y = f(a)."""
    y = cache
    # BEGIN SOLUTION
    return dy * (y > 0)                            # eq. (29): f'(a) = 1[a > 0]
    # END SOLUTION


def leaky_relu_forward(a):
    y = np.where(a > 0, a, LEAKY_RELU_SLOPE * a)
    return y, y


def leaky_relu_backward(dy, cache):
    """dL/da of leaky relu, eqs. (27), (30); the cache is y = f(a)."""
    y = cache
    # BEGIN SOLUTION
    return np.where(y > 0, dy, LEAKY_RELU_SLOPE * dy)  # eq. (30): f'(a) = 1 or slope
    # END SOLUTION


def elu_forward(a):
    # exp only sees a <= 0, so a large positive a cannot overflow.
    y = np.where(a > 0, a, ELU_ALPHA * np.expm1(np.minimum(a, 0)))
    return y, y


def elu_backward(dy, cache):
    """dL/da of elu, eqs. (27), (31); the cache is y = f(a)."""
    y = cache
    # BEGIN SOLUTION
    return np.where(y > 0, dy, dy * (y + ELU_ALPHA))  # eq. (31): f'(a) = f(a) + alpha, a <= 0
    # END SOLUTION


def tanh_forward(a):
    y = np.tanh(a)
    return y, y


def tanh_backward(dy, cache):
    """dL/da of tanh, eqs. (27), (32); the cache is y = f(a)."""
    y = cache
    # BEGIN SOLUTION
    return dy * (1 - y * y)                        # eq. (32): f'(a) = 1 - tanh(a)^2
    # END SOLUTION


def sigmoid_forward(a):
    y = sigmoid(a)
    return y, y


def sigmoid_backward(dy, cache):
    """dL/da of the sigmoid, eqs. (27), (33); the cache is y = f(a)."""
    y = cache
    # BEGIN SOLUTION
    return dy * y * (1 - y)                        # eq. (33): f'(a) = s(a) (1 - s(a))
    # END SOLUTION


def softplus_forward(a):
    return softplus(a), a


def softplus_backward(dy, cache):
    """dL/da of softplus, eqs. (27), (34); the cache is a."""
    a = cache
    # BEGIN SOLUTION
    return dy * sigmoid(a)                         # eq. (34): f'(a) = sigmoid(a)
    # END SOLUTION


Activation = namedtuple("Activation", ["forward", "backward", "smooth"])
Activation.__doc__ = """An activation: its forward, its backward, and whether f' is continuous.

``smooth`` picks the bar of a gradient check: across the kink of relu or leaky_relu the
finite difference is only accurate to about 1e-5, on smooth paths to about 1e-7.
"""

ACTIVATIONS = {
    "identity": Activation(identity_forward, identity_backward, True),
    "relu": Activation(relu_forward, relu_backward, False),
    "leaky_relu": Activation(leaky_relu_forward, leaky_relu_backward, False),
    "elu": Activation(elu_forward, elu_backward, True),
    "tanh": Activation(tanh_forward, tanh_backward, True),
    "sigmoid": Activation(sigmoid_forward, sigmoid_backward, True),
    "softplus": Activation(softplus_forward, softplus_backward, True),
}


def get_activation(name):
    """Look up an activation by name, with a clear error for an unknown one."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}")
    return ACTIVATIONS[name]

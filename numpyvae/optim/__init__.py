"""Optimizers written by hand: SGD with momentum, Adam and Adagrad, eqs. (40)-(43).

Each optimizer holds a dict of named parameter arrays and updates them in place::

    opt = Adam({"theta": model.flat_parameters}, lr=1e-3)
    opt.step({"theta": model.flat_gradients})

- ``base``: what they share: the step loop, the step count, saving and loading state.
- ``weight_decay``: L2 weight decay, eq. (41), and why lambda = 1/N is the AEVB prior.
- ``sgd``, ``adam``, ``adagrad``: one update rule each, as a plain function of arrays.
- ``checks``: argument checks with errors that say what was wrong.
"""
import inspect

from .adagrad import Adagrad, adagrad_update
from .adam import Adam, adam_update
from .base import Optimizer
from .sgd import SGD, sgd_update
from .weight_decay import add_weight_decay

OPTIMIZERS = ("sgd", "adam", "adagrad")

_CLASSES = {"sgd": SGD, "adam": Adam, "adagrad": Adagrad}


def make_optimizer(name, params, lr=None, weight_decay=0.0, **kwargs):
    """Build the optimizer called ``name`` over ``params``.

    Parameters
    ----------
    name : {"sgd", "adam", "adagrad"}
    params : dict of str -> ndarray
        The live parameter arrays.
    lr : float or None
        None takes the optimizer's default (Adam 1e-3, Adagrad 1e-2; SGD has none).
    weight_decay : float
        lambda >= 0 of eq. (41).
    **kwargs
        The optimizer's own options: ``momentum`` (sgd); ``betas``, ``eps`` (adam);
        ``eps``, ``initial_accumulator_value`` (adagrad).

    Returns
    -------
    Optimizer
    """
    if name not in _CLASSES:
        raise ValueError(f"optimizer name must be one of {list(OPTIMIZERS)}; got {name!r}")
    cls = _CLASSES[name]
    options = [p for p in inspect.signature(cls).parameters
               if p not in ("params", "lr", "weight_decay")]
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise ValueError(f"{unknown[0]} is not an option of {name!r}; its options are {options}")
    if lr is None:
        default = inspect.signature(cls).parameters["lr"].default
        if default is inspect.Parameter.empty:
            raise ValueError(f"lr must be given for {name!r}, which has no default learning "
                             f"rate; got None")
        lr = default
    return cls(params, lr=lr, weight_decay=weight_decay, **kwargs)


__all__ = ["OPTIMIZERS", "make_optimizer", "Optimizer", "SGD", "Adam", "Adagrad",
           "add_weight_decay", "sgd_update", "adam_update", "adagrad_update"]

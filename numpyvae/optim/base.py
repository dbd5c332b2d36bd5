"""What every optimizer shares: parameters by name, the step count, weight decay, and state.

An optimizer holds the model's own parameter arrays (not copies) and changes them in place.
Its running averages (its *state*: SGD's velocity, Adam's moments, Adagrad's sums of squares)
are arrays shaped like the parameters, made once here. A subclass writes only its update
rule, eq. (40), (42) or (43), as a plain function of arrays, and names its state.
"""
import numpy as np

from ..engine import threads
from .checks import as_real, check_nonnegative, check_params, check_positive
from .weight_decay import add_weight_decay


class Optimizer:
    """Base class of the optimizers: steps a dict of named parameter arrays in place.

    Parameters
    ----------
    params : dict of str -> ndarray
        The live parameter arrays, any float dtype and shapes. Each ``step`` changes them in
        place; the dict itself is copied (adding a name later has no effect).
    lr : float
        Learning rate, > 0. Settable between steps: ``opt.lr = 1e-4``.
    weight_decay : float
        lambda >= 0 of eq. (41); 0 (the default) costs nothing.

    Attributes
    ----------
    params : dict of str -> ndarray
    state : dict of str -> dict of str -> ndarray
        The optimizer's running arrays by kind, e.g. ``state["m"]["theta"]`` for Adam; each
        shaped and typed like its parameter.
    t : int
        The number of steps taken.

    Notes
    -----
    A subclass makes its state with ``_add_state`` calls, reports its fixed hyperparameters in
    ``_fixed_hyperparameters`` and implements ``_update(theta, g, *state)``, which receives
    the state arrays of one parameter in the order they were added.

    Speed (``numpyvae.engine.threads``): a long contiguous parameter, such as a model's flat
    buffer, is updated in pieces, one per core, each by the same update rule; the rules are
    elementwise, so the numbers are those of one whole-array update, bit for bit.
    """

    # State kinds that must be >= 0 (square roots are taken of them).
    _NONNEGATIVE_STATE = ()

    def __init__(self, params, lr, weight_decay=0.0):
        self.params = check_params(params)
        self.lr = lr
        self._weight_decay = check_nonnegative("weight_decay", weight_decay)
        self._t = 0
        self.state = {}

    def _add_state(self, kind, fill=0.0):
        """Make the state arrays of one kind, one per parameter, filled with ``fill``."""
        self.state[kind] = {name: np.full_like(theta, fill)
                            for name, theta in self.params.items()}

    @property
    def lr(self):
        """The learning rate (settable; validated)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_positive("lr", value)

    @property
    def weight_decay(self):
        """lambda of eq. (41), fixed at construction."""
        return self._weight_decay

    @property
    def t(self):
        """The number of steps taken."""
        return self._t

    def step(self, grads):
        """Update every parameter in place from its gradient.

        Parameters
        ----------
        grads : dict of str -> ndarray
            Same names and shapes as ``params``; not changed. A gradient of another float
            dtype is converted to the parameter's.
        """
        grads = self._check_grads(grads)
        self._t += 1
        for name, theta in self.params.items():
            state = [arrays[name] for arrays in self.state.values()]
            threads.elementwise(self._decay_and_update, [theta, grads[name], *state])

    def _decay_and_update(self, theta, g, *state):
        """Eq. (41), then the update rule, on one parameter (or one piece of it)."""
        if self._weight_decay > 0:
            g = add_weight_decay(theta, g, self._weight_decay)     # eq. (41)
        self._update(theta, g, *state)

    def _update(self, theta, g, *state):
        raise NotImplementedError("a subclass of Optimizer implements its update rule here")

    def _fixed_hyperparameters(self):
        """Hyperparameters that a saved state must agree with, name -> float."""
        return {"weight_decay": self._weight_decay}

    def _check_grads(self, grads):
        if not hasattr(grads, "keys"):
            raise ValueError(f"grads must be a dict of name -> ndarray with the names of "
                             f"params; got {type(grads).__name__}")
        if set(grads.keys()) != set(self.params):
            raise ValueError(f"grads must have exactly the names of params, {list(self.params)}; "
                             f"missing {sorted(set(self.params) - set(grads.keys()))}, "
                             f"unexpected {sorted(set(grads.keys()) - set(self.params), key=str)}")
        checked = {}
        for name, theta in self.params.items():
            g = np.asarray(grads[name])
            if g.dtype.kind != "f":
                raise ValueError(f"grads[{name!r}] must be a float array; got dtype {g.dtype}")
            if g.shape != theta.shape:
                raise ValueError(f"grads[{name!r}] must have the shape of params[{name!r}], "
                                 f"{theta.shape}; got {g.shape}")
            checked[name] = g.astype(theta.dtype, copy=False)
        return checked

    def state_dict(self):
        """Everything needed to resume bit for bit, as plain numbers and ndarrays.

        Returns
        -------
        state : dict of str -> int, float or ndarray
            ``"t"`` (int), ``"lr"`` and the fixed hyperparameters (floats), and a copy of each
            state array under ``"<kind>.<name>"``, e.g. ``"m.theta"``. Nothing needs pickle:
            it can be written with ``np.savez`` and read with ``np.load(allow_pickle=False)``.
        """
        state = {"t": self._t, "lr": self._lr}
        state.update(self._fixed_hyperparameters())
        for kind, arrays in self.state.items():
            for name, arr in arrays.items():
                state[f"{kind}.{name}"] = arr.copy()
        return state

    def load_state_dict(self, state):
        """Restore a state saved by :meth:`state_dict` of the same kind of optimizer.

        The step count, the learning rate and the state arrays are restored. The other
        hyperparameters (weight_decay, momentum, betas, eps) must equal this optimizer's:
        build it with the saved ones. Everything is checked before anything is changed.

        Parameters
        ----------
        state : dict of str -> int, float or ndarray
            0-d arrays (as ``np.load`` returns numbers) are accepted.
        """
        if not hasattr(state, "keys"):
            raise ValueError(f"state must be a dict from state_dict(); got {type(state).__name__}")
        expected = ["t", "lr", *self._fixed_hyperparameters(),
                    *(f"{kind}.{name}" for kind, arrays in self.state.items() for name in arrays)]
        missing = [key for key in expected if key not in state.keys()]
        extra = sorted(set(state.keys()) - set(expected), key=str)
        if missing or extra:
            raise ValueError(
                f"state must have exactly the keys {expected} of a {type(self).__name__} over "
                f"these params; missing {missing}, unexpected {extra} (was it saved by another "
                f"optimizer, or for other parameters?)")
        t = state["t"]
        if (isinstance(t, (bool, np.bool_)) or np.ndim(t) != 0
                or np.asarray(t).dtype.kind not in "iu" or int(t) < 0):
            raise ValueError(f"state['t'] must be an integer >= 0; got {t!r}")
        lr = check_positive("state['lr']", state["lr"])
        for key, value in self._fixed_hyperparameters().items():
            saved = as_real(f"state[{key!r}]", state[key], "a number")
            if saved != value:
                raise ValueError(
                    f"state[{key!r}] is {saved}, but this optimizer has {key}={value}; build the "
                    f"optimizer with the saved hyperparameters to resume the same run")
        arrays = []
        for kind, targets in self.state.items():
            for name, target in targets.items():
                key = f"{kind}.{name}"
                arr = np.asarray(state[key])
                if arr.dtype.kind not in "iuf":
                    raise ValueError(
                        f"state[{key!r}] must hold real numbers; got dtype {arr.dtype}")
                if arr.shape != target.shape:
                    raise ValueError(f"state[{key!r}] must have the shape of params[{name!r}], "
                                     f"{target.shape}; got {arr.shape}")
                if not np.isfinite(arr).all():
                    raise ValueError(f"state[{key!r}] must be finite; it has inf or nan")
                if kind in self._NONNEGATIVE_STATE and (arr < 0).any():
                    raise ValueError(f"state[{key!r}] must be >= 0 (it accumulates squared "
                                     f"gradients); got a minimum of {arr.min()}")
                arrays.append((target, arr))
        for target, arr in arrays:
            target[...] = arr
        self._t = int(t)
        self._lr = lr

    def __repr__(self):
        options = ", ".join(f"{k}={v}" for k, v in {"lr": self._lr,
                                                      **self._fixed_hyperparameters()}.items())
        return f"{type(self).__name__}({options}, t={self._t}, params={list(self.params)})"

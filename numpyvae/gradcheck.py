"""Finite-difference gradient checks, for numpyvae's tests and for students' own code.

- :func:`numerical_gradient`: central differences of a scalar function of an array.
- :func:`numerical_vjp`: the same for an array-valued function, contracted with ``dout``
  (a numerical vector-Jacobian product, what a backward pass computes).
- :func:`relative_error`: |a - n| / max(floor, |a| + |n|), entry by entry.
- :func:`check_gradients` and :func:`check_model`: run over every named parameter and report
  the worst entry of each, with its index, analytic and numeric values and relative error.

All of it needs float64. In float32 a central difference with h ~ 1e-3..1e-5 keeps only
2-4 correct digits, so a relative error of 1e-3 would mean nothing either way.
"""
import numpy as np

DEFAULT_H = 1e-5
BAR_SMOOTH = 1e-7   # bar on paths where every function is smooth
BAR_KINK = 1e-5     # bar through relu / leaky_relu (inputs kept off the kink)
ERROR_FLOOR = 1e-8  # relative_error's smallest denominator (cs231n's)

FLOAT32_REFUSAL = (
    "{name} is {dtype}; gradient checks need float64. A central difference "
    "(f(x+h) - f(x-h)) / 2h subtracts two nearly equal numbers: float32 carries about 7 "
    "significant digits and the subtraction loses about 5 of them at h = 1e-5, so the "
    "numerical gradient is only good to ~1e-2 and no bar below that can be met. Build the "
    "model with dtype=numpy.float64 (or pass .astype(numpy.float64) arrays).")

USUAL_CAUSES = (
    "a forgotten sum over the batch or over the r samples (eqs. (10)-(11), (26)); "
    "a missing 1/r or 1/B (eq. (4)); "
    "sigma confused with sigma^2 (eqs. (6)-(7), (12)-(14), (19)-(21))")


def require_float64(name, arr):
    """Raise a TypeError explaining why float32 (or anything but float64) cannot be checked."""
    dtype = np.asarray(arr).dtype
    if dtype != np.float64:
        raise TypeError(FLOAT32_REFUSAL.format(name=name, dtype=dtype))


def numerical_gradient(f, x, h=DEFAULT_H):
    """Central-difference gradient of a scalar function, eq. (44).

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a float. It is called with ``x`` itself, perturbed in place; a
        closure that ignores its argument and reads ``x`` from elsewhere works too.
    x : ndarray of float64
        Each entry is set to x_i + h, then x_i - h, then restored.
    h : float

    Returns
    -------
    grad : ndarray, same shape as x, with grad_i = (f(x + h e_i) - f(x - h e_i)) / 2h.
    """
    require_float64("x", x)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = float(f(x))
        x[idx] = old - h
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_vjp(f, x, dout, h=DEFAULT_H):
    """Numerical vector-Jacobian product of an array-valued function.

    Returns g with g_i = sum((f(x + h e_i) - f(x - h e_i)) * dout) / 2h, which is what a
    backward pass given ``dout`` = dL/df must return as dL/dx.

    Parameters
    ----------
    f : callable, ``f(x)`` returns an ndarray of the shape of ``dout``
    x : ndarray of float64, perturbed in place and restored
    dout : ndarray
    h : float
    """
    require_float64("x", x)
    return numerical_gradient(lambda x_: np.sum(np.asarray(f(x_)) * dout), x, h)


def relative_error(analytic, numeric, floor=ERROR_FLOOR):
    """|a - n| / max(floor, |a| + |n|), elementwise (the cs231n definition), eq. (45)."""
    analytic, numeric = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    return np.abs(analytic - numeric) / np.maximum(floor, np.abs(analytic) + np.abs(numeric))


def resolution(f0, h=DEFAULT_H):
    """The smallest gradient difference a central difference can resolve, eq. (46).

    f is computed with a rounding error of about eps * |f|; dividing the difference of two
    such values by 2h makes it eps * |f| / h. Ten times that is the resolution: below it, the
    numeric gradient is noise.
    """
    return 10 * np.finfo(np.float64).eps * max(1.0, abs(float(f0))) / h


class Row:
    """The result for one named array: its worst entry against the bar.

    ``floor`` is the smallest denominator of the relative error. Entries much smaller than
    the rest cannot be resolved to 1e-7 by a central difference (see :func:`resolution`), so
    :func:`check_gradients` sets ``floor = resolution / bar``: such entries must then agree
    to within the resolution, in absolute terms.
    """

    def __init__(self, name, analytic, numeric, bar, equations=(), floor=ERROR_FLOOR):
        errors = relative_error(analytic, numeric, floor)
        self.floor = floor
        self.name = name
        self.shape = tuple(np.shape(analytic))
        self.bar = bar
        self.equations = tuple(equations)
        flat = int(np.argmax(errors)) if errors.size else 0
        self.index = tuple(int(i) for i in np.unravel_index(flat, self.shape)) if errors.size else ()
        self.error = float(errors.flat[flat]) if errors.size else 0.0
        self.analytic = float(np.asarray(analytic).flat[flat]) if errors.size else 0.0
        self.numeric = float(np.asarray(numeric).flat[flat]) if errors.size else 0.0

    @property
    def passed(self):
        return self.error <= self.bar

    def message(self):
        """A sentence for a student whose gradient is wrong."""
        eqs = ", ".join(f"({e})" for e in self.equations)
        where = f"Re-read eq{'s' if len(self.equations) > 1 else ''}. {eqs} in " \
                f"docs/derivation.md. " if self.equations else ""
        return (f"gradient of {self.name!r} is wrong at index {self.index}: analytic "
                f"{self.analytic:.6g}, numeric {self.numeric:.6g}, relative error "
                f"{self.error:.2e} > bar {self.bar:.0e}. {where}"
                f"Usual causes: {USUAL_CAUSES}.")


class GradCheckReport:
    """Rows of a gradient check, one per named array, with a table and a verdict."""

    def __init__(self, rows):
        self.rows = list(rows)

    @property
    def passed(self):
        return all(row.passed for row in self.rows)

    @property
    def worst(self):
        return max(self.rows, key=lambda row: row.error / row.bar)

    def table(self):
        header = f"{'parameter':<20} {'shape':<12} {'worst rel. error':>16} {'bar':>7}  result"
        lines = [header, "-" * len(header)]
        for row in self.rows:
            lines.append(f"{row.name:<20} {str(row.shape):<12} {row.error:>16.2e} "
                         f"{row.bar:>7.0e}  {'pass' if row.passed else 'FAIL'}")
        return "\n".join(lines)

    def failure_message(self):
        """Every failing row's message, or '' when all passed."""
        return "\n".join(row.message() for row in self.rows if not row.passed)

    def __str__(self):
        return self.table()


def check_gradients(f, arrays, analytic, bar=BAR_SMOOTH, h=DEFAULT_H, equations=None):
    """Compare analytic gradients with central differences, array by array.

    Parameters
    ----------
    f : callable
        ``f()`` returns the scalar loss computed from the current values of ``arrays``.
    arrays : dict of str -> ndarray (float64)
        The live arrays to perturb in place (such as ``model.parameters()``).
    analytic : dict of str -> ndarray
        The gradients to check, same keys and shapes.
    bar : float
    h : float
    equations : dict of str -> sequence of int, optional
        The equations behind each array's gradient, quoted when it fails.

    Returns
    -------
    GradCheckReport
    """
    rows = []
    floor = max(ERROR_FLOOR, resolution(f(), h) / bar)
    for name, arr in arrays.items():
        require_float64(name, arr)
        if name not in analytic:
            raise ValueError(f"analytic has no gradient for {name!r}")
        if np.shape(analytic[name]) != arr.shape:
            raise ValueError(f"analytic[{name!r}] must have shape {arr.shape}; "
                             f"got {np.shape(analytic[name])}")
        numeric = numerical_gradient(lambda _: f(), arr, h)
        rows.append(Row(name, analytic[name], numeric, bar,
                        (equations or {}).get(name, ()), floor))
    return GradCheckReport(rows)


def check_model(model, x, v, beta=1.0, bar=None, h=DEFAULT_H, objective="elbo", y=None):
    """Check the gradient of ``model.loss_and_grad`` for every parameter of a float64 model.

    The bar defaults to :data:`BAR_SMOOTH`, or :data:`BAR_KINK` when the activation has a kink.
    ``objective`` is the loss's: "elbo" or "iwae" (the importance-weighted bound). ``y``
    holds the labels (B,) of a conditional model.
    """
    require_float64("the model", np.empty(0, dtype=model.dtype))
    if bar is None:
        bar = BAR_SMOOTH if model.smooth else BAR_KINK
    _, grads = model.loss_and_grad(x, v, beta, objective=objective, y=y)
    equations = {name: model.equations_for(name, objective) for name in grads}
    return check_gradients(lambda: model.loss(x, v, beta, objective=objective, y=y),
                           model.parameters(), grads, bar=bar, h=h, equations=equations)

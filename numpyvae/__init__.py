"""numpyvae: a Variational Autoencoder in pure NumPy, every gradient derived by hand.

The layout follows the derivation in docs/derivation.md: ``dense`` and ``activations``
(the networks), ``encoder``, ``sigma``, ``reparam``, ``kl``, ``likelihoods`` and ``decoder``
(the pieces of the model), ``vae`` (the objective), ``gradcheck`` (the checks).
"""
import os as _os
import sys as _sys

# Speed (see numpyvae/parallel.py): let OpenBLAS's idle threads sleep soon after a matrix
# product (after ~0.2 ms) instead of spinning for ~0.1 s, so that the optimizer's threads find
# a free core.
# It only works if numpy has not loaded OpenBLAS yet; a value set by the user wins.
_numpy_was_loaded = "numpy" in _sys.modules
_variable_was_set = "OPENBLAS_THREAD_TIMEOUT" in _os.environ
if not _numpy_was_loaded:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "19")   # parallel.SHORT_TIMEOUT

from . import parallel  # noqa: E402  (after the variable, before anything loads numpy's BLAS)

parallel.configure(_numpy_was_loaded, _variable_was_set)

from . import gradcheck  # noqa: E402
from .reparam import draw_noise  # noqa: E402
from .vae import VAE  # noqa: E402

__version__ = "0.1.0"

__all__ = ["VAE", "draw_noise", "gradcheck", "__version__"]

"""numpyvae: a Variational Autoencoder in pure NumPy, every gradient derived by hand.

The modules follow docs/derivation.md: ``dense`` and ``activations`` (the networks),
``encoder``, ``sigma``, ``reparam``, ``kl``, ``likelihoods`` and ``decoder`` (the pieces of
the model), ``vae`` (the objective) and ``iwae`` (the importance-weighted bound as one),
``conditional`` (the first layer of the conditional VAE, on [x, onehot(y)]),
``optim`` and ``train`` (the training algorithm), ``inference`` and ``evaluate`` (using a
trained model), ``gradcheck`` (the checks).
``app`` is the program (command line, run folders, checkpoints, figures) and ``engine`` the
speed machinery (flat buffers, threads), neither of which a reader of the math needs.

Importing numpyvae imports nothing else and changes nothing in the process: the names below
load their modules when first used, so that :func:`configure_openblas` can still run before
numpy is imported.
"""
import importlib

__version__ = "0.1.0"

_NAMES = {"VAE": ("vae", "VAE"), "draw_noise": ("reparam", "draw_noise")}
_SUBMODULES = ("activations", "app", "conditional", "datasets", "decoder", "dense", "encoder",
               "engine", "evaluate", "files", "gradcheck", "inference", "iwae", "kl",
               "likelihoods", "mlp", "optim", "reparam", "sigma", "stable", "train", "vae",
               "validate")

__all__ = ["VAE", "draw_noise", "configure_openblas", "__version__"]


def configure_openblas():
    """Let OpenBLAS's idle threads sleep soon, so that the optimizer can use both cores.

    Call it before numpy is imported (the ``numpyvae`` command does); returns whether it can
    take effect. See :mod:`numpyvae.engine.openblas`.
    """
    from .engine import openblas
    return openblas.configure()


def __getattr__(name):
    if name in _NAMES:
        module, attribute = _NAMES[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'numpyvae' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | set(_SUBMODULES))

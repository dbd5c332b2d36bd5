"""numpyvae: a Variational Autoencoder in pure NumPy, every gradient derived by hand.

The layout follows the derivation in docs/derivation.md: ``dense`` and ``activations``
(the networks), ``encoder``, ``sigma``, ``reparam``, ``kl``, ``likelihoods`` and ``decoder``
(the pieces of the model), ``vae`` (the objective), ``gradcheck`` (the checks).
"""
from . import gradcheck
from .reparam import draw_noise
from .vae import VAE

__version__ = "0.1.0"

__all__ = ["VAE", "draw_noise", "gradcheck", "__version__"]

"""The program around the model: the ``numpyvae`` command, run folders, checkpoints, figures.

``main`` is the command's entry point. It sets up OpenBLAS for the optimizer's threads before
anything imports numpy (``numpyvae.engine.openblas``), then runs ``cli.main``; this module
itself imports nothing from numpy.
"""


def main(argv=None):
    """The ``numpyvae`` command: ``numpyvae.app.cli.main`` after the process's settings."""
    from ..engine import openblas
    openblas.configure()
    from .cli import main as cli_main
    return cli_main(argv)

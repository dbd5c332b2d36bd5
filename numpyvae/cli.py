"""The ``numpyvae`` command (also ``python -m numpyvae``).

Each subcommand is a small function ``cmd_<name>(args) -> exit code``; argparse does the
checking of flags, so a mistyped flag gets its usual message, not a traceback.
"""
import argparse
import sys

import numpy as np

from . import __version__
from .activations import ACTIVATIONS
from .likelihoods import LIKELIHOODS


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def nonnegative_float(text):
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


# ---------------------------------------------------------------------- gradcheck

def cmd_gradcheck(args):
    from .gradcheck import DEFAULT_H, check_model
    from .vae import VAE

    likelihoods = LIKELIHOODS if args.likelihood == "all" else (args.likelihood,)
    print(f"numpyvae gradcheck: every parameter's gradient against central differences "
          f"(h = {DEFAULT_H:g}), in float64")
    failed = 0
    for likelihood in likelihoods:
        model = VAE(args.x_dim, args.z_dim, hidden=args.hidden, likelihood=likelihood,
                    activation=args.activation, dtype=np.float64, seed=args.seed, sigma_x=0.5)
        rng = np.random.default_rng(args.seed)
        x = rng.uniform(0, 1, (args.batch_size, args.x_dim))
        v = rng.standard_normal((args.samples, args.batch_size, args.z_dim))
        report = check_model(model, x, v, args.beta)
        print(f"\n{model}, r = {args.samples}, batch = {args.batch_size}, beta = {args.beta:g}")
        print(report.table())
        if not report.passed:
            failed += 1
            print(report.failure_message())
    print(f"\n{'all gradients agree' if not failed else f'{failed} model(s) FAILED'} "
          f"({len(likelihoods)} model(s) checked)")
    return 1 if failed else 0


def add_gradcheck_parser(sub):
    p = sub.add_parser("gradcheck", help="check every gradient by finite differences",
                       description="Run the full finite-difference check on a small float64 "
                                   "model and print one row per parameter.")
    p.add_argument("--likelihood", choices=("all",) + LIKELIHOODS, default="all",
                   help="decoder to check (default: all three)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    p.add_argument("--x-dim", type=positive_int, default=12)
    p.add_argument("--z-dim", type=positive_int, default=2)
    p.add_argument("--hidden", type=positive_int, nargs="+", default=[8, 6])
    p.add_argument("--samples", type=positive_int, default=3, help="noise samples r")
    p.add_argument("--batch-size", type=positive_int, default=5)
    p.add_argument("--beta", type=nonnegative_float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_gradcheck)


# ---------------------------------------------------------------------- entry point

def build_parser():
    parser = argparse.ArgumentParser(
        prog="numpyvae", description="A variational autoencoder in pure NumPy.")
    parser.add_argument("--version", action="version", version=f"numpyvae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_gradcheck_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

"""The ``numpyvae`` command (also ``python -m numpyvae``).

Each subcommand is a small function ``cmd_<name>(args) -> exit code``; argparse does the
checking of flags, so a mistyped flag gets its usual message, not a traceback.
"""
import argparse
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import __version__
from ..activations import ACTIVATIONS
from ..likelihoods import DEFAULT_SIGMA_X, GAUSSIAN_LIKELIHOODS, LIKELIHOODS
from ..likelihoods.gaussian import SIGMA_KINDS
from ..vae import OBJECTIVES

# The decoders that learn sigma_x, and so have a floor under it.
LEARNED_SIGMA_X = tuple(name for name, kind in SIGMA_KINDS.items() if kind != "fixed")


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def class_count(text):
    """argparse type: a number of classes, an integer >= 2."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {value}")
    return value


def class_label(text):
    """argparse type: a class label, an integer >= 0 (the run's model bounds it above)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a class label, an integer >= 0, got "
                                         f"{text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a class label, an integer >= 0, got "
                                         f"{value}")
    return value


def _finite_float(text, above, strict):
    """argparse type helper: a finite number > ``above`` (or >= when not ``strict``)."""
    bound = f"{'>' if strict else '>='} {above:g}"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}") from None
    if not np.isfinite(value) or value < above or (strict and value == above):
        raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0."""
    return _finite_float(text, 0, strict=True)


def nonnegative_float(text):
    """argparse type: a finite number >= 0."""
    return _finite_float(text, 0, strict=False)


# ---------------------------------------------------------------------- gradcheck

def cmd_gradcheck(args):
    from ..gradcheck import DEFAULT_H, check_model
    from ..vae import VAE

    likelihoods = LIKELIHOODS if args.likelihood == "all" else (args.likelihood,)
    print(f"numpyvae gradcheck: every parameter's gradient against central differences "
          f"(h = {DEFAULT_H:g}), in float64")
    failed = 0
    for likelihood in likelihoods:
        model = VAE(args.x_dim, args.z_dim, hidden=args.hidden, likelihood=likelihood,
                    activation=args.activation, dtype=np.float64, seed=args.seed, sigma_x=0.5,
                    n_classes=args.n_classes)
        rng = np.random.default_rng(args.seed)
        x = rng.uniform(0, 1, (args.batch_size, args.x_dim))
        v = rng.standard_normal((args.samples, args.batch_size, args.z_dim))
        y = None if args.n_classes is None else rng.integers(0, args.n_classes, args.batch_size)
        print(f"\n{model}, r = {args.samples}, batch = {args.batch_size}, beta = {args.beta:g}")
        try:
            report = check_model(model, x, v, args.beta, y=y)
        except NotImplementedError as err:   # a student copy with a task still to write
            failed += 1
            print(f"not written yet: {err}")
            continue
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
                   help="decoder to check (default: all of them)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    p.add_argument("--x-dim", type=positive_int, default=12)
    p.add_argument("--z-dim", type=positive_int, default=2)
    p.add_argument("--hidden", type=positive_int, nargs="+", default=[8, 6])
    p.add_argument("--samples", type=positive_int, default=3, help="noise samples r")
    p.add_argument("--batch-size", type=positive_int, default=5)
    p.add_argument("--beta", type=nonnegative_float, default=1.0)
    p.add_argument("--n-classes", type=class_count, metavar="C",
                   help="check a conditional VAE with C >= 2 classes, on random labels")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_gradcheck)


# ---------------------------------------------------------------------- train

TRAIN_FLAGS = ("dataset", "hidden", "z_dim", "likelihood", "activation", "objective", "samples",
               "batch_size", "optimizer", "lr", "adam_eps", "weight_decay", "beta", "warmup",
               "seed", "binarize", "dequantize", "denoise", "mean_activation", "sigma_x",
               "sigma_x_floor", "conditional")
# What --resume takes: the new total of epochs, where the data is now, and a new learning rate
# (for a schedule of stages).
RESUME_FLAGS = ("epochs", "data_dir", "lr")


def cmd_train(args):
    from .run import RunError
    from ..train import TrainingDiverged

    try:
        run = _resumed_run(args) if args.resume else _new_run(args)
        with _floating_point_warnings_off():
            status = run.train(progress=not args.quiet)
        if status == "done" and not args.no_figures:
            try:
                for path in run.write_figures():
                    print(f"wrote {path}")
            except ModuleNotFoundError as err:
                if not _is_matplotlib(err):
                    raise
                print(f"numpyvae train: no figures: {NO_MATPLOTLIB}; the run is saved in "
                      f"{run.folder}", file=sys.stderr)
    except (RunError, ValueError) as err:
        print(f"numpyvae train: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"numpyvae train: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"numpyvae train: error: {_os_error_text(err)}", file=sys.stderr)
        return 1
    if status == "interrupted":
        p = run.position
        print(f"interrupted: checkpoint saved at epoch {p['epoch'] + 1}, batch {p['batch']}; "
              f"resume with `numpyvae train --resume {run.folder}`", file=sys.stderr)
        return 130
    print(f"done: {run.folder}")
    return 0


def _new_run(args):
    """A new run with the flags given, in --out (checked first) or runs/run-DATE-TIME."""
    from ..files import check_folder_target
    from .run import Run

    _check_decoder_flags(args)
    if args.adam_eps is not None and (args.optimizer or "adam") != "adam":
        raise ValueError(f"--adam-eps is the eps of Adam, eq. (42); the {args.optimizer} "
                         f"optimizer has none")
    config = {k: getattr(args, k) for k in TRAIN_FLAGS + ("epochs", "data_dir")
              if getattr(args, k) is not None}
    out = args.out or time.strftime("runs/run-%Y%m%d-%H%M%S")
    check_folder_target("--out", out)
    run = Run.start(out, config)
    print(f"training {run.model} on {run.config['dataset']} "
          f"({len(run.data.train_x):,} images) into {out}")
    return run


def _check_decoder_flags(args):
    """A ValueError for a decoder option given for a likelihood that does not use it."""
    from .run import DEFAULTS

    likelihood = args.likelihood or DEFAULTS["likelihood"]
    has = ("learns its sigma_x" if likelihood in LEARNED_SIGMA_X else
           "has the constant sigma_x of --sigma-x" if likelihood in GAUSSIAN_LIKELIHOODS else
           "has no sigma_x")
    if args.mean_activation is not None and likelihood not in GAUSSIAN_LIKELIHOODS:
        raise ValueError(f"--mean-activation applies to the Gaussian decoders "
                         f"({', '.join(GAUSSIAN_LIKELIHOODS)}); the {likelihood} decoder's "
                         f"mean is always sigmoid(logits)")
    if args.sigma_x is not None and likelihood in LEARNED_SIGMA_X + ("bernoulli",):
        raise ValueError(f"--sigma-x is the constant sigma_x of gaussian-fixed; the "
                         f"{likelihood} decoder {has}")
    if args.sigma_x_floor is not None and likelihood not in LEARNED_SIGMA_X:
        raise ValueError(f"--sigma-x-floor is the floor of a learned sigma_x "
                         f"({', '.join(LEARNED_SIGMA_X)}); the {likelihood} decoder {has}")


def _resumed_run(args):
    """The run of --resume; any flag but --epochs, --data-dir and --lr is refused."""
    from .run import Run, RunError

    given = [f"--{k.replace('_', '-')}" for k in TRAIN_FLAGS
             if k not in RESUME_FLAGS and getattr(args, k) is not None]
    if given or args.out:
        raise RunError(f"--resume continues a run with its own settings; "
                       f"only --epochs, --data-dir and --lr may be given with it, not "
                       f"{', '.join(given + (['--out'] if args.out else []))}")
    return Run.resume(args.resume, epochs=args.epochs, data_dir=args.data_dir, lr=args.lr)


@contextmanager
def _floating_point_warnings_off():
    """numpy's overflow, divide-by-zero and invalid-value warnings off while training.

    A loss that becomes NaN or infinite stops training with TrainingDiverged and its one
    clear message; the warnings on the way there would only bury it. np.errstate covers this
    thread; the filter covers the optimizer's worker threads, which start with numpy's
    default error state. Library users keep numpy's warnings: only the command does this.
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"numpyvae\.")
        yield


def _os_error_text(err):
    """An OSError as "PATH: PROBLEM", the way shell commands report one."""
    if err.filename is None:
        return err.strerror or str(err)
    return f"{err.filename}: {err.strerror}"


def add_train_parser(sub):
    from ..datasets import DATASET_DESCRIPTIONS, DATASET_NAMES
    from ..optim import OPTIMIZERS
    from .run import CONDITIONAL_Z_DIM, DEFAULTS as D, Z_DIM

    p = sub.add_parser("train", help="train a VAE and write a run folder",
                       description="Train a VAE with minibatches of B examples and r noise "
                                   "samples each. Defaults: the pytorch/examples VAE "
                                   "(784-400-20, relu, Bernoulli, Adam 1e-3, batch 128) on "
                                   "the bundled MNIST subset.")
    p.add_argument("--dataset", choices=DATASET_NAMES,
                   help=f"default: {D['dataset']}. "
                        + "; ".join(f"{name}: {DATASET_DESCRIPTIONS[name]}"
                                    for name in DATASET_NAMES))
    p.add_argument("--data-dir", help="the data folder: MNIST's IDX files, and Fashion-MNIST's "
                                      "in its subfolder fashion-mnist/ (default: "
                                      "$NUMPYVAE_DATA, else a per-user cache folder)")
    p.add_argument("--hidden", type=positive_int, nargs="+", metavar="SIZE",
                   help=f"hidden layer sizes (default: {' '.join(map(str, D['hidden']))})")
    p.add_argument("--z-dim", type=positive_int,
                   help=f"latent size K (default: {Z_DIM}; {CONDITIONAL_Z_DIM} with "
                        f"--conditional, whose label carries the class and z only the style)")
    p.add_argument("--likelihood", choices=LIKELIHOODS,
                   help=f"decoder P(x|z) (default: {D['likelihood']}). The Gaussian decoders' "
                        f"losses are -log densities, which cannot be compared with "
                        f"Bernoulli's -log probabilities")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), help="default: relu")
    p.add_argument("--objective", choices=OBJECTIVES,
                   help="the loss to train on: elbo, the negative ELBO (the default), or iwae, "
                        "the negative importance-weighted bound -L_k of Burda et al. with "
                        "k = --samples, eq. (49); iwae takes no --beta, --warmup or --denoise")
    p.add_argument("--samples", type=positive_int,
                   help=f"noise samples r per example, the k of --objective iwae (default: "
                        f"{D['samples']})")
    p.add_argument("--batch-size", type=positive_int, help=f"B (default: {D['batch_size']})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam")
    p.add_argument("--lr", type=positive_float,
                   help=f"learning rate (default: {D['lr']:g}); with --resume, the learning "
                        f"rate from there on")
    p.add_argument("--adam-eps", type=positive_float,
                   help=f"Adam's eps, added to sqrt(v_hat) in eq. (42) (default: "
                        f"{D['adam_eps']:g}; Burda et al. use 1e-4)")
    p.add_argument("--weight-decay", type=nonnegative_float,
                   help="L2 weight decay, the N(0, I) prior on theta (default: 0)")
    p.add_argument("--epochs", type=positive_int,
                   help=f"total number of epochs of the run (default: {D['epochs']}); with "
                        f"--resume, the new total")
    p.add_argument("--beta", type=nonnegative_float, help="weight of the KL term (default: 1)")
    p.add_argument("--warmup", type=nonnegative_float, metavar="EPOCHS",
                   help="raise the KL weight linearly from 0 over this many epochs (default: 0)")
    p.add_argument("--seed", type=int, help="seed of the weights, order and noise (default: 0)")
    p.add_argument("--binarize", choices=("none", "static", "dynamic", "threshold"),
                   help="grey levels in [0, 1] (none, the default), one fixed Bernoulli draw "
                        "(static), a fresh draw per batch (dynamic), or x > 0.5 (threshold)")
    p.add_argument("--dequantize", action="store_const", const=True,
                   help="continuous data for a Gaussian decoder: x = (pixel + u) / 256 with a "
                        "fresh u ~ U(0, 1) per training batch, and one fixed draw of the test "
                        "set from --seed; losses are then also reported in bits per dimension")
    p.add_argument("--denoise", action="store_const", const=True,
                   help="the encoder sees a corrupted image and the decoder reconstructs the "
                        "clean one")
    p.add_argument("--conditional", action="store_const", const=True,
                   help="a conditional VAE: the encoder reads [x, onehot(y)] and the decoder "
                        "[z, onehot(y)], y the image's label, with one class per label of the "
                        "dataset; then `numpyvae sample RUN --label 7` draws sevens")
    p.add_argument("--mean-activation", choices=("identity", "sigmoid"),
                   help="activation on the Gaussian decoders' mean mu_x: sigmoid keeps it in "
                        "(0, 1) like the pixels (the default), identity leaves it free")
    p.add_argument("--sigma-x", type=positive_float,
                   help=f"the constant sigma_x of gaussian-fixed (default: {DEFAULT_SIGMA_X:g}, "
                        f"about the RMS error per pixel of the default network on "
                        f"Fashion-MNIST)")
    p.add_argument("--sigma-x-floor", type=positive_float,
                   help=f"the floor of the learned sigma_x of "
                        f"{' and '.join(LEARNED_SIGMA_X)} (default: {D['sigma_x_floor']:g})")
    p.add_argument("--out", help="run folder (default: runs/run-DATE-TIME)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR, with its own settings but --epochs, "
                        "--data-dir and --lr")
    p.add_argument("--no-figures", action="store_true", help="skip the figures at the end")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_train)


# ---------------------------------------------------------------------- evaluate

def cmd_evaluate(args):
    from .run import RunError, evaluate_run

    try:
        evaluate_run(args.run_dir, samples=args.samples, limit=args.limit,
                     data_dir=args.data_dir, seed=args.seed)
    except (RunError, ValueError) as err:
        print(f"numpyvae evaluate: error: {err}", file=sys.stderr)
        return 2
    return 0


def add_evaluate_parser(sub):
    p = sub.add_parser("evaluate", help="test ELBO and importance-weighted log-likelihood",
                       description="Report the test negative ELBO, the importance-"
                                   "weighted estimate of -log p(x) (Burda et al.) and the "
                                   "active latent units (Var_x mu_u(x) > 0.01) of a run, "
                                   "into RUN_DIR/evaluation.json too. A Gaussian decoder's "
                                   "numbers are marked as densities; on dequantized data they "
                                   "also come in bits per dimension; for a learned sigma_x, "
                                   "the share of test pixels at its floor is given.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--samples", type=positive_int, default=5000,
                   help="importance samples K per image (default: 5000, the standard)")
    p.add_argument("--limit", type=positive_int, help="use only the first N test images")
    p.add_argument("--data-dir", help="where the run's dataset is (if not where it was)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_evaluate)


# ---------------------------------------------------------------------- figures of a run

def _open(args):
    """(model, config) of args.run_dir; raises RunError with a clear message."""
    from .run import open_run
    return open_run(args.run_dir)


def _test_set(config, args):
    """The run's test images and labels (from --data-dir when given)."""
    from .run import load_data
    if getattr(args, "data_dir", None):
        config = {**config, "data_dir": args.data_dir}
    data, test_x, _, _ = load_data(config)
    return test_x, data.test_y


def _images_from(path, model):
    """Images from a .npy file: (N, D) or (N, h, w), grey levels in [0, 1] or uint8 0-255."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"--input {path}: not a readable .npy file ({err})") from None
    if x.dtype == np.uint8:
        x = x / 255.0
    if x.ndim == 3:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[1] != model.x_dim:
        raise ValueError(f"--input {path}: expected images of {model.x_dim} pixels each, as an "
                         f"array of shape (N, {model.x_dim}) or (N, h, w) with h*w = "
                         f"{model.x_dim}; got shape {x.shape}")
    return x


def _label(args, model):
    """--label, checked against the run's model; None when it is not given."""
    if args.label is None:
        return None
    if model.n_classes is None:
        raise ValueError(f"--label is for a conditional run (numpyvae train --conditional); "
                         f"this run is unconditional and its model takes no label; got "
                         f"--label {args.label}")
    if args.label >= model.n_classes:
        raise ValueError(f"--label must be a class of this run, 0 to {model.n_classes - 1}; "
                         f"got {args.label}")
    return args.label


def _images_and_labels(args, model, config):
    """The images a command reads, and the labels a conditional model reads with them.

    Returns (x, y, labels): the --input images, with --label for every one of them on a
    conditional run; or the test set, whose own labels a conditional model reads. ``y`` is
    None for an unconditional run; ``labels`` are the labels known, for the output.
    """
    label = _label(args, model)
    if args.input:
        x = _images_from(args.input, model)
        if model.n_classes is not None and label is None:
            raise ValueError(f"--input images of a conditional run need --label, their class "
                             f"(0 to {model.n_classes - 1}): the model reads each image with "
                             f"its label")
        y = None if label is None else np.full(len(x), label)
        return x, y, y
    if label is not None:
        raise ValueError("--label goes with --input: the test images are read with their own "
                         "labels")
    x, labels = _test_set(config, args)
    return x, (None if model.n_classes is None else labels), labels


def _class_names(config):
    """The names of the classes of the run's dataset, or None."""
    from ..datasets import DATASET_CLASSES
    return DATASET_CLASSES.get(config.get("dataset"))


def _out_file(args, default_name):
    """Where the command writes: --out, else RUN_DIR/default_name; checked before any work."""
    from ..files import check_file_target

    out = args.out or str(Path(args.run_dir) / default_name)
    check_file_target("--out" if args.out else "output file", out)
    return out


def _plots():
    """The module that draws, imported only when a command draws, after its arguments are
    checked: without matplotlib, a bad argument still gets its own message."""
    from . import plots
    return plots


def _save(fig, path):
    _plots().save_figure(fig, path)
    print(f"wrote {path}")


def cmd_sample(args):
    from ..files import atomic_write
    from ..inference import class_grid, generate
    from .run import CLASS_GRID_COLUMNS

    model, config = _open(args)
    label = _label(args, model)
    names = _class_names(config)
    if model.n_classes is not None and label is None:     # every class: the class grid
        n = args.n or CLASS_GRID_COLUMNS
        out = _out_file(args, "class-draws.png" if args.draws else "classes.png")
        plots = _plots()
        _save(plots.plot_class_grid(model, n, np.random.default_rng(args.seed), draws=args.draws,
                                    class_names=names), out)
        make_arrays = class_grid
    else:
        n = args.n or 100
        y = None if label is None else np.full(n, label)
        out = _out_file(args, "draws.png" if args.draws else "samples.png")
        plots = _plots()
        _save(plots.plot_samples(model, n, np.random.default_rng(args.seed), draws=args.draws, y=y,
                                 class_names=names), out)

        def make_arrays(model, n, rng, draws):
            return generate(model, n, rng, draws=draws, y=y)
    if args.save_npy:
        # the same z as the figure: the same seed, and z is drawn first
        arrays = make_arrays(model, n, np.random.default_rng(args.seed), draws=args.draws)
        stem = str(Path(out).with_suffix(""))
        for key, array in arrays.items():
            with atomic_write(f"{stem}-{key}.npy") as f:
                np.save(f, array)
            print(f"wrote {stem}-{key}.npy  {array.shape}")
    return 0


def cmd_reconstruct(args):
    model, config = _open(args)
    out = _out_file(args, "reconstructions.png")
    x, y, _ = _images_and_labels(args, model, config)
    plots = _plots()
    _save(plots.plot_reconstructions(model, x, n=min(args.n, len(x)), y=y), out)
    return 0


def cmd_sigma_x(args):
    from ..evaluate import learns_sigma_x

    model, config = _open(args)
    if not learns_sigma_x(model):
        raise ValueError(f"sigma-x needs a run whose decoder learns sigma_x "
                         f"({', '.join(LEARNED_SIGMA_X)}); this run's likelihood is "
                         f"{config['likelihood']}")
    out = _out_file(args, "sigma_x.png")
    x, y, _ = _images_and_labels(args, model, config)
    plots = _plots()
    _save(plots.plot_sigma_x(model, x, n=min(args.n, len(x)), y=y), out)
    return 0


def cmd_encode(args):
    from ..files import atomic_write
    from ..inference import latent_factors

    model, config = _open(args)
    out = _out_file(args, "latents.npz")
    x, y, labels = _images_and_labels(args, model, config)
    mu, sigma = latent_factors(model, x, y=y)
    arrays = {"mu": mu, "sigma": sigma}
    if labels is not None:
        arrays["labels"] = labels
    with atomic_write(out) as f:
        np.savez(f, **arrays)
    given = "" if y is None else ", y"
    print(f"wrote {out}: mu and sigma of q(z|x{given}), each {mu.shape}"
          + (", and the labels" if labels is not None else ""))
    return 0


def cmd_manifold(args):
    model, _ = _open(args)
    if model.z_dim != 2:
        raise ValueError(f"manifold needs z_dim = 2; this model has z_dim = {model.z_dim}. "
                         f"Use `numpyvae scatter`, which projects onto two principal "
                         f"components, or train with --z-dim 2")
    label = _label(args, model)
    if model.n_classes is not None and label is None:
        raise ValueError(f"manifold of a conditional run decodes the grid with one class: "
                         f"choose it with --label (0 to {model.n_classes - 1})")
    out = _out_file(args, "manifold.png")
    plots = _plots()
    _save(plots.plot_manifold(model, n=args.n, span=args.span, spacing=args.spacing, y=label), out)
    return 0


def cmd_scatter(args):
    model, config = _open(args)
    out = _out_file(args, "scatter.png")
    x, labels = _test_set(config, args)
    if args.limit:
        x, labels = x[:args.limit], labels[:args.limit]
    plots = _plots()
    _save(plots.plot_scatter(model, x, labels, y=None if model.n_classes is None else labels), out)
    return 0


def cmd_interpolate(args):
    model, config = _open(args)
    label = _label(args, model)
    out = _out_file(args, "interpolation.png")
    x, labels = _test_set(config, args)
    for flag, index in (("--from", args.start), ("--to", args.end)):
        if not 0 <= index < len(x):
            raise ValueError(f"{flag} must be the index of a test image, 0 to {len(x) - 1}; "
                             f"got {index}")
    ends = {}
    if model.n_classes is not None:       # each end encoded with its own label
        ends = {"y_a": labels[args.start], "y_b": labels[args.end], "y": label}
    plots = _plots()
    _save(plots.plot_interpolation(model, x[args.start], x[args.end], steps=args.steps,
                                   **ends), out)
    return 0


def cmd_curves(args):
    from .run import METRICS, read_metrics

    _open(args)
    out = _out_file(args, "curves.png")
    path = Path(args.run_dir) / METRICS
    metrics = read_metrics(path) if path.exists() else []
    if not metrics:
        raise ValueError(f"{path} has no finished epoch yet: nothing to plot")
    plots = _plots()
    _save(plots.plot_curves(metrics), out)
    return 0


def _run_command(func):
    """Wrap a figure command: a bad run folder, input or --out is a message and exit code 2,
    a file that could not be read or written a message and exit code 1."""
    def wrapped(args):
        from .run import RunError
        try:
            return func(args)
        except (RunError, ValueError) as err:
            print(f"numpyvae {args.command}: error: {err}", file=sys.stderr)
            return 2
        except OSError as err:
            print(f"numpyvae {args.command}: error: {_os_error_text(err)}", file=sys.stderr)
            return 1
    return wrapped


def add_figure_parsers(sub):
    def command(name, func, help_, default_out):
        p = sub.add_parser(name, help=help_, description=help_ + ".")
        p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder of numpyvae train")
        p.add_argument("--out", metavar="FILE", help=f"default: RUN_DIR/{default_out}")
        p.set_defaults(func=_run_command(func))
        return p

    def data_dir(p):
        p.add_argument("--data-dir", help="where the run's dataset is (if not where it was)")

    def label_flag(p, help_):
        p.add_argument("--label", type=class_label, metavar="Y", help=help_)

    p = command("sample", cmd_sample, "generate images: z ~ N(0, I), then the decoder; by "
                "default its means mu_x(z), with --draws draws x ~ P(x|z). A conditional run "
                "draws the class of --label; without it, one row per class, each column "
                "decoding one z with every label",
                "samples.png, or draws.png with --draws; for a conditional run without "
                "--label, classes.png or class-draws.png")
    p.add_argument("--n", type=positive_int,
                   help="how many images (default: 100); for the class grid of a conditional "
                        "run without --label, how many z, one per column (default: 10)")
    label_flag(p, "a conditional run only: the class to draw, 0 to C - 1 (for MNIST, the "
                  "digit)")
    p.add_argument("--draws", action="store_true",
                   help="show draws x ~ P(x|z) instead of the decoder means: x ~ N(mu_x, "
                        "sigma_x^2) for a Gaussian decoder (clipped to [0, 1] for display), "
                        "x ~ Bernoulli(mu_x), 0 or 1, for Bernoulli")
    p.add_argument("--save-npy", action="store_true",
                   help="also write the arrays (z, mean[, sigma][, x]) as FILE-<name>.npy")
    p.add_argument("--seed", type=int, default=0)

    input_label = ("a conditional run only: the class of the --input images (the test "
                   "images are read with their own labels)")
    p = command("reconstruct", cmd_reconstruct, "test images and their reconstructions",
                "reconstructions.png")
    p.add_argument("--n", type=positive_int, default=16, help="how many images (default: 16)")
    p.add_argument("--input", metavar="FILE.npy", help="images to use instead of the test set")
    label_flag(p, input_label)
    data_dir(p)

    p = command("sigma-x", cmd_sigma_x, "test images, their means mu_x and their sigma_x "
                "pixel by pixel (a decoder that learns sigma_x only)", "sigma_x.png")
    p.add_argument("--n", type=positive_int, default=8, help="how many images (default: 8)")
    p.add_argument("--input", metavar="FILE.npy", help="images to use instead of the test set")
    label_flag(p, input_label)
    data_dir(p)

    p = command("encode", cmd_encode, "the latent factors mu and sigma of q(z|x) of images",
                "latents.npz")
    p.add_argument("--input", metavar="FILE.npy",
                   help="images (N, 784) or (N, 28, 28) in [0, 1] or uint8 (default: the "
                        "test set)")
    label_flag(p, input_label)
    data_dir(p)

    p = command("manifold", cmd_manifold, "decode a grid over z (z_dim = 2 only)",
                "manifold.png")
    p.add_argument("--n", type=positive_int, default=20, help="grid points per axis")
    p.add_argument("--span", type=positive_float, default=2.0, help="grid over [-span, span]")
    p.add_argument("--spacing", choices=("linear", "quantile"), default="linear",
                   help="linear: even in z; quantile: even in probability (the inverse "
                        "normal CDF of an even grid)")
    label_flag(p, "a conditional run: the class every z of the grid is decoded with "
                  "(required)")

    p = command("scatter", cmd_scatter, "test images' latent means coloured by digit",
                "scatter.png")
    p.add_argument("--limit", type=positive_int, help="use only the first N test images")
    data_dir(p)

    p = command("interpolate", cmd_interpolate,
                "decode a straight line in latent space between two test images",
                "interpolation.png")
    p.add_argument("--from", dest="start", type=int, default=0, help="test image index")
    p.add_argument("--to", dest="end", type=int, default=1, help="test image index")
    p.add_argument("--steps", type=positive_int, default=10)
    label_flag(p, "a conditional run only: the class the line is decoded with (default: the "
                  "--from image's); each end is encoded with its own label")
    data_dir(p)

    command("curves", cmd_curves, "learning curves from metrics.jsonl", "curves.png")


# ---------------------------------------------------------------------- entry point

def build_parser():
    parser = argparse.ArgumentParser(
        prog="numpyvae", description="A variational autoencoder in pure NumPy.")
    parser.add_argument("--version", action="version", version=f"numpyvae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_train_parser(sub)
    add_evaluate_parser(sub)
    add_figure_parsers(sub)
    add_gradcheck_parser(sub)
    return parser


NO_MATPLOTLIB = "matplotlib, which numpyvae draws its figures with, is not installed " \
                "(pip install matplotlib)"


def _is_matplotlib(err):
    return (err.name or "").split(".")[0] == "matplotlib"


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModuleNotFoundError as err:
        if not _is_matplotlib(err):
            raise
        print(f"numpyvae {args.command}: error: {NO_MATPLOTLIB}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

"""A training run and its folder.

A run folder holds:

- ``config.json``: everything that defines the run (data, model, optimizer, seed, epochs);
- ``checkpoint.npz``: parameters, optimizer state and progress, rewritten after each epoch
  (and on Ctrl-C), always atomically;
- ``metrics.jsonl``: one JSON object per epoch, with the learning rate of the epoch and, for a
  run on the importance-weighted bound, the bound beside the ELBO;
- figures, written at the end of training (see :func:`write_figures`).

The reports say what their numbers are: a Gaussian decoder's losses are -log densities of
continuous x, which cannot be compared with the Bernoulli decoder's -log probabilities
(:func:`loss_unit`); on dequantized data they also come in bits per dimension, eq. (48); and
for a learned sigma_x, the share of test pixels at its floor. ``evaluate`` also counts the
active latent units of Burda et al. (:func:`active_units`).
"""
import json
import os
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import __version__
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..evaluate import (bits_per_dimension, evaluate_elbo, importance_weighted_log_likelihood,
                        learns_sigma_x, share_at_sigma_floor)
from ..files import atomic_write, check_folder_target
from ..inference import latent_factors
from ..likelihoods import DEFAULT_MEAN_ACTIVATION, DEFAULT_SIGMA_X, GAUSSIAN_LIKELIHOODS
from ..train import Trainer, TrainingDiverged
from ..vae import OBJECTIVES, VAE

CHECKPOINT = "checkpoint.npz"
CONFIG = "config.json"
METRICS = "metrics.jsonl"

# The configuration of the pytorch/examples VAE, on the bundled subset. mean_activation None
# is the likelihood's default, which resolve_config writes in. objective "iwae" trains on the
# importance-weighted bound with k = samples; adam_eps is Adam's eps, eq. (42). conditional
# True makes a conditional VAE on the dataset's labels, with n_classes its number of classes.
# z_dim None is Z_DIM, or CONDITIONAL_Z_DIM for a conditional run, as resolve_config writes in.
DEFAULTS = {
    "dataset": "mnist-mini", "data_dir": None, "binarize": "none", "dequantize": False,
    "denoise": False, "conditional": False, "hidden": [400], "z_dim": None,
    "likelihood": "bernoulli", "activation": "relu", "mean_activation": None,
    "sigma_x": DEFAULT_SIGMA_X, "sigma_x_floor": 0.01, "dtype": "float32",
    "objective": "elbo", "samples": 1, "batch_size": 128, "optimizer": "adam", "lr": 1e-3,
    "adam_eps": 1e-8, "weight_decay": 0.0, "epochs": 10, "beta": 1.0, "warmup": 0.0, "seed": 0,
}

# The latent size of the pytorch/examples VAE. A conditional VAE's label carries the class, so
# its z needs only the style: with two units, 10 epochs on mnist-mini draw the class asked for
# in 83-99% of samples over five seeds, against 33% with 20 units, whose z carries the class
# too and overrides the label (docs/results.md, "The conditional VAE").
Z_DIM = 20
CONDITIONAL_Z_DIM = 2

# The columns of classes.png, the class grid of a conditional model: one z each.
CLASS_GRID_COLUMNS = 10

# A latent unit is active when the variance over the test set of its mean mu_u(x) is above
# this (Burda et al., 2016, section 5.2).
ACTIVE_UNIT_THRESHOLD = 0.01


class RunError(ValueError):
    """A run folder that cannot be used as asked (missing, already used, damaged)."""


def resolve_config(config):
    """A run's configuration as config.json records it: every key, the defaults filled in.

    A mean_activation of None becomes the likelihood's default, as VAE resolves it: sigmoid
    for the Gaussian decoders, identity (unused) for Bernoulli. A z_dim of None becomes
    CONDITIONAL_Z_DIM for a conditional run and Z_DIM otherwise.
    """
    config = {**DEFAULTS, **config}
    if config["z_dim"] is None:
        config["z_dim"] = CONDITIONAL_Z_DIM if config["conditional"] is True else Z_DIM
    if config["mean_activation"] is None:
        config["mean_activation"] = (DEFAULT_MEAN_ACTIVATION
                                     if config["likelihood"] in GAUSSIAN_LIKELIHOODS
                                     else "identity")
    return config


def check_data_options(config):
    """A ValueError for data options that contradict each other or the likelihood."""
    dequantize = config["dequantize"]
    if not isinstance(dequantize, bool):
        raise ValueError(f"dequantize must be True or False; got {dequantize!r}")
    if not isinstance(config["conditional"], bool):
        raise ValueError(f"conditional must be True or False; got {config['conditional']!r}")
    if dequantize and config["likelihood"] not in GAUSSIAN_LIKELIHOODS:
        raise ValueError(f"--dequantize makes continuous data for a Gaussian decoder; the "
                         f"{config['likelihood']} likelihood reads each pixel as a probability "
                         f"in [0, 1]. Choose --likelihood {', '.join(GAUSSIAN_LIKELIHOODS)}, "
                         f"or leave --dequantize out")
    if dequantize and config["binarize"] != "none":
        raise ValueError(f"--dequantize and --binarize {config['binarize']} exclude each "
                         f"other: binary pixels have no grey levels to spread over their cells")


def check_objective_options(config):
    """A ValueError for an objective other than "elbo" or "iwae", or for an option that only
    the ELBO has given with "iwae".

    The importance-weighted bound, eq. (49), has no KL term: log p(z) - log q(z|x) sits inside
    each weight. So it has nothing for --beta to weight or --warmup to warm up, and its samples
    come from q(z|x) of x itself, not of a corrupted x (--denoise).
    """
    objective = config["objective"]
    if objective not in OBJECTIVES:
        raise ValueError(f"--objective must be one of {list(OBJECTIVES)}; got {objective!r}")
    if objective != "iwae":
        return
    why = "the importance-weighted bound has no KL term"
    if config["beta"] != 1:
        raise ValueError(f"--objective iwae takes no --beta ({why} to weight); got --beta "
                         f"{config['beta']:g}")
    if config["warmup"] != 0:
        raise ValueError(f"--objective iwae takes no --warmup ({why} to warm up); got "
                         f"--warmup {config['warmup']:g}")
    if config["denoise"]:
        raise ValueError("--objective iwae takes no --denoise (the bound's samples come from "
                         "q(z|x) of the image itself, not of a corrupted one)")


def objective_label(objective, samples, beta=1.0, warmup=0.0):
    """How the reports name a run's training loss: "-L_5" for the importance-weighted bound
    with k = 5, "-ELBO", or "recon + beta kl" for an ELBO whose KL is weighted."""
    if objective == "iwae":
        return f"-L_{samples}"
    return "-ELBO" if beta == 1 and warmup == 0 else "recon + beta kl"


def load_data(config):
    """The data of a run: (dataset, test images, per-batch transform or None, corrupter or None).

    The test images are the dataset's grey levels, except:

    - dynamic binarization: training draws a fresh binarization of each batch, and the test
      set keeps one fixed draw;
    - dequantization: training draws a fresh x = (pixel + u) / 256 for each batch, and the
      test set keeps one fixed dequantization, the one of
      ``load_dataset(name, dequantize=True, seed=seed)``.
    """
    from ..datasets import (binarize_dynamic, binarize_static, corrupt, dequantize,
                            dequantize_static, load_dataset)

    binarize = config["binarize"]
    data = load_dataset(config["dataset"], data_dir=config["data_dir"],
                        binarize=binarize if binarize in ("static", "threshold") else None,
                        seed=config["seed"])
    test_x, per_batch = data.test_x, None
    if binarize == "dynamic":
        test_x, per_batch = binarize_static(test_x, config["seed"]), binarize_dynamic
    elif config["dequantize"]:
        # load_dataset draws the test set's u from the second of two streams of the seed
        test_seed = np.random.SeedSequence(config["seed"]).spawn(2)[1]
        test_x, per_batch = dequantize_static(data.test_pixels, test_seed), dequantize
    return data, test_x, per_batch, (corrupt if config["denoise"] else None)


def labels_for(model, data):
    """The training and test labels of ``data`` for a conditional model; (None, None) for an
    unconditional one, which takes no labels."""
    if model.n_classes is None:
        return None, None
    return data.train_y, data.test_y


PROBABILITY_UNIT = "nats, -log probability"
DENSITY_UNIT = "nats, -log density"


def loss_unit(likelihood):
    """What a run's losses are: nats of a probability (Bernoulli) or of a density (Gaussian).

    A Gaussian decoder's -log P(x|z) is a density of continuous x: it can be negative, and it
    cannot be compared with the Bernoulli decoder's -log probabilities.
    """
    return DENSITY_UNIT if likelihood in GAUSSIAN_LIKELIHOODS else PROBABILITY_UNIT


def make_optimizer_for(model, config):
    from ..optim import make_optimizer
    options = {"eps": config["adam_eps"]} if config["optimizer"] == "adam" else {}
    return make_optimizer(config["optimizer"], {"theta": model.flat_parameters},
                          lr=config["lr"], weight_decay=config["weight_decay"], **options)


class Run:
    """Train a model in a run folder, from scratch or from its checkpoint.

    Use :meth:`start` or :meth:`resume`, then :meth:`train`.
    """

    def __init__(self, folder, config, model, optimizer, position, data, log=print):
        self.folder = Path(folder)
        self.config = config
        self.model = model
        self.optimizer = optimizer
        self.position = position   # {"epoch", "batch", "totals", "train_seconds"}
        self.log = log
        self.data, self.test_x, dynamic, corrupt = data
        # the labels, for a conditional model; None for an unconditional one
        self.train_y, self.test_y = labels_for(model, self.data)
        self.trainer = Trainer(model, optimizer, self.data.train_x, samples=config["samples"],
                               batch_size=config["batch_size"], beta=config["beta"],
                               warmup=config["warmup"], seed=config["seed"],
                               binarize_dynamic=dynamic, corrupt=corrupt,
                               objective=config["objective"], train_y=self.train_y)

    # ------------------------------------------------------------------ creating / opening

    @classmethod
    def start(cls, folder, config, log=print):
        """A new run in ``folder`` (created; it must not hold a run already).

        ``config`` holds any of the keys of :data:`DEFAULTS`; the others take their defaults.
        A folder that cannot be created or written raises RunError before any work; a failure
        while the run's first files are written (OSError) removes them again.
        """
        unknown = sorted(set(config) - set(DEFAULTS), key=str)
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}; the keys of a run's "
                             f"configuration are {sorted(DEFAULTS)}")
        config = resolve_config(config)
        check_data_options(config)
        check_objective_options(config)
        folder = Path(folder)
        try:
            check_folder_target("run folder", folder)
        except ValueError as err:
            raise RunError(str(err)) from None
        if (folder / CHECKPOINT).exists() or (folder / CONFIG).exists():
            raise RunError(f"{folder} already holds a run; resume it with "
                           f"`numpyvae train --resume {folder}` or choose another --out")
        data = load_data(config)                  # before the folder: a data problem fails early
        model = VAE(data[0].train_x.shape[1], config["z_dim"], hidden=config["hidden"],
                    likelihood=config["likelihood"], activation=config["activation"],
                    dtype=np.dtype(config["dtype"]).type, seed=config["seed"],
                    sigma_x=config["sigma_x"], sigma_x_floor=config["sigma_x_floor"],
                    mean_activation=config["mean_activation"],
                    n_classes=len(data[0].classes) if config["conditional"] else None)
        optimizer = make_optimizer_for(model, config)
        position = {"epoch": 0, "batch": 0, "totals": None, "train_seconds": 0.0}
        run = cls(folder, config, model, optimizer, position, data, log)
        with _undone_on_failure(folder, (CONFIG, METRICS, CHECKPOINT)):
            document = {"numpyvae": __version__, "numpy": np.__version__, **config}
            with atomic_write(folder / CONFIG, "w") as f:
                json.dump(document, f, indent=2)
            _write_metrics(folder / METRICS, [])
            run.save()  # epoch 0: a checkpoint to fall back on if the first epoch diverges
        return run

    @classmethod
    def resume(cls, folder, epochs=None, data_dir=None, log=print, lr=None):
        """The run in ``folder``, from its checkpoint; ``epochs`` sets a new total.

        ``lr`` sets the learning rate from here on, as a schedule of stages does; each epoch's
        is in metrics.jsonl, and config.json keeps the one the run started with.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise RunError(f"run folder {folder} does not exist")
        if not (folder / CHECKPOINT).exists():
            raise RunError(f"run folder {folder} has no {CHECKPOINT}")
        saved = load_checkpoint(folder / CHECKPOINT)
        config = _completed(saved["meta"]["config"], saved["model"])
        if epochs is not None:
            config["epochs"] = epochs
        if data_dir is not None:
            config["data_dir"] = data_dir
        model = saved["model"]
        optimizer = make_optimizer_for(model, config)
        optimizer.load_state_dict(saved["optimizer_state"])
        if lr is not None:
            optimizer.lr = lr                     # checked there: a number > 0
            config["lr"] = optimizer.lr
        run = cls(folder, config, model, optimizer, saved["meta"]["position"],
                  load_data(config), log)
        run._trim_metrics()
        return run

    def _trim_metrics(self):
        """Drop metric lines of epochs after the checkpoint (written before a crash)."""
        path = self.folder / METRICS
        records = read_metrics(path) if path.exists() else []
        _write_metrics(path, [m for m in records if m["epoch"] <= self.position["epoch"]])

    def save(self):
        meta = {"config": self.config, "position": self.position}
        save_checkpoint(self.folder / CHECKPOINT, self.model, self.optimizer.state_dict(), meta)

    # ------------------------------------------------------------------ training

    def train(self, progress=True):
        """Train until ``config["epochs"]`` epochs are done, or until Ctrl-C.

        Returns ``"done"`` or ``"interrupted"``; raises TrainingDiverged on NaN/inf (the
        checkpoint of the last finished epoch stays on disk).
        """
        total = self.config["epochs"]
        with _stop_on_sigint(self.trainer):
            while self.position["epoch"] < total:
                epoch = self.position["epoch"]
                printer = _ProgressLine(epoch, total, self.trainer.batches_per_epoch,
                                        self.config["likelihood"], self._bpd_dim(),
                                        self._objective_label()) if progress else None
                try:
                    totals = self.trainer.train_epoch(epoch, self.position["batch"],
                                                      self.position["totals"], printer)
                except TrainingDiverged as err:
                    if printer:
                        printer.clear()
                    raise TrainingDiverged(
                        f"{err}. Training stopped; the checkpoint of epoch {epoch} is kept "
                        f"in {self.folder / CHECKPOINT}. A smaller --lr usually helps.") from None
                if printer:
                    printer.clear()
                if totals["next_batch"] < self.trainer.batches_per_epoch:   # Ctrl-C
                    self.position.update(batch=totals["next_batch"], totals=totals)
                    self.save()
                    return "interrupted"
                metrics = self._epoch_metrics(epoch, totals)
                self.position = {"epoch": epoch + 1, "batch": 0, "totals": None,
                                 "train_seconds": metrics["wall_seconds"]}
                path = self.folder / METRICS
                _write_metrics(path, read_metrics(path) + [metrics])
                self.save()
                self.log(summary_line(metrics, total))
        return "done"

    def write_figures(self):
        """Figures of the model as it is now, into the run folder; returns their paths."""
        return write_figures(self.folder, self.model, self.data,
                             read_metrics(self.folder / METRICS), self.config["seed"])

    def _objective_label(self):
        c = self.config
        return objective_label(c["objective"], c["samples"], c["beta"], c["warmup"])

    def _bpd_dim(self):
        """D for bits per dimension on dequantized data, eq. (48); None on other data."""
        return self.model.x_dim if self.config["dequantize"] else None

    def _epoch_metrics(self, epoch, totals):
        n = totals["examples"]
        t0 = time.perf_counter()
        test = evaluate_elbo(self.model, self.test_x, np.random.default_rng(
            [self.config["seed"], 2, epoch]), y=self.test_y)
        iwae = {}
        if self.config["objective"] == "iwae":
            # the bound with the k of training, one draw of its k samples per test image
            k = self.config["samples"]
            bound = importance_weighted_log_likelihood(
                self.model, self.test_x, np.random.default_rng([self.config["seed"], 5, epoch]),
                samples=k, batch_size=1000, y=self.test_y)
            iwae = {"iwae_samples": k, "train_iwae_loss": totals["objective"] / n,
                    "test_iwae_loss": float(-bound.mean())}
        at_floor = share_at_sigma_floor(self.model, self.test_x, y=self.test_y)
        eval_seconds = time.perf_counter() - t0
        reports = {"loss_unit": loss_unit(self.config["likelihood"])}
        D = self._bpd_dim()
        if D:
            reports["train_bpd"] = bits_per_dimension((totals["recon"] + totals["kl"]) / n, D)
            reports["test_bpd"] = bits_per_dimension(test["loss"], D)
        if at_floor is not None:
            reports["test_sigma_x_at_floor"] = at_floor
        return {
            "epoch": epoch + 1,
            "objective": self.config["objective"],
            "lr": self.optimizer.lr,
            "train_loss": (totals["recon"] + totals["kl"]) / n,
            "train_recon": totals["recon"] / n,
            "train_kl": totals["kl"] / n,
            "train_objective": totals["objective"] / n,
            "beta": self.trainer.beta_at(epoch, self.trainer.batches_per_epoch - 1),
            "test_loss": test["loss"], "test_recon": test["recon"], "test_kl": test["kl"],
            **iwae,
            **reports,
            "examples_per_second": n / totals["seconds"],
            "epoch_seconds": totals["seconds"],
            "eval_seconds": eval_seconds,
            "wall_seconds": self.position["train_seconds"] + totals["seconds"],
        }


def write_figures(folder, model, data, metrics, seed=0):
    """The figures of a trained model, written into ``folder``; returns their paths.

    Always reconstructions.png (test images and their reconstructions) and curves.png
    (learning curves); samples.png (decoder means of z ~ N(0, I)), or for a conditional model
    classes.png (the same 10 z decoded with every label, one row per class); for z_dim = 2
    also scatter.png (test means coloured by label) and, for an unconditional model,
    manifold.png (the decoded grid over z); for a decoder that learns sigma_x (gaussian,
    gaussian-shared) also sigma_x.png (test images, their means mu_x and their sigma_x,
    pixel by pixel). A conditional model encodes and decodes the test images with their
    labels.
    """
    from . import plots

    folder = Path(folder)
    rng = np.random.default_rng([seed, 4])
    _, test_y = labels_for(model, data)
    figures = {}
    if model.n_classes is None:
        figures["samples.png"] = plots.plot_samples(model, 100, rng)
    else:
        figures["classes.png"] = plots.plot_class_grid(model, CLASS_GRID_COLUMNS, rng,
                                                       class_names=data.classes)
    figures["reconstructions.png"] = plots.plot_reconstructions(model, data.test_x, n=20,
                                                                y=test_y)
    if metrics:
        figures["curves.png"] = plots.plot_curves(metrics)
    if model.z_dim == 2:
        if model.n_classes is None:
            figures["manifold.png"] = plots.plot_manifold(model)
        figures["scatter.png"] = plots.plot_scatter(model, data.test_x, data.test_y, y=test_y)
    if learns_sigma_x(model):
        figures["sigma_x.png"] = plots.plot_sigma_x(model, data.test_x, y=test_y)
    paths = []
    for name, fig in figures.items():
        plots.save_figure(fig, folder / name)
        paths.append(folder / name)
    return paths


@contextmanager
def _undone_on_failure(folder, names):
    """Create ``folder`` (and its missing parents) for the files ``names`` written in the block.

    If the block fails, the files of ``names`` that it wrote and the folders that were created
    are removed again: a run that could not be started leaves nothing half-written behind.
    """
    created = [p for p in (folder, *folder.parents) if not p.exists()]    # innermost first
    existed = {name for name in names if (folder / name).exists()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        yield
    except BaseException:
        if created:
            shutil.rmtree(created[-1], ignore_errors=True)
        else:
            for name in set(names) - existed:
                (folder / name).unlink(missing_ok=True)
        raise


def _write_metrics(path, records):
    """metrics.jsonl as a whole, atomically: a crash never leaves half a line in it."""
    with atomic_write(path, "w") as f:
        f.writelines(json.dumps(m) + "\n" for m in records)


def summary_line(m, total):
    """The line printed after each epoch, from its record of metrics.jsonl.

    It names what it reports: the negative ELBO, and for a run on the importance-weighted
    bound first the bound, "-L_k", with the k of training.
    """
    unit = " (-log density, nats)" if m.get("loss_unit") == DENSITY_UNIT else ""
    line = f"epoch {m['epoch']}/{total}  "
    if m.get("objective") == "iwae":
        line += (f"-L_{m['iwae_samples']}{unit}: train {m['train_iwae_loss']:.2f}  "
                 f"test {m['test_iwae_loss']:.2f}  ")
        unit = ""
    line += (f"-ELBO{unit}: train {m['train_loss']:.2f}  test {m['test_loss']:.2f}"
             f" (recon {m['test_recon']:.2f} + kl {m['test_kl']:.2f})")
    if "test_bpd" in m:
        line += f" = {m['test_bpd']:.3f} bits/dim"
    if "test_sigma_x_at_floor" in m:
        line += f"  sigma_x at floor {100 * m['test_sigma_x_at_floor']:.1f}%"
    return line + f"  {m['epoch_seconds']:.2f} s  {m['examples_per_second']:,.0f} examples/s"


def read_metrics(path):
    """The per-epoch records of a metrics.jsonl file: one JSON object per line.

    Blank lines are skipped, and so is a last line without its newline that is not valid
    JSON (a record still being written while training runs).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    list of dict
    """
    with open(path, encoding="utf-8") as file:
        lines = file.readlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines) and not line.endswith("\n"):
                break
            raise ValueError(f"{os.fspath(path)}, line {number}: not valid JSON ({err.msg}); "
                             "each line must be one JSON object") from None
        if not isinstance(record, dict):
            raise ValueError(f"{os.fspath(path)}, line {number}: expected a JSON object "
                             f"such as {{\"epoch\": 1, ...}}; got {line.strip()[:40]!r}")
        records.append(record)
    return records


class _ProgressLine:
    """A line on stderr, redrawn in place (only on a terminal, at most 10 times a second).

    It shows the running training objective under the name ``objective`` (see
    :func:`objective_label`), marked as a density for a Gaussian decoder, and with ``bpd_dim``
    = D (dequantized data) the negative ELBO so far in bits per dimension.
    """

    def __init__(self, epoch, total, batches, likelihood="bernoulli", bpd_dim=None,
                 objective="loss"):
        self.prefix = f"epoch {epoch + 1}/{total}"
        self.objective = objective
        self.batches = batches
        self.density = likelihood in GAUSSIAN_LIKELIHOODS
        self.bpd_dim = bpd_dim
        self.enabled = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0

    def __call__(self, batch, totals):
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.1 and batch < self.batches):
            return
        self.last = now
        sys.stderr.write("\r" + self.text(batch, totals) + " ")
        sys.stderr.flush()

    def text(self, batch, totals):
        """The line after ``batch`` batches with the running sums ``totals``."""
        done = int(20 * batch / self.batches)
        n = max(1, totals["examples"])
        rate = totals["examples"] / max(totals["seconds"], 1e-9)
        text = (f"{self.prefix} [{'#' * done}{'.' * (20 - done)}] {batch}/{self.batches}  "
                f"{self.objective} {totals['objective'] / n:.2f}"
                f"{' (density)' if self.density else ''}")
        if self.bpd_dim:
            nelbo = (totals["recon"] + totals["kl"]) / n    # the KL at weight 1: a bound
            text += f"  {bits_per_dimension(nelbo, self.bpd_dim):.3f} bits/dim"
        text += f"  {rate:,.0f} examples/s"
        self.width = max(self.width, len(text) + 1)
        return text

    def clear(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


class _stop_on_sigint:
    """While active, the first Ctrl-C asks the trainer to stop after the current batch
    (so a checkpoint can be written between two steps, never in the middle of one); a
    second Ctrl-C interrupts at once."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.previous = None

    def _handler(self, signum, frame):
        if self.trainer.stop_requested:
            raise KeyboardInterrupt
        self.trainer.stop_requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def open_run(folder):
    """(model, config) of a finished or partial run, for the commands that read runs."""
    saved = _open_checkpoint(folder)
    return saved["model"], saved["config"]


def _open_checkpoint(folder):
    """The checkpoint of a run folder, its config completed; RunError if there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"run folder {folder} does not exist")
    if not (folder / CHECKPOINT).exists():
        raise RunError(f"run folder {folder} has no {CHECKPOINT}: train first "
                       f"(numpyvae train --out {folder})")
    try:
        saved = load_checkpoint(folder / CHECKPOINT)
    except CheckpointError as err:
        raise RunError(str(err)) from None
    return {**saved, "config": _completed(saved["meta"]["config"], saved["model"])}


def _completed(config, model):
    """A saved run configuration with the keys that runs of older versions lack."""
    return {**DEFAULTS, "mean_activation": model.config["mean_activation"], **config}


def active_units(model, x, threshold=ACTIVE_UNIT_THRESHOLD, y=None):
    """The latent units a model uses, counted as Burda et al. (2016, section 5.2) count them.

    Unit u is active when Cov_x(E_q[z_u]) > ``threshold``: E_q[z_u] is the encoder's mean
    mu_u(x), and its variance over the images x (the test set) tells whether the code in that
    unit changes with the image. An inactive unit has q(z_u|x) close to the prior for every x:
    the decoder ignores it, and the KL term has pushed it back to N(0, 1).

    Parameters
    ----------
    model : VAE
    x : array_like, shape (N, x_dim), N >= 2
    threshold : float
        0.01, as in the paper.
    y : ndarray of int, shape (N,), optional
        The labels of the images, for a conditional model (required by it): mu(x, y).

    Returns
    -------
    count : int
        How many of the z_dim units are active.
    variances : ndarray of float64, shape (z_dim,)
        Var_x mu_u(x) of each unit (over the N images, dividing by N).
    """
    mu, _ = latent_factors(model, x, y=y)                   # (N, K): E_q[z] of each image
    if len(mu) < 2:
        raise ValueError(f"x must hold at least 2 images to measure how mu(x) varies over "
                         f"them; got {len(mu)}")
    variances = mu.astype(np.float64).var(axis=0)           # Cov_x(E_q[z_u]), unit by unit
    return int(np.count_nonzero(variances > threshold)), variances


def evaluate_run(folder, samples=5000, limit=None, data_dir=None, seed=0, log=print):
    """Report and save the test negative ELBO and the importance-weighted -log p(x) of a run.

    For a Gaussian decoder the numbers are marked as densities; on dequantized data they
    also come in bits per dimension, eq. (48); for a learned sigma_x the share of test pixels
    at its floor is given (:func:`numpyvae.evaluate.share_at_sigma_floor`). The active latent
    units are counted on the same test images (:func:`active_units`). Writes
    ``evaluation.json`` into the run folder and returns the same dict.
    """
    saved = _open_checkpoint(folder)
    model, config = saved["model"], saved["config"]
    if data_dir is not None:
        config = {**config, "data_dir": data_dir}
    data, test_x, _, _ = load_data(config)
    test_y = labels_for(model, data)[1]
    if limit:
        test_x, test_y = test_x[:limit], None if test_y is None else test_y[:limit]
    rng = np.random.default_rng([seed, 3])
    dequantized = f", dequantized with seed {config['seed']}" if config["dequantize"] else ""
    epochs = saved["meta"]["position"]["epoch"]
    trained_on = objective_label(config["objective"], config["samples"], config["beta"],
                                 config["warmup"])
    log(f"evaluating {model}, trained on {trained_on} for {epochs} "
        f"epoch{'' if epochs == 1 else 's'}, on "
        f"{len(test_x):,} test images of {config['dataset']}{dequantized}")
    if test_y is not None:
        log("a conditional model, given each test image's label: its numbers are of p(x|y), "
            "eq. (55), not of p(x)")
    unit = loss_unit(config["likelihood"])
    nats = "nats (density)" if unit == DENSITY_UNIT else "nats"
    t0 = time.perf_counter()
    elbo = evaluate_elbo(model, test_x, rng, y=test_y)
    log(f"test negative ELBO      {elbo['loss']:9.2f} {nats}  "
        f"(recon {elbo['recon']:.2f} + kl {elbo['kl']:.2f})")
    nll = -importance_weighted_log_likelihood(model, test_x, rng, samples=samples,
                                              progress=_progress_printer("importance sampling"),
                                              y=test_y)
    result = {
        "epochs": epochs, "test_images": int(len(test_x)), "limit": limit, "seed": seed,
        "importance_samples": samples, "loss_unit": unit,
        "test_loss": elbo["loss"], "test_recon": elbo["recon"], "test_kl": elbo["kl"],
        "test_nll_iw": float(nll.mean()),
        "test_nll_iw_stderr": float(nll.std(ddof=1) / np.sqrt(len(nll))) if len(nll) > 1 else None,
        "seconds": time.perf_counter() - t0,
    }
    log(f"-log p(x), IW, K = {samples:<5} {result['test_nll_iw']:9.2f} {nats}  "
        f"(the ELBO is looser by {elbo['loss'] - result['test_nll_iw']:.2f})")
    if config["dequantize"]:
        result["test_bpd"] = bits_per_dimension(elbo["loss"], model.x_dim)
        result["test_nll_iw_bpd"] = bits_per_dimension(result["test_nll_iw"], model.x_dim)
        log(f"bits per dimension, eq. (48): negative ELBO {result['test_bpd']:.4f}, "
            f"IW bound {result['test_nll_iw_bpd']:.4f}")
    if unit == DENSITY_UNIT:
        log("nats (density): -log densities of continuous x, which cannot be compared with "
            "a Bernoulli decoder's -log probabilities"
            + ("" if config["dequantize"] else "; on grey levels, which are discrete, a "
               "density has no upper limit: train with --dequantize for bits per dimension"))
    if len(test_x) > 1:
        count, variances = active_units(model, test_x, y=test_y)
        result["active_units"] = count
        result["unit_variances"] = variances.tolist()
        log(f"active units            {count:9d} of {model.z_dim}  (Var_x mu_u(x) > "
            f"{ACTIVE_UNIT_THRESHOLD:g}, as Burda et al. count them)")
    at_floor = share_at_sigma_floor(model, test_x, y=test_y)
    if at_floor is not None:
        result["test_sigma_x_at_floor"] = at_floor
        log(f"sigma_x at its floor {model.config['sigma_x_floor']:g}: {100 * at_floor:.1f}% "
            f"of the test pixels (sigma_x < floor x 1.001, at z = mu(x))")
    with atomic_write(Path(folder) / "evaluation.json", "w") as f:
        json.dump(result, f, indent=2)
    return result


def _progress_printer(label):
    """A callable(done, total) that redraws a progress line on a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(done, total):
        sys.stderr.write(f"\r{label}: {done:,}/{total:,} images" + (" " * 10 if done < total
                                                                       else "\n"))
        sys.stderr.flush()
    return show


__all__ = ["Run", "RunError", "DEFAULTS", "read_metrics", "open_run", "summary_line",
           "evaluate_run", "resolve_config", "check_data_options", "check_objective_options",
           "objective_label", "active_units", "loss_unit"]

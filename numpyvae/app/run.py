"""A training run and its folder.

A run folder holds:

- ``config.json``: everything that defines the run (data, model, optimizer, seed, epochs);
- ``checkpoint.npz``: parameters, optimizer state and progress, rewritten after each epoch
  (and on Ctrl-C), always atomically;
- ``metrics.jsonl``: one JSON object per epoch;
- figures, written at the end of training (see :func:`write_figures`).
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
from ..evaluate import evaluate_elbo, importance_weighted_log_likelihood
from ..files import atomic_write, check_folder_target
from ..train import Trainer, TrainingDiverged
from ..vae import VAE

CHECKPOINT = "checkpoint.npz"
CONFIG = "config.json"
METRICS = "metrics.jsonl"

# The configuration of the pytorch/examples VAE, on the bundled subset.
DEFAULTS = {
    "dataset": "mnist-mini", "data_dir": None, "binarize": "none", "denoise": False,
    "hidden": [400], "z_dim": 20, "likelihood": "bernoulli", "activation": "relu",
    "sigma_x": 1.0, "sigma_x_floor": 0.01, "dtype": "float32",
    "samples": 1, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
    "epochs": 10, "beta": 1.0, "warmup": 0.0, "seed": 0,
}


class RunError(ValueError):
    """A run folder that cannot be used as asked (missing, already used, damaged)."""


def load_data(config):
    """The data of a run: (dataset, test images, dynamic binarizer or None, corrupter or None).

    The test images are the dataset's, except with dynamic binarization: training draws a
    fresh binarization of each batch, and the test set keeps one fixed draw.
    """
    from ..datasets import binarize_dynamic, binarize_static, corrupt, load_dataset

    binarize = config["binarize"]
    data = load_dataset(config["dataset"], data_dir=config["data_dir"],
                        binarize=binarize if binarize in ("static", "threshold") else None,
                        seed=config["seed"])
    test_x = data.test_x
    if binarize == "dynamic":
        test_x = binarize_static(test_x, config["seed"])
    return data, test_x, (binarize_dynamic if binarize == "dynamic" else None), \
        (corrupt if config["denoise"] else None)


def make_optimizer_for(model, config):
    from ..optim import make_optimizer
    return make_optimizer(config["optimizer"], {"theta": model.flat_parameters},
                          lr=config["lr"], weight_decay=config["weight_decay"])


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
        self.trainer = Trainer(model, optimizer, self.data.train_x, samples=config["samples"],
                               batch_size=config["batch_size"], beta=config["beta"],
                               warmup=config["warmup"], seed=config["seed"],
                               binarize_dynamic=dynamic, corrupt=corrupt)

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
        config = {**DEFAULTS, **config}
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
                    sigma_x=config["sigma_x"], sigma_x_floor=config["sigma_x_floor"])
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
    def resume(cls, folder, epochs=None, data_dir=None, log=print):
        """The run in ``folder``, from its checkpoint; ``epochs`` sets a new total."""
        folder = Path(folder)
        if not folder.is_dir():
            raise RunError(f"run folder {folder} does not exist")
        if not (folder / CHECKPOINT).exists():
            raise RunError(f"run folder {folder} has no {CHECKPOINT}")
        saved = load_checkpoint(folder / CHECKPOINT)
        config = dict(saved["meta"]["config"])
        if epochs is not None:
            config["epochs"] = epochs
        if data_dir is not None:
            config["data_dir"] = data_dir
        model = saved["model"]
        optimizer = make_optimizer_for(model, config)
        optimizer.load_state_dict(saved["optimizer_state"])
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
                printer = _ProgressLine(epoch, total, self.trainer.batches_per_epoch) \
                    if progress else None
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

    def _epoch_metrics(self, epoch, totals):
        n = totals["examples"]
        t0 = time.perf_counter()
        test = evaluate_elbo(self.model, self.test_x, np.random.default_rng(
            [self.config["seed"], 2, epoch]))
        eval_seconds = time.perf_counter() - t0
        return {
            "epoch": epoch + 1,
            "train_loss": (totals["recon"] + totals["kl"]) / n,
            "train_recon": totals["recon"] / n,
            "train_kl": totals["kl"] / n,
            "train_objective": totals["objective"] / n,
            "beta": self.trainer.beta_at(epoch, self.trainer.batches_per_epoch - 1),
            "test_loss": test["loss"], "test_recon": test["recon"], "test_kl": test["kl"],
            "examples_per_second": n / totals["seconds"],
            "epoch_seconds": totals["seconds"],
            "eval_seconds": eval_seconds,
            "wall_seconds": self.position["train_seconds"] + totals["seconds"],
        }


def write_figures(folder, model, data, metrics, seed=0):
    """The figures of a trained model, written into ``folder``; returns their paths.

    Always samples.png (decoder means of z ~ N(0, I)), reconstructions.png (test images and
    their reconstructions) and curves.png (learning curves); for z_dim = 2 also manifold.png
    (the decoded grid over z) and scatter.png (test means coloured by digit).
    """
    from . import plots

    folder = Path(folder)
    rng = np.random.default_rng([seed, 4])
    figures = {
        "samples.png": plots.plot_samples(model, 100, rng),
        "reconstructions.png": plots.plot_reconstructions(model, data.test_x, n=20),
    }
    if metrics:
        figures["curves.png"] = plots.plot_curves(metrics)
    if model.z_dim == 2:
        figures["manifold.png"] = plots.plot_manifold(model)
        figures["scatter.png"] = plots.plot_scatter(model, data.test_x, data.test_y)
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
    return (f"epoch {m['epoch']}/{total}  train {m['train_loss']:.2f}  test {m['test_loss']:.2f}"
            f" (recon {m['test_recon']:.2f} + kl {m['test_kl']:.2f})  "
            f"{m['epoch_seconds']:.2f} s  {m['examples_per_second']:,.0f} examples/s")


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
    """A line on stderr, redrawn in place (only on a terminal, at most 10 times a second)."""

    def __init__(self, epoch, total, batches):
        self.prefix = f"epoch {epoch + 1}/{total}"
        self.batches = batches
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, batch, totals):
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.1 and batch < self.batches):
            return
        self.last = now
        done = int(20 * batch / self.batches)
        loss = totals["objective"] / max(1, totals["examples"])
        rate = totals["examples"] / max(totals["seconds"], 1e-9)
        sys.stderr.write(f"\r{self.prefix} [{'#' * done}{'.' * (20 - done)}] "
                         f"{batch}/{self.batches}  loss {loss:.2f}  {rate:,.0f} examples/s ")
        sys.stderr.flush()

    def clear(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * 90 + "\r")
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
    return saved["model"], saved["meta"]["config"]


def evaluate_run(folder, samples=5000, limit=None, data_dir=None, seed=0, log=print):
    """Report and save the test negative ELBO and the importance-weighted -log p(x) of a run.

    Writes ``evaluation.json`` into the run folder and returns the same dict.
    """
    model, config = open_run(folder)
    if data_dir is not None:
        config = {**config, "data_dir": data_dir}
    _, test_x, _, _ = load_data(config)
    test_x = test_x[:limit] if limit else test_x
    rng = np.random.default_rng([seed, 3])
    log(f"evaluating {model} on {len(test_x):,} test images of {config['dataset']}")
    t0 = time.perf_counter()
    elbo = evaluate_elbo(model, test_x, rng)
    log(f"test negative ELBO      {elbo['loss']:9.2f} nats  "
        f"(recon {elbo['recon']:.2f} + kl {elbo['kl']:.2f})")
    nll = -importance_weighted_log_likelihood(model, test_x, rng, samples=samples,
                                              progress=_progress_printer("importance sampling"))
    result = {
        "test_images": int(len(test_x)), "importance_samples": samples,
        "test_loss": elbo["loss"], "test_recon": elbo["recon"], "test_kl": elbo["kl"],
        "test_nll_iw": float(nll.mean()),
        "test_nll_iw_stderr": float(nll.std(ddof=1) / np.sqrt(len(nll))) if len(nll) > 1 else None,
        "seconds": time.perf_counter() - t0,
    }
    log(f"-log p(x), IW, K = {samples:<5} {result['test_nll_iw']:9.2f} nats  "
        f"(the ELBO is looser by {elbo['loss'] - result['test_nll_iw']:.2f})")
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
           "evaluate_run"]

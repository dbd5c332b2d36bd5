"""Table 1 of Burda, Grosse & Salakhutdinov (2016), one stochastic layer: VAE against IWAE.

    python scripts/reproduce_iwae.py --stages 0..3                 # 40 epochs of each model
    python scripts/reproduce_iwae.py --stages 0..7                 # the paper's 3280 epochs

The paper's setup, section 5: a 784-200-200-50 network with tanh hidden layers and a
Bernoulli decoder, on MNIST binarized stochastically (a fresh binarization of every batch; the
test set keeps one fixed draw), Adam with beta1 = 0.9, beta2 = 0.999 and eps = 1e-4, batches of
20, and 3^i epochs at the learning rate 0.001 * 10^(-i/7) for i = 0..7, 3280 epochs in all.
Each model is then scored by the negative log-likelihood of the test set, estimated with the
importance-weighted bound at k = 5000, and by its active latent units: those whose mean
mu_u(x) varies over the test set with a variance above 0.01.

``--stages 0..N`` runs stages i = 0..N of that schedule: each model is trained with
``numpyvae``'s run folders (``numpyvae.app.run``), one stage after the other, resumed with
the stage's learning rate, exactly as ``numpyvae train --resume RUN --epochs E --lr LR``
does. A model that already has some stages in ``--out`` continues from there, so a longer
prefix can be run later; one stopped with Ctrl-C continues from its last batch. Then each model
is evaluated (``numpyvae evaluate``; kept in its evaluation.json for the next time), and the
table, with the paper's numbers beside, is printed and written to ``--table``
(default OUT/table.md).

With ``--torch-python PY``, a Python that has PyTorch, each model is trained again by
scripts/torch_reference.py with the same schedule, setup and seed, and evaluated the same way
(its report kept in OUT/NAME-torch.json); the table then gives both libraries' NLL and says
whether they agree within 0.5 nats. PyTorch runs on full MNIST only.

The defaults are the paper's. For a quick try: ``--dataset mnist-mini --hidden 16 --z-dim 5
--stages 0..1 --nll-samples 50``.
"""
import sys

if __name__ == "__main__":
    sys.dont_write_bytecode = True    # leave no __pycache__ in the project

import numpyvae  # noqa: E402,I001  (set up before anything imports numpy)

# OpenBLAS's idle threads must sleep soon for the optimizer's two threads to pay; OpenBLAS
# reads that setting when numpy loads it (numpyvae/engine/openblas.py).
numpyvae.configure_openblas()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from numpyvae.app.checkpoint import load_checkpoint  # noqa: E402
from numpyvae.app.cli import (_floating_point_warnings_off, _os_error_text,  # noqa: E402
                              positive_int)
from numpyvae.app.run import (CHECKPOINT, METRICS, Run, RunError, evaluate_run,  # noqa: E402
                              open_run, read_metrics, resolve_config)
from numpyvae.files import atomic_write, check_file_target, check_folder_target  # noqa: E402
from numpyvae.train import TrainingDiverged  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# The schedule: stage i has 3^i epochs at the learning rate 0.001 * 10^(-i/7).
STAGES = 8


def stage_lr(i):
    """The learning rate of stage i."""
    return 1e-3 * 10 ** (-i / 7)


def epochs_after(i):
    """The total epochs at the end of stage i: 3^0 + ... + 3^i."""
    return sum(3 ** j for j in range(i + 1))


# name: (model, objective, k, the paper's NLL, the paper's active units), Table 1, one
# stochastic layer.
CONFIGURATIONS = {
    "vae-k1": ("VAE", "elbo", 1, 86.76, 19),
    "vae-k5": ("VAE", "elbo", 5, 86.47, 20),
    "iwae-k5": ("IWAE", "iwae", 5, 85.54, 22),
    "vae-k50": ("VAE", "elbo", 50, 86.35, 20),
    "iwae-k50": ("IWAE", "iwae", 50, 84.78, 25),
}
DEFAULT_CONFIGURATIONS = ("vae-k1", "vae-k5", "iwae-k5")

# numpyvae and PyTorch, on the same schedule and the same test images, agree within this (nats)
AGREEMENT = 0.5

# The paper's settings, section 5; --hidden and --z-dim may change the network for a quick try.
PAPER = {"activation": "tanh", "likelihood": "bernoulli", "binarize": "dynamic",
         "batch_size": 20, "optimizer": "adam", "adam_eps": 1e-4}


class Stopped(Exception):
    """Ctrl-C stopped a model's training; its checkpoint is saved."""


def stages(text):
    """argparse type: "0..N", a prefix of the schedule; returns N."""
    first, dots, last = text.partition("..")
    try:
        first, last = int(first), int(last)
    except ValueError:
        first = last = None
    if not dots or first != 0 or last is None or not 0 <= last < STAGES:
        raise argparse.ArgumentTypeError(
            f"expected 0..N with N from 0 to {STAGES - 1}, the stages i = 0..N of the schedule "
            f"(each model is trained from the start); got {text!r}")
    return last


def run_config(name, args):
    """The settings of the run of configuration ``name``, as ``numpyvae train`` records them."""
    _, objective, k, _, _ = CONFIGURATIONS[name]
    return {**PAPER, "dataset": args.dataset, "data_dir": args.data_dir, "hidden": args.hidden,
            "z_dim": args.z_dim, "objective": objective, "samples": k, "seed": args.seed}


def train(name, args, log):
    """Train configuration ``name`` through stages 0..args.stages; returns its run folder.

    Stages already done are skipped; a stage that was stopped is finished at its own
    learning rate. Raises Stopped when Ctrl-C stops the training.
    """
    folder = Path(args.out) / name
    config = run_config(name, args)
    if (folder / CHECKPOINT).exists():
        _, saved = open_run(folder)
        wanted = resolve_config(config)
        differ = [f"{key} {saved.get(key)!r} where this asks for {wanted[key]!r}"
                  for key in wanted if key not in ("data_dir", "epochs", "lr")
                  and saved.get(key) != wanted[key]]
        if differ:
            raise RunError(f"{folder} holds a run of another configuration ({'; '.join(differ)}); "
                           f"choose another --out, or the settings it was trained with")
    for i in range(args.stages + 1):
        epochs, lr = epochs_after(i), stage_lr(i)
        if not (folder / CHECKPOINT).exists():
            run = Run.start(folder, {**config, "epochs": epochs, "lr": lr}, log=log)
        elif trained_epochs(folder) >= epochs:
            continue                                    # a stage done before
        else:
            run = Run.resume(folder, epochs=epochs, data_dir=args.data_dir, lr=lr, log=log)
        log(f"stage {i}: epochs {run.position['epoch'] + 1}..{epochs} at lr {lr:.3g}")
        if run.train(progress=not args.quiet) == "interrupted":
            raise Stopped(f"{name} stopped at epoch {run.position['epoch'] + 1}, batch "
                          f"{run.position['batch']}; its checkpoint is saved")
    if trained_epochs(folder) > epochs_after(args.stages):
        log(f"has {trained_epochs(folder)} epochs already, more than stages 0..{args.stages} "
            f"({epochs_after(args.stages)}): it is evaluated as it is")
    return folder


def trained_epochs(folder):
    """The epochs a run folder's model has finished."""
    return load_checkpoint(folder / CHECKPOINT)["meta"]["position"]["epoch"]


def evaluate(folder, args, log):
    """The evaluation of a trained run: its evaluation.json when that is of the same model and
    the same estimate, else a new one."""
    path = folder / "evaluation.json"
    if path.exists():
        done = json.loads(path.read_text())
        same = {"epochs": trained_epochs(folder), "importance_samples": args.nll_samples,
                "limit": args.nll_limit, "seed": args.seed}
        if all(key in done and done[key] == value for key, value in same.items()) \
                and "active_units" in done:
            return done
    return evaluate_run(folder, samples=args.nll_samples, limit=args.nll_limit,
                        data_dir=args.data_dir, seed=args.seed, log=log)


def torch_report(name, args, evaluation, log):
    """The same model trained and evaluated by scripts/torch_reference.py in
    ``args.torch_python``: its report, read again when it is of the same schedule and estimate."""
    path = Path(args.out) / f"{name}-torch.json"
    same = {"stages": args.stages, "importance_samples": args.nll_samples,
            "iw_images": evaluation["test_images"]}
    if path.exists():
        report = json.loads(path.read_text())
        if all(report.get(key) == value for key, value in same.items()):
            return report
    _, objective, k, _, _ = CONFIGURATIONS[name]
    command = [args.torch_python, str(ROOT / "scripts" / "torch_reference.py"),
               "--dataset", args.dataset, "--data-dir", args.data_dir,
               "--hidden", *map(str, args.hidden), "--z-dim", str(args.z_dim),
               "--activation", PAPER["activation"], "--batch-size", str(PAPER["batch_size"]),
               "--binarize", PAPER["binarize"], "--adam-eps", str(PAPER["adam_eps"]),
               "--reduction", "mean", "--stages", f"0..{args.stages}",
               "--objective", objective, "--samples", str(k), "--seed", str(args.seed),
               "--iw-samples", str(args.nll_samples),
               "--iw-limit", str(evaluation["test_images"]), "--json", str(path)]
    log("PyTorch: " + " ".join(command))
    subprocess.run(command, check=True)
    return json.loads(path.read_text())


def row(name, folder, evaluation, torch=None):
    """What the table shows of one model."""
    metrics = read_metrics(folder / METRICS)
    model, _, k, paper_nll, paper_units = CONFIGURATIONS[name]
    return {"name": name, "model": model, "k": k, "epochs": evaluation["epochs"],
            "nll": evaluation["test_nll_iw"], "nll_stderr": evaluation["test_nll_iw_stderr"],
            "active_units": evaluation["active_units"],
            "z_dim": len(evaluation["unit_variances"]),
            "paper_nll": paper_nll, "paper_units": paper_units,
            "epoch_seconds": float(np.mean([m["epoch_seconds"] for m in metrics])),
            "test_images": evaluation["test_images"],
            "importance_samples": evaluation["importance_samples"],
            "torch_nll": None if torch is None else torch["test_nll_iw"],
            "torch_active_units": None if torch is None else torch["active_units"],
            "torch_epoch_seconds": None if torch is None else float(np.mean(
                [e["train_seconds"] for e in torch["epochs"]]))}


def table(rows, args):
    """The markdown table of the models beside the paper's numbers, with the targets."""
    network = "-".join(map(str, [784, *args.hidden, args.z_dim]))
    with_torch = any(r.get("torch_nll") is not None for r in rows)
    images = sorted({r["test_images"] for r in rows})
    lines = [
        "Table 1 of Burda et al. (2016), one stochastic layer, reproduced with numpyvae"
        + (", and with PyTorch beside it." if with_torch else "."),
        "",
        f"Stages i = 0..{args.stages} of the schedule (3^i epochs at lr 0.001 * 10^(-i/7)): "
        f"{epochs_after(args.stages)} of the paper's {epochs_after(STAGES - 1)} epochs (each "
        f"model's own are in the table). "
        f"{network}, tanh, Bernoulli decoder; {args.dataset} binarized dynamically; Adam "
        f"(0.9, 0.999, eps 1e-4), batch 20; seed {args.seed}. NLL: -log p(x) estimated with "
        f"k = {args.nll_samples} importance samples on {', '.join(f'{n:,}' for n in images)} "
        f"test images (one fixed binarization), in nats, with its standard error.",
        "",
        "| model | k | epochs | NLL | active units | paper NLL | paper active units "
        "| train s / epoch |" + (" PyTorch NLL | PyTorch active units | PyTorch s / epoch |"
                                 if with_torch else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|---|---|" if with_torch else ""),
    ]
    for r in rows:
        stderr = f" ± {r['nll_stderr']:.2f}" if r["nll_stderr"] is not None else ""
        torch = ("" if not with_torch else " - | - | - |" if r["torch_nll"] is None else
                 f" {r['torch_nll']:.2f} | {r['torch_active_units']} of {r['z_dim']} | "
                 f"{r['torch_epoch_seconds']:.1f} |")
        lines.append(f"| {r['model']} | {r['k']} | {r['epochs']} | {r['nll']:.2f}{stderr} | "
                     f"{r['active_units']} of {r['z_dim']} | {r['paper_nll']:.2f} | "
                     f"{r['paper_units']} | {r['epoch_seconds']:.1f} |{torch}")
    by_name = {r["name"]: r for r in rows}
    for k in (5, 50):
        vae, iwae = by_name.get(f"vae-k{k}"), by_name.get(f"iwae-k{k}")
        if vae is None or iwae is None:
            continue
        gain = vae["nll"] - iwae["nll"]
        lines += ["", f"IWAE k={k} against VAE k={k}, at {iwae['epochs']} and {vae['epochs']} "
                      f"epochs: NLL lower by {gain:.2f} nats (the target is at least 0.5: "
                      f"{'met' if gain >= 0.5 else 'not met'}); active units "
                      f"{iwae['active_units']} against {vae['active_units']} (the target is "
                      f"at least as many: "
                      f"{'met' if iwae['active_units'] >= vae['active_units'] else 'not met'})."
                      + ("" if iwae["epochs"] == vae["epochs"] else
                         " The epochs differ: the targets are for equal epochs.")]
    compared = [r for r in rows if r.get("torch_nll") is not None]
    if compared:
        gaps = [abs(r["nll"] - r["torch_nll"]) for r in compared]
        pairs = "; ".join(f"{r['model']} k={r['k']} {r['nll']:.2f} and {r['torch_nll']:.2f}"
                          for r in compared)
        lines += ["", f"numpyvae against PyTorch, the same schedule on the same test images: "
                      f"{pairs}. The largest difference is {max(gaps):.2f} nats (the target is "
                      f"at most {AGREEMENT}: {'met' if max(gaps) <= AGREEMENT else 'not met'})."]
    return lines


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", type=stages, default=STAGES - 1, metavar="0..N",
                   help=f"train stages i = 0..N of the schedule (default: 0..{STAGES - 1}, "
                        f"the paper's {epochs_after(STAGES - 1)} epochs; 0..3 is 40 epochs)")
    p.add_argument("--configs", nargs="+", choices=CONFIGURATIONS,
                   default=list(DEFAULT_CONFIGURATIONS), metavar="NAME",
                   help=f"the models, of {', '.join(CONFIGURATIONS)} (default: "
                        f"{' '.join(DEFAULT_CONFIGURATIONS)})")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "mnist-mini"),
                   help="default: mnist; mnist-mini (bundled) for a quick try")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"),
                   help="the folder of MNIST's IDX files (default: ../shared/data/mnist)")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=[200, 200],
                   metavar="SIZE", help="hidden layer sizes (default: the paper's 200 200)")
    p.add_argument("--z-dim", type=positive_int, default=50,
                   help="latent size (default: the paper's 50)")
    p.add_argument("--nll-samples", type=positive_int, default=5000,
                   help="importance samples k of the test NLL (default: the paper's 5000)")
    p.add_argument("--nll-limit", type=positive_int, metavar="N",
                   help="estimate the NLL and the active units on the first N test images only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/iwae-table1",
                   help="the folder of the models' run folders (default: runs/iwae-table1)")
    p.add_argument("--table", help="where to write the table (default: OUT/table.md)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--torch-python", metavar="PY",
                   help="a Python with PyTorch and numpyvae installed: train and evaluate each "
                        "model in PyTorch too, with scripts/torch_reference.py (full MNIST only)")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.torch_python is not None:
        if not os.access(args.torch_python, os.X_OK) or Path(args.torch_python).is_dir():
            parser.error(f"--torch-python must be an executable Python; got "
                         f"{args.torch_python!r}")
        if args.dataset != "mnist":
            parser.error(f"--torch-python needs --dataset mnist, which torch_reference.py "
                         f"reads; got --dataset {args.dataset}")
    if args.dataset.endswith("mini"):
        args.data_dir = None                      # the bundled subset needs no folder
    table_path = Path(args.table) if args.table else Path(args.out) / "table.md"
    return _run(args, table_path)


def _run(args, table_path):
    prog = "reproduce_iwae.py"
    rows = []
    try:
        check_folder_target("--out", args.out)
        if args.table:
            check_file_target("--table", table_path)
        for name in args.configs:
            def log(line, name=name):
                print(f"[{name}] {line}", flush=True)
            with _floating_point_warnings_off():
                folder = train(name, args, log)
                evaluation = evaluate(folder, args, log)
                torch = (None if args.torch_python is None
                         else torch_report(name, args, evaluation, log))
                rows.append(row(name, folder, evaluation, torch))
        lines = table(rows, args)
        with atomic_write(table_path, "w") as f:
            f.write("\n".join(lines) + "\n")
    except Stopped as err:
        print(f"{prog}: interrupted: {err}. Run the same command again to continue.",
              file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; the models trained so far are saved in {args.out}. Run "
              f"the same command again to continue.", file=sys.stderr)
        return 130
    except TrainingDiverged as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except (RunError, ValueError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"{prog}: PyTorch's run failed (exit status {err.returncode}); its messages are "
              f"above", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"{prog}: error: {_os_error_text(err)}", file=sys.stderr)
        return 1
    print("\n" + "\n".join(lines))
    print(f"\nwrote {table_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

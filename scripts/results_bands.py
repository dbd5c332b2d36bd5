"""The bands of the graded results task: the test numbers a correctly written model reaches.

    python scripts/results_bands.py                       # the set command, seeds 1-5
    python scripts/results_bands.py -- --epochs 20 --z-dim 10      # another configuration
    python scripts/results_bands.py --config runs/mine/config.json  # the configuration of a run
    python scripts/results_bands.py --seeds 1 2 3 4 5 6 7 8 --out /tmp/bands.json

The task ``trained-model`` asks a student to train the model they wrote with one command and
to hand in the run folder it writes. tests/test_trained_model.py grades the last epoch of that
run: its test negative ELBO, reconstruction and KL (``test_loss``, ``test_recon`` and
``test_kl`` of ``metrics.jsonl``), each against a band computed here from the reference code.
This script trains the configuration once per seed, in this process, and takes each band as
the mean +- 3 standard deviations (``ddof=1``) of the seeds' values. It writes
scripts/results_bands.json: the configuration, the command a student runs, the seeds, each
seed's numbers, the mean, the standard deviation and the band of each number, and the command
that computed the file. The tests read the set configuration and the bands from that file and
nothing else, so remaking it is all it takes to set another configuration.

How the configuration is given (the seed never is: the bands cover seeds, and a student may
train with any):

- nothing: the set command of the file that exists, or the command ``numpyvae train`` runs by
  default (the pytorch/examples VAE on the bundled mnist-mini subset) for 10 epochs;
- after ``--``: flags of ``numpyvae train``, exactly as a student will type them (``--out``,
  ``--resume`` and ``--seed`` are not allowed);
- ``--config FILE``: a JSON object of run settings, such as the ``config.json`` of a run
  folder (its ``seed`` and version keys are ignored).

Keep the command quick (the reference takes about 6 s for 10 epochs of mnist-mini on two
cores), because the project's own test suite trains it once when no run is at hand. The
bands are as reliable as five seeds make them: a correct run falls outside a band of
mean +- 3 sd in a few percent of cases. ``--seeds`` with more seeds narrows that.
"""
import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    sys.dont_write_bytecode = True    # leave no __pycache__ in the project

ROOT = Path(__file__).resolve().parents[1]
BANDS = Path(__file__).resolve().parent / "results_bands.json"
RUN_FOLDER = "results/trained-model"
QUANTITIES = ("test_loss", "test_recon", "test_kl")
SD_MULTIPLE = 3
DEFAULT_SEEDS = (1, 2, 3, 4, 5)
DEFAULT_FLAGS = ("--dataset", "mnist-mini", "--epochs", "10")
# Keys of a run's config.json that say where or with what it ran, not what was trained.
NOT_CONFIGURATION = ("seed", "data_dir", "numpyvae", "numpy")


def _train_parser():
    from numpyvae.app.cli import build_parser
    return build_parser()


def config_from_flags(flags):
    """The run settings that ``numpyvae train FLAGS`` sets (only the keys it sets).

    Raises ValueError for a flag that ``numpyvae train`` refuses or that has no place here.
    """
    from numpyvae.app.cli import TRAIN_FLAGS

    flags = list(flags)
    refused = [f for f in flags if f.split("=")[0] in ("--out", "--resume", "--seed")]
    if refused:
        raise ValueError(f"the flags of the set command may not hold {', '.join(refused)}: the "
                         f"run folder is {RUN_FOLDER} and the seed is free")
    try:
        args = _train_parser().parse_args(["train", *flags])
    except SystemExit:
        raise ValueError(f"numpyvae train refuses the flags {shlex.join(flags)} (its message "
                         f"is above)") from None
    return {k: getattr(args, k) for k in TRAIN_FLAGS + ("epochs",)
            if getattr(args, k) is not None and k != "seed"}


def config_from_file(path):
    """The run settings of a JSON file (a run's config.json, or any subset of its keys)."""
    from numpyvae.app.run import DEFAULTS

    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object of run settings such as "
                         f"{{\"epochs\": 10}}")
    config = {k: v for k, v in document.items() if k not in NOT_CONFIGURATION}
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; the keys of a run's configuration "
                         f"are {sorted(DEFAULTS)}")
    return config


def full_config(given):
    """Every setting of the run (numpyvae's defaults for the ones not given), seed excluded,
    as the run's config.json records it."""
    from numpyvae.app.run import resolve_config

    config = resolve_config(given)
    return {k: v for k, v in config.items() if k not in NOT_CONFIGURATION}


def command_for(config):
    """The ``python -m numpyvae train`` command that trains ``config`` into the run folder.

    Flags are given for the dataset, the epochs and every setting that differs from
    numpyvae's default; the seed is 0 (any seed is accepted).
    """
    from numpyvae.app.run import resolve_config

    defaults = resolve_config({})
    # the default mean_activation is the likelihood's
    defaults["mean_activation"] = resolve_config(
        {"likelihood": config.get("likelihood", defaults["likelihood"])})["mean_activation"]
    words = ["python", "-m", "numpyvae", "train"]
    for key, value in config.items():
        if key not in ("dataset", "epochs") and value == defaults.get(key):
            continue
        if key == "dtype":
            raise ValueError("dtype is not a flag of numpyvae train; keep float32")
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            words += [flag] if value else []
        elif isinstance(value, (list, tuple)):
            words += [flag, *map(str, value)]
        else:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(words + ["--seed", "0", "--out", RUN_FOLDER])


def train_once(config, seed, folder):
    """Train ``config`` with ``seed`` into ``folder``; the last epoch's record of metrics.jsonl."""
    from numpyvae.app.run import METRICS, Run, read_metrics

    run = Run.start(folder, {**config, "seed": seed}, log=lambda *args: None)
    if run.train(progress=False) != "done":
        raise RuntimeError(f"the run of seed {seed} was interrupted")
    return read_metrics(Path(folder) / METRICS)[-1]


def band(values):
    """Mean, standard deviation (ddof=1) and mean -+ SD_MULTIPLE sd of a list of numbers."""
    mean = statistics.fmean(values)
    sd = statistics.stdev(values)
    return {"mean": mean, "sd": sd, "low": mean - SD_MULTIPLE * sd,
            "high": mean + SD_MULTIPLE * sd}


def compute(config, seeds, log=print):
    """The document of scripts/results_bands.json for ``config`` trained with ``seeds``."""
    import numpy
    import numpyvae

    runs = []
    with tempfile.TemporaryDirectory(prefix="numpyvae-bands-") as work:
        for seed in seeds:
            t0 = time.perf_counter()
            last = train_once(config, seed, Path(work) / f"seed-{seed}")
            runs.append({"seed": seed, "epochs": last["epoch"],
                         **{q: last[q] for q in QUANTITIES}})
            log(f"seed {seed}: " + "  ".join(f"{q} {last[q]:.3f}" for q in QUANTITIES)
                + f"  ({time.perf_counter() - t0:.1f} s)")
    return {
        "task": "trained-model",
        "about": "Bands of the last epoch's test numbers of a correctly written numpyvae "
                 "trained with `command`: mean +- sd_multiple standard deviations (ddof=1) "
                 "over the seeds. Read by tests/test_trained_model.py.",
        "command": command_for(config),
        "run_folder": RUN_FOLDER,
        "config": config,
        "ignored_keys": list(NOT_CONFIGURATION),
        "seeds": list(seeds),
        "sd_multiple": SD_MULTIPLE,
        "runs": runs,
        "bands": {q: band([r[q] for r in runs]) for q in QUANTITIES},
        "computed_by": None,        # filled in by main()
        "numpyvae": numpyvae.__version__,
        "numpy": numpy.__version__,
    }


def _existing_flags():
    """The flags of the set command in scripts/results_bands.json, if it exists."""
    if not BANDS.exists():
        return None
    words = shlex.split(json.loads(BANDS.read_text(encoding="utf-8"))["command"])
    flags, skip = [], False
    for word in words[4:]:                        # after "python -m numpyvae train"
        if skip:
            skip = False
        elif word in ("--seed", "--out"):
            skip = True
        else:
            flags.append(word)
    return flags


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    flags = argv[argv.index("--") + 1:] if "--" in argv else None
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        description="Train the set configuration of the task 'trained-model' with several "
                    "seeds and write the bands its tests grade against. Flags of numpyvae "
                    "train after -- give another configuration.")
    parser.add_argument("--config", metavar="FILE",
                        help="a JSON object of run settings, e.g. a run's config.json")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS),
                        metavar="SEED", help="the reference seeds (default: 1 2 3 4 5)")
    parser.add_argument("--out", default=str(BANDS), metavar="FILE",
                        help="where to write the bands (default: scripts/results_bands.json, "
                             "the file the tests read)")
    args = parser.parse_args(own)
    if len(args.seeds) < 2 or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds needs at least two different seeds; got {args.seeds}")
    if args.config and flags is not None:
        parser.error("give the configuration either as --config FILE or as flags after --, "
                     "not both")
    sys.path.insert(0, str(ROOT))                # the reference package next to this script
    try:
        given = config_from_file(args.config) if args.config else \
            config_from_flags(flags if flags is not None else
                              (_existing_flags() or list(DEFAULT_FLAGS)))
        config = full_config(given)
        print(f"training `{command_for(config)}` with seeds {args.seeds}")
        document = compute(config, args.seeds)
    except (ValueError, OSError) as err:
        print(f"results_bands: error: {err}", file=sys.stderr)
        return 2
    document["computed_by"] = shlex.join(["python", "scripts/results_bands.py", *argv])
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    for q, b in document["bands"].items():
        print(f"{q:<11} mean {b['mean']:8.3f}  sd {b['sd']:6.3f}  band "
              f"[{b['low']:.3f}, {b['high']:.3f}]")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

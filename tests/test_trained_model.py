"""Task 'trained-model' (results): the model the student wrote, trained with the set command.

The student trains with the command of scripts/results_bands.json, from the root of their copy,

    python -m numpyvae train --dataset mnist-mini --epochs 10 --seed 0 --out results/trained-model

(any seed; nothing else changed) and hands in the run folder ``results/trained-model/`` with
the copy. These tests read the run's ``config.json`` and ``metrics.jsonl``. They refuse, with
0 points and a message that says why, a missing run, a run whose configuration differs from
the set one in anything but the seed, and a run not trained for the set number of epochs.
Then they check the last epoch's test negative ELBO, KL and reconstruction, one test each,
against the bands of scripts/results_bands.json: the mean +- 3 standard deviations over 5
seeds of the reference, made by scripts/results_bands.py (which remakes them for another
configuration).

Where the run comes from (:func:`find_run`):

- NUMPYVAE_GRADE_SUBMISSION set (grading: the folder that holds the student's numpyvae/):
  ``$NUMPYVAE_GRADE_SUBMISSION/results/trained-model``, and nothing else; a missing run fails
  every test with the command to run;
- unset: ``./results/trained-model`` if it exists (a student checking their run from the root
  of their copy);
- otherwise the set command is run once per session into a temporary folder, with the
  numpyvae that is imported: in this project's suite the reference, so that these tests are
  checked for real. That takes about 6 s on two cores (10 epochs of the 10,000 images of
  mnist-mini). In a student copy (which has no tests/instructor/) a warning says that such a
  run is not one that can be handed in.

The numbers are read from the files, not recomputed: with a run at hand the tests take
milliseconds. The files are parsed here, with json, not by numpyvae's own readers, because the
package under test is the student's.
"""
import json
import math
import os
import shlex
import warnings
from pathlib import Path

import pytest

SUBMISSION_VARIABLE = "NUMPYVAE_GRADE_SUBMISSION"
BANDS_FILE = Path(__file__).resolve().parents[1] / "scripts" / "results_bands.json"
INSTRUCTOR = Path(__file__).resolve().parent / "instructor"   # not in a student copy
CONFIG, METRICS = "config.json", "metrics.jsonl"
NAMES = {"test_loss": "test negative ELBO", "test_recon": "test reconstruction",
         "test_kl": "test KL"}
# What a number outside its band suggests, by the side it falls on.
ADVICE = {
    ("test_loss", "high"): "the model fits worse than the reference does. A gradient that "
                           "is slightly wrong still trains, only worse: run `python -m numpyvae "
                           "gradcheck` and the graded tests of the model tasks, and see "
                           "whether the KL or the reconstruction is the part out of its band",
    ("test_loss", "low"): "a negative ELBO below the reference's is not a better model but a "
                          "term computed too small: check the KL's value, eq. (12), and the "
                          "reparameterization, eq. (9) (the noise is scaled by sigma, not "
                          "sigma^2)",
    ("test_kl", "high"): "the KL is pulled toward 0 too weakly, or its value is off: check "
                         "the KL, eq. (12), its gradient, eqs. (13)-(14) (the derivative of "
                         "log sigma^2 is 2/sigma), and dL/ds, eq. (7)",
    ("test_kl", "low"): "check the KL's value, eq. (12) (log sigma^2 = 2 log sigma), the "
                        "reparameterization, eq. (9) (the noise is scaled by sigma, not "
                        "sigma^2), and the KL's gradient, eqs. (13)-(14)",
    ("test_recon", "high"): "the model reconstructs worse than the reference: check the "
                            "Bernoulli gradient, eq. (18), the dense layer's backward, eqs. "
                            "(24)-(26), the activations', eqs. (27)-(34), and the "
                            "reparameterization's, eqs. (10)-(11)",
    ("test_recon", "low"): "the code carries more information than the reference's: a KL "
                           "gradient too weak, eqs. (13)-(14) (is the KL above its band?), "
                           "or noise scaled by sigma^2 instead of sigma, eq. (9)",
}


class RunRefused(Exception):
    """The run cannot be graded (missing, another configuration, unfinished): says why."""


class TrainedHereWarning(UserWarning):
    """No run was at hand, so the tests trained one in a temporary folder."""


def load_bands(path=BANDS_FILE):
    """scripts/results_bands.json: the set command and configuration, and the bands."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def find_run(bands=None, environ=None, cwd=None):
    """Where the run to grade is: ``(folder, required)``.

    Parameters
    ----------
    bands : dict, optional
        The document of scripts/results_bands.json (its ``run_folder``, by default
        results/trained-model).
    environ : mapping, optional
        The environment (default: os.environ).
    cwd : path, optional
        The current directory (default: Path.cwd()).

    Returns
    -------
    (Path or None, bool)
        With NUMPYVAE_GRADE_SUBMISSION set: the run folder inside it, which may not exist,
        and True (a missing run is the student's to fix). Unset: ``cwd/results/trained-model``
        and False if that folder exists, else ``(None, False)`` (no run at hand).
    """
    bands = bands if bands is not None else load_bands()
    environ = os.environ if environ is None else environ
    relative = Path(bands.get("run_folder", "results/trained-model"))
    submission = environ.get(SUBMISSION_VARIABLE)
    if submission:
        return Path(submission) / relative, True
    here = Path(cwd if cwd is not None else Path.cwd()) / relative
    return (here, False) if here.is_dir() else (None, False)


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as err:
        raise RunRefused(f"cannot read the run's {what} {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise RunRefused(f"the run's {what} {path} is not valid JSON ({err.msg}, line "
                         f"{err.lineno})") from None


def _read_metrics(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
    except OSError as err:
        raise RunRefused(f"cannot read the run's metrics {path}: {err.strerror}") from None
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise RunRefused(f"{path}, line {number}: not a JSON object; numpyvae train "
                             f"writes one per epoch") from None
        if not isinstance(record, dict):
            raise RunRefused(f"{path}, line {number}: not a JSON object")
        records.append(record)
    return records


def read_run(folder, bands):
    """The last epoch's record of a run that may be graded; RunRefused otherwise.

    Refused: a missing folder or file, a configuration (config.json) that differs from
    ``bands["config"]`` in any key but those of ``bands["ignored_keys"]`` (the seed, where
    the data was read from, the versions), and a metrics.jsonl that does not hold every epoch
    of the set number, each with finite test numbers.
    """
    command = bands["command"]
    folder = Path(folder)
    if not folder.is_dir():
        raise RunRefused(f"there is no run folder {folder}: train your model with `{command}` "
                         f"from the root of your copy and hand in the folder it writes")
    for name in (CONFIG, METRICS):
        if not (folder / name).is_file():
            raise RunRefused(f"the run folder {folder} has no {name}: it is not a finished run "
                             f"of `{command}`; train again into a new folder")
    config = _read_json(folder / CONFIG, "configuration")
    if not isinstance(config, dict):
        raise RunRefused(f"{folder / CONFIG} does not hold a run's configuration")
    ignored = set(bands.get("ignored_keys", ("seed",)))
    differences = []
    for key in sorted(set(bands["config"]) | set(config) - ignored):
        if key in ignored:
            continue
        if key not in config:
            differences.append(f"{key} is missing (the set value is {bands['config'][key]!r})")
        elif key not in bands["config"]:
            differences.append(f"{key} = {config[key]!r} is not a setting of the set command")
        elif config[key] != bands["config"][key]:
            differences.append(f"{key} = {config[key]!r} where the set value is "
                               f"{bands['config'][key]!r}")
    if differences:
        raise RunRefused(f"the run in {folder} was trained with another configuration than "
                         f"the set one: " + "; ".join(differences) + f". Only the seed may "
                         f"differ: train again with `{command}` (any --seed)")
    epochs = bands["config"]["epochs"]
    records = _read_metrics(folder / METRICS)
    done = [r.get("epoch") for r in records]
    if done != list(range(1, epochs + 1)):
        last = done[-1] if done else 0
        raise RunRefused(f"the run in {folder} was not trained for the set {epochs} epochs: "
                         f"metrics.jsonl holds epochs {done or 'none'}. "
                         + (f"Finish it with `python -m numpyvae train --resume {folder}`"
                            if isinstance(last, int) and last < epochs else
                            f"Train again with `{command}`"))
    last = records[-1]
    for key in NAMES:
        value = last.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise RunRefused(f"the last epoch of {folder / METRICS} has {key} = {value!r}; "
                             f"expected a finite number (a run that diverged cannot be "
                             f"graded: check every gradient with `python -m numpyvae "
                             f"gradcheck`)")
    return last


def train_set_command(bands, folder):
    """Run the set command into ``folder`` (in this process, without figures)."""
    from numpyvae.app.cli import main

    words = shlex.split(bands["command"])
    start = words.index("train")
    args, skip = [], False
    for word in words[start:]:
        if skip:
            skip = False
        elif word == "--out":
            skip = True
        else:
            args.append(word)
    status = main(args + ["--out", str(folder), "--quiet", "--no-figures"])
    if status != 0:
        raise RuntimeError(f"`{bands['command']}` exited with status {status}")


@pytest.fixture(scope="session")
def bands():
    return load_bands()


@pytest.fixture(scope="session")
def graded_run(bands, tmp_path_factory):
    """The last epoch of the run to grade, or the RunRefused that says why there is none."""
    folder, required = find_run(bands)
    if folder is None:
        folder = tmp_path_factory.mktemp("trained-model") / "run"
        try:
            train_set_command(bands, folder)
        except Exception as err:                       # a student copy with a task to write
            return RunRefused(f"there is no run in {Path.cwd() / bands['run_folder']}, and "
                              f"training one with `{bands['command']}` failed: "
                              f"{type(err).__name__}: {err}")
        if not INSTRUCTOR.is_dir():                    # a student copy: say what to hand in
            warnings.warn(TrainedHereWarning(
                f"no run in {Path.cwd() / bands['run_folder']}: the tests of task "
                f"'trained-model' trained one with your package in a temporary folder. To "
                f"hand in your run, train it with `{bands['command']}` from the root of your "
                f"copy."))
    elif required and not folder.is_dir():
        return RunRefused(f"the submission holds no run folder {bands['run_folder']}/: train "
                          f"your model with `{bands['command']}` from the root of your copy "
                          f"and hand in the folder it writes with the copy")
    try:
        return read_run(folder, bands)
    except RunRefused as refused:
        return refused


def check_band(record, bands, key):
    """Fail with the value, the band and what it suggests when ``record[key]`` is outside."""
    if isinstance(record, RunRefused):
        pytest.fail(f"the run cannot be graded: {record}", pytrace=False)
    band, value = bands["bands"][key], record[key]
    if band["low"] <= value <= band["high"]:
        return
    side = "high" if value > band["high"] else "low"
    pytest.fail(
        f"the {NAMES[key]} of the run's last epoch ({key} = {value:.2f} nats) is "
        f"{'above' if side == 'high' else 'below'} its band, {band['low']:.2f} to "
        f"{band['high']:.2f} (the reference's mean {band['mean']:.2f} +- "
        f"{bands.get('sd_multiple', 3):g} sd over {len(bands.get('seeds', []))} seeds): "
        f"{ADVICE[key, side]}.", pytrace=False)


pytestmark = pytest.mark.filterwarnings("always::test_trained_model.TrainedHereWarning")


@pytest.mark.points(2, task="trained-model")
def test_the_test_negative_elbo_is_in_its_band(graded_run, bands):
    check_band(graded_run, bands, "test_loss")


@pytest.mark.points(2, task="trained-model")
def test_the_test_kl_is_in_its_band(graded_run, bands):
    check_band(graded_run, bands, "test_kl")


@pytest.mark.points(1, task="trained-model")
def test_the_test_reconstruction_is_in_its_band(graded_run, bands):
    check_band(graded_run, bands, "test_recon")


# ---------------------------------------------------------------- the checks themselves


def _write_run(folder, config, records):
    folder.mkdir(parents=True)
    (folder / CONFIG).write_text(json.dumps(config), encoding="utf-8")
    (folder / METRICS).write_text("".join(json.dumps(r) + "\n" for r in records),
                                  encoding="utf-8")


def _good_run(bands, seed=7):
    config = {"numpyvae": "0.1.0", "numpy": "2.0", "data_dir": "/somewhere",
              **bands["config"], "seed": seed}
    records = [{"epoch": e, **{k: bands["bands"][k]["mean"] + 10 / e for k in NAMES}}
               for e in range(1, bands["config"]["epochs"] + 1)]
    records[-1].update({k: bands["bands"][k]["mean"] for k in NAMES})
    return config, records


def test_find_run_follows_the_environment(tmp_path, bands):
    run = tmp_path / "copy" / bands["run_folder"]
    assert find_run(bands, {SUBMISSION_VARIABLE: str(tmp_path / "copy")}) == (run, True)
    assert find_run(bands, {}, cwd=tmp_path / "copy") == (None, False)
    run.mkdir(parents=True)
    assert find_run(bands, {}, cwd=tmp_path / "copy") == (run, False)
    assert find_run(bands, {SUBMISSION_VARIABLE: ""}, cwd=tmp_path / "copy") == (run, False)


def test_a_run_of_the_set_command_with_any_seed_is_read(tmp_path, bands):
    config, records = _good_run(bands)
    _write_run(tmp_path / "run", config, records)
    assert read_run(tmp_path / "run", bands) == records[-1]


def _changes(config):
    """(changed settings, what the refusal says) for runs of another configuration."""
    other = "mnist" if config["dataset"] == "mnist-mini" else "mnist-mini"
    return [
        ({"lr": config["lr"] * 10}, f"lr = {config['lr'] * 10!r} where the set value is "
                                    f"{config['lr']!r}"),
        ({"beta": config["beta"] + 3, "z_dim": config["z_dim"] + 1},
         f"beta = {config['beta'] + 3!r} where the set value is {config['beta']!r}; "
         f"z_dim = {config['z_dim'] + 1!r} where the set value is {config['z_dim']!r}"),
        ({"epochs": config["epochs"] + 5}, f"epochs = {config['epochs'] + 5!r} where the set "
                                           f"value is {config['epochs']!r}"),
        ({"dataset": other}, f"dataset = {other!r} where the set value is "
                             f"{config['dataset']!r}"),
        ({"momentum": 0.9}, "momentum = 0.9 is not a setting of the set command"),
    ]


def test_another_configuration_is_refused(tmp_path, bands):
    config, records = _good_run(bands)
    for number, (change, expected) in enumerate(_changes(bands["config"])):
        _write_run(tmp_path / f"run{number}", {**config, **change}, records)
        with pytest.raises(RunRefused) as refused:
            read_run(tmp_path / f"run{number}", bands)
        assert ("another configuration than the set one: " + expected + ". Only the seed may "
                "differ: train again with `" + bands["command"] + "`") in str(refused.value)
    del config["likelihood"]
    _write_run(tmp_path / "missing", config, records)
    with pytest.raises(RunRefused, match="likelihood is missing"):
        read_run(tmp_path / "missing", bands)


def test_a_missing_or_unfinished_run_is_refused(tmp_path, bands):
    with pytest.raises(RunRefused, match=r"there is no run folder .* train your model with "
                                         r"`python -m numpyvae train"):
        read_run(tmp_path / "nothing", bands)
    config, records = _good_run(bands)
    epochs = bands["config"]["epochs"]
    _write_run(tmp_path / "short", config, records[:-1])
    with pytest.raises(RunRefused) as refused:
        read_run(tmp_path / "short", bands)
    assert (f"not trained for the set {epochs} epochs: metrics.jsonl holds epochs "
            f"{list(range(1, epochs))}. Finish it with `python -m numpyvae train --resume "
            f"{tmp_path / 'short'}`") in str(refused.value)
    records[-1]["test_kl"] = float("nan")                     # json writes it as NaN
    _write_run(tmp_path / "nan", config, records)
    with pytest.raises(RunRefused, match="has test_kl = nan; expected a finite number"):
        read_run(tmp_path / "nan", bands)
    (tmp_path / "no-config").mkdir()
    with pytest.raises(RunRefused, match="has no config.json"):
        read_run(tmp_path / "no-config", bands)


def test_a_number_outside_its_band_says_what_it_suggests(bands):
    band = bands["bands"]["test_kl"]
    with pytest.raises(pytest.fail.Exception, match=r"test KL of the run's last epoch "
                                                    r"\(test_kl = .*\) is above its band, .*"
                                                    r"check the KL, eq\. \(12\)"):
        check_band({"test_kl": band["high"] + 5}, bands, "test_kl")
    with pytest.raises(pytest.fail.Exception, match="the run cannot be graded: no run"):
        check_band(RunRefused("no run"), bands, "test_loss")

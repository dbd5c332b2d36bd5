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

Where tests/instructor/run_check.py is present (the autograder and this project's suite; not
a student copy), the numbers of metrics.jsonl are not taken on trust: before its band, each
test checks its number against what the run's ``checkpoint.npz`` gives, recomputed by
run_check from the checkpoint's parameters alone (:func:`recompute_run`, tolerance in
:func:`agreement_tolerance`), and fails, naming the number, when they disagree. A run
without its checkpoint, or whose checkpoint is of another configuration or epoch, is then
refused.

Where the run comes from (:func:`find_run`):

- NUMPYVAE_GRADE_SUBMISSION set (grading: the folder that holds the student's numpyvae/):
  ``$NUMPYVAE_GRADE_SUBMISSION/results/trained-model``, and nothing else; a missing run fails
  every test with the command to run;
- unset: ``./results/trained-model`` if it exists (a student checking their run from the root
  of their copy);
- otherwise the set command is run once per pytest run into a temporary folder, with the
  numpyvae that is imported: in this project's suite the reference, so that these tests are
  checked for real. That takes about 6 s on two cores (10 epochs of the 10,000 images of
  mnist-mini). In a student copy (which has no tests/instructor/) a warning says that such a
  run is not one that can be handed in.

In a student copy the numbers are read from the files, not recomputed: with a run at hand the
tests take milliseconds (the recomputation takes about a second, once per pytest run). The files
are parsed here, with json, and run_check reads the checkpoint with numpy, never with
numpyvae's own readers, because the package under test is the student's.
"""
import importlib.util
import json
import math
import os
import shlex
import shutil
import sys
import warnings
from pathlib import Path

import pytest

SUBMISSION_VARIABLE = "NUMPYVAE_GRADE_SUBMISSION"
BANDS_FILE = Path(__file__).resolve().parents[1] / "scripts" / "results_bands.json"
INSTRUCTOR = Path(__file__).resolve().parent / "instructor"   # not in a student copy
CONFIG, METRICS, CHECKPOINT = "config.json", "metrics.jsonl", "checkpoint.npz"
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


def _load_run_check():
    """tests/instructor/run_check.py, loaded from its file, or None where it is absent (a student
    copy). Loaded by path, so that no other module of that name can stand in for it."""
    path = INSTRUCTOR / "run_check.py"
    if not path.is_file():
        return None
    loaded = sys.modules.get("run_check")
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location("run_check", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_check"] = module
    spec.loader.exec_module(module)
    return module


RUN_CHECK = _load_run_check()

# Agreement of a reported number with what the run's checkpoint gives (only where RUN_CHECK is
# present). The KL has no noise: the run computed it in float32 from the same parameters and
# images, which moves it by about 2e-7 nats, so it must agree to ROUNDING_NATS = 1e-3, tight
# yet thousands of times the rounding. The reconstruction and the negative ELBO are Monte
# Carlo: the run took one noise draw per test image, run_check R = 16, independent of the
# run's. Both estimate the same expectation given the parameters, so their difference has mean
# 0 and standard deviation sqrt(sd1^2 + se^2): sd1 = sqrt(mean_i s_i^2 / N), the spread of a
# one-draw estimate, and se = sd1 / sqrt(R), the recomputation's standard error (s_i^2 is test
# image i's variance over the draws, N = 2,000; the KL is exact, so the ELBO's are the same).
# The difference is a mean over 2,000 independent images, Gaussian far into the tails (3,000
# one-draw estimates of a trained model: skewness 0.03, excess kurtosis -0.1, largest |z| 3.5,
# sd as predicted to 0.1%). At AGREEMENT_SDS = 5 an honest run fails with probability 6e-7
# per number. For the set command sd1 is about 0.12 and se 0.03 nats, so the tolerance is
# about 0.62 nats: a fifth of the reconstruction band's half-width (2.9), 0.3 of the ELBO's
# (2.1). An edit smaller than that passes and gains at most that much; a larger one fails.
AGREEMENT_SDS = 5
ROUNDING_NATS = 1e-3
# What computes each number in a run, for a disagreement that is not an edit.
COMPUTED_BY = {
    "test_kl": "the KL's value otherwise than eq. (12) of docs/derivation.md",
    "test_recon": "the reconstruction otherwise than eqs. (9) and (16) of docs/derivation.md "
                  "(the noise is scaled by sigma, not sigma^2)",
    "test_loss": "the negative ELBO otherwise than eqs. (2), (9), (12) and (16) of "
                 "docs/derivation.md",
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


def config_differences(config, bands):
    """How ``config`` differs from the set configuration, ignoring ``bands["ignored_keys"]``."""
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
    return differences


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
    differences = config_differences(config, bands)
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


def recompute_run(folder, bands):
    """The run's test numbers as its checkpoint gives them, by tests/instructor/run_check.py.

    Refused (RunRefused): a run folder without checkpoint.npz, a checkpoint that cannot be
    read, one whose model is not what its own configuration says, one trained with another
    configuration than the set one, and one of another epoch than the set last one.

    Returns
    -------
    dict ``test_kl``, ``test_recon``, ``test_loss`` -> run_check.Estimate
    """
    command, path = bands["command"], Path(folder) / CHECKPOINT
    if not path.is_file():
        raise RunRefused(f"the run folder {folder} has no {CHECKPOINT}: the grader takes the "
                         f"numbers of {METRICS} only once it has recomputed them from the model "
                         f"that {CHECKPOINT} holds. Hand in the folder `{command}` writes, whole")
    try:
        checkpoint = RUN_CHECK.read_checkpoint(path)
    except RUN_CHECK.CheckpointError as err:
        raise RunRefused(f"the run's checkpoint cannot be used: {err}. Train again with "
                         f"`{command}`") from None
    differences = config_differences(checkpoint["meta"]["config"], bands)
    if differences:
        raise RunRefused(f"the model in {path} was trained with another configuration than "
                         f"the set one: " + "; ".join(differences) + f". Train again with "
                         f"`{command}` (any --seed) and hand in the folder it writes")
    epochs = bands["config"]["epochs"]
    position = checkpoint["meta"].get("position")
    position = position if isinstance(position, dict) else {}
    if (position.get("epoch"), position.get("batch")) != (epochs, 0):
        raise RunRefused(f"{path} holds the model at epoch {position.get('epoch')!r}, batch "
                         f"{position.get('batch')!r}, not after the set {epochs} epochs whose "
                         f"numbers {METRICS} reports: hand in the checkpoint and the metrics "
                         f"of one run of `{command}`, as it writes them")
    try:
        images = RUN_CHECK.load_test_images(checkpoint["meta"]["config"])
        return RUN_CHECK.recompute(checkpoint, images)
    except RUN_CHECK.Unsupported as err:
        raise RunRefused(f"the grader cannot recompute this run's numbers: {err} (for a run "
                         f"of `{command}` the course's grader needs extending: tell your "
                         f"instructor)") from None
    except RUN_CHECK.CheckpointError as err:
        raise RunRefused(f"the run's checkpoint cannot be used: {err}. Train again with "
                         f"`{command}`") from None


def agreement_tolerance(estimate):
    """How far a reported number may be from run_check's ``estimate`` (see AGREEMENT_SDS)."""
    return AGREEMENT_SDS * math.hypot(estimate.mc_stderr, estimate.one_draw_sd) + ROUNDING_NATS


def check_agreement(record, recomputed, key, bands):
    """Fail, naming the number, when ``record[key]`` is not what the run's checkpoint gives."""
    estimate, reported = recomputed[key], record[key]
    tolerance = agreement_tolerance(estimate)
    if abs(reported - estimate.value) <= tolerance:
        return
    if estimate.draws:
        how = (f"+- {estimate.mc_stderr:.2f}, a mean over {estimate.draws} noise draws per "
               f"test image; a run's own number, one draw per image, varies by "
               f"{estimate.one_draw_sd:.2f} around it and lies within {tolerance:.2f} nats of "
               f"it, {AGREEMENT_SDS:g} standard deviations")
    else:
        how = (f"in closed form, with no noise; a run's own number lies within {tolerance:g} "
               f"nats of it")
    pytest.fail(
        f"the {NAMES[key]} is not what the run's model gives: {METRICS} says {key} = "
        f"{reported:.4f}, the run's checkpoint gives {estimate.value:.4f} ({how}). The numbers "
        f"graded must be those of the model handed in: either {METRICS} was edited, or the "
        f"run's code computes {COMPUTED_BY[key]}. Train again with `{bands['command']}` and "
        f"hand in the folder it writes, as it is.", pytrace=False)


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
def run_folder(bands, tmp_path_factory):
    """The folder of the run to grade, or the RunRefused that says why there is none."""
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
    return folder


@pytest.fixture(scope="session")
def graded_run(run_folder, bands):
    """The last epoch of the run to grade, or the RunRefused that says why there is none."""
    if isinstance(run_folder, RunRefused):
        return run_folder
    try:
        return read_run(run_folder, bands)
    except RunRefused as refused:
        return refused


@pytest.fixture(scope="session")
def checkpoint_numbers(run_folder, graded_run, bands):
    """What the run's checkpoint gives (:func:`recompute_run`), or the RunRefused that says why
    it cannot; None in a student copy (no run_check) and for a run refused already."""
    if RUN_CHECK is None or isinstance(graded_run, RunRefused):
        return None
    try:
        return recompute_run(run_folder, bands)
    except RunRefused as refused:
        return refused


def check_band(record, bands, key, recomputed=None):
    """Fail with the value, the band and what it suggests when ``record[key]`` is outside.

    With ``recomputed`` (what the run's checkpoint gives, where run_check is present), first
    fail when ``record[key]`` disagrees with it, or with the reason the run was refused.
    """
    for refused in (record, recomputed):
        if isinstance(refused, RunRefused):
            pytest.fail(f"the run cannot be graded: {refused}", pytrace=False)
    if recomputed is not None:
        check_agreement(record, recomputed, key, bands)
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
def test_the_test_negative_elbo_is_in_its_band(graded_run, checkpoint_numbers, bands):
    check_band(graded_run, bands, "test_loss", checkpoint_numbers)


@pytest.mark.points(2, task="trained-model")
def test_the_test_kl_is_in_its_band(graded_run, checkpoint_numbers, bands):
    check_band(graded_run, bands, "test_kl", checkpoint_numbers)


@pytest.mark.points(1, task="trained-model")
def test_the_test_reconstruction_is_in_its_band(graded_run, checkpoint_numbers, bands):
    check_band(graded_run, bands, "test_recon", checkpoint_numbers)


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


# ---------------------------------------------------------------- the numbers against the checkpoint
# Where run_check is present (the autograder, this project), on the real run the tests train.

needs_run_check = pytest.mark.skipif(
    RUN_CHECK is None, reason="the check against the checkpoint is the autograder's "
                              "(tests/instructor/run_check.py, not in a student copy)")


def _copy_run(run_folder, graded_run, into, names=(CONFIG, METRICS, CHECKPOINT)):
    """A copy of the real run's files ``names`` in ``into``, to edit."""
    assert not isinstance(graded_run, RunRefused), f"no run to check: {graded_run}"
    into.mkdir(parents=True)
    for name in names:
        shutil.copy2(Path(run_folder) / name, into / name)
    return into


def _edit_last_epoch(folder, **changes):
    records = [json.loads(line) for line in (folder / METRICS).read_text().splitlines()]
    records[-1].update(changes)
    (folder / METRICS).write_text("".join(json.dumps(r) + "\n" for r in records))


def _rewrite_checkpoint(path, change):
    """Rewrite the checkpoint at ``path`` with ``change(document)`` applied to its meta.json."""
    import numpy as np

    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    document = json.loads(arrays["meta.json"].tobytes().decode("utf-8"))
    change(document)
    arrays["meta.json"] = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@needs_run_check
def test_an_honest_run_agrees_with_its_checkpoint(graded_run, checkpoint_numbers, bands):
    assert not isinstance(graded_run, RunRefused), graded_run
    assert not isinstance(checkpoint_numbers, RunRefused), checkpoint_numbers
    for key in NAMES:
        check_agreement(graded_run, checkpoint_numbers, key, bands)
        check_band(graded_run, bands, key, checkpoint_numbers)
    assert agreement_tolerance(checkpoint_numbers["test_kl"]) == ROUNDING_NATS
    for key in ("test_recon", "test_loss"):
        band = bands["bands"][key]
        assert 0.2 < agreement_tolerance(checkpoint_numbers[key]) < (band["high"] -
                                                                     band["low"]) / 4


@needs_run_check
def test_an_edited_metrics_file_is_caught(tmp_path, run_folder, graded_run, bands):
    folder = _copy_run(run_folder, graded_run, tmp_path / "run")
    recomputed = recompute_run(folder, bands)            # as the graded tests do, on the copy
    true = graded_run
    edits = [{key: true[key] + sign * 2 * agreement_tolerance(recomputed[key])}
             for key in NAMES for sign in (-1, 1)]
    # The edit that pays: every number moved to the middle of its band.
    means = {key: bands["bands"][key]["mean"] for key in NAMES
             if abs(bands["bands"][key]["mean"] - true[key]) > agreement_tolerance(
                 recomputed[key])}
    edits.append(means)
    for edit in edits:
        _edit_last_epoch(folder, **{**{k: true[k] for k in NAMES}, **edit})
        record = read_run(folder, bands)                 # the files alone: it passes
        for key in NAMES:
            if key not in edit:
                check_band(record, bands, key, recomputed)
                continue
            if bands["bands"][key]["low"] <= edit[key] <= bands["bands"][key]["high"]:
                check_band(record, bands, key)           # the band alone is fooled
            with pytest.raises(pytest.fail.Exception) as failed:
                check_band(record, bands, key, recomputed)
            message = str(failed.value)
            assert (f"{METRICS} says {key} = {edit[key]:.4f}, the run's checkpoint gives "
                    f"{recomputed[key].value:.4f}") in message, message
            assert f"the {NAMES[key]} is not what the run's model gives" in message


@needs_run_check
def test_the_grader_refuses_a_run_without_its_checkpoint_or_with_another(tmp_path, run_folder,
                                                                         graded_run, bands):
    folder = _copy_run(run_folder, graded_run, tmp_path / "bare", names=(CONFIG, METRICS))
    record = read_run(folder, bands)                     # the files alone would be read
    with pytest.raises(RunRefused, match=f"has no {CHECKPOINT}: the grader takes the numbers "
                                         f"of {METRICS} only once it has recomputed them"):
        recompute_run(folder, bands)
    with pytest.raises(pytest.fail.Exception, match="the run cannot be graded: no checkpoint"):
        check_band(record, bands, "test_kl", RunRefused("no checkpoint"))

    epochs, hidden = bands["config"]["epochs"], bands["config"]["hidden"]

    def more_epochs(document):
        document["meta"]["config"]["epochs"] = epochs + 2
        document["meta"]["position"]["epoch"] = epochs + 2

    def stopped_early(document):
        document["meta"]["position"].update(epoch=epochs - 1, batch=40)

    def forged_model(document):
        document["model"]["hidden"] = [2 * h for h in hidden]

    cases = [(more_epochs, f"trained with another configuration than the set one: epochs = "
                           f"{epochs + 2} where the set value is {epochs}"),
             (stopped_early, f"holds the model at epoch {epochs - 1}, batch 40, not after the "
                             f"set {epochs} epochs"),
             (forged_model, f"the model it holds is not the one its own run configuration "
                            f"describes: hidden = {[2 * h for h in hidden]!r} in the model, "
                            f"{hidden!r} in the run's")]
    for number, (change, expected) in enumerate(cases):
        folder = _copy_run(run_folder, graded_run, tmp_path / f"changed{number}")
        _rewrite_checkpoint(folder / CHECKPOINT, change)
        with pytest.raises(RunRefused) as refused:
            recompute_run(folder, bands)
        assert expected in str(refused.value)

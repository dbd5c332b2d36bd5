"""scripts/step_anatomy.py: the anatomy of a training step and the ablation of its speed devices.

No test here asserts that one thing is faster than another: on a shared machine that is
noise. They check that the script runs, that its parts account for the step, that its clocks
and the switched-off devices change no number, that device d's fresh processes alternate,
run with and without OPENBLAS_THREAD_TIMEOUT and train the same parameters, and that bad
arguments are refused clearly.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import numpyvae.dense
from numpyvae.datasets import load_dataset
from numpyvae.engine import threads

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import step_anatomy as sa  # noqa: E402

SMALL = sa.Config(hidden=(16,), z_dim=2, batch_size=32)
SMALL_FLAGS = ["--hidden", "16", "--z-dim", "2", "--batch-size", "32"]


@pytest.fixture(scope="module")
def train_x():
    return load_dataset("mnist-mini").train_x[:640]


@pytest.fixture
def split_small_vectors(monkeypatch):
    """The optimizer's step split over the cores even for SMALL's 26k parameters."""
    monkeypatch.setattr(threads, "FORCE", True)
    monkeypatch.setattr(threads, "MIN_CHUNK", 1024)


def _steps_in_blocks(runs, blocks, size):
    for _ in range(blocks):
        for run in runs:
            run.block(size)


# ---------------------------------------------------------------------- the script

def test_the_default_configuration_is_the_pytorch_examples_vae():
    args = sa.parse_args([])
    assert sa.config_from(args) == sa.Config()
    assert args.dataset == "mnist-mini" and args.measure == ["anatomy", "ablation"]
    assert sa.Config().describe(784) == ("784-400-20 relu Bernoulli, Adam lr 0.001, "
                                         "batch 128, r = 1, seed 0")


def test_the_script_prints_both_tables_and_writes_json(tmp_path, capsys):
    out_file = tmp_path / "anatomy.json"
    results = sa.main(["--steps", "4", "--pairs", "1", "--block", "2", *SMALL_FLAGS,
                       "--json", str(out_file)])
    out = capsys.readouterr().out
    assert "784-16-2 relu Bernoulli, Adam lr 0.001, batch 32, r = 1" in out
    for part in sa.PARTS:
        assert part in out
    assert "Dense layers: products and their bias terms" in out
    assert "all dense layers:" in out and "the rest:" in out
    for device in sa.DEVICES:
        assert f"{device.key}. {device.name}" in out and device.lives_in in out
    saved = json.loads(out_file.read_text())
    assert saved["config"]["hidden"] == [16] and saved["config"]["dataset"] == "mnist-mini"
    assert [p["part"] for p in saved["anatomy"]["parts"]] == list(sa.PARTS)
    assert [row["device"] for row in saved["ablation"]] == ["-", "a", "b", "c"]
    assert all(row["same_parameters"] for row in saved["ablation"])
    assert saved["anatomy"]["same_parameters"]
    assert results["anatomy"]["steps"] == 4


def test_only_what_measure_asks_for_is_run(capsys):
    results = sa.main(["--measure", "anatomy", "--steps", "2", "--block", "1",
                       "--hidden", "8", "--z-dim", "2"])
    assert "anatomy" in results and "ablation" not in results and "openblas" not in results
    assert "What makes it fast" not in capsys.readouterr().out


# ---------------------------------------------------------------------- the anatomy

def test_the_parts_add_up_to_the_step(train_x):
    run = sa.Run(sa.make_trainer(SMALL, train_x))
    recorder = sa.Recorder(run.trainer)
    run.train(8, recorder.record)
    assert len(recorder.records) == 8
    for record in recorder.records:
        assert set(record["parts"]) <= set(sa.PARTS)
        assert sum(record["parts"].values()) == pytest.approx(record["step"], rel=1e-9)
        assert record["step"] <= record["trainer"]     # the trainer's clock brackets ours
        assert sum(record["dense"].values()) <= record["step"]
    steps = sum(r["step"] for r in recorder.records)
    assert steps >= 0.5 * sum(r["trainer"] for r in recorder.records)
    summary = sa.summarize_anatomy(recorder.records, recorder.layers)
    assert 0.5 * summary["step_ms"] < summary["sum_of_medians_ms"] < 1.5 * summary["step_ms"]
    assert sum(p["mean_ms"] for p in summary["parts"]) == pytest.approx(
        summary["mean_step_ms"], rel=1e-9)


def test_the_dense_calls_and_their_flops_are_those_of_the_layers(train_x):
    config = sa.Config(hidden=(16, 8), z_dim=2, batch_size=32, samples=3)
    run = sa.Run(sa.make_trainer(config, train_x))
    recorder = sa.Recorder(run.trainer)
    run.train(1, recorder.record)
    B, r = 32, 3
    # (rows, inputs, outputs, backward products): the encoder's first layer is asked for no
    # dL/dx, so its backward counts x^T dy only.
    layers = {"enc.h1": (B, 784, 16, 1), "enc.h2": (B, 16, 8, 2), "enc.mu": (B, 8, 2, 2),
              "enc.log_var": (B, 8, 2, 2), "dec.h1": (r * B, 2, 8, 2),
              "dec.h2": (r * B, 8, 16, 2), "dec.logits": (r * B, 16, 784, 2)}
    (record,) = recorder.records
    assert recorder.layers == list(layers)
    assert set(record["dense"]) == set(record["flops"]) == {
        (name, p) for name in layers for p in sa.PASSES}
    for name, (rows, n_in, n_out, backward) in layers.items():
        assert record["flops"][(name, "forward")] == 2 * rows * n_in * n_out
        assert record["flops"][(name, "backward")] == backward * 2 * rows * n_in * n_out
    dense = sa.summarize_anatomy(recorder.records, recorder.layers)["dense"]
    assert [row["layer"] for row in dense["layers"]] == list(layers)
    assert dense["gflop_per_step"] == pytest.approx(sum(record["flops"].values()) / 1e9)


DENSE_FORWARD, DENSE_BACKWARD = numpyvae.dense.dense_forward, numpyvae.dense.dense_backward


def _dense_backward_with_dx_always(dy, cache, input_grad=True):
    return DENSE_BACKWARD(dy, cache, True)            # dx even when not wanted


def _dense_backward_on_copies(dy, cache, input_grad=True):
    x, W = cache
    return DENSE_BACKWARD(1.0 * dy, (x.copy(), W.copy()), input_grad)


def _dense_forward_with_dot(x, W, b):
    return np.dot(x, W) + b, (x, W)


@pytest.mark.parametrize("forward, backward", [
    (_dense_forward_with_dot, _dense_backward_with_dx_always),
    (DENSE_FORWARD, _dense_backward_on_copies)])
def test_any_correct_dense_functions_are_timed(train_x, monkeypatch, forward, backward):
    """The clocks time the layers' calls whole, so any dense_forward or dense_backward (the
    backward is a student task), however it is written and whatever it calls, is timed all
    the same: here other functions that copy their inputs, use np.dot, or return dx when it
    is not wanted."""
    monkeypatch.setattr(numpyvae.dense, "dense_forward", forward)
    monkeypatch.setattr(numpyvae.dense, "dense_backward", backward)
    timed, plain = sa.Run(sa.make_trainer(SMALL, train_x)), sa.Run(sa.make_trainer(SMALL, train_x))
    recorder = sa.Recorder(timed.trainer)
    timed.train(3, recorder.record)
    plain.train(3)
    assert np.array_equal(timed.parameters, plain.parameters)
    for record in recorder.records:
        assert sum(record["parts"].values()) == pytest.approx(record["step"], rel=1e-9)
        assert len(record["dense"]) == 2 * len(recorder.layers)
        assert 0 < sum(record["dense"].values()) <= record["step"]


def test_the_clocks_change_no_number(train_x):
    timed, plain = sa.Run(sa.make_trainer(SMALL, train_x)), sa.Run(sa.make_trainer(SMALL, train_x))
    recorder = sa.Recorder(timed.trainer)
    timed.train(25, recorder.discard)           # across an epoch's end (20 batches)
    plain.train(25)
    assert timed.steps == plain.steps == 25
    assert np.array_equal(timed.parameters, plain.parameters)


def test_measure_anatomy_reports_the_clocks_cost_and_the_same_parameters(train_x):
    anatomy = sa.measure_anatomy(SMALL, train_x, steps=5, block=2, warmup=1)
    assert anatomy["steps"] == 5 and anatomy["same_parameters"]
    assert anatomy["instrumented_over_plain"]["pairs"] == 3      # blocks of 2, 2 and 1
    assert anatomy["dense"]["gflop_per_step"] > 0
    lines = sa.format_anatomy(anatomy)
    assert any(line.startswith("the step") for line in lines)


# ---------------------------------------------------------------------- the devices

def test_a_the_optimizer_on_one_core_trains_the_same_numbers(train_x, monkeypatch,
                                                              split_small_vectors):
    calls = []
    run = threads.run
    step = threads.elementwise             # the optimizer's step goes through it

    def counted(function, arrays):
        monkeypatch.setattr(threads, "run", lambda tasks: (calls.append(len(tasks)), run(tasks)))
        try:
            step(function, arrays)
        finally:
            monkeypatch.setattr(threads, "run", run)

    monkeypatch.setattr(threads, "elementwise", counted)
    default, variant = sa._default(SMALL, train_x), sa.DEVICES[0].switch_off(SMALL, train_x)
    variant.block(2)
    assert calls and set(calls) == {1}                    # one core: one task per update
    calls.clear()
    default.block(2)
    assert threads._cores() == 1 or max(calls) > 1        # both cores, where there are two
    _steps_in_blocks([variant, default], 2, 2)
    assert threads.FORCE is True                          # restored after each block
    assert np.array_equal(default.parameters, variant.parameters)


def test_b_the_first_layer_computing_dx_trains_the_same_numbers(train_x):
    default, variant = sa._default(SMALL, train_x), sa.DEVICES[1].switch_off(SMALL, train_x)
    recorder = sa.Recorder(variant.trainer)
    variant.train(1, recorder.record)
    (record,) = recorder.records                          # dy W^T: the product it saves
    assert record["flops"][("enc.h1", "backward")] == 2 * record["flops"][("enc.h1", "forward")]
    default.train(1)
    _steps_in_blocks([variant, default], 3, 4)
    assert np.array_equal(default.parameters, variant.parameters)


def test_c_adam_over_the_named_arrays_trains_the_same_numbers(train_x, split_small_vectors):
    default, variant = sa._default(SMALL, train_x), sa.DEVICES[2].switch_off(SMALL, train_x)
    assert list(variant.trainer.optimizer.inner.params) == list(
        variant.trainer.model.parameters())
    assert list(default.trainer.optimizer.params) == ["theta"]
    _steps_in_blocks([variant, default], 3, 2)
    assert variant.trainer.optimizer.t == default.trainer.optimizer.t == 6
    assert np.array_equal(default.parameters, variant.parameters)


def test_compare_device_reports_a_ratio_and_the_same_parameters(train_x, monkeypatch):
    monkeypatch.setattr(sa, "WARMUP_PAIRS", 0)
    row = sa.compare_device(sa.DEVICES[1], SMALL, train_x, pairs=2, block=2)
    assert row["device"] == "b" and row["pairs"] == 2 and row["steps"] == 4
    assert row["ratio_low"] <= row["ratio"] <= row["ratio_high"] and row["same_parameters"]
    assert row["student_sees"] == "argument"


def test_d_fresh_processes_with_and_without_the_variable_train_the_same_numbers(
        tmp_path, monkeypatch, capsys):
    """Four real processes of a tiny network: two rounds, one process per setting each."""
    monkeypatch.setattr(sa, "PAUSE_SECONDS", 0.0)
    out_file = tmp_path / "openblas.json"
    sa.main(["--measure", "openblas", "--dataset", "mnist-mini", "--hidden", "8", "--z-dim",
             "2", "--batch-size", "16", "--openblas-rounds", "2", "--openblas-warmup", "2",
             "--openblas-steps", "3", "--json", str(out_file)])
    row = json.loads(out_file.read_text())["openblas"]
    with_it, without_it = row["with_process"], row["without_process"]
    assert with_it["timeout"] == "19" and with_it["short_timeout"]
    assert without_it["timeout"] is None and not without_it["short_timeout"]
    assert not without_it["threads"]              # the optimizer's threads switch off too
    assert row["device"] == "d" and row["rounds"] == 2 and len(row["round_ratios"]) == 2
    assert row["same_parameters"] and len(row["checksums"]) == 1 and row["steps"] == 5
    out = capsys.readouterr().out
    assert "OPENBLAS_THREAD_TIMEOUT: fresh processes, 2 rounds" in out
    assert "d. OPENBLAS_THREAD_TIMEOUT=19 (fresh processes)" in out
    assert "ms per step, median (min-max) over the rounds: with" in out
    assert "same parameters in all 4 processes after 5 steps: yes" in out
    assert "What makes it fast" not in out and "Where a step's time goes" not in out


def test_d_alternates_which_setting_goes_first_and_reports_medians(monkeypatch):
    """The rounds' order and numbers, with stand-ins for the processes."""
    monkeypatch.setattr(sa, "PAUSE_SECONDS", 0.0)
    log, seconds = [], {"without": iter([3.0, 6.0, 4.0]), "with": iter([2.0, 2.0, 4.0])}

    def fake_process(args, env):
        setting = "with" if sa.openblas.VARIABLE in env else "without"
        log.append(setting)
        return {"seconds": next(seconds[setting]), "steps": 7, "timeout": None,
                "threads": False, "short_timeout": False,
                "checksum": "b" if len(log) == 6 else "a"}

    monkeypatch.setattr(sa, "fresh_process", fake_process)
    row = sa.measure_openblas(sa.parse_args(["--measure", "openblas",
                                             "--openblas-rounds", "3"]))
    assert log == ["without", "with", "with", "without", "without", "with"]
    assert row["without_ms"] == pytest.approx(4000) and row["with_ms"] == pytest.approx(2000)
    assert row["ratio"] == pytest.approx(2.0) and row["round_ratios"] == [1.5, 3.0, 1.0]
    assert row["median_round_ratio"] == 1.5
    assert row["without_range_ms"] == [3000, 6000] and row["with_range_ms"] == [2000, 4000]
    assert not row["same_parameters"] and row["checksums"] == ["a", "b"]
    lines = sa.format_openblas(row)
    assert "same parameters in all 6 processes after 7 steps: NO (checksums a, b)" in lines[-1]


# ---------------------------------------------------------------------- the statistics

def test_take_turns_alternates_which_goes_first():
    log = []

    def block(name, seconds):
        return lambda: (log.append(name), seconds)[1]

    times, ratios = sa.take_turns((block("a", 2.0), block("b", 1.0)), pairs=4, warmup=1)
    assert log == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    assert times == ([2.0] * 4, [1.0] * 4) and ratios == [2.0] * 4


def test_the_median_interval_brackets_the_median():
    values = list(range(100, 0, -1))
    low, high = sa.median_interval(values)
    assert 38 <= low < 50.5 < high <= 62
    assert sa.median_interval([3.0]) == (3.0, 3.0)


# ---------------------------------------------------------------------- arguments

@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "argument --steps: expected an integer >= 1, got 0"),
    (["--pairs", "many"], "argument --pairs: expected an integer >= 1, got 'many'"),
    (["--hidden", "400", "0"], "argument --hidden: expected an integer >= 1, got 0"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
    (["--activation", "swish"], "argument --activation: invalid choice: 'swish'"),
    (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
    (["--measure", "everything"], "argument --measure: invalid choice: 'everything'"),
    (["--dataset", "mnist-mini", "--data-dir", "/tmp"],
     "argument --data-dir: is read only with --dataset mnist"),
    (["--json", "/no/such/folder/out.json"], "argument --json: expected a file in an existing"),
])
def test_bad_arguments_are_refused_by_name(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sa.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_mnist_files_are_named_not_downloaded(tmp_path):
    with pytest.raises(SystemExit, match=r"--dataset mnist: .*"):
        sa.main(["--data-dir", str(tmp_path), "--measure", "anatomy"])

"""scripts/benchmark.py: its way of taking turns with PyTorch, its flags and its sweep.

Everything here runs without PyTorch; tests/test_torch_reference.py has the PyTorch side.
"""
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from numpyvae.optim import make_optimizer
from numpyvae.train import Trainer
from numpyvae.vae import VAE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import benchmark  # noqa: E402


def _trainer(x):
    model = VAE(x.shape[1], 2, hidden=(5,), seed=3)
    optimizer = make_optimizer("adam", {"theta": model.flat_parameters}, lr=1e-2)
    return model, Trainer(model, optimizer, x, batch_size=4, seed=7)


def test_an_epoch_in_parts_trains_exactly_as_the_whole_epoch():
    x = (np.random.default_rng(0).random((38, 6)) < 0.4).astype(np.float32)  # 10 batches
    whole, whole_trainer = _trainer(x)
    parts, parts_trainer = _trainer(x)
    for epoch in range(2):
        whole_trainer.train_epoch(epoch)
        yields = list(benchmark.epoch_in_parts(parts_trainer, epoch, 3))
        assert len(yields) == 4                              # 3 + 3 + 3 + 1 batches
    assert not parts_trainer.stop_requested
    assert np.array_equal(whole.flat_parameters, parts.flat_parameters)
    assert parts_trainer.optimizer.t == whole_trainer.optimizer.t == 20


def test_interleaved_epoch_takes_turns_part_by_part():
    log = []

    def parts(name, n):
        for i in range(n):
            log.append(f"{name}{i}")
            yield

    seconds = benchmark.interleaved_epoch(parts("a", 3), parts("b", 2), a_first=False)
    # b goes first, then the order alternates at every turn; a runs on alone at the end.
    assert log == ["b0", "a0", "a1", "b1", "a2"]
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)


def test_interleaved_epoch_pauses_untimed_only_where_the_turn_passes(monkeypatch):
    log = []
    monkeypatch.setattr(benchmark.time, "sleep", lambda s: log.append(f"pause {s}"))

    def parts(name, n):
        for i in range(n):
            log.append(f"{name}{i}")
            yield

    seconds = benchmark.interleaved_epoch(parts("a", 3), parts("b", 2), a_first=True,
                                          pause=0.25)
    # b's and then a's end are found by asking each for one more part, after a switch too;
    # those pauses are untimed like the others.
    assert log == ["a0", "pause 0.25", "b0", "b1", "pause 0.25", "a1", "a2", "pause 0.25",
                   "pause 0.25"]
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)


def test_step_flops_counts_every_layer_of_a_multilayer_network():
    model = VAE(6, 2, hidden=(5, 4), seed=0)
    B, r = 3, 2
    encoder = 2 * 2 * B * 6 * 5 + 3 * 2 * B * 5 * 4 + 2 * (3 * 2 * B * 4 * 2)  # h1, h2, heads
    decoder = 3 * 2 * (r * B) * (2 * 4 + 4 * 5 + 5 * 6)                         # h1, h2, logits
    assert benchmark.step_flops(model, B, r) == encoder + decoder


def _parse(argv):
    return benchmark.parse_args(benchmark.build_parser(), argv)


def test_without_configuration_flags_the_configuration_is_the_pytorch_examples_vae():
    args = _parse([])
    assert benchmark.configuration(args) == benchmark.Configuration(
        hidden=(400,), activation="relu", z_dim=20, samples=1, batch_size=128, lr=1e-3,
        likelihood="bernoulli")
    assert args.epochs == benchmark.DEFAULT_EPOCHS and not args.sweep


def test_the_configuration_flags_choose_the_network_and_its_training():
    args = _parse(["--hidden", "500", "300", "--activation", "tanh", "--z-dim", "2",
                   "--samples", "5", "--batch-size", "32", "--lr", "3e-4", "--epochs", "2"])
    assert benchmark.configuration(args) == benchmark.Configuration(
        hidden=(500, 300), activation="tanh", z_dim=2, samples=5, batch_size=32, lr=3e-4)
    assert args.epochs == 2


@pytest.mark.parametrize("argv, message", [
    (["--z-dim", "0"], "argument --z-dim: expected an integer >= 1, got 0"),
    (["--hidden", "400", "x"], "argument --hidden: expected an integer >= 1, got 'x'"),
    (["--samples", "-1"], "argument --samples: expected an integer >= 1, got -1"),
    (["--lr", "0"], "argument --lr: expected a finite number > 0, got 0"),
    (["--activation", "gelu"], "argument --activation: invalid choice: 'gelu'"),
    (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got 0"),
    (["--batches-per-part", "-1"], "--batches-per-part must be >= 0; got -1"),
    (["--sweep", "--hidden", "500", "--z-dim", "2"],
     "--sweep runs its own five configurations (a)-(e), so it takes no flag of the "
     "configuration; got --hidden, --z-dim"),
])
def test_a_bad_flag_is_refused_with_what_was_expected(argv, message, capsys):
    with pytest.raises(SystemExit):
        _parse(argv)
    assert message in capsys.readouterr().err


def test_the_sweep_has_fewer_epochs_by_default_and_takes_epochs_per_configuration():
    assert _parse(["--sweep"]).epochs == benchmark.SWEEP_EPOCHS < benchmark.DEFAULT_EPOCHS
    assert _parse(["--sweep", "--epochs", "10"]).epochs == 10
    assert "--sweep" in benchmark.build_parser().format_help()


def test_the_sweep_is_the_five_configurations_of_the_issue_with_their_targets():
    C = benchmark.Configuration
    examples = C(hidden=(400,), activation="relu", z_dim=20, samples=1, batch_size=128,
                 lr=1e-3, likelihood="bernoulli")
    expected = [("a", examples, 0.85),
                ("b", C(hidden=(500, 500), activation="tanh", batch_size=100), 1.0),
                ("c", C(samples=5), 1.0), ("d", C(batch_size=32), 1.0), ("e", C(z_dim=2), 1.0)]
    assert [tuple(entry) for entry in benchmark.SWEEP] == expected
    assert [entry.configuration.label() for entry in benchmark.SWEEP] == [
        "784-400-20 relu, r = 1, batch 128", "784-500-500-20 tanh, r = 1, batch 100",
        "784-400-20 relu, r = 5, batch 128", "784-400-20 relu, r = 1, batch 32",
        "784-400-2 relu, r = 1, batch 128"]


def test_the_sweep_table_shows_each_ratio_against_its_target():
    entries = benchmark.SWEEP[:3]
    results = [{"numpyvae_median_seconds": 2.0, "pytorch_median_seconds": 2.5, "ratio": 0.8},
               {"numpyvae_median_seconds": 4.0, "pytorch_median_seconds": 3.6, "ratio": 1.11},
               {"numpyvae_median_seconds": 7.0}]                        # timed without PyTorch
    lines = benchmark.sweep_table(entries, results).splitlines()
    assert lines[0].split() == ["configuration", "numpyvae", "pytorch", "ratio", "target",
                                "met"]
    assert lines[1].startswith("(a) 784-400-20 relu, r = 1, batch 128")
    assert lines[1].split()[-8:] == ["2.00", "s", "2.50", "s", "0.800", "<=", "0.85", "yes"]
    assert lines[2].split()[-8:] == ["4.00", "s", "3.60", "s", "1.110", "<=", "1.00", "no"]
    assert lines[3].split()[-7:] == ["7.00", "s", "-", "-", "<=", "1.00", "-"]


def _tiny_mnist(monkeypatch, n=96):
    """A dataset of n random 28x28 images in place of MNIST, and a fixed machine GFLOP/s."""
    rng = np.random.default_rng(0)
    data = SimpleNamespace(train_x=rng.random((n, 784), dtype=np.float32),
                           test_x=rng.random((n // 2, 784), dtype=np.float32))
    monkeypatch.setattr(benchmark, "load_dataset", lambda *args, **kwargs: data)
    monkeypatch.setattr(benchmark, "machine_gflops", lambda: 100.0)
    return data


def test_one_multilayer_configuration_is_timed_with_the_flags_given(monkeypatch, tmp_path,
                                                                      capsys):
    _tiny_mnist(monkeypatch)
    out = tmp_path / "results.json"
    results = benchmark.main(["--hidden", "12", "8", "--activation", "elu", "--z-dim", "3",
                              "--samples", "2", "--batch-size", "32", "--epochs", "2",
                              "--no-torch", "--no-memory", "--json", str(out)])
    assert results["configuration"] == {"hidden": (12, 8), "activation": "elu", "z_dim": 3,
                                        "samples": 2, "batch_size": 32, "lr": 1e-3,
                                        "likelihood": "bernoulli"}
    assert len(results["numpyvae_epoch_seconds"]) == 2 and "ratio" not in results
    assert json.loads(out.read_text())["configuration"]["hidden"] == [12, 8]
    text = capsys.readouterr().out
    assert "hidden=(12, 8)" in text and "r = 2, batch 32" in text


def test_the_sweep_runs_each_configuration_and_prints_the_table(monkeypatch, tmp_path, capsys):
    _tiny_mnist(monkeypatch)
    out = tmp_path / "sweep.json"
    results = benchmark.main(["--sweep", "--epochs", "1", "--no-torch", "--json", str(out)])
    written = json.loads(out.read_text())
    assert written["epochs"] == 1 and len(written["sweep"]) == 5
    for entry, result in zip(benchmark.SWEEP, written["sweep"]):
        assert result["name"] == entry.name and result["target"] == entry.target
        assert result["configuration"]["hidden"] == list(entry.configuration.hidden)
        assert result["configuration"]["samples"] == entry.configuration.samples
        assert len(result["numpyvae_epoch_seconds"]) == 1
        assert result["target_met"] is None                  # no PyTorch, no ratio
    assert [r["name"] for r in results["sweep"]] == ["a", "b", "c", "d", "e"]
    text = capsys.readouterr().out
    table = text[text.index("configuration  "):]
    assert all(f"({name}) " in table for name in "abcde")
    assert "peak memory" not in text


def test_a_decoder_the_pytorch_reference_lacks_is_refused_unless_numpyvae_runs_alone(
        monkeypatch, capsys):
    monkeypatch.setattr(benchmark.torch_reference, "available", lambda: True)
    monkeypatch.setattr(benchmark.torch_reference, "LIKELIHOODS", ("bernoulli",))
    with pytest.raises(SystemExit):
        benchmark.main(["--likelihood", "gaussian", "--no-memory"])
    assert ("--likelihood gaussian: the PyTorch reference has only bernoulli; add --no-torch"
            in capsys.readouterr().err)


def test_peak_memory_trains_the_configuration_with_the_numpyvae_command(monkeypatch):
    commands = []
    run = benchmark.subprocess.run

    def recorded(command, **kwargs):
        commands.append(command)
        return run(command, **kwargs)

    monkeypatch.setattr(benchmark.subprocess, "run", recorded)
    config = benchmark.Configuration(hidden=(8, 6), activation="tanh", z_dim=2, samples=2,
                                     batch_size=500)
    assert benchmark.peak_memory_mb(config, "mnist-mini") > 10
    argv = " ".join(commands[0][3:])
    assert ("train --dataset mnist-mini --epochs 1" in argv and "--hidden 8 6 --z-dim 2 "
            "--activation tanh --likelihood bernoulli --batch-size 500 --samples 2" in argv)

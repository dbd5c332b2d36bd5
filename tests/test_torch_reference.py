"""scripts/torch_reference.py: the PyTorch twin of numpyvae's model that benchmark.py times.

The first tests need no PyTorch: the configuration's checks, and the layer sizes against
numpyvae's own parameters. The others build the network in PyTorch and are skipped where
PyTorch is not installed (it never is in numpyvae's own environment); run them with an
environment that has it, e.g. /tmp/torchenv/bin/python -m pytest tests/test_torch_reference.py.
Their oracle is numpyvae: the same weights and noise must give the same loss.
"""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from numpyvae.activations import ACTIVATIONS
from numpyvae.vae import VAE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import torch_reference  # noqa: E402

needs_torch = pytest.mark.skipif(not torch_reference.available(),
                                 reason="PyTorch is not installed in this environment; the "
                                        "PyTorch reference cannot be built without it")


# ---------------------------------------------------------------- without PyTorch

def test_the_reference_has_every_activation_of_numpyvae():
    assert sorted(torch_reference.ACTIVATIONS) == sorted(ACTIVATIONS)


@pytest.mark.parametrize("hidden, z_dim", [((400,), 20), ((500, 500), 20), ((300, 200, 100), 2),
                                           ((), 5)])
def test_the_layers_are_numpyvaes_encoder_in_order_and_decoder_reversed(hidden, z_dim):
    params = VAE(784, z_dim, hidden=hidden).parameters()
    numpyvae_layers = {name[:-2].replace(".", "_"): W.shape
                       for name, W in params.items() if name.endswith(".W")}
    assert torch_reference.layer_sizes(hidden, z_dim) == numpyvae_layers
    assert list(torch_reference.layer_sizes(hidden, z_dim)) == list(numpyvae_layers)


def test_the_defaults_are_the_pytorch_examples_vae():
    assert torch_reference.check_config() == {
        "hidden": (400,), "z_dim": 20, "activation": "relu", "likelihood": "bernoulli",
        "samples": 1, "batch_size": 128, "lr": 1e-3, "seed": 0}
    assert torch_reference.check_config(hidden=500)["hidden"] == (500,)
    assert torch_reference.check_config(hidden=[np.int64(5), 4])["hidden"] == (5, 4)


@pytest.mark.parametrize("kwargs, message", [
    ({"hidden": "400"}, "hidden must be a layer size or a sequence of layer sizes (integers "
                        ">= 1); got '400'"),
    ({"hidden": (400, 0)}, "hidden must hold layer sizes, integers >= 1; got 0 in (400, 0)"),
    ({"hidden": (400, 2.5)}, "hidden must hold layer sizes, integers >= 1; got 2.5 in "
                              "(400, 2.5)"),
    ({"z_dim": 0}, "z_dim must be an integer >= 1; got 0"),
    ({"activation": "gelu"}, "activation must be one of ['identity', 'relu', 'leaky_relu', "
                             "'elu', 'tanh', 'sigmoid', 'softplus']; got 'gelu'"),
    ({"likelihood": "gaussian"}, "likelihood must be one of ['bernoulli'] (the decoders the "
                                 "PyTorch reference has); got 'gaussian'"),
    ({"samples": True}, "samples must be an integer >= 1; got True"),
    ({"batch_size": 1.5}, "batch_size must be an integer >= 1; got 1.5"),
    ({"lr": float("inf")}, "lr must be a finite number > 0; got inf"),
    ({"lr": "0.001"}, "lr must be a finite number > 0; got '0.001'"),
    ({"seed": -1}, "seed must be an integer >= 0; got -1"),
])
def test_a_bad_argument_is_named_with_what_was_expected_and_what_came(kwargs, message):
    with pytest.raises(ValueError) as err:
        torch_reference.check_config(**kwargs)
    assert str(err.value) == message


def test_make_trainer_checks_its_arguments_before_it_asks_for_torch(monkeypatch):
    monkeypatch.setattr(torch_reference, "torch", None)
    with pytest.raises(ValueError, match="activation must be one of"):
        torch_reference.make_trainer(activation="swish")
    with pytest.raises(ValueError, match="threads must be an integer >= 1; got 0"):
        torch_reference.make_trainer(threads=0)
    with pytest.raises(ImportError, match="needs PyTorch"):
        torch_reference.make_trainer(hidden=(500, 500), activation="tanh")


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "500", "0"], "argument --hidden: expected an integer >= 1, got 0"),
    (["--z-dim", "two"], "argument --z-dim: expected an integer >= 1, got 'two'"),
    (["--lr", "-1"], "argument --lr: expected a finite number > 0, got -1"),
    (["--activation", "gelu"], "argument --activation: invalid choice: 'gelu'"),
    (["--likelihood", "gaussian"], "argument --likelihood: invalid choice: 'gaussian'"),
    (["--seed", "-1"], "seed must be an integer >= 0; got -1"),
])
def test_the_command_line_refuses_a_bad_flag_by_name(argv, message, capsys):
    with pytest.raises(SystemExit):
        torch_reference.main(argv)
    assert message in capsys.readouterr().err


def test_the_command_line_takes_the_configuration():
    args = torch_reference.build_parser().parse_args(
        ["--hidden", "500", "500", "--activation", "tanh", "--z-dim", "2", "--samples", "5",
         "--batch-size", "100", "--lr", "3e-4"])
    assert (args.hidden, args.activation, args.z_dim, args.samples, args.batch_size,
            args.lr) == ([500, 500], "tanh", 2, 5, 100, 3e-4)


# ---------------------------------------------------------------- with PyTorch

def _with_numpyvae_weights(trainer, model):
    """Copy numpyvae's parameters into the PyTorch layers (W is (n_in, n_out) in numpyvae,
    (n_out, n_in) in torch), in float64."""
    import torch
    trainer.layers.double()
    with torch.no_grad():
        for name, value in model.parameters().items():
            layer, part = name.rsplit(".", 1)
            target = trainer.layers[layer.replace(".", "_")]
            if part == "W":
                target.weight.copy_(torch.from_numpy(value.T.copy()))
            else:
                target.bias.copy_(torch.from_numpy(value))


@needs_torch
@pytest.mark.parametrize("hidden, activation, z_dim, samples", [
    ((40,), "relu", 20, 1),            # (a), smaller
    ((50, 50), "tanh", 20, 1),         # (b), smaller
    ((40,), "relu", 20, 5),            # (c)
    ((40,), "relu", 2, 1),             # (e)
    ((30, 20, 10), "elu", 3, 2),
] + [((16,), name, 4, 3) for name in torch_reference.ACTIVATIONS])
def test_the_pytorch_loss_is_numpyvaes_for_the_same_weights_and_noise(hidden, activation,
                                                                       z_dim, samples):
    import torch
    rng = np.random.default_rng(1)
    x = rng.random((7, 784))
    v = rng.standard_normal((samples, 7, z_dim))
    model = VAE(784, z_dim, hidden=hidden, activation=activation, dtype=np.float64, seed=3)
    trainer = torch_reference.make_trainer(hidden=hidden, z_dim=z_dim, activation=activation,
                                           samples=samples)
    _with_numpyvae_weights(trainer, model)
    theirs = trainer.negative_elbo(torch.from_numpy(x), torch.from_numpy(v)).item()
    ours = model.elbo_terms(x, v)["loss"].sum()          # eq. (2) per example, summed
    assert theirs == pytest.approx(ours, rel=1e-10)


@needs_torch
def test_r_noise_draws_average_the_reconstruction_terms():
    import torch
    trainer = torch_reference.make_trainer(hidden=(20,), samples=3)
    x = torch.rand(5, 784)
    eps = torch.randn(1, 5, 20)
    one = trainer.negative_elbo(x, eps)
    three_alike = trainer.negative_elbo(x, eps.expand(3, 5, 20))    # 1/r sum of equal terms
    assert three_alike.item() == pytest.approx(one.item(), rel=1e-6)


@needs_torch
def test_the_initialization_is_numpyvaes_distribution():
    trainer = torch_reference.make_trainer(hidden=(500, 300), z_dim=20)
    for name, (fan_in, fan_out) in torch_reference.layer_sizes((500, 300), 20).items():
        bound = 1 / np.sqrt(fan_in)
        for values in (trainer.layers[name].weight, trainer.layers[name].bias):
            values = values.detach().numpy()
            assert np.abs(values).max() <= bound
        weight = trainer.layers[name].weight.detach().numpy()
        assert weight.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)   # U(-b, b)


@needs_torch
def test_a_multilayer_network_with_several_draws_trains_in_parts():
    rng = np.random.default_rng(0)
    x = (rng.random((64, 784)) < 0.2).astype(np.float32)
    trainer = torch_reference.make_trainer(hidden=(32, 16), activation="tanh", z_dim=2,
                                           samples=5, batch_size=10, lr=1e-2)
    before = trainer.evaluate(x)
    parts = list(trainer.epoch_in_parts(x, batches_per_part=3))       # 7 batches: 3 + 3 + 1
    assert len(parts) == 3 and parts[0] < parts[1] < parts[2]        # running sums / N
    for _ in range(3):
        trainer.train_epoch(x)
    assert trainer.evaluate(x) < before - 50


def _tiny_mnist(monkeypatch, benchmark, n=150):
    rng = np.random.default_rng(0)
    data = SimpleNamespace(train_x=rng.random((n, 784), dtype=np.float32),
                           test_x=rng.random((n // 3, 784), dtype=np.float32))
    monkeypatch.setattr(benchmark, "load_dataset", lambda *args, **kwargs: data)
    monkeypatch.setattr(benchmark, "machine_gflops", lambda: 100.0)


@needs_torch
def test_the_benchmark_runs_the_pytorch_reference_beside_numpyvae_in_every_sweep_entry(
        monkeypatch, capsys):
    import benchmark
    _tiny_mnist(monkeypatch, benchmark)
    results = benchmark.main(["--sweep", "--epochs", "1", "--batches-per-part", "1"])
    for entry, result in zip(benchmark.SWEEP, results["sweep"]):
        assert result["ratio"] > 0 and np.isfinite(result["pytorch_test_loss"])
        assert result["target_met"] == (result["ratio"] <= entry.target)
    table = capsys.readouterr().out.split("configuration  ")[-1]
    assert table.count(" s ") >= 10 and table.count("<= ") == 5

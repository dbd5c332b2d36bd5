"""scripts/torch_reference.py: the PyTorch twin of numpyvae's model that benchmark.py times.

The first tests need no PyTorch: the configuration's checks, the layer sizes against
numpyvae's own parameters, bits per dimension, Burda et al.'s schedule, and the dequantized and
binarized test sets. The others build the network in PyTorch and are skipped where PyTorch is
not installed (it never is in numpyvae's own environment); run them with an environment that
has it, e.g. /tmp/torchenv/bin/python -m pytest tests/test_torch_reference.py. Their oracles
are numpyvae (the same weights and noise must give the same loss, log-weights and active
units) and, for the Gaussian decoders and the IWAE bound, the network, eq. (19), the KL and
the Gaussian log-densities written out in numpy in this file.
"""
import inspect
import json
import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from numpyvae import likelihoods
from numpyvae.activations import ACTIVATIONS
from numpyvae.datasets import grey_levels, load_dataset
from numpyvae.evaluate import bits_per_dimension, log_weights
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


def test_the_reference_has_every_likelihood_of_numpyvae_with_its_heads():
    assert sorted(torch_reference.LIKELIHOODS) == sorted(likelihoods.LIKELIHOODS)
    for name, likelihood in torch_reference.LIKELIHOODS.items():
        params = VAE(784, 3, hidden=(6, 5), likelihood=name).parameters()
        numpyvae_layers = {key[:-2].replace(".", "_"): W.shape
                           for key, W in params.items() if key.endswith(".W")}
        assert torch_reference.layer_sizes((6, 5), 3, likelihood.heads) == numpyvae_layers
        others = [key for key in params if not key.endswith((".W", ".b"))]
        assert others == (["dec.sigma_x.t"] if name == "gaussian-shared" else [])
        assert likelihood.sigma_x == (None if name == "bernoulli" else
                                      likelihoods.make_likelihood(name).sigma_kind)


def test_the_gaussian_defaults_are_numpyvaes():
    vae_defaults = inspect.signature(VAE).parameters
    assert torch_reference.DEFAULT_SIGMA_X_FLOOR == vae_defaults["sigma_x_floor"].default
    assert torch_reference.DEFAULT_MEAN_ACTIVATION == likelihoods.DEFAULT_MEAN_ACTIVATION
    for name in ("gaussian", "gaussian-shared", "gaussian-fixed"):
        ours = torch_reference.check_config(likelihood=name)
        model = VAE(784, 20, likelihood=name).config
        for option in ("mean_activation", "sigma_x", "sigma_x_floor"):
            if ours[option] is not None:
                assert ours[option] == model[option], (name, option)
    assert torch_reference.check_config(likelihood="gaussian-fixed")["sigma_x"] == \
        likelihoods.DEFAULT_SIGMA_X


def test_the_defaults_are_the_pytorch_examples_vae():
    assert torch_reference.check_config() == {
        "hidden": (400,), "z_dim": 20, "activation": "relu", "likelihood": "bernoulli",
        "mean_activation": None, "sigma_x": None, "sigma_x_floor": None, "dequantize": False,
        "binarize": "none", "objective": "elbo", "samples": 1, "batch_size": 128,
        "reduction": "sum", "lr": 1e-3, "adam_eps": 1e-8, "seed": 0}
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
    ({"likelihood": "poisson"}, "likelihood must be one of ['bernoulli', 'gaussian', "
                                "'gaussian-shared', 'gaussian-fixed'] (the decoders the PyTorch "
                                "reference has); got 'poisson'"),
    ({"mean_activation": "sigmoid"}, "mean_activation applies to the Gaussian likelihoods only; "
                                     "got mean_activation='sigmoid' with likelihood 'bernoulli'"),
    ({"likelihood": "gaussian", "mean_activation": "tanh"},
     "mean_activation must be one of ['identity', 'sigmoid']; got 'tanh'"),
    ({"likelihood": "gaussian", "sigma_x": 0.5},
     "sigma_x applies to 'gaussian-fixed' only; got sigma_x=0.5 with likelihood 'gaussian'"),
    ({"likelihood": "gaussian-fixed", "sigma_x": 0}, "sigma_x must be a finite number > 0; got 0"),
    ({"likelihood": "gaussian-fixed", "sigma_x_floor": 0.1},
     "sigma_x_floor applies to 'gaussian' and 'gaussian-shared' only; got sigma_x_floor=0.1 "
     "with likelihood 'gaussian-fixed'"),
    ({"likelihood": "gaussian-shared", "sigma_x_floor": -1e-3},
     "sigma_x_floor must be a finite number > 0; got -0.001"),
    ({"dequantize": "yes"}, "dequantize must be True or False; got 'yes'"),
    ({"dequantize": True}, "dequantize makes continuous data for a Gaussian decoder; got "
                           "dequantize=True with likelihood 'bernoulli'"),
    ({"samples": True}, "samples must be an integer >= 1; got True"),
    ({"batch_size": 1.5}, "batch_size must be an integer >= 1; got 1.5"),
    ({"lr": float("inf")}, "lr must be a finite number > 0; got inf"),
    ({"lr": "0.001"}, "lr must be a finite number > 0; got '0.001'"),
    ({"seed": -1}, "seed must be an integer >= 0; got -1"),
    ({"objective": "vae"}, "objective must be one of ['elbo', 'iwae']; got 'vae'"),
    ({"binarize": "static"}, "binarize must be one of ['none', 'dynamic']; got 'static'"),
    ({"likelihood": "gaussian", "dequantize": True, "binarize": "dynamic"},
     "dequantize and binarize='dynamic' exclude each other: binary pixels have no grey levels "
     "to spread over their cells"),
    ({"reduction": "avg"}, "reduction must be one of ['sum', 'mean']; got 'avg'"),
    ({"adam_eps": 0.0}, "adam_eps must be a finite number > 0; got 0.0"),
    ({"adam_eps": None}, "adam_eps must be a finite number > 0; got None"),
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
    (["--likelihood", "poisson"], "argument --likelihood: invalid choice: 'poisson'"),
    (["--mean-activation", "tanh"], "argument --mean-activation: invalid choice: 'tanh'"),
    (["--sigma-x", "0"], "argument --sigma-x: expected a finite number > 0, got 0"),
    (["--sigma-x-floor", "nan"], "argument --sigma-x-floor: expected a finite number > 0, got nan"),
    (["--iw-samples", "-1"], "argument --iw-samples: expected an integer >= 0, got -1"),
    (["--iw-limit", "0"], "argument --iw-limit: expected an integer >= 1, got 0"),
    (["--dataset", "cifar10"], "argument --dataset: invalid choice: 'cifar10'"),
    (["--likelihood", "gaussian", "--sigma-x", "0.2"],
     "sigma_x applies to 'gaussian-fixed' only; got sigma_x=0.2 with likelihood 'gaussian'"),
    (["--seed", "-1"], "seed must be an integer >= 0; got -1"),
    (["--objective", "vae"], "argument --objective: invalid choice: 'vae'"),
    (["--binarize", "static"], "argument --binarize: invalid choice: 'static'"),
    (["--reduction", "avg"], "argument --reduction: invalid choice: 'avg'"),
    (["--adam-eps", "0"], "argument --adam-eps: expected a finite number > 0, got 0"),
    (["--stages", "1..3"], "argument --stages: expected 0..N with N from 0 to 7, the stages "
                           "i = 0..N of Burda et al.'s schedule from its start; got '1..3'"),
    (["--stages", "0..8"], "argument --stages: expected 0..N with N from 0 to 7"),
    (["--stages", "3"], "argument --stages: expected 0..N with N from 0 to 7"),
    (["--stages", "0..3", "--epochs", "5"],
     "--stages 0..3 sets the epochs and the learning rates (Burda et al.'s schedule, 40 "
     "epochs); leave out --epochs, got --epochs 5"),
    (["--stages", "0..1", "--lr", "3e-4"],
     "--stages 0..1 sets the epochs and the learning rates (Burda et al.'s schedule, 4 "
     "epochs); leave out --lr, got --lr 0.0003"),
    (["--likelihood", "gaussian", "--dequantize", "--binarize", "dynamic"],
     "dequantize and binarize='dynamic' exclude each other"),
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
    assert (args.dataset, args.likelihood, args.dequantize, args.iw_samples, args.json) == \
        ("mnist", "bernoulli", False, None, None)
    args = torch_reference.build_parser().parse_args(
        ["--dataset", "fashion-mnist", "--likelihood", "gaussian-fixed", "--sigma-x", "0.2",
         "--mean-activation", "identity", "--dequantize", "--iw-samples", "100",
         "--iw-limit", "50"])
    assert (args.dataset, args.likelihood, args.sigma_x, args.mean_activation, args.dequantize,
            args.iw_samples, args.iw_limit) == ("fashion-mnist", "gaussian-fixed", 0.2,
                                                "identity", True, 100, 50)
    assert (args.objective, args.binarize, args.reduction, args.adam_eps, args.stages,
            args.epochs) == ("elbo", "none", "sum", 1e-8, None, None)
    args = torch_reference.build_parser().parse_args(
        ["--objective", "iwae", "--binarize", "dynamic", "--reduction", "mean", "--adam-eps",
         "1e-4", "--stages", "0..3"])
    assert (args.objective, args.binarize, args.reduction, args.adam_eps, args.stages) == \
        ("iwae", "dynamic", "mean", 1e-4, 3)


# ---------------------------------------------------------------- Burda et al.'s schedule

def test_the_schedule_has_3_to_the_i_epochs_at_a_rate_falling_tenfold_over_seven_stages():
    assert torch_reference.schedule(0) == [(0, 1e-3)]
    plan = torch_reference.schedule(3)
    assert len(plan) == 40 == torch_reference.epochs_after(3)
    assert [stage for stage, _ in plan] == [0] + [1] * 3 + [2] * 9 + [3] * 27
    for stage, lr in plan:
        assert lr == pytest.approx(1e-3 * 10 ** (-stage / 7), rel=1e-15)
    full = torch_reference.schedule(7)
    assert len(full) == 3280 and full[-1] == (7, pytest.approx(1e-4, rel=1e-12))
    assert [torch_reference.epochs_after(i) for i in range(8)] == \
        [1, 4, 13, 40, 121, 364, 1093, 3280]


def test_the_schedule_is_the_one_reproduce_iwae_gives_numpyvae():
    import reproduce_iwae
    for i in range(reproduce_iwae.STAGES):
        assert torch_reference.stage_lr(i) == reproduce_iwae.stage_lr(i)
        assert torch_reference.epochs_after(i) == reproduce_iwae.epochs_after(i)
    assert torch_reference.SCHEDULE_STAGES == reproduce_iwae.STAGES
    assert reproduce_iwae.PAPER["adam_eps"] == 1e-4 and reproduce_iwae.PAPER["batch_size"] == 20


@pytest.mark.parametrize("call, message", [
    (lambda: torch_reference.schedule(8), "last_stage must be a stage of Burda et al.'s "
                                          "schedule, an integer from 0 to 7; got 8"),
    (lambda: torch_reference.schedule(-1), "last_stage must be a stage of Burda et al.'s "
                                           "schedule, an integer from 0 to 7; got -1"),
    (lambda: torch_reference.stage_lr(1.0), "stage must be a stage of Burda et al.'s "
                                            "schedule, an integer from 0 to 7; got 1.0"),
    (lambda: torch_reference.epochs_after(True), "stage must be a stage of Burda et al.'s "
                                                 "schedule, an integer from 0 to 7; got True"),
])
def test_the_schedule_refuses_a_stage_it_does_not_have(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_the_data_folder_follows_the_dataset():
    for name in ("mnist", "fashion-mnist"):
        folder = Path(torch_reference.default_data_dir(name)).resolve()
        assert folder == Path(__file__).resolve().parents[2] / "shared" / "data" / name


def test_a_folder_without_the_files_is_named_in_the_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch_reference, "available", lambda: True)
    with pytest.raises(SystemExit) as err:
        torch_reference.main(["--dataset", "fashion-mnist", "--data-dir", str(tmp_path)])
    assert str(err.value).startswith(f"fashion-mnist: Fashion-MNIST files missing from "
                                     f"{tmp_path}: train-images-idx3-ubyte")


# ---------------------------------------------------------------- bits per dimension

def test_bits_per_dimension_count_the_256_levels_of_a_pixel():
    # A uniform density on [0, 1)^D is 0 nats: 8 bits for each pixel's 256 values.
    assert torch_reference.bits_per_dimension(0.0) == pytest.approx(8.0, rel=1e-15)
    # Density 256^D on [0, 1)^D (all mass in one cell of each pixel): 0 bits.
    assert torch_reference.bits_per_dimension(-784 * math.log(256)) == pytest.approx(0, abs=1e-12)
    # N(0.5, 0.1^2) per pixel, at its mean: -log N = 1/2 log 2 pi + log 0.1 nats per pixel.
    nats = 784 * (0.5 * math.log(2 * math.pi) + math.log(0.1))
    per_pixel_bits = (0.5 * math.log(2 * math.pi) + math.log(0.1) + math.log(256)) / math.log(2)
    assert torch_reference.bits_per_dimension(nats) == pytest.approx(per_pixel_bits, rel=1e-12)
    assert torch_reference.bits_per_dimension(4.0, x_dim=2) == pytest.approx(
        (4 + 2 * math.log(256)) / (2 * math.log(2)), rel=1e-15)
    for nats in (-2500.0, -1234.5, 0.0, 310.0):                  # numpyvae's eq. (48)
        assert torch_reference.bits_per_dimension(nats) == pytest.approx(
            bits_per_dimension(nats, 784), rel=1e-14)


@pytest.mark.parametrize("kwargs, message", [
    ({"nats": float("nan")}, "nats must be a finite number; got nan"),
    ({"nats": "12"}, "nats must be a finite number; got '12'"),
    ({"nats": 1.0, "x_dim": 0}, "x_dim must be an integer >= 1; got 0"),
])
def test_bits_per_dimension_refuses_a_bad_argument(kwargs, message):
    with pytest.raises(ValueError) as err:
        torch_reference.bits_per_dimension(**kwargs)
    assert str(err.value) == message


# ---------------------------------------------------------------- the data

def test_the_dequantized_test_set_is_numpyvaes_for_the_same_seed():
    for seed in (0, 3):
        data = load_dataset("fashion-mini", dequantize=True, seed=seed)
        ours = torch_reference.dequantized_test_set(data.test_pixels, seed)
        assert ours.dtype == np.float32 and np.array_equal(ours, data.test_x)
        assert np.array_equal(np.floor(ours * 256), data.test_pixels)
    assert not np.array_equal(torch_reference.dequantized_test_set(data.test_pixels, 0),
                              torch_reference.dequantized_test_set(data.test_pixels, 3))


def test_the_binarized_test_set_is_the_one_numpyvae_trains_against():
    from numpyvae.app.run import load_data, resolve_config
    from numpyvae.datasets import binarize_dynamic
    data = load_dataset("mnist-mini")
    for seed in (0, 4):
        _, theirs, per_batch, _ = load_data(resolve_config(
            {"dataset": "mnist-mini", "binarize": "dynamic", "seed": seed}))
        ours = torch_reference.binarized_test_set(data.test_x, seed)
        assert ours.dtype == np.float32 and np.array_equal(ours, theirs)
        assert set(np.unique(ours)) == {0.0, 1.0}
        assert per_batch is binarize_dynamic        # the reference draws its batches with it


FASHION = Path(torch_reference.default_data_dir("fashion-mnist"))
MNIST = Path(torch_reference.default_data_dir("mnist"))


@pytest.mark.skipif(not FASHION.is_dir(), reason=f"no Fashion-MNIST copy at {FASHION}")
def test_fashion_mnist_is_read_from_its_folder_as_numpyvae_reads_it():
    pixels, test_x = torch_reference.load_images("fashion-mnist", FASHION, True, seed=1)
    data = load_dataset("fashion-mnist", data_dir=FASHION.parent, download=False,
                        progress=False, dequantize=True, seed=1)
    assert pixels.shape == (60000, 784) and test_x.shape == (10000, 784)
    assert np.array_equal(pixels, data.train_pixels) and np.array_equal(test_x, data.test_x)


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST copy at {MNIST}")
def test_binarized_mnist_is_read_as_numpyvae_trains_on_it():
    from numpyvae.app.run import load_data, resolve_config
    train, test_x = torch_reference.load_images("mnist", MNIST, binarize="dynamic", seed=2)
    data, theirs, _, _ = load_data(resolve_config(
        {"dataset": "mnist", "data_dir": os.fspath(MNIST), "binarize": "dynamic",
         "seed": 2}))
    assert train.shape == (60000, 784) and np.array_equal(train, data.train_x)
    assert test_x.shape == (10000, 784) and np.array_equal(test_x, theirs)
    with pytest.raises(ValueError, match="dequantize and binarize='dynamic' exclude"):
        torch_reference.load_images("mnist", MNIST, True, binarize="dynamic")


# ---------------------------------------------------------------- with PyTorch

def _with_numpyvae_weights(trainer, model):
    """Copy numpyvae's parameters into the PyTorch layers (W is (n_in, n_out) in numpyvae,
    (n_out, n_in) in torch; gaussian-shared's dec.sigma_x.t is layers["dec_sigma_x"]["t"]), in
    float64."""
    import torch
    trainer.layers.double()
    with torch.no_grad():
        for name, value in model.parameters().items():
            layer, part = name.rsplit(".", 1)
            target = trainer.layers[layer.replace(".", "_")]
            if part == "t":                                       # gaussian-shared's sigma_x
                target["t"].copy_(torch.from_numpy(value))
            elif part == "W":
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


GAUSSIANS = [("gaussian", "sigmoid"), ("gaussian", "identity"), ("gaussian-shared", "sigmoid"),
             ("gaussian-shared", "identity"), ("gaussian-fixed", "sigmoid"),
             ("gaussian-fixed", "identity")]


@needs_torch
@pytest.mark.parametrize("likelihood, mean_activation", GAUSSIANS)
def test_a_gaussian_loss_is_numpyvaes_for_the_same_weights_and_noise(likelihood,
                                                                       mean_activation):
    import torch
    rng = np.random.default_rng(2)
    x = rng.random((6, 784))
    v = rng.standard_normal((2, 6, 3))
    options = {"mean_activation": mean_activation}
    if likelihood == "gaussian-fixed":
        options["sigma_x"] = 0.3
    else:
        options["sigma_x_floor"] = 0.05
    model = VAE(784, 3, hidden=(12, 7), likelihood=likelihood, activation="tanh",
                dtype=np.float64, seed=4, **options)
    if likelihood == "gaussian-shared":
        model.parameters()["dec.sigma_x.t"][...] = -0.7      # away from its start
    trainer = torch_reference.make_trainer(hidden=(12, 7), z_dim=3, activation="tanh",
                                           samples=2, likelihood=likelihood, **options)
    _with_numpyvae_weights(trainer, model)
    theirs = trainer.negative_elbo(torch.from_numpy(x), torch.from_numpy(v)).item()
    ours = model.elbo_terms(x, v)["loss"].sum()
    assert theirs == pytest.approx(ours, rel=1e-10)


def _numpy_network(trainer, x, eps):
    """The trainer's relu network with one hidden layer, written out in numpy in float64:
    mu, log sigma^2, z = mu + sigma eps, and -log P(x|z) of each sample and example (r, B),
    the cross-entropy for Bernoulli, eq. (16), and eq. (19) for a Gaussian decoder."""
    p = {name: value.detach().double().numpy() for name, value in
         trainer.layers.named_parameters()}

    def dense(name, h):
        return h @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    c = trainer.config
    h = np.maximum(dense("enc_h1", x), 0)
    mu, log_var = dense("enc_mu", h), dense("enc_log_var", h)
    z = mu + np.exp(log_var / 2) * eps                                       # (r, B, K)
    h = np.maximum(dense("dec_h1", z), 0)
    if c["likelihood"] == "bernoulli":
        logits = dense("dec_logits", h)
        return mu, log_var, z, np.sum(np.logaddexp(0, logits) - x * logits, axis=-1)
    mean = dense("dec_mean", h)
    if c["mean_activation"] == "sigmoid":
        mean = 1 / (1 + np.exp(-mean))
    if c["likelihood"] == "gaussian":
        sigma = c["sigma_x_floor"] + np.log1p(np.exp(dense("dec_sigma", h)))
    elif c["likelihood"] == "gaussian-shared":
        sigma = c["sigma_x_floor"] + np.log1p(np.exp(p["dec_sigma_x.t"]))
    else:
        sigma = c["sigma_x"]
    nll = np.sum(0.5 * np.log(2 * np.pi) + np.log(sigma) + (x - mean) ** 2 / (2 * sigma ** 2)
                 + np.zeros_like(mean), axis=-1)                            # (r, B), eq. (19)
    return mu, log_var, z, nll


def _numpy_negative_elbo(trainer, x, eps):
    """eq. (2) summed over the batch, from the trainer's weights, written out in numpy: the
    network of _numpy_network and the closed-form KL."""
    mu, log_var, _, nll = _numpy_network(trainer, x, eps)
    kl = 0.5 * np.sum(mu ** 2 + np.exp(log_var) - 1 - log_var, axis=-1)      # (B,)
    return np.sum(nll.mean(axis=0) + kl)

@needs_torch
@pytest.mark.parametrize("likelihood, mean_activation", GAUSSIANS)
def test_a_trained_gaussian_decoder_has_the_loss_of_eq_19_and_the_kl(likelihood,
                                                                    mean_activation):
    import torch
    rng = np.random.default_rng(5)
    x = rng.random((40, 784)).astype(np.float32)
    trainer = torch_reference.make_trainer(hidden=(10,), z_dim=2, samples=2, batch_size=8,
                                           lr=3e-2, likelihood=likelihood,
                                           mean_activation=mean_activation)
    before = {name: value.detach().clone() for name, value in
              trainer.layers.named_parameters()}
    trainer.train_epoch(x)                                  # 5 batches: off the start
    after = dict(trainer.layers.named_parameters())
    assert all(not torch.equal(before[name], after[name]) for name in before)
    trainer.layers.double()
    x, eps = rng.random((5, 784)), rng.standard_normal((2, 5, 2))
    theirs = trainer.negative_elbo(torch.from_numpy(x), torch.from_numpy(eps)).item()
    assert theirs == pytest.approx(_numpy_negative_elbo(trainer, x, eps), rel=1e-10)


@needs_torch
def test_the_shared_sigma_x_starts_where_numpyvaes_does():
    for floor in (1e-2, 0.05):
        trainer = torch_reference.make_trainer(hidden=(30,), z_dim=4, seed=7,
                                               likelihood="gaussian-shared", sigma_x_floor=floor)
        model = VAE(784, 4, hidden=(30,), likelihood="gaussian-shared", seed=7,
                    sigma_x_floor=floor)
        t = trainer.layers["dec_sigma_x"]["t"].detach().numpy()
        assert t.shape == (1,) and np.array_equal(t, model.parameters()["dec.sigma_x.t"])
        start = floor + np.log1p(np.exp(float(model.parameters()["dec.sigma_x.t"][0])))
        assert trainer.shared_sigma_x() == pytest.approx(start, rel=1e-6)
    assert torch_reference.make_trainer(likelihood="gaussian").shared_sigma_x() is None


@needs_torch
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian-shared"])
def test_the_log_weights_are_numpyvaes_for_the_same_weights_and_noise(likelihood):
    import torch
    rng = np.random.default_rng(6)
    x = rng.random((4, 784))
    v = rng.standard_normal((5, 4, 3))
    model = VAE(784, 3, hidden=(9,), likelihood=likelihood, dtype=np.float64, seed=8)
    trainer = torch_reference.make_trainer(hidden=(9,), z_dim=3, likelihood=likelihood)
    _with_numpyvae_weights(trainer, model)
    with torch.no_grad():
        theirs = trainer.log_weights(torch.from_numpy(x), torch.from_numpy(v)).numpy()
    assert theirs.shape == (5, 4)
    np.testing.assert_allclose(theirs, log_weights(model, x, v), rtol=1e-10)


@needs_torch
def test_the_importance_weighted_bound_is_the_log_mean_exp_of_the_log_weights():
    import torch
    rng = np.random.default_rng(9)
    x = rng.random((7, 784)).astype(np.float32)
    trainer = torch_reference.make_trainer(hidden=(9,), z_dim=3, likelihood="gaussian", seed=2)
    bound = trainer.importance_weighted(x, samples=6, batch_size=4)
    # The same draws: the generator restarted, a batch of 4 images then one of 3.
    trainer.iw_rng.manual_seed(2 + 3)
    expected = []
    with torch.no_grad():
        for batch in (x[:4], x[4:]):
            eps = torch.randn((6, len(batch), 3), generator=trainer.iw_rng)
            w = trainer.log_weights(torch.from_numpy(batch), eps).numpy()       # (6, B)
            expected.append(np.log(np.mean(np.exp(w - w.max(0)), axis=0)) + w.max(0))
    np.testing.assert_allclose(bound, np.concatenate(expected), rtol=1e-12)
    chunked = trainer.importance_weighted(x, samples=6, batch_size=4, max_elements=784 * 4)
    assert chunked.shape == (7,) and np.all(np.isfinite(chunked))


@needs_torch
@pytest.mark.parametrize("likelihood, bias, share", [
    ("gaussian", -60.0, 1.0), ("gaussian", 3.0, 0.0), ("gaussian", None, 0.5),
    ("gaussian-shared", -60.0, 1.0), ("gaussian-shared", 3.0, 0.0),
    ("gaussian-fixed", None, None), ("bernoulli", None, None)])
def test_the_share_of_sigma_x_at_its_floor_at_z_mu(likelihood, bias, share):
    import torch
    x = np.random.default_rng(3).random((9, 784)).astype(np.float32)
    trainer = torch_reference.make_trainer(hidden=(5,), z_dim=2, batch_size=4,
                                           likelihood=likelihood)
    with torch.no_grad():
        if likelihood == "gaussian":
            head = trainer.layers["dec_sigma"]
            head.weight.zero_()
            if bias is None:         # half the pixels at the floor, half well above it
                head.bias.copy_(torch.tensor([-60.0, 3.0]).repeat(392))
            else:
                head.bias.fill_(bias)
        elif likelihood == "gaussian-shared":
            trainer.layers["dec_sigma_x"]["t"].fill_(bias)
    assert trainer.share_at_sigma_floor(x, batch_size=4) == share


@needs_torch
@pytest.mark.parametrize("likelihood", ["gaussian", "gaussian-shared"])
def test_the_share_at_the_floor_is_numpyvaes_at_z_mu(likelihood):
    from numpyvae.evaluate import share_at_sigma_floor
    x = np.random.default_rng(7).random((30, 784))
    model = VAE(784, 3, hidden=(6,), likelihood=likelihood, dtype=np.float64, seed=5)
    params = model.parameters()
    if likelihood == "gaussian":
        # softplus(t) about floor x 1e-3 = 1e-5: whether a pixel is at the floor depends on z.
        params["dec.sigma.b"][...] = -11.5
        params["dec.sigma.W"][...] *= 3
    trainer = torch_reference.make_trainer(hidden=(6,), z_dim=3, likelihood=likelihood)
    _with_numpyvae_weights(trainer, model)
    trainer.layers.float()                                  # as it runs: float32
    ours = trainer.share_at_sigma_floor(x.astype(np.float32), batch_size=7)
    expected = share_at_sigma_floor(model, x)
    if likelihood == "gaussian":
        assert 0.2 < expected < 0.8
    assert ours == pytest.approx(expected, abs=3 / x.size)    # float32: a pixel or so at the edge


def _batches_trained_on(monkeypatch, images, epochs=2):
    """The batches a dequantizing trainer (seed 1, one batch of 12 per epoch) trains on."""
    trainer = torch_reference.make_trainer(hidden=(5,), z_dim=2, batch_size=12, seed=1,
                                           likelihood="gaussian", dequantize=True)
    seen = []
    batch_loss = trainer.batch_loss

    def recorded(x, rng, samples=None):
        seen.append(x.numpy().copy())
        return batch_loss(x, rng, samples)

    monkeypatch.setattr(trainer, "batch_loss", recorded)
    for _ in range(epochs):
        trainer.train_epoch(images)
    return seen


@needs_torch
def test_dequantized_training_sees_a_fresh_draw_of_each_batch_in_its_pixels_cells(monkeypatch):
    pixels = np.random.default_rng(4).integers(0, 256, size=(12, 784), dtype=np.uint8)
    seen = _batches_trained_on(monkeypatch, pixels)
    assert len(seen) == 2
    for batch in seen:
        assert batch.dtype == np.float32
        rows = np.floor(batch * 256).astype(np.uint8)
        assert sorted(map(bytes, rows)) == sorted(map(bytes, pixels))      # the same images
        # numpyvae's u = (j + 1/2) / 2^15: 2^24 x = 2^16 pixel + 2 j + 1 is odd, never a grey
        # level pixel / 255 nor the cell's edge.
        assert np.all(batch.astype(np.float64) * 2 ** 24 % 2 == 1)
    assert not np.array_equal(np.sort(seen[0], axis=0), np.sort(seen[1], axis=0))  # fresh u
    # Given as grey levels, the same images make the same batches.
    from_grey = _batches_trained_on(monkeypatch, grey_levels(pixels))
    assert all(np.array_equal(a, b) for a, b in zip(seen, from_grey))


@needs_torch
def test_a_trainer_that_dequantizes_needs_pixels_or_grey_levels():
    trainer = torch_reference.make_trainer(hidden=(5,), z_dim=2, likelihood="gaussian",
                                           dequantize=True)
    with pytest.raises(ValueError) as err:
        trainer.train_epoch(np.full((3, 784), 0.3, dtype=np.float32))
    assert str(err.value).startswith("train_x must hold uint8 pixels or grey levels pixel / "
                                     "255 to be dequantized: x must hold grey levels")
    with pytest.raises(ValueError, match=r"train_x must have shape \(N, 784\); got \(3, 28\)"):
        trainer.train_epoch(np.zeros((3, 28), dtype=np.uint8))


@needs_torch
def test_the_shared_sigma_x_gets_eq_47_the_gradient_21_summed_over_pixels_and_samples():
    import torch
    rng = np.random.default_rng(0)
    trainer = torch_reference.make_trainer(hidden=(16,), z_dim=2, samples=3,
                                           likelihood="gaussian-shared", sigma_x_floor=0.02)
    trainer.layers.double()
    t = trainer.layers["dec_sigma_x"]["t"]
    with torch.no_grad():
        t.fill_(-1.3)
    x, eps = torch.from_numpy(rng.random((5, 784))), torch.from_numpy(
        rng.standard_normal((3, 5, 2)))
    trainer.negative_elbo(x, eps).backward()
    with torch.no_grad():
        mean = trainer._forward(x, eps)[0]["mean"].numpy()                 # (r, B, D)
    sigma = 0.02 + np.log1p(np.exp(-1.3))
    dsigma = np.sum(1 / sigma - (x.numpy() - mean) ** 2 / sigma ** 3) / 3  # (47), 1/r sum_j
    expected = dsigma / (1 + np.exp(1.3))                                 # (22): sigmoid(t)
    assert t.grad.shape == (1,)
    assert t.grad.item() == pytest.approx(expected, rel=1e-10)


@needs_torch
def test_describe_names_the_decoder_and_its_options():
    describe = {name: torch_reference.make_trainer(likelihood=name, **options).describe()
                for name, options in [("bernoulli", {}), ("gaussian", {"dequantize": True}),
                                      ("gaussian-shared", {"sigma_x_floor": 0.05}),
                                      ("gaussian-fixed", {"mean_activation": "identity"})]}
    assert describe == {
        "bernoulli": "784-400-20 relu, bernoulli, r = 1, batch 128, Adam lr 0.001",
        "gaussian": "784-400-20 relu, gaussian (sigma_x = 0.01 + softplus(t) per pixel, mean "
                    "sigmoid), dequantized, r = 1, batch 128, Adam lr 0.001",
        "gaussian-shared": "784-400-20 relu, gaussian-shared (sigma_x = 0.05 + softplus(t) "
                           "shared, mean sigmoid), r = 1, batch 128, Adam lr 0.001",
        "gaussian-fixed": "784-400-20 relu, gaussian-fixed (sigma_x = 0.1, mean identity), "
                          "r = 1, batch 128, Adam lr 0.001"}


def _tiny_data(monkeypatch, n=60, seed=0):
    """load_images replaced by random images, as it gives them: pixels and a dequantized test
    set, grey levels and a binarized test set, or grey levels."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)
    calls = []

    def load_images(dataset, data_dir, dequantize=False, seed=0, binarize="none"):
        calls.append((dataset, data_dir, dequantize, seed, binarize))
        test = pixels[: n // 3]
        if dequantize:
            return pixels, torch_reference.dequantized_test_set(test, seed)
        if binarize == "dynamic":
            return grey_levels(pixels), torch_reference.binarized_test_set(grey_levels(test),
                                                                           seed)
        return grey_levels(pixels), grey_levels(test)

    monkeypatch.setattr(torch_reference, "load_images", load_images)
    return calls


@needs_torch
def test_a_gaussian_run_reports_densities_in_bits_per_dimension(monkeypatch, tmp_path, capsys):
    calls = _tiny_data(monkeypatch)
    out = tmp_path / "report.json"
    report = torch_reference.main(
        ["--dataset", "fashion-mnist", "--likelihood", "gaussian", "--dequantize", "--epochs",
         "2", "--hidden", "8", "--z-dim", "2", "--batch-size", "16", "--seed", "3",
         "--iw-samples", "4", "--iw-limit", "5", "--json", str(out)])
    assert calls == [("fashion-mnist", torch_reference.default_data_dir("fashion-mnist"),
                      True, 3, "none")]
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert report["config"]["likelihood"] == "gaussian" and report["bits_per_dimension"]
    assert report["loss_unit"] == "nats, -log density"
    last = report["epochs"][-1]
    assert report["test_loss"] == last["test_loss"] == pytest.approx(
        report["test_recon"] + report["test_kl"], rel=1e-12)
    assert report["test_bpd"] == torch_reference.bits_per_dimension(report["test_loss"])
    assert last["train_bpd"] == torch_reference.bits_per_dimension(last["train_loss"])
    assert (report["importance_samples"], report["iw_images"]) == (4, 5)
    assert report["test_nll_iw_bpd"] == torch_reference.bits_per_dimension(report["test_nll_iw"])
    assert report["test_nll_iw_stderr"] > 0
    assert 0 <= report["test_sigma_x_at_floor"] <= 1 and report["sigma_x"] is None
    text = capsys.readouterr().out
    assert "a density, not a probability" in text and text.count("bits/dim") == 2
    assert "K = 4 on the first 5 test images" in text and "sigma_x at its floor 0.01:" in text


@needs_torch
@pytest.mark.parametrize("likelihood", ["gaussian-shared", "gaussian-fixed"])
def test_the_other_gaussian_runs_report_their_sigma_x(monkeypatch, capsys, likelihood):
    _tiny_data(monkeypatch)
    report = torch_reference.main(["--likelihood", likelihood, "--dequantize", "--epochs", "1",
                                   "--hidden", "8", "--z-dim", "2", "--iw-samples", "2",
                                   "--iw-limit", "3"])
    text = capsys.readouterr().out
    if likelihood == "gaussian-shared":
        assert report["test_sigma_x_at_floor"] in (0.0, 1.0) and 0.01 < report["sigma_x"]
        assert "the shared sigma_x: " in text
    else:
        assert report["test_sigma_x_at_floor"] is None and report["sigma_x"] is None
        assert "floor" not in text
    assert np.isfinite(report["test_nll_iw_bpd"])


@needs_torch
def test_a_bernoulli_run_has_no_density_and_no_bound_unless_asked(monkeypatch, capsys):
    _tiny_data(monkeypatch)
    report = torch_reference.main(["--epochs", "1", "--hidden", "8", "--z-dim", "2"])
    assert not report["bits_per_dimension"] and report["test_bpd"] is None
    assert report["loss_unit"] == "nats, -log probability"
    assert report["importance_samples"] == 0 and report["test_nll_iw"] is None
    text = capsys.readouterr().out
    assert "bits/dim" not in text and "density" not in text and "importance" not in text
    assert text.splitlines()[-1].startswith("median train seconds per epoch: ")
    # Grey levels without --dequantize: no bits per dimension even for a Gaussian.
    report = torch_reference.main(["--epochs", "1", "--hidden", "8", "--z-dim", "2",
                                   "--likelihood", "gaussian", "--iw-samples", "0"])
    assert not report["bits_per_dimension"] and report["test_bpd"] is None


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


# ---------------------------------------------------------------- the IWAE objective

def _log_normal(z, mean, std):
    """log N(z | mean, diag(std^2)), summed over the last axis: the textbook density."""
    return np.sum(-np.log(std * np.sqrt(2 * np.pi)) - (z - mean) ** 2 / (2 * std ** 2), axis=-1)


def _numpy_negative_iwae_bound(trainer, x, eps):
    """sum_i -log (1/k) sum_j P(x_i|z_ij) p(z_ij) / q(z_ij|x_i), in numpy."""
    mu, log_var, z, nll = _numpy_network(trainer, x, eps)
    log_joint = -nll + _log_normal(z, 0.0, 1.0)                              # log P(x, z)
    log_w = log_joint - _log_normal(z, mu, np.exp(log_var / 2))              # (k, B)
    top = log_w.max(axis=0)
    return -np.sum(top + np.log(np.mean(np.exp(log_w - top), axis=0)))


def _iwae_trainer(likelihood="bernoulli", samples=5, **options):
    trainer = torch_reference.make_trainer(hidden=(11,), z_dim=3, samples=samples, seed=4,
                                           likelihood=likelihood, objective="iwae", **options)
    trainer.layers.double()
    return trainer


@needs_torch
@pytest.mark.parametrize("likelihood, k", [("bernoulli", 1), ("bernoulli", 5),
                                           ("gaussian-shared", 4)])
def test_the_iwae_loss_is_the_bound_written_out_in_numpy(likelihood, k):
    import torch
    rng = np.random.default_rng(10)
    x, eps = rng.random((6, 784)), rng.standard_normal((k, 6, 3))
    trainer = _iwae_trainer(likelihood, samples=k)
    loss = trainer.negative_iwae_bound(torch.from_numpy(x), torch.from_numpy(eps))
    expected = _numpy_negative_iwae_bound(trainer, x, eps)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    # The same from the batch's own noise: batch_loss draws (k, B, K) from the generator.
    trainer.train_rng.manual_seed(123)
    drawn = trainer.batch_loss(torch.from_numpy(x), trainer.train_rng)
    trainer.train_rng.manual_seed(123)
    noise = torch.randn((k, 6, 3), generator=trainer.train_rng, dtype=torch.float64).numpy()
    assert drawn.item() == pytest.approx(_numpy_negative_iwae_bound(trainer, x, noise),
                                         rel=1e-12)


@needs_torch
def test_autograd_differentiates_the_bound_through_z_and_through_mu_and_sigma_directly():
    import torch
    rng = np.random.default_rng(11)
    x, eps = rng.random((4, 784)), rng.standard_normal((5, 4, 3))
    trainer = _iwae_trainer()
    trainer.negative_iwae_bound(torch.from_numpy(x), torch.from_numpy(eps)).backward()
    h = 1e-6
    for layer in ("enc_mu", "enc_log_var", "dec_logits"):
        bias = trainer.layers[layer].bias
        for u in range(3):
            with torch.no_grad():
                bias[u] += h
                up = _numpy_negative_iwae_bound(trainer, x, eps)
                bias[u] -= 2 * h
                down = _numpy_negative_iwae_bound(trainer, x, eps)
                bias[u] += h
            numerical, analytic = (up - down) / (2 * h), bias.grad[u].item()
            assert abs(analytic - numerical) / max(1e-8, abs(analytic) + abs(numerical)) < 1e-6


@needs_torch
def test_at_k_1_the_iwae_loss_is_the_elbo_with_a_monte_carlo_kl_on_the_same_noise():
    import torch
    rng = np.random.default_rng(12)
    x, eps = rng.random((5, 784)), rng.standard_normal((1, 5, 3))
    trainer = _iwae_trainer(samples=1)
    xt, et = torch.from_numpy(x), torch.from_numpy(eps)
    with torch.no_grad():
        decoded, mu, log_var = trainer._forward(xt, et)
        recon = trainer.likelihood.nll(decoded, xt)[0].numpy()                  # (B,)
    mu, sigma = mu.numpy(), np.exp(log_var.numpy() / 2)
    z = mu + sigma * eps[0]
    monte_carlo_kl = _log_normal(z, mu, sigma) - _log_normal(z, 0.0, 1.0)       # log q - log p
    iwae = trainer.negative_iwae_bound(xt, et).item()
    assert iwae == pytest.approx(np.sum(recon + monte_carlo_kl), rel=1e-12)
    # In expectation it is the negative ELBO: the Monte Carlo KL averages to the closed form.
    many = torch.from_numpy(np.repeat(x[:1], 4000, axis=0))
    noise = torch.from_numpy(np.random.default_rng(13).standard_normal((1, 4000, 3)))
    with torch.no_grad():
        per_example = -trainer.log_weights(many, noise)[0].numpy()       # -L_1 of each draw
        decoded, mu, log_var = trainer._forward(many, noise)
        recon = trainer.likelihood.nll(decoded, many)[0].numpy()
    mu, log_var = mu.numpy(), log_var.numpy()
    kl = 0.5 * np.sum(mu ** 2 + np.exp(log_var) - 1 - log_var, axis=-1)  # closed form
    gaps = per_example - (recon + kl)                   # Monte Carlo KL - KL, draw by draw
    assert np.std(gaps) > 0.1
    assert abs(gaps.mean()) < 4 * gaps.std() / np.sqrt(len(gaps))


@needs_torch
def test_the_bound_is_finite_at_log_weights_of_1000_and_its_normalized_weights_sum_to_1(
        monkeypatch):
    import torch
    trainer = _iwae_trainer(samples=3)
    log_w = torch.tensor([[1000.0, -1000.0], [998.0, -1003.0], [-1000.0, -1001.0]],
                         dtype=torch.float64, requires_grad=True)
    monkeypatch.setattr(trainer, "log_weights", lambda x, eps: log_w)
    loss = trainer.negative_iwae_bound(torch.zeros(2, 784), torch.zeros(3, 2, 3))
    w = log_w.detach().numpy()
    expected = -np.sum(np.logaddexp.reduce(w, axis=0) - np.log(3))
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(expected, rel=1e-14)
    loss.backward()
    normalized = -log_w.grad.numpy()                          # d(-L_k)/d log w_j = -w~_j
    assert np.all(normalized >= 0) and np.allclose(normalized.sum(axis=0), 1, rtol=1e-14)
    np.testing.assert_allclose(normalized[:, 0], np.exp(w[:, 0] - np.logaddexp.reduce(w[:, 0])),
                               rtol=1e-12)


@needs_torch
def test_a_step_on_the_batch_mean_has_the_gradient_of_the_sum_over_b(monkeypatch):
    import torch
    x = np.random.default_rng(14).random((8, 784)).astype(np.float32)
    grads = {}
    for reduction in ("sum", "mean"):
        trainer = torch_reference.make_trainer(hidden=(6,), z_dim=2, samples=2, batch_size=8,
                                               objective="iwae", reduction=reduction)
        monkeypatch.setattr(trainer.optimizer, "step", lambda: None)
        loss = trainer.train_epoch(x)
        grads[reduction] = (loss, {name: value.grad.clone() for name, value in
                                   trainer.layers.named_parameters()})
    assert grads["sum"][0] == grads["mean"][0]                   # reported per example alike
    for name, grad in grads["sum"][1].items():
        torch.testing.assert_close(grads["mean"][1][name] * 8, grad, rtol=1e-5, atol=1e-7)


@needs_torch
def test_dynamic_binarization_trains_on_a_fresh_bernoulli_draw_of_each_batch(monkeypatch):
    grey = np.full((12, 784), 0.5, dtype=np.float32)
    grey[:, :200], grey[:, 200:400] = 0.0, 1.0
    trainer = torch_reference.make_trainer(hidden=(5,), z_dim=2, batch_size=12,
                                           binarize="dynamic")
    seen = []
    batch_loss = trainer.batch_loss

    def recorded(x, rng, samples=None):
        seen.append(x.numpy().copy())
        return batch_loss(x, rng, samples)

    monkeypatch.setattr(trainer, "batch_loss", recorded)
    for _ in range(2):
        trainer.train_epoch(grey)
    assert len(seen) == 2
    for batch in seen:
        assert batch.dtype == np.float32 and set(np.unique(batch)) == {0.0, 1.0}
        assert np.all(batch[:, :200] == 0) and np.all(batch[:, 200:400] == 1)
        assert abs(batch[:, 400:].mean() - 0.5) < 0.03              # 4608 draws of p = 1/2
    assert not np.array_equal(seen[0], seen[1])


@needs_torch
def test_the_active_units_are_numpyvaes_for_the_same_weights():
    from numpyvae.app.run import active_units
    x = np.random.default_rng(15).random((40, 784))
    model = VAE(784, 6, hidden=(9,), dtype=np.float64, seed=6)
    params = model.parameters()
    params["enc.mu.W"][...] *= np.array([0.1, 0.3, 1, 3, 10, 30])     # spread the variances
    trainer = torch_reference.make_trainer(hidden=(9,), z_dim=6)
    _with_numpyvae_weights(trainer, model)
    trainer.layers.float()                                           # as it runs: float32
    count, variances = trainer.active_units(x.astype(np.float32), batch_size=16)
    theirs_count, theirs = active_units(model, x)
    np.testing.assert_allclose(variances, theirs, rtol=1e-4)
    assert count == theirs_count and 0 < count < 6
    ordered = np.sort(theirs)                   # a threshold between two units, away from both
    threshold = (ordered[2] + ordered[3]) / 2
    assert trainer.active_units(x.astype(np.float32), threshold=threshold)[0] == \
        active_units(model, x, threshold=threshold)[0] == 3
    with pytest.raises(ValueError, match="at least 2 images to measure how mu"):
        trainer.active_units(x[:1].astype(np.float32))


@needs_torch
def test_an_iwae_run_on_a_schedule_reports_the_bound_and_the_active_units(monkeypatch, tmp_path,
                                                                        capsys):
    calls = _tiny_data(monkeypatch)
    out = tmp_path / "iwae.json"
    report = torch_reference.main(
        ["--objective", "iwae", "--samples", "3", "--binarize", "dynamic", "--stages", "0..1",
         "--hidden", "8", "--z-dim", "2", "--batch-size", "20", "--adam-eps", "1e-4",
         "--reduction", "mean", "--activation", "tanh", "--iw-samples", "4", "--iw-limit", "6",
         "--seed", "2", "--json", str(out)])
    assert calls == [("mnist", torch_reference.default_data_dir("mnist"), False, 2, "dynamic")]
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    config = report["config"]
    assert (config["objective"], config["samples"], config["binarize"], config["adam_eps"],
            config["reduction"], config["lr"]) == ("iwae", 3, "dynamic", 1e-4, "mean", 1e-3)
    assert report["train_objective"] == "-L_3" and report["stages"] == 1
    assert [e["stage"] for e in report["epochs"]] == [0, 1, 1, 1]
    assert [e["lr"] for e in report["epochs"]] == [1e-3] + [1e-3 * 10 ** (-1 / 7)] * 3
    assert all(np.isfinite(e["train_loss"]) for e in report["epochs"])
    assert (report["importance_samples"], report["iw_images"]) == (4, 6)
    assert np.isfinite(report["test_nll_iw"]) and report["test_nll_iw_bpd"] is None
    assert report["active_units_images"] == 6 and report["active_unit_threshold"] == 0.01
    assert len(report["unit_variances"]) == 2
    assert report["active_units"] == sum(v > 0.01 for v in report["unit_variances"])
    text = capsys.readouterr().out
    assert "IWAE bound k = 3" in text and "Adam lr 0.001, eps 0.0001" in text
    assert "stage 1 lr 0.00072" in text
    assert f"active units {report['active_units']} of 2  (Var_x mu_u(x) > 0.01 over the first " \
           f"6 test images" in text


@needs_torch
def test_the_learning_rate_changes_between_stages_and_adam_keeps_its_moments():
    x = np.random.default_rng(16).random((10, 784)).astype(np.float32)
    trainer = torch_reference.make_trainer(hidden=(4,), z_dim=2, batch_size=5, adam_eps=1e-4)
    assert trainer.optimizer.param_groups[0]["eps"] == 1e-4 and trainer.lr == 1e-3
    trainer.train_epoch(x)
    trainer.set_lr(2e-4)
    assert trainer.lr == 2e-4
    state = trainer.optimizer.state[trainer.layers["enc_mu"].bias]
    assert int(state["step"]) == 2                                   # two batches so far
    trainer.train_epoch(x)
    assert int(state["step"]) == 4
    with pytest.raises(ValueError, match="lr must be a finite number > 0; got 0"):
        trainer.set_lr(0)

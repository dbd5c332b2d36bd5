"""Training runs: the notes' algorithm, reproducibility, resume, Ctrl-C, divergence."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from numpyvae import VAE
from numpyvae.app.checkpoint import load_checkpoint
from numpyvae.app.run import Run, RunError, read_metrics, summary_line
from numpyvae.likelihoods import LIKELIHOODS
from numpyvae.train import Trainer, TrainingDiverged, epoch_order

SMALL = {"hidden": [32], "z_dim": 2, "batch_size": 500, "epochs": 2}
TIMING_KEYS = {"examples_per_second", "epoch_seconds", "eval_seconds", "wall_seconds"}


def quiet(*args):
    pass


def train(folder, **config):
    run = Run.start(folder, {**SMALL, **config}, log=quiet)
    assert run.train(progress=False) == "done"
    return run


def without_timings(metrics):
    return [{k: v for k, v in m.items() if k not in TIMING_KEYS} for m in metrics]


def test_metrics_and_run_folder(tmp_path):
    train(tmp_path / "run")
    assert sorted(os.listdir(tmp_path / "run")) == ["checkpoint.npz", "config.json",
                                                    "metrics.jsonl"]
    metrics = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == [1, 2]
    for m in metrics:
        for key in ["train_loss", "test_loss", "test_recon", "test_kl", "epoch_seconds",
                    "train_recon", "train_kl", "examples_per_second", "wall_seconds"]:
            assert isinstance(m[key], float) and np.isfinite(m[key]), key
        assert m["test_loss"] == pytest.approx(m["test_recon"] + m["test_kl"])
        assert m["train_loss"] == pytest.approx(m["train_recon"] + m["train_kl"])
        assert m["examples_per_second"] == pytest.approx(10_000 / m["epoch_seconds"])
    assert metrics[1]["wall_seconds"] == pytest.approx(
        metrics[0]["epoch_seconds"] + metrics[1]["epoch_seconds"])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["hidden"] == [32] and config["dataset"] == "mnist-mini"
    # An untrained model costs ~545 nats on MNIST; the loss must fall, epoch after epoch.
    assert metrics[1]["test_loss"] < metrics[0]["test_loss"] < 500
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz")["meta"]["position"]["epoch"] == 2


def test_same_seed_same_run_bit_for_bit(tmp_path):
    a, b = train(tmp_path / "a"), train(tmp_path / "b")
    c = train(tmp_path / "c", seed=1)
    assert np.array_equal(a.model.flat_parameters, b.model.flat_parameters)
    assert without_timings(read_metrics(a.folder / "metrics.jsonl")) == \
        without_timings(read_metrics(b.folder / "metrics.jsonl"))
    assert not np.array_equal(a.model.flat_parameters, c.model.flat_parameters)


def _assert_same_state(a, b):
    assert np.array_equal(a.model.flat_parameters, b.model.flat_parameters)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa.keys() == sb.keys()
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert without_timings(read_metrics(a.folder / "metrics.jsonl")) == \
        without_timings(read_metrics(b.folder / "metrics.jsonl"))


def test_n_epochs_then_m_more_equals_n_plus_m_in_one_go(tmp_path):
    one_go = train(tmp_path / "one", epochs=3)
    train(tmp_path / "two", epochs=1)
    resumed = Run.resume(tmp_path / "two", epochs=3, log=quiet)
    assert resumed.train(progress=False) == "done"
    _assert_same_state(one_go, resumed)
    again = Run.resume(tmp_path / "two", log=quiet)           # nothing left to do
    assert again.train(progress=False) == "done"
    assert len(read_metrics(tmp_path / "two" / "metrics.jsonl")) == 3


def test_a_conditional_run_resumes_exactly_with_its_labels(tmp_path):
    one_go = train(tmp_path / "one", conditional=True)
    assert one_go.model.n_classes == 10 and one_go.trainer.train_y is one_go.data.train_y
    train(tmp_path / "two", conditional=True, epochs=1)
    resumed = Run.resume(tmp_path / "two", epochs=2, log=quiet)
    assert resumed.model.n_classes == 10 and resumed.config["conditional"] is True
    assert resumed.train(progress=False) == "done"
    _assert_same_state(one_go, resumed)
    plain = train(tmp_path / "plain", epochs=2)
    assert plain.model.n_classes is None and plain.trainer.train_y is None


def test_conditional_must_be_true_or_false(tmp_path):
    with pytest.raises(ValueError, match="conditional must be True or False; got 'yes'"):
        Run.start(tmp_path / "run", {**SMALL, "conditional": "yes"}, log=quiet)
    assert not (tmp_path / "run").exists()


def test_a_conditional_run_defaults_to_two_latent_units_and_a_given_size_wins():
    from numpyvae.app.run import resolve_config
    assert resolve_config({})["z_dim"] == 20
    assert resolve_config({"conditional": True})["z_dim"] == 2
    assert resolve_config({"conditional": True, "z_dim": 20})["z_dim"] == 20
    assert resolve_config({"conditional": False, "z_dim": 7})["z_dim"] == 7


def test_stopping_mid_epoch_writes_a_checkpoint_that_resumes_exactly(tmp_path, monkeypatch):
    one_go = train(tmp_path / "one")
    run = Run.start(tmp_path / "two", SMALL, log=quiet)
    original = Trainer.step

    def step_then_stop(self, epoch, batch, order, rng):
        out = original(self, epoch, batch, order, rng)
        if (epoch, batch) == (1, 6):
            self.stop_requested = True                  # what the Ctrl-C handler does
        return out

    monkeypatch.setattr(Trainer, "step", step_then_stop)
    assert run.train(progress=False) == "interrupted"
    position = load_checkpoint(tmp_path / "two" / "checkpoint.npz")["meta"]["position"]
    assert (position["epoch"], position["batch"]) == (1, 7)
    monkeypatch.setattr(Trainer, "step", original)
    resumed = Run.resume(tmp_path / "two", log=quiet)
    assert resumed.train(progress=False) == "done"
    _assert_same_state(one_go, resumed)


def test_ctrl_c_on_the_command_line_saves_a_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "numpyvae", "train", "--out", str(out), "--epochs", "500",
           "--hidden", "32", "--z-dim", "2", "--batch-size", "250", "--no-figures"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:                 # wait for the first epoch to finish
            if (out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text():
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 130, stderr
    assert "interrupted: checkpoint saved at epoch" in stderr
    assert f"numpyvae train --resume {out}" in stderr
    assert "Traceback" not in stderr
    run = Run.resume(out, epochs=int(load_checkpoint(out / "checkpoint.npz")["meta"]
                                     ["position"]["epoch"]) + 1, log=quiet)
    assert run.train(progress=False) == "done"


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    run = Run.start(tmp_path / "run", {**SMALL, "epochs": 3}, log=quiet)
    original = VAE.compute_gradients
    calls = {"n": 0}

    def sometimes_nan(self, *args, **kwargs):
        calls["n"] += 1
        out = original(self, *args, **kwargs)
        return (float("nan"),) + out[1:] if calls["n"] == 20 + 3 else out   # epoch 2, batch 3

    monkeypatch.setattr(VAE, "compute_gradients", sometimes_nan)
    with pytest.raises(TrainingDiverged, match=r"the loss became nan at epoch 2, batch 3 of 20"
                                               r".*checkpoint of epoch 1 is kept"):
        run.train(progress=False)
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert saved["meta"]["position"]["epoch"] == 1
    assert len(read_metrics(tmp_path / "run" / "metrics.jsonl")) == 1


def test_each_step_follows_the_notes_algorithm(tmp_path, monkeypatch):
    """Minibatches of B examples with r noise draws each, every example once per epoch."""
    seen = []
    original = VAE.compute_gradients

    def spy(self, x, v, beta=1.0, x_input=None, **kwargs):
        seen.append((x.copy(), v.shape, beta, x_input))
        return original(self, x, v, beta, x_input=x_input, **kwargs)

    monkeypatch.setattr(VAE, "compute_gradients", spy)
    run = Run.start(tmp_path / "run", {**SMALL, "epochs": 1, "batch_size": 384, "samples": 3},
                    log=quiet)
    run.train(progress=False)
    shapes = [shape for _, shape, _, _ in seen]
    assert shapes == [(3, 384, 2)] * 26 + [(3, 10_000 - 26 * 384, 2)]
    rows = np.concatenate([x for x, _, _, _ in seen])
    # Every training image exactly once (compare as sorted byte strings of the rows).
    key = np.sort(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel())
    data = run.data.train_x
    expected = np.sort(data.view(np.dtype((np.void, data.dtype.itemsize * data.shape[1]))).ravel())
    assert np.array_equal(key, expected)
    assert all(beta == 1.0 and x_input is None for _, _, beta, x_input in seen)


def test_each_batch_is_the_epochs_order_across_a_stop_and_the_next_epoch():
    """The batches the model sees are the epoch's order, an epoch stopped and resumed
    included, and the last batch holds what is left."""
    from numpyvae.optim import make_optimizer
    from numpyvae.train import epoch_order

    rng = np.random.default_rng(0)
    train_x = rng.random((1000, 6), dtype=np.float32)
    model = VAE(6, 2, hidden=(5,), seed=0)
    optimizer = make_optimizer("adam", {"theta": model.flat_parameters})
    trainer = Trainer(model, optimizer, train_x, batch_size=96, seed=3)   # 11 batches, 40 left
    seen = []
    compute_gradients = model.compute_gradients

    def spy_gradients(x, v, *args, **kwargs):
        seen.append(x.copy())
        return compute_gradients(x, v, *args, **kwargs)

    model.compute_gradients = spy_gradients
    trainer.train_epoch(0)
    n = trainer.batches_per_epoch
    # An epoch stopped after batch 4 and resumed by a second call, then the next epoch.
    totals = trainer.train_epoch(
        1, on_batch=lambda b, _: setattr(trainer, "stop_requested", b == 5))
    assert totals["next_batch"] == 5
    trainer.stop_requested = False
    assert trainer.train_epoch(1, start_batch=5, totals=totals)["next_batch"] == n
    trainer.train_epoch(2)
    expected = [train_x[epoch_order(3, e, 1000)[b * 96:(b + 1) * 96]]
                for e in range(3) for b in range(n)]
    assert len(seen) == len(expected) == 3 * n
    assert all(np.array_equal(a, b) for a, b in zip(seen, expected))
    assert seen[n - 1].shape == (40, 6)


def test_kl_warmup_is_linear_over_the_given_epochs():
    model = VAE(4, 2, hidden=(3,))
    trainer = Trainer(model, None, np.zeros((100, 4), dtype=np.float32), batch_size=10,
                      beta=2.0, warmup=2)
    assert trainer.batches_per_epoch == 10
    betas = [trainer.beta_at(e, b) for e in range(3) for b in range(10)]
    np.testing.assert_allclose(betas[:20], 2.0 * np.arange(1, 21) / 20)
    assert betas[20:] == [2.0] * 10
    assert Trainer(model, None, np.zeros((5, 4)), beta=0.5).beta_at(0, 0) == 0.5


def test_dynamic_binarization_and_denoising_reach_the_model(tmp_path, monkeypatch):
    seen = []
    original = VAE.compute_gradients

    def spy(self, x, v, beta=1.0, x_input=None, **kwargs):
        seen.append((x.copy(), None if x_input is None else x_input.copy()))
        return original(self, x, v, beta, x_input=x_input, **kwargs)

    monkeypatch.setattr(VAE, "compute_gradients", spy)
    Run.start(tmp_path / "run", {**SMALL, "epochs": 1, "binarize": "dynamic", "denoise": True},
              log=quiet).train(progress=False)
    x, x_input = seen[0]
    assert set(np.unique(x)) == {0.0, 1.0}
    assert x_input is not None and not np.array_equal(x, x_input)


def test_bad_run_folders(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        Run.resume(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="has no checkpoint.npz"):
        Run.resume(tmp_path / "empty")
    train(tmp_path / "run", epochs=1)
    with pytest.raises(RunError, match="already holds a run"):
        Run.start(tmp_path / "run", SMALL)


def test_an_unknown_configuration_key_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"unknown keys \['corupt'\].*'denoise'"):
        Run.start(tmp_path / "run", {**SMALL, "corupt": 0.2}, log=quiet)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------- continuous data

GAUSSIAN_SMALL = {**SMALL, "dataset": "fashion-mini", "likelihood": "gaussian", "epochs": 1,
                  "hidden": [16], "batch_size": 1000}


def test_a_dequantized_run_draws_fresh_noise_per_batch_and_keeps_one_test_set(tmp_path,
                                                                              monkeypatch):
    from numpyvae.datasets import load_dataset
    from numpyvae.app.run import load_data, open_run

    seen = []
    original = VAE.compute_gradients

    def spy(self, x, v, beta=1.0, x_input=None, **kwargs):
        seen.append(x.copy())
        return original(self, x, v, beta, x_input=x_input, **kwargs)

    monkeypatch.setattr(VAE, "compute_gradients", spy)
    run = train(tmp_path / "run", **{**GAUSSIAN_SMALL, "dequantize": True, "epochs": 2,
                                     "seed": 4})
    pixels = run.data.train_pixels
    order = [epoch_order(4, e, len(pixels)) for e in range(2)]
    first = [order[0][:1000], order[1][:1000]]              # the same images, two epochs
    same = np.intersect1d(first[0], first[1])
    for batch, rows in zip((seen[0], seen[4]), first):     # 4 batches per epoch
        assert batch.dtype == np.float32
        np.testing.assert_array_equal(np.floor(batch * 256), pixels[rows])   # in its cell
    a = dict(zip(first[0], seen[0]))
    b = dict(zip(first[1], seen[4]))
    assert len(same) > 100 and not any(np.array_equal(a[i], b[i]) for i in same[:100])
    # the test set: one fixed draw, the one of load_dataset(dequantize=True) with the seed
    expected = load_dataset("fashion-mini", dequantize=True, seed=4).test_x
    np.testing.assert_array_equal(run.test_x, expected)
    _, config = open_run(tmp_path / "run")               # what evaluate and sample read
    np.testing.assert_array_equal(load_data(config)[1], expected)


def test_a_dequantized_run_reports_densities_in_bits_per_dimension(tmp_path):
    from numpyvae.evaluate import share_at_sigma_floor

    run = train(tmp_path / "run", **GAUSSIAN_SMALL, dequantize=True)
    m = read_metrics(tmp_path / "run" / "metrics.jsonl")[-1]
    assert m["loss_unit"] == "nats, -log density"
    D = 784
    assert m["test_bpd"] == pytest.approx((m["test_loss"] + D * np.log(256)) / (D * np.log(2)))
    assert m["train_bpd"] == pytest.approx((m["train_loss"] + D * np.log(256)) / (D * np.log(2)))
    assert m["test_sigma_x_at_floor"] == share_at_sigma_floor(run.model, run.test_x)
    line = summary_line(m, 1)
    assert line.startswith("epoch 1/1  -ELBO (-log density, nats): train ")
    assert f"= {m['test_bpd']:.3f} bits/dim" in line
    assert f"sigma_x at floor {100 * m['test_sigma_x_at_floor']:.1f}%" in line


@pytest.mark.parametrize("likelihood,floor_share", [("bernoulli", False),
                                                    ("gaussian-fixed", False),
                                                    ("gaussian-shared", True)])
def test_reports_on_grey_levels_carry_no_bits_per_dimension(tmp_path, likelihood, floor_share):
    train(tmp_path / "run", **{**GAUSSIAN_SMALL, "likelihood": likelihood})
    m = read_metrics(tmp_path / "run" / "metrics.jsonl")[-1]
    assert "test_bpd" not in m and "train_bpd" not in m
    assert ("test_sigma_x_at_floor" in m) == floor_share
    density = likelihood != "bernoulli"
    assert m["loss_unit"] == ("nats, -log density" if density else "nats, -log probability")
    assert ("-log density" in summary_line(m, 1)) == density
    assert "bits/dim" not in summary_line(m, 1)


def test_the_progress_line_marks_densities_and_gives_bits_per_dimension():
    from numpyvae.app.run import _ProgressLine

    totals = {"examples": 200, "objective": -300.0 * 200, "recon": -320.0 * 200,
              "kl": 10.0 * 200, "seconds": 0.5}
    text = _ProgressLine(0, 3, 10, "gaussian", bpd_dim=784, objective="-ELBO").text(4, totals)
    bpd = (-310.0 + 784 * np.log(256)) / (784 * np.log(2))    # the negative ELBO, eq. (48)
    assert "-ELBO -300.00 (density)" in text and f"  {bpd:.3f} bits/dim" in text
    text = _ProgressLine(0, 3, 10, "bernoulli", objective="-L_5").text(4, totals)
    assert "-L_5 -300.00  400 examples/s" in text and "bits/dim" not in text


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_config_json_records_the_options_the_model_was_built_with(tmp_path, likelihood):
    run = Run.start(tmp_path / "run", {**SMALL, "hidden": [4], "likelihood": likelihood},
                    log=quiet)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    for key in ("mean_activation", "sigma_x", "sigma_x_floor", "likelihood"):
        assert config[key] == run.model.config[key], key
    assert config["mean_activation"] == ("identity" if likelihood == "bernoulli" else "sigmoid")
    assert config["dequantize"] is False


@pytest.mark.parametrize("change,message", [
    ({"likelihood": "bernoulli"}, "--dequantize makes continuous data for a Gaussian decoder; "
                                  "the bernoulli likelihood reads each pixel as a probability"),
    ({"binarize": "dynamic"}, "--dequantize and --binarize dynamic exclude each other"),
    ({"binarize": "static"}, "--dequantize and --binarize static exclude each other"),
])
def test_dequantization_is_refused_where_it_has_no_meaning(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        Run.start(tmp_path / "run", {**GAUSSIAN_SMALL, "dequantize": True, **change}, log=quiet)
    assert not (tmp_path / "run").exists()


def test_a_run_saved_before_these_options_opens_with_their_defaults(tmp_path):
    from numpyvae.app.checkpoint import save_checkpoint
    from numpyvae.app.run import open_run

    run = train(tmp_path / "run", epochs=1)
    old = {k: v for k, v in run.config.items()
           if k not in ("mean_activation", "dequantize", "objective", "adam_eps", "conditional")}
    del run.model.config["n_classes"]                         # a model config without it
    save_checkpoint(tmp_path / "run" / "checkpoint.npz", run.model, run.optimizer.state_dict(),
                    {"config": old, "position": run.position})
    model, config = open_run(tmp_path / "run")
    assert config["dequantize"] is False and config["mean_activation"] == "identity"
    assert config["objective"] == "elbo" and config["adam_eps"] == 1e-8   # Adam's old eps
    assert config["conditional"] is False and model.n_classes is None
    resumed = Run.resume(tmp_path / "run", epochs=2, log=quiet)
    assert resumed.train(progress=False) == "done"


# ---------------------------------------------------------------------- the IWAE objective

IWAE_SMALL = {**SMALL, "objective": "iwae", "samples": 5}


def test_an_iwae_run_records_the_bound_beside_the_elbo(tmp_path):
    lines = []
    Run.start(tmp_path / "run", IWAE_SMALL, log=lines.append).train(progress=False)
    metrics = read_metrics(tmp_path / "run" / "metrics.jsonl")
    for m in metrics:
        assert (m["objective"], m["iwae_samples"]) == ("iwae", 5)
        assert m["train_iwae_loss"] == m["train_objective"]       # what the steps minimized
        # Each batch's bound is never below the ELBO of its own samples (Jensen), so neither
        # is their sum; on the test set the k = 5 bound is tighter than the ELBO by nats.
        assert m["train_iwae_loss"] <= m["train_loss"]
        assert m["test_iwae_loss"] < m["test_loss"] - 1
        assert m["test_loss"] == pytest.approx(m["test_recon"] + m["test_kl"])
    assert metrics[1]["test_iwae_loss"] < metrics[0]["test_iwae_loss"] < 500
    m = metrics[-1]
    assert lines[-1].startswith(f"epoch 2/2  -L_5: train {m['train_iwae_loss']:.2f}  "
                                f"test {m['test_iwae_loss']:.2f}  -ELBO: train "
                                f"{m['train_loss']:.2f}  test {m['test_loss']:.2f} (recon ")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["objective"] == "iwae"


def test_an_elbo_run_says_so_and_carries_no_bound(tmp_path):
    lines = []
    Run.start(tmp_path / "run", {**SMALL, "epochs": 1}, log=lines.append).train(progress=False)
    m = read_metrics(tmp_path / "run" / "metrics.jsonl")[0]
    assert m["objective"] == "elbo" and m["lr"] == 1e-3
    assert not {"iwae_samples", "train_iwae_loss", "test_iwae_loss"} & set(m)
    assert lines[-1].startswith(f"epoch 1/1  -ELBO: train {m['train_loss']:.2f}  ")


def test_each_iwae_step_takes_k_samples_of_the_bound(tmp_path, monkeypatch):
    seen = []
    original = VAE.compute_gradients

    def spy(self, x, v, *args, **kwargs):
        seen.append((v.shape, kwargs["objective"]))
        return original(self, x, v, *args, **kwargs)

    monkeypatch.setattr(VAE, "compute_gradients", spy)
    Run.start(tmp_path / "run", {**IWAE_SMALL, "epochs": 1}, log=quiet).train(progress=False)
    assert seen == [((5, 500, 2), "iwae")] * 20


def test_the_objective_is_honoured_by_resume(tmp_path):
    one_go = train(tmp_path / "one", **IWAE_SMALL)
    train(tmp_path / "two", **{**IWAE_SMALL, "epochs": 1})
    resumed = Run.resume(tmp_path / "two", epochs=2, log=quiet)
    assert resumed.trainer.objective == "iwae"
    assert resumed.train(progress=False) == "done"
    _assert_same_state(one_go, resumed)
    elbo = train(tmp_path / "elbo", **{**IWAE_SMALL, "objective": "elbo"})
    assert not np.array_equal(elbo.model.flat_parameters, one_go.model.flat_parameters)


@pytest.mark.parametrize("change,message", [
    ({"beta": 0.5}, "--objective iwae takes no --beta (the importance-weighted bound has no "
                    "KL term to weight); got --beta 0.5"),
    ({"warmup": 2.0}, "--objective iwae takes no --warmup (the importance-weighted bound has "
                      "no KL term to warm up); got --warmup 2"),
    ({"denoise": True}, "--objective iwae takes no --denoise (the bound's samples come from "
                        "q(z|x) of the image itself"),
    ({"objective": "iwea"}, "--objective must be one of ['elbo', 'iwae']; got 'iwea'"),
])
def test_iwae_refuses_the_options_of_the_elbo_before_anything_is_written(tmp_path, change,
                                                                         message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Run.start(tmp_path / "run", {**IWAE_SMALL, **change}, log=quiet)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kwargs,message", [
    ({"beta": 2.0}, "beta must be 1 with objective='iwae'"),
    ({"warmup": 1.0}, "warmup must be 0 with objective='iwae'"),
    ({"corrupt": lambda x, rng: x}, "corrupt must be None with objective='iwae'"),
    ({"objective": "IWAE", "samples": 1}, "objective must be one of ['elbo', 'iwae']; got "
                                          "'IWAE'"),
])
def test_the_trainer_refuses_the_same(kwargs, message):
    model = VAE(4, 2, hidden=(3,))
    with pytest.raises(ValueError, match=re.escape(message)):
        Trainer(model, None, np.zeros((10, 4)), **{"objective": "iwae", "samples": 3, **kwargs})


def test_resume_with_a_new_learning_rate_steps_with_it_from_there(tmp_path):
    # in one process: the rate changed on the optimizer after epoch 1
    direct = train(tmp_path / "direct", epochs=1)
    direct.optimizer.lr = 4e-4
    direct.config["epochs"] = 2
    assert direct.train(progress=False) == "done"
    train(tmp_path / "two", epochs=1)
    resumed = Run.resume(tmp_path / "two", epochs=2, lr=4e-4, log=quiet)
    assert resumed.optimizer.lr == 4e-4
    assert resumed.train(progress=False) == "done"
    assert np.array_equal(direct.model.flat_parameters, resumed.model.flat_parameters)
    assert [m["lr"] for m in read_metrics(tmp_path / "two" / "metrics.jsonl")] == [1e-3, 4e-4]
    again = Run.resume(tmp_path / "two", epochs=3, log=quiet)   # the new rate is kept
    assert again.optimizer.lr == 4e-4 and again.config["lr"] == 4e-4
    # config.json keeps the rate the run started with
    assert json.loads((tmp_path / "two" / "config.json").read_text())["lr"] == 1e-3
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0; got 0\.0"):
        Run.resume(tmp_path / "two", lr=0.0, log=quiet)


def test_adam_eps_reaches_the_optimizer_and_its_checkpoint(tmp_path):
    run = train(tmp_path / "run", epochs=1, adam_eps=1e-4)
    assert run.optimizer.eps == 1e-4
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz")["optimizer_state"]["eps"] == 1e-4
    assert Run.resume(tmp_path / "run", epochs=2, log=quiet).optimizer.eps == 1e-4
    other = train(tmp_path / "other", epochs=1)
    assert other.optimizer.eps == 1e-8
    assert not np.array_equal(run.model.flat_parameters, other.model.flat_parameters)

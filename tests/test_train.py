"""Training runs: the notes' algorithm, reproducibility, resume, Ctrl-C, divergence."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from numpyvae import VAE
from numpyvae.app.checkpoint import load_checkpoint
from numpyvae.app.run import Run, RunError, read_metrics
from numpyvae.train import Trainer, TrainingDiverged

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

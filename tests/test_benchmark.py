"""scripts/benchmark.py's way of taking turns with PyTorch: an epoch run in parts is the epoch."""
import sys
from pathlib import Path

import numpy as np

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

"""scripts/conditional_labels.py: the classifier that reads a conditional VAE's samples."""
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import conditional_labels  # noqa: E402

from numpyvae import VAE  # noqa: E402


def test_nearest_neighbour_labels_take_the_majority_of_the_three_nearest():
    rng = np.random.default_rng(0)
    train_x = rng.standard_normal((200, 5))
    train_y = rng.integers(0, 4, size=200)
    x = rng.standard_normal((30, 5))
    got = conditional_labels.nearest_neighbour_labels(train_x, train_y, x, chunk=7)
    for row, label in zip(x, got):
        nearest = np.argsort(((train_x - row) ** 2).sum(axis=1))[:3]
        votes = np.bincount(train_y[nearest], minlength=4)
        assert label == votes.argmax()


def test_an_image_in_the_training_set_reads_as_its_own_class_when_its_class_is_clustered():
    centres = np.eye(3, 6) * 10.0
    rng = np.random.default_rng(1)
    train_y = np.repeat(np.arange(3), 20)
    train_x = centres[train_y] + rng.standard_normal((60, 6))
    labels = conditional_labels.nearest_neighbour_labels(train_x, train_y, train_x)
    np.testing.assert_array_equal(labels, train_y)


def test_label_shares_are_one_share_per_class_between_0_and_1():
    model = VAE(6, 2, hidden=(8,), n_classes=3, seed=0)
    rng = np.random.default_rng(2)
    train_y = np.repeat(np.arange(3), 10)
    train_x = rng.random((30, 6))
    shares = conditional_labels.label_shares(model, train_x, train_y, n=40, seed=0)
    assert shares.shape == (3,)
    assert np.all((shares >= 0) & (shares <= 1))
    np.testing.assert_array_equal(shares * 40, np.round(shares * 40))  # counts of 40 samples


def test_the_script_trains_reads_and_prints_its_table_row(tmp_path, capsys):
    argv = ["--z-dim", "2", "--seeds", "0", "--epochs", "1", "--n", "20",
            "--out", str(tmp_path / "runs")]
    assert conditional_labels.main(argv) == 0
    out = capsys.readouterr().out
    assert "3-nearest-neighbour classifier on the 10,000 training images of mnist-mini" in out
    assert len([line for line in out.splitlines() if line.startswith("| 2 | 0 | ")]) == 1
    assert re.search(r"^\| 2( \| \d+%-\d+% \(\d+%\)){3} \|$", out, re.M)   # the summary row
    checkpoint = tmp_path / "runs" / "z2-seed0" / "checkpoint.npz"
    first = checkpoint.stat().st_mtime_ns, checkpoint.read_bytes()
    assert conditional_labels.main(argv) == 0          # the finished run is read, not retrained
    assert (checkpoint.stat().st_mtime_ns, checkpoint.read_bytes()) == first
    assert [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| 2 | 0 | ")] == [line for line in out.splitlines()
                                                   if line.startswith("| 2 | 0 | ")]

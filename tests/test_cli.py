"""The numpyvae command: every subcommand as a user runs it, and its errors."""
import errno
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from numpyvae.app.cli import main
from numpyvae.app.run import Run, open_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "run"
    run = Run.start(folder, {"hidden": [32], "z_dim": 2, "batch_size": 250, "epochs": 1},
                    log=lambda *a: None)
    run.train(progress=False)
    return folder


def png(path):
    image = imread(path)
    assert image.ndim == 3 and image.std() > 0.05, "blank image"
    return image.shape[:2]


def test_gradcheck_prints_a_row_per_parameter(capsys):
    assert main(["gradcheck", "--likelihood", "gaussian", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    for name in ["enc.h1.W", "enc.mu.b", "enc.log_var.W", "dec.mean.W", "dec.sigma.b"]:
        assert any(line.startswith(name) and line.rstrip().endswith("pass")
                   for line in out.splitlines()), name
    assert "all gradients agree" in out


def test_python_dash_m_and_version():
    out = subprocess.run([sys.executable, "-m", "numpyvae", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("numpyvae ")


def test_train_writes_the_run_folder_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--hidden", "16", "--z-dim", "2",
                 "--batch-size", "500", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "epoch 1/1  train" in printed and f"done: {out}" in printed
    for name in ["config.json", "checkpoint.npz", "metrics.jsonl", "samples.png",
                 "reconstructions.png", "curves.png", "manifold.png", "scatter.png"]:
        assert (out / name).exists(), name
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["epoch"] == 1 and {"train_loss", "test_loss", "test_recon", "test_kl",
                                         "epoch_seconds"} <= set(metrics[0])
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-figures", "--quiet"]) == 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("argv,message", [
    (["train", "--lr", "-1"], "argument --lr: expected a finite number > 0, got -1"),
    (["train", "--z-dim", "0"], "argument --z-dim: expected an integer >= 1, got 0"),
    (["train", "--likelihood", "poisson"], "argument --likelihood: invalid choice: 'poisson'"),
    (["train", "--epoch", "x"], "argument --epochs: expected an integer >= 1, got 'x'"),
    (["sample", "RUN", "--n", "0"], "argument --n: expected an integer >= 1, got 0"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_flag_errors_get_argparse_messages(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resume_refuses_other_settings(tmp_path, run_dir, capsys):
    assert main(["train", "--resume", str(run_dir), "--hidden", "8"]) == 2
    assert "only --epochs and --data-dir may be given with it, not --hidden" in \
        capsys.readouterr().err


@pytest.mark.parametrize("command,extra,name", [
    ("sample", [], "samples.png"),
    ("sample", ["--draws", "--n", "36"], "draws.png"),
    ("reconstruct", [], "reconstructions.png"),
    ("manifold", ["--spacing", "quantile", "--n", "10"], "manifold.png"),
    ("scatter", [], "scatter.png"),
    ("interpolate", ["--from", "2", "--to", "5"], "interpolation.png"),
    ("curves", [], "curves.png"),
])
def test_figure_commands_write_pictures(command, extra, name, run_dir, tmp_path, capsys):
    out = tmp_path / name
    assert main([command, str(run_dir), "--out", str(out)] + extra) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    height, width = png(out)
    assert height > 100 and width > 300


def test_sample_save_npy(run_dir, tmp_path):
    out = tmp_path / "s.png"
    assert main(["sample", str(run_dir), "--out", str(out), "--n", "9", "--save-npy",
                 "--draws"]) == 0
    z = np.load(tmp_path / "s-z.npy")
    x = np.load(tmp_path / "s-x.npy")
    assert z.shape == (9, 2) and x.shape == (9, 784) and set(np.unique(x)) <= {0.0, 1.0}


def test_encode_test_set_and_an_input_file(run_dir, tmp_path):
    out = tmp_path / "latents.npz"
    assert main(["encode", str(run_dir), "--out", str(out)]) == 0
    with np.load(out) as data:
        assert data["mu"].shape == data["sigma"].shape == (2000, 2)
        assert data["labels"].shape == (2000,) and (data["sigma"] > 0).all()
    images = (np.random.default_rng(0).random((5, 28, 28)) * 255).astype(np.uint8)
    np.save(tmp_path / "in.npy", images)
    assert main(["encode", str(run_dir), "--input", str(tmp_path / "in.npy"),
                 "--out", str(out)]) == 0
    with np.load(out) as data:
        assert data["mu"].shape == (5, 2) and "labels" not in data


def test_bad_inputs_get_a_message_and_a_nonzero_exit(run_dir, tmp_path, capsys):
    np.save(tmp_path / "small.npy", np.zeros((3, 100)))
    cases = [
        (["sample", str(tmp_path / "missing")], "run folder", "does not exist"),
        (["sample", str(tmp_path)], "has no checkpoint.npz", "train first"),
        (["encode", str(run_dir), "--input", str(tmp_path / "small.npy")],
         "expected images of 784 pixels each", "got shape (3, 100)"),
        (["reconstruct", str(run_dir), "--input", str(tmp_path / "small.npy")],
         "expected images of 784 pixels", "(3, 100)"),
        (["interpolate", str(run_dir), "--to", "5000"], "--to must be the index of a test image",
         "got 5000"),
        (["evaluate", str(tmp_path / "missing")], "does not exist", ""),
    ]
    for argv, *parts in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert all(p in err for p in parts), (argv, err)
        assert "Traceback" not in err


def test_manifold_refuses_z_dim_above_2(tmp_path, capsys):
    folder = tmp_path / "run"
    Run.start(folder, {"hidden": [8], "z_dim": 3, "epochs": 1, "batch_size": 1000},
              log=lambda *a: None)
    assert main(["manifold", str(folder)]) == 2
    assert "manifold needs z_dim = 2; this model has z_dim = 3" in capsys.readouterr().err
    assert main(["scatter", str(folder), "--out", str(tmp_path / "s.png")]) == 0  # PCA instead


def test_evaluate_reports_elbo_and_importance_weighted_bound(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--samples", "50", "--limit", "40"]) == 0
    out = capsys.readouterr().out
    assert "test negative ELBO" in out and "-log p(x), IW, K = 50" in out
    result = json.loads((run_dir / "evaluation.json").read_text())
    assert result["test_images"] == 40 and result["importance_samples"] == 50
    # the importance-weighted bound is tighter: -log p(x) below the negative ELBO
    assert result["test_nll_iw"] < result["test_loss"]


# ---------------------------------------------------------------------- output paths

FAST_TRAIN = ["--epochs", "1", "--hidden", "8", "--batch-size", "500", "--quiet"]


def tree(folder):
    """Every path under ``folder`` with its content (None for a folder)."""
    return {p.relative_to(folder): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def one_error_line(err):
    """The single line of stderr; fails if there is more, or a traceback or a warning."""
    assert "Traceback" not in err and "RuntimeWarning" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n")
    return path


@pytest.mark.parametrize("out,problem", [
    ("notes.txt", "expected a folder, got an existing file"),
    ("notes.txt/run", "cannot create the folder: {file} is a file, not a folder"),
    ("notes.txt/deeper/run", "cannot create the folder: {file} is a file, not a folder"),
])
def test_train_refuses_an_out_it_cannot_use(out, problem, a_file, tmp_path, capsys):
    before = tree(tmp_path)
    assert main(["train", "--out", str(tmp_path / out)] + FAST_TRAIN) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == (f"numpyvae train: error: --out {tmp_path / out}: "
                    + problem.format(file=a_file))
    assert tree(tmp_path) == before


@pytest.mark.parametrize("existing", [False, True])
def test_train_that_fails_while_writing_leaves_nothing_behind(existing, tmp_path, monkeypatch,
                                                             capsys):
    def disk_full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("numpyvae.app.run.save_checkpoint", disk_full)
    out = tmp_path / "new" / "run"
    if existing:
        out.mkdir(parents=True)
    before = tree(tmp_path)
    assert main(["train", "--out", str(out)] + FAST_TRAIN) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == f"numpyvae train: error: {out / 'checkpoint.npz'}: No space left on device"
    assert tree(tmp_path) == before      # no half run: config.json and metrics.jsonl removed


FIGURE_COMMANDS = [("sample", []), ("reconstruct", []), ("encode", []), ("manifold", []),
                   ("scatter", []), ("interpolate", []), ("curves", []),
                   ("sample", ["--save-npy"])]


@pytest.mark.parametrize("command,extra", FIGURE_COMMANDS)
@pytest.mark.parametrize("out,problem", [
    ("folder.png", "expected the name of a file, got a folder"),
    ("notes.txt/out.png", "cannot write the file: {file} is a file, not a folder"),
    ("missing/out.png", "cannot write the file: the folder {tmp}/missing does not exist"),
])
def test_figure_commands_refuse_an_out_they_cannot_write(command, extra, out, problem, a_file,
                                                         run_dir, tmp_path, capsys):
    (tmp_path / "folder.png").mkdir()
    before, run_before = tree(tmp_path), tree(run_dir)
    assert main([command, str(run_dir), "--out", str(tmp_path / out)] + extra) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == (f"numpyvae {command}: error: --out {tmp_path / out}: "
                    + problem.format(file=a_file, tmp=tmp_path))
    assert tree(tmp_path) == before and tree(run_dir) == run_before


def test_figure_command_that_fails_while_writing_says_so_in_one_line(run_dir, tmp_path,
                                                                     monkeypatch, capsys):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("numpy.savez", disk_full)
    out = tmp_path / "latents.npz"
    assert main(["encode", str(run_dir), "--out", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == f"numpyvae encode: error: {out}: No space left on device"
    assert list(tmp_path.iterdir()) == []       # the temporary file is gone too


# ---------------------------------------------------------------------- divergence

def assert_diverged_run_is_whole(out):
    """A run that diverged in epoch 1 keeps its epoch-0 start, whole: no partial files."""
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "config.json",
                                                     "metrics.jsonl"]
    assert (out / "metrics.jsonl").read_text() == ""
    open_run(out)                               # the checkpoint reads back


def test_divergence_is_one_line_without_numpy_warnings(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--lr", "1e6"] + FAST_TRAIN) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("numpyvae train: the loss became ") and "--lr" in line
    assert f"{out / 'checkpoint.npz'}" in line
    assert_diverged_run_is_whole(out)
    # only the command turns numpy's warnings off, and only while it trains
    assert np.geterr()["over"] == "warn"
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.float32(3e38) * np.float32(10)


@pytest.mark.parametrize("flags", [
    ["--lr", "1e6", "--hidden", "8"],
    # the default model, whose optimizer step is split between threads (on 2+ cores with
    # OpenBLAS), overflowing in every piece of the step: warnings from the other thread too
    ["--lr", "3e38", "--weight-decay", "1e30"],
])
def test_divergence_as_a_user_sees_it(flags, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "numpyvae", "train", "--out", str(out),
                             "--epochs", "1", "--quiet", "--no-figures"] + flags,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "RuntimeWarning" not in result.stdout
    line = one_error_line(result.stderr)
    assert line.startswith("numpyvae train: the loss became ")
    assert_diverged_run_is_whole(out)

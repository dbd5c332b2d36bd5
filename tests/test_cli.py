"""The numpyvae command: every subcommand as a user runs it, and its errors."""
import contextlib
import errno
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numpyvae.app.cli import main
from numpyvae.app.run import Run, open_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "run"
    run = Run.start(folder, {"hidden": [32], "z_dim": 2, "batch_size": 250, "epochs": 1},
                    log=lambda *a: None)
    run.train(progress=False)
    return folder


def png(path):
    from matplotlib.image import imread      # a runtime dependency; only this helper reads PNGs
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
    printed = capsys.readouterr()
    sys.stderr.write(printed.err)      # for conftest: a message that matplotlib is missing
    assert "epoch 1/1  -ELBO: train" in printed.out and f"done: {out}" in printed.out
    for name in ["config.json", "checkpoint.npz", "metrics.jsonl", "samples.png",
                 "reconstructions.png", "curves.png", "manifold.png", "scatter.png"]:
        assert (out / name).exists(), name
    assert not (out / "sigma_x.png").exists()          # Bernoulli learns no sigma_x
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
    assert "only --epochs, --data-dir and --lr may be given with it, not --hidden" in \
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


# ---------------------------------------------------------------------- the Gaussian decoder

GAUSSIAN_TRAIN = ["--dataset", "fashion-mini", "--likelihood", "gaussian", "--dequantize",
                  "--hidden", "16", "--z-dim", "2", "--epochs", "1", "--batch-size", "500",
                  "--quiet"]


@pytest.fixture(scope="module")
def gaussian_run(tmp_path_factory):
    """A Gaussian run on dequantized fashion-mini, trained by the command, and its output."""
    folder = tmp_path_factory.mktemp("gaussian") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", "--out", str(folder)] + GAUSSIAN_TRAIN) == 0
    return folder, printed.getvalue()


def test_a_gaussian_run_on_dequantized_fashion_mini_end_to_end(gaussian_run):
    folder, printed = gaussian_run
    config = json.loads((folder / "config.json").read_text())
    assert (config["dataset"], config["likelihood"], config["dequantize"]) == \
        ("fashion-mini", "gaussian", True)
    assert (config["mean_activation"], config["sigma_x_floor"]) == ("sigmoid", 0.01)
    m = json.loads((folder / "metrics.jsonl").read_text())
    assert m["loss_unit"] == "nats, -log density"
    assert {"test_bpd", "train_bpd", "test_sigma_x_at_floor"} <= set(m)
    assert "epoch 1/1  -ELBO (-log density, nats): train" in printed and "bits/dim" in printed
    for name in ["samples.png", "reconstructions.png", "curves.png", "sigma_x.png"]:
        assert f"wrote {folder / name}" in printed
    assert png(folder / "sigma_x.png")[1] > 300
    model, _ = open_run(folder)
    assert model.config["mean_activation"] == "sigmoid"


def test_evaluate_labels_densities_and_gives_bits_per_dimension(gaussian_run, capsys):
    from numpyvae.app.run import load_data
    from numpyvae.evaluate import share_at_sigma_floor

    folder, _ = gaussian_run
    assert main(["evaluate", str(folder), "--samples", "5", "--limit", "30"]) == 0
    out = capsys.readouterr().out
    result = json.loads((folder / "evaluation.json").read_text())
    assert "of fashion-mini, dequantized with seed 0" in out
    assert f"test negative ELBO      {result['test_loss']:9.2f} nats (density)" in out
    assert f"-log p(x), IW, K = 5     {result['test_nll_iw']:9.2f} nats (density)" in out
    assert ("nats (density): -log densities of continuous x, which cannot be compared with a "
            "Bernoulli decoder's -log probabilities") in out
    D = 784
    for key, nats in (("test_bpd", "test_loss"), ("test_nll_iw_bpd", "test_nll_iw")):
        assert result[key] == pytest.approx((result[nats] + D * np.log(256)) / (D * np.log(2)))
    assert (f"bits per dimension, eq. (48): negative ELBO {result['test_bpd']:.4f}, IW bound "
            f"{result['test_nll_iw_bpd']:.4f}") in out
    model, config = open_run(folder)
    test_x = load_data(config)[1][:30]
    assert result["test_sigma_x_at_floor"] == share_at_sigma_floor(model, test_x)
    assert (f"sigma_x at its floor 0.01: {100 * result['test_sigma_x_at_floor']:.1f}% of the "
            f"test pixels") in out
    assert result["loss_unit"] == "nats, -log density"


def test_evaluate_of_a_bernoulli_run_says_nothing_of_densities(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--samples", "5", "--limit", "10"]) == 0
    out = capsys.readouterr().out
    assert "density" not in out and "bits" not in out and "floor" not in out
    result = json.loads((run_dir / "evaluation.json").read_text())
    assert result["loss_unit"] == "nats, -log probability"
    assert not {"test_bpd", "test_nll_iw_bpd", "test_sigma_x_at_floor"} & set(result)


def test_sample_shows_means_by_default_and_gaussian_draws_with_draws(gaussian_run, tmp_path,
                                                                     capsys):
    folder, _ = gaussian_run
    out = tmp_path / "s.png"
    assert main(["sample", str(folder), "--out", str(out), "--n", "16", "--save-npy"]) == 0
    assert not (tmp_path / "s-x.npy").exists()
    means = np.load(tmp_path / "s-mean.npy")
    assert main(["sample", str(folder), "--out", str(out), "--n", "16", "--save-npy",
                 "--draws"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s-mean.npy"), means)   # the same z
    x, sigma = np.load(tmp_path / "s-x.npy"), np.load(tmp_path / "s-sigma.npy")
    noise = (x - means) / sigma                              # x ~ N(mu_x, sigma_x^2)
    assert abs(noise.mean()) < 0.05 and abs(noise.std() - 1) < 0.05
    # without --out, the draws go beside the means, not over them
    assert main(["sample", str(folder), "--draws", "--n", "4"]) == 0
    assert f"wrote {folder / 'draws.png'}" in capsys.readouterr().out


def test_the_sigma_x_command(gaussian_run, run_dir, tmp_path, capsys):
    folder, _ = gaussian_run
    out = tmp_path / "sigma.png"
    assert main(["sigma-x", str(folder), "--out", str(out), "--n", "5"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert png(out)[1] > 300
    assert main(["sigma-x", str(run_dir), "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == ("numpyvae sigma-x: error: sigma-x needs a run whose decoder learns sigma_x "
                    "(gaussian, gaussian-shared); this run's likelihood is bernoulli")


@pytest.mark.parametrize("flags,message", [
    (["--dequantize"], "--dequantize makes continuous data for a Gaussian decoder; the "
                       "bernoulli likelihood reads each pixel as a probability in [0, 1]"),
    (["--likelihood", "gaussian", "--dequantize", "--binarize", "dynamic"],
     "--dequantize and --binarize dynamic exclude each other"),
    (["--mean-activation", "identity"], "--mean-activation applies to the Gaussian decoders "
                                        "(gaussian, gaussian-shared, gaussian-fixed); the "
                                        "bernoulli decoder's mean is always sigmoid(logits)"),
    (["--likelihood", "gaussian", "--sigma-x", "0.2"],
     "--sigma-x is the constant sigma_x of gaussian-fixed; the gaussian decoder learns its "
     "sigma_x"),
    (["--sigma-x", "0.2"], "--sigma-x is the constant sigma_x of gaussian-fixed; the "
                           "bernoulli decoder has no sigma_x"),
    (["--likelihood", "gaussian-fixed", "--sigma-x-floor", "0.1"],
     "--sigma-x-floor is the floor of a learned sigma_x (gaussian, gaussian-shared); the "
     "gaussian-fixed decoder has the constant sigma_x of --sigma-x"),
    (["--objective", "iwae", "--beta", "0.5"],
     "--objective iwae takes no --beta (the importance-weighted bound has no KL term to "
     "weight); got --beta 0.5"),
    (["--objective", "iwae", "--samples", "5", "--warmup", "3"],
     "--objective iwae takes no --warmup (the importance-weighted bound has no KL term to "
     "warm up); got --warmup 3"),
    (["--objective", "iwae", "--denoise"],
     "--objective iwae takes no --denoise (the bound's samples come from q(z|x) of the image "
     "itself, not of a corrupted one)"),
    (["--optimizer", "sgd", "--lr", "0.1", "--adam-eps", "1e-4"],
     "--adam-eps is the eps of Adam, eq. (42); the sgd optimizer has none"),
])
def test_decoder_and_data_flags_that_do_not_fit_are_one_line_errors(flags, message, tmp_path,
                                                                    capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out)] + FAST_TRAIN + flags) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"numpyvae train: error: {message}")
    assert not out.exists()


@pytest.mark.parametrize("flags,key,value", [
    (["--likelihood", "gaussian", "--mean-activation", "identity"], "mean_activation",
     "identity"),
    (["--likelihood", "gaussian-fixed"], "sigma_x", 0.1),
    (["--likelihood", "gaussian-fixed", "--sigma-x", "0.25"], "sigma_x", 0.25),
    (["--likelihood", "gaussian-shared", "--sigma-x-floor", "0.03"], "sigma_x_floor", 0.03),
])
def test_decoder_flags_reach_the_model_and_config_json(flags, key, value, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--no-figures"] + FAST_TRAIN + flags) == 0
    assert json.loads((out / "config.json").read_text())[key] == value
    assert open_run(out)[0].config[key] == value


def test_dataset_takes_every_name_and_help_says_what_applies_where(capsys):
    from numpyvae.app.cli import build_parser
    from numpyvae.datasets import DATASET_NAMES

    for name in DATASET_NAMES:
        assert build_parser().parse_args(["train", "--dataset", name]).dataset == name
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "cifar10"])
    assert "argument --dataset: invalid choice: 'cifar10'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_ = " ".join(capsys.readouterr().out.split())
    assert "the constant sigma_x of gaussian-fixed (default: 0.1" in help_
    assert "the floor of the learned sigma_x of gaussian and gaussian-shared (default: 0.01)" \
        in help_
    assert "--mean-activation {identity,sigmoid}" in help_
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    help_ = " ".join(capsys.readouterr().out.split())
    assert "x ~ N(mu_x, sigma_x^2) for a Gaussian decoder" in help_
    assert "x ~ Bernoulli(mu_x), 0 or 1, for Bernoulli" in help_


def test_resume_refuses_the_new_flags_too(run_dir, capsys):
    for flag in (["--dequantize"], ["--mean-activation", "sigmoid"], ["--objective", "iwae"],
                 ["--adam-eps", "1e-4"]):
        assert main(["train", "--resume", str(run_dir)] + flag) == 2
        assert f"may be given with it, not {flag[0]}" in capsys.readouterr().err


# ---------------------------------------------------------------------- the IWAE objective

def test_an_iwae_run_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--objective", "iwae", "--samples", "3",
                 "--epochs", "1", "--hidden", "16", "--z-dim", "2", "--batch-size", "500",
                 "--adam-eps", "1e-4", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "epoch 1/1  -L_3: train " in printed and "  -ELBO: train " in printed
    config = json.loads((out / "config.json").read_text())
    assert (config["objective"], config["samples"], config["adam_eps"]) == ("iwae", 3, 1e-4)
    m = json.loads((out / "metrics.jsonl").read_text())
    assert m["iwae_samples"] == 3 and m["test_iwae_loss"] < m["test_loss"]
    assert png(out / "curves.png")
    # a new stage at another learning rate; the objective stays
    assert main(["train", "--resume", str(out), "--epochs", "2", "--lr", "3e-4", "--no-figures",
                 "--quiet"]) == 0
    assert "epoch 2/2  -L_3: train " in capsys.readouterr().out
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["objective"], r["lr"]) for r in records] == [("iwae", 1e-3), ("iwae", 3e-4)]


def test_help_tells_what_the_objective_and_its_k_are(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_ = " ".join(capsys.readouterr().out.split())
    assert "--objective {elbo,iwae}" in help_
    assert "iwae, the negative importance-weighted bound -L_k of Burda et al. with k = " \
           "--samples" in help_
    assert "the k of --objective iwae" in help_ and "Adam's eps" in help_


def test_active_units_are_those_whose_mean_varies_over_the_images():
    from numpyvae import VAE
    from numpyvae.app.run import active_units

    # No hidden layer: mu(x) = x W + b, so Var_x mu_u(x) = Var(x W_u) is known in advance.
    model = VAE(3, 3, hidden=(), dtype=np.float64)
    model.parameters()["enc.mu.W"][...] = np.diag([1.0, 0.3, 0.0])
    model.parameters()["enc.mu.b"][...] = [5.0, -2.0, 1.0]
    x = np.random.default_rng(0).random((4000, 3))
    count, variances = active_units(model, x)
    expected = np.var(x * [1.0, 0.3, 0.0], axis=0)            # about 1/12, 0.09/12 and 0
    np.testing.assert_allclose(variances, expected, rtol=1e-12, atol=1e-15)
    assert count == 1                                           # 0.083 > 0.01 > 0.0075
    assert active_units(model, x, threshold=0.005)[0] == 2
    with pytest.raises(ValueError, match="x must hold at least 2 images"):
        active_units(model, x[:1])


def test_evaluate_counts_the_active_units(run_dir, capsys):
    from numpyvae.app.run import active_units, load_data

    assert main(["evaluate", str(run_dir), "--samples", "10", "--limit", "300"]) == 0
    out = capsys.readouterr().out
    result = json.loads((run_dir / "evaluation.json").read_text())
    model, config = open_run(run_dir)
    count, variances = active_units(model, load_data(config)[1][:300])
    assert result["active_units"] == count and result["unit_variances"] == variances.tolist()
    assert re.search(rf"^active units +{count} of 2  \(Var_x mu_u\(x\) > 0\.01", out, re.M)
    assert (result["epochs"], result["limit"], result["seed"]) == (1, 300, 0)
    assert "trained on -ELBO for 1 epoch, on 300 test images" in out


# ---------------------------------------------------------------------- the conditional VAE

@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """The run of the README's command: `numpyvae train --conditional`, every setting default."""
    out = tmp_path_factory.mktemp("conditional") / "run"
    assert main(["train", "--conditional", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_conditional_then_sample_label_7_draws_sevens(conditional_run, tmp_path, capsys):
    from conditional_labels import nearest_neighbour_labels

    from numpyvae.datasets import load_dataset
    config = json.loads((conditional_run / "config.json").read_text())
    model, _ = open_run(conditional_run)
    assert config["conditional"] is True and model.n_classes == 10
    assert config["z_dim"] == 2 and config["epochs"] == 10         # the defaults of --conditional
    assert {"enc.h1.Wy", "dec.h1.Wy"} <= set(model.parameters())
    assert (conditional_run / "classes.png").exists()
    assert not (conditional_run / "samples.png").exists()
    out = tmp_path / "sevens.png"
    assert main(["sample", str(conditional_run), "--label", "7", "--out", str(out),
                 "--save-npy"]) == 0
    assert "wrote" in capsys.readouterr().out and png(out)
    means = np.load(tmp_path / "sevens-mean.npy")
    assert means.shape == (100, 784)
    np.testing.assert_array_equal(np.load(tmp_path / "sevens-y.npy"), np.full(100, 7))
    # a 3-nearest-neighbour classifier on the training images, which reads 92% of the test
    # images right, reads the samples: a model that ignored its label would make 10% sevens;
    # over five seeds the default made 82-100%, and with --z-dim 20 only 32-48%
    data = load_dataset("mnist-mini")
    read_as = nearest_neighbour_labels(data.train_x, data.train_y, means)
    assert np.mean(read_as == 7) >= 0.75, \
        f"only {np.mean(read_as == 7):.0%} of the samples of label 7 read as sevens"


def test_sample_of_a_conditional_run_without_label_draws_one_row_per_class(conditional_run,
                                                                            tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", str(conditional_run), "--out", str(out), "--n", "6",
                 "--save-npy"]) == 0
    height, width = png(out)
    assert height > 1.4 * width                       # 10 rows of classes, 6 columns of z
    z, y = np.load(tmp_path / "grid-z.npy"), np.load(tmp_path / "grid-y.npy")
    assert z.shape == (6, 2) and np.array_equal(y, np.repeat(np.arange(10), 6))
    assert np.load(tmp_path / "grid-mean.npy").shape == (60, 784)
    assert main(["sample", str(conditional_run), "--draws", "--out",
                 str(tmp_path / "d.png")]) == 0
    assert main(["sample", str(conditional_run)]) == 0       # default: RUN/classes.png
    assert f"wrote {conditional_run / 'classes.png'}" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["sample", "{run}", "--label", "10"],
     "numpyvae sample: error: --label must be a class of this run, 0 to 9; got 10"),
    (["sample", "{plain}", "--label", "3"],
     "numpyvae sample: error: --label is for a conditional run (numpyvae train --conditional); "
     "this run is unconditional and its model takes no label; got --label 3"),
    (["manifold", "{run}"],
     "numpyvae manifold: error: manifold of a conditional run decodes the grid with one "
     "class: choose it with --label (0 to 9)"),
    (["encode", "{run}", "--input", "{images}"],
     "numpyvae encode: error: --input images of a conditional run need --label, their class "
     "(0 to 9): the model reads each image with its label"),
    (["reconstruct", "{run}", "--label", "3"],
     "numpyvae reconstruct: error: --label goes with --input: the test images are read with "
     "their own labels"),
    (["interpolate", "{plain}", "--label", "1"],
     "numpyvae interpolate: error: --label is for a conditional run"),
    (["train", "--resume", "{run}", "--conditional"],
     "numpyvae train: error: --resume continues a run with its own settings; only --epochs, "
     "--data-dir and --lr may be given with it, not --conditional"),
])
def test_labels_that_do_not_fit_are_one_line_errors(argv, message, conditional_run, run_dir,
                                                    tmp_path, capsys):
    np.save(tmp_path / "images.npy", np.zeros((3, 784)))
    argv = [a.format(run=conditional_run, plain=run_dir, images=tmp_path / "images.npy")
            for a in argv]
    assert main(argv + ["--out", str(tmp_path / "x.png")] if argv[0] != "train" else argv) == 2
    assert one_error_line(capsys.readouterr().err).startswith(message)
    assert not (tmp_path / "x.png").exists()


def test_a_label_that_is_not_a_class_number_is_an_argparse_error(conditional_run, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sample", str(conditional_run), "--label", "seven"])
    assert exit_.value.code == 2
    assert "argument --label: expected a class label, an integer >= 0, got 'seven'" in \
        capsys.readouterr().err


def test_encode_reads_the_test_labels_or_the_label_of_input_images(conditional_run, tmp_path):
    from numpyvae.app.run import load_data
    from numpyvae.inference import latent_factors

    model, config = open_run(conditional_run)
    data = load_data(config)[0]
    out = tmp_path / "latents.npz"
    assert main(["encode", str(conditional_run), "--out", str(out)]) == 0
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["labels"], data.test_y)
        np.testing.assert_array_equal(saved["mu"],
                                      latent_factors(model, data.test_x, y=data.test_y)[0])
    np.save(tmp_path / "in.npy", data.test_x[:4])
    assert main(["encode", str(conditional_run), "--input", str(tmp_path / "in.npy"),
                 "--label", "5", "--out", str(out)]) == 0
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["labels"], np.full(4, 5))
        np.testing.assert_array_equal(saved["mu"],
                                      model.encode(data.test_x[:4], np.full(4, 5))[0])


@pytest.mark.parametrize("command,extra", [
    ("interpolate", ["--from", "0", "--to", "1"]),
    ("interpolate", ["--label", "4"]),
    ("reconstruct", []),
    ("scatter", ["--limit", "300"]),
    ("manifold", ["--label", "3", "--n", "8"]),
])
def test_figure_commands_of_a_conditional_run(command, extra, conditional_run, tmp_path,
                                              capsys):
    out = tmp_path / f"{command}.png"
    assert main([command, str(conditional_run), "--out", str(out)] + extra) == 0
    assert png(out)


def test_evaluate_of_a_conditional_run_says_it_is_of_p_x_given_y(conditional_run, capsys):
    assert main(["evaluate", str(conditional_run), "--samples", "10", "--limit", "50"]) == 0
    out = capsys.readouterr().out
    assert "n_classes=10" in out
    assert "a conditional model, given each test image's label: its numbers are of p(x|y)" in out


def test_gradcheck_of_a_conditional_model(capsys):
    assert main(["gradcheck", "--likelihood", "bernoulli", "--n-classes", "3"]) == 0
    out = capsys.readouterr().out
    assert "n_classes=3" in out
    for name in ("enc.h1.Wy", "dec.h1.Wy"):
        assert any(line.startswith(name) and line.rstrip().endswith("pass")
                   for line in out.splitlines()), name


def test_without_matplotlib_train_saves_the_run_and_figure_commands_say_why(tmp_path, capsys,
                                                                            monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    import numpyvae.app
    monkeypatch.delitem(sys.modules, "numpyvae.app.plots", raising=False)
    monkeypatch.delattr(numpyvae.app, "plots", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    folder = tmp_path / "run"
    assert main(["train", "--hidden", "8", "--z-dim", "2", "--epochs", "1", "--quiet",
                 "--out", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "numpyvae train: no figures: matplotlib, which numpyvae draws its figures with, is " \
           "not installed (pip install matplotlib); the run is saved in" in err
    assert (folder / "checkpoint.npz").is_file() and not list(folder.glob("*.png"))
    assert main(["sample", str(folder)]) == 2
    assert capsys.readouterr().err.strip() == (
        "numpyvae sample: error: matplotlib, which numpyvae draws its figures with, is not "
        "installed (pip install matplotlib)")

"""scripts/reproduce_iwae.py: the paper's setup and schedule, and a quick run end to end."""
import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from numpyvae.app.checkpoint import load_checkpoint
from numpyvae.app.run import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import reproduce_iwae  # noqa: E402

# A network small enough for seconds, on the bundled subset.
QUICK = ["--dataset", "mnist-mini", "--hidden", "8", "--z-dim", "3", "--nll-samples", "10",
         "--nll-limit", "100", "--quiet"]


def test_the_schedule_is_the_papers():
    # 3^i epochs at 0.001 * 10^(-i/7), i = 0..7: 3280 epochs, the rate falling to 1e-4
    assert [reproduce_iwae.epochs_after(i) for i in range(8)] == \
        [1, 4, 13, 40, 121, 364, 1093, 3280]
    assert reproduce_iwae.stage_lr(0) == 1e-3
    assert reproduce_iwae.stage_lr(7) == pytest.approx(1e-4, rel=1e-12)
    rates = [reproduce_iwae.stage_lr(i) for i in range(8)]
    np.testing.assert_allclose(np.diff(np.log10(rates)), -1 / 7)


def test_the_defaults_are_the_papers_setup():
    args = reproduce_iwae.build_parser().parse_args([])
    assert (args.hidden, args.z_dim, args.nll_samples, args.stages) == ([200, 200], 50, 5000, 7)
    assert args.dataset == "mnist" and Path(args.data_dir).parts[-3:] == ("shared", "data",
                                                                          "mnist")
    assert args.configs == ["vae-k1", "vae-k5", "iwae-k5"]
    config = reproduce_iwae.run_config("iwae-k5", args)
    assert {k: config[k] for k in ("activation", "likelihood", "binarize", "batch_size",
                                   "optimizer", "adam_eps", "objective", "samples")} == {
        "activation": "tanh", "likelihood": "bernoulli", "binarize": "dynamic",
        "batch_size": 20, "optimizer": "adam", "adam_eps": 1e-4, "objective": "iwae",
        "samples": 5}
    assert reproduce_iwae.run_config("vae-k50", args)["objective"] == "elbo"
    assert reproduce_iwae.run_config("vae-k50", args)["samples"] == 50


@pytest.mark.parametrize("text", ["1..3", "0..8", "3", "0..x", "0...3", ""])
def test_stages_must_be_a_prefix_of_the_schedule(text, capsys):
    with pytest.raises(SystemExit):
        reproduce_iwae.main(["--stages", text])
    err = capsys.readouterr().err
    assert "argument --stages: expected 0..N with N from 0 to 7" in err and "Traceback" not in err


def test_a_quick_run_end_to_end(tmp_path, capsys):
    out = tmp_path / "runs"
    assert reproduce_iwae.main(QUICK + ["--stages", "0..1", "--configs", "vae-k1", "iwae-k5",
                                        "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    lr1 = 1e-3 * 10 ** (-1 / 7)
    for name, objective, k in (("vae-k1", "elbo", 1), ("iwae-k5", "iwae", 5)):
        folder = out / name
        config = json.loads((folder / "config.json").read_text())
        assert (config["objective"], config["samples"], config["batch_size"]) == (objective, k, 20)
        assert (config["binarize"], config["activation"]) == ("dynamic", "tanh")
        metrics = read_metrics(folder / "metrics.jsonl")
        assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
        np.testing.assert_allclose([m["lr"] for m in metrics], [1e-3, lr1, lr1, lr1])
        state = load_checkpoint(folder / "checkpoint.npz")["optimizer_state"]
        assert state["eps"] == 1e-4 and state["t"] == 4 * 500     # 10,000 images, batch 20
        evaluation = json.loads((folder / "evaluation.json").read_text())
        assert (evaluation["importance_samples"], evaluation["test_images"]) == (10, 100)
        assert evaluation["epochs"] == 4
        assert ("test_iwae_loss" in metrics[-1]) == (objective == "iwae")
    table = (out / "table.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| VAE") or
            line.startswith("| IWAE")]
    assert len(rows) == 2
    vae = json.loads((out / "vae-k1" / "evaluation.json").read_text())
    assert rows[0].startswith(f"| VAE | 1 | 4 | {vae['test_nll_iw']:.2f} ± ")
    assert f"| {vae['active_units']} of 3 | 86.76 | 19 |" in rows[0]
    assert rows[1].startswith("| IWAE | 5 | 4 |") and "| 85.54 | 22 |" in rows[1]
    assert "Stages i = 0..1 of the schedule" in table and "4 of the paper's 3280 epochs" in table
    assert table.strip() in printed

    # The same command again trains nothing and keeps the evaluations.
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != "table.md"}
    assert reproduce_iwae.main(QUICK + ["--stages", "0..1", "--configs", "vae-k1", "iwae-k5",
                                        "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "stage" not in printed and "evaluating" not in printed
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_stages_run_later_continue_the_run_exactly(tmp_path, capsys):
    common = QUICK + ["--configs", "vae-k1"]
    assert reproduce_iwae.main(common + ["--stages", "0..1", "--out", str(tmp_path / "a")]) == 0
    assert reproduce_iwae.main(common + ["--stages", "0..0", "--out", str(tmp_path / "b")]) == 0
    assert reproduce_iwae.main(common + ["--stages", "0..1", "--out", str(tmp_path / "b")]) == 0
    assert "stage 1: epochs 2..4 at lr 0.00072" in capsys.readouterr().out
    a, b = (load_checkpoint(tmp_path / f / "vae-k1" / "checkpoint.npz") for f in "ab")
    assert np.array_equal(a["model"].flat_parameters, b["model"].flat_parameters)
    assert all(np.array_equal(a["optimizer_state"][k], b["optimizer_state"][k])
               for k in a["optimizer_state"])
    assert json.loads((tmp_path / "b" / "vae-k1" / "evaluation.json").read_text())["epochs"] == 4


def test_a_folder_of_another_configuration_is_refused_in_one_line(tmp_path, capsys):
    out = str(tmp_path / "runs")
    assert reproduce_iwae.main(QUICK + ["--stages", "0..0", "--configs", "vae-k1",
                                        "--out", out]) == 0
    capsys.readouterr()
    argv = [a if a != "8" else "6" for a in QUICK]             # --hidden 6
    assert reproduce_iwae.main(argv + ["--stages", "0..0", "--configs", "vae-k1",
                                       "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"reproduce_iwae.py: error: {tmp_path / 'runs' / 'vae-k1'} holds a run of another "
        f"configuration (hidden [8] where this asks for [6]); choose another --out, or the "
        f"settings it was trained with"]


def test_an_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert reproduce_iwae.main(QUICK + ["--stages", "0..0", "--out",
                                        str(tmp_path / "notes.txt")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"reproduce_iwae.py: error: --out {tmp_path / 'notes.txt'}: expected a folder, got an "
        f"existing file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def _row(name, nll, units, epochs=40):
    model, _, k, paper_nll, paper_units = reproduce_iwae.CONFIGURATIONS[name]
    return {"name": name, "model": model, "k": k, "epochs": epochs, "nll": nll,
            "nll_stderr": 0.3, "active_units": units, "z_dim": 50, "paper_nll": paper_nll,
            "paper_units": paper_units, "epoch_seconds": 3.0, "test_images": 10000,
            "importance_samples": 5000}


def test_the_table_says_whether_the_targets_are_met():
    args = SimpleNamespace(hidden=[200, 200], z_dim=50, stages=3, dataset="mnist",
                           nll_samples=5000, seed=0)
    lines = reproduce_iwae.table([_row("vae-k5", 88.0, 18), _row("iwae-k5", 87.2, 21)], args)
    text = "\n".join(lines)
    assert "784-200-200-50, tanh" in text and "k = 5000 importance samples on 10,000" in text
    assert "| IWAE | 5 | 40 | 87.20 ± 0.30 | 21 of 50 | 85.54 | 22 | 3.0 |" in lines
    assert ("IWAE k=5 against VAE k=5, at 40 and 40 epochs: NLL lower by 0.80 nats (the target "
            "is at least 0.5: met); active units 21 against 18 (the target is at least as "
            "many: met).") in lines
    lines = reproduce_iwae.table([_row("vae-k5", 88.0, 22), _row("iwae-k5", 87.7, 21, 13)],
                                 args)
    verdict = [line for line in lines if line.startswith("IWAE k=5")][0]
    assert "lower by 0.30 nats (the target is at least 0.5: not met)" in verdict
    assert "(the target is at least as many: not met)" in verdict
    assert verdict.endswith("The epochs differ: the targets are for equal epochs.")
    assert not any(line.startswith("IWAE k=") for line in
                   reproduce_iwae.table([_row("vae-k1", 88.0, 18)], args))


def _with_torch(row, nll, units=20, seconds=4.0):
    return {**row, "torch_nll": nll, "torch_active_units": units, "torch_epoch_seconds": seconds}


def test_the_table_gives_pytorchs_nll_beside_and_says_whether_they_agree():
    args = SimpleNamespace(hidden=[200, 200], z_dim=50, stages=3, dataset="mnist",
                           nll_samples=5000, seed=0)
    rows = [_with_torch(_row("vae-k5", 88.0, 18), 88.3, 17),
            _with_torch(_row("iwae-k5", 87.2, 21), 86.8, 22, 4.5)]
    lines = reproduce_iwae.table(rows, args)
    assert lines[lines.index("") + 3].endswith(
        "| train s / epoch | PyTorch NLL | PyTorch active units | PyTorch s / epoch |")
    assert "| IWAE | 5 | 40 | 87.20 ± 0.30 | 21 of 50 | 85.54 | 22 | 3.0 | 86.80 | 22 of 50 | " \
           "4.5 |" in lines
    assert lines[-1] == ("numpyvae against PyTorch, the same schedule on the same test images: "
                         "VAE k=5 88.00 and 88.30; IWAE k=5 87.20 and 86.80. The largest "
                         "difference is 0.40 nats (the target is at most 0.5: met).")
    rows[0]["torch_nll"] = 88.6
    assert reproduce_iwae.table(rows, args)[-1].endswith(
        "The largest difference is 0.60 nats (the target is at most 0.5: not met).")
    without = reproduce_iwae.table([_row("vae-k5", 88.0, 18)], args)
    assert not any("PyTorch" in line for line in without)


@pytest.mark.parametrize("extra,message", [
    (["--torch-python", "/no/such/python"],
     "--torch-python must be an executable Python; got '/no/such/python'"),
    (["--torch-python", sys.executable, "--dataset", "mnist-mini"],
     "--torch-python needs --dataset mnist, which torch_reference.py reads; got --dataset "
     "mnist-mini"),
])
def test_a_torch_python_that_cannot_run_is_refused_in_one_line(extra, message, tmp_path,
                                                               capsys):
    with pytest.raises(SystemExit):
        reproduce_iwae.main(["--out", str(tmp_path / "runs"), *extra])
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].endswith(f"error: {message}")
    assert not (tmp_path / "runs").exists()


MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="PyTorch is not installed in this environment")
@pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST copy at {MNIST}")
def test_with_torch_python_each_model_is_trained_and_evaluated_in_pytorch_too(tmp_path, capsys):
    out = tmp_path / "runs"
    argv = ["--dataset", "mnist", "--data-dir", str(MNIST), "--hidden", "8", "--z-dim", "3",
            "--nll-samples", "10", "--nll-limit", "100", "--quiet", "--stages", "0..0",
            "--configs", "iwae-k5", "--out", str(out), "--torch-python", sys.executable]
    assert reproduce_iwae.main(argv) == 0
    report = json.loads((out / "iwae-k5-torch.json").read_text())
    assert report["config"]["objective"] == "iwae" and report["config"]["samples"] == 5
    assert (report["config"]["hidden"], report["config"]["z_dim"]) == ([8], 3)
    assert (report["stages"], report["importance_samples"], report["iw_images"]) == (0, 10, 100)
    assert len(report["epochs"]) == 1
    row = [line for line in (out / "table.md").read_text().splitlines()
           if line.startswith("| IWAE")][0]
    assert row.endswith(f"| {report['test_nll_iw']:.2f} | {report['active_units']} of 3 | "
                        f"{report['epochs'][0]['train_seconds']:.1f} |")
    capsys.readouterr()
    before = (out / "iwae-k5-torch.json").stat().st_mtime_ns
    assert reproduce_iwae.main(argv) == 0                       # the report is read again
    assert (out / "iwae-k5-torch.json").stat().st_mtime_ns == before
    assert "PyTorch:" not in capsys.readouterr().out

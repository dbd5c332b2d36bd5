"""scripts/gaussian_results.py: the comparison of docs/results.md's Gaussian runs."""
import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import gaussian_results  # noqa: E402


def row(framework, likelihood, seed, bound, floor=None):
    return {"framework": framework, "likelihood": likelihood, "seed": seed, "epochs": 10,
            "test_loss": -1000.0, "test_kl": 50.0, "test_bpd": bound + 0.08,
            "iw_samples": 1000, "iw_images": 1000, "test_nll_iw": -1100.0,
            "test_nll_iw_bpd": bound, "sigma_x_at_floor": floor, "train_seconds": 1.0}


def test_bounds_agree_only_within_two_percent_and_within_the_spread_between_seeds():
    close = [row("numpyvae", "gaussian", s, b, 0.3) for s, b in enumerate([5.20, 5.21, 5.22])]
    close += [row("pytorch", "gaussian", s, b, 0.3) for s, b in enumerate([5.19, 5.205, 5.215])]
    lines, agree = gaussian_results.summarize(close)
    assert agree
    assert "| gaussian | numpyvae (3 seeds) | 5.290 (5.280-5.300) | 5.210 (5.200-5.220) |" in \
        "\n".join(lines)
    assert "30.0%" in "\n".join(lines)
    # Outside the spread between seeds, though within 2%:
    apart = [dict(r) for r in close]
    for r in apart:
        if r["framework"] == "pytorch":
            r["test_nll_iw_bpd"] += 0.05
    lines, agree = gaussian_results.summarize(apart)
    assert not agree and "DO NOT agree" in lines[-1]
    # Within the spread, which is wide, but not within 2%:
    wide = [row("numpyvae", "gaussian-fixed", s, b) for s, b in enumerate([5.0, 5.5, 6.0])]
    wide += [row("pytorch", "gaussian-fixed", s, b) for s, b in enumerate([5.2, 5.7, 6.2])]
    lines, agree = gaussian_results.summarize(wide)
    assert not agree and "n/a" in "\n".join(lines)


def test_a_numpyvae_run_on_the_bundled_subset_writes_its_row(tmp_path):
    csv_path = tmp_path / "runs.csv"
    status = gaussian_results.main(
        ["--dataset", "fashion-mini", "--likelihoods", "gaussian-shared", "--seeds", "0",
         "--epochs", "1", "--iw-samples", "4", "--iw-limit", "20",
         "--out", str(tmp_path / "runs"), "--csv", str(csv_path)])
    assert status == 0                       # nothing to compare with: no disagreement
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert [(r["framework"], r["likelihood"], r["seed"], r["epochs"]) for r in rows] == \
        [("numpyvae", "gaussian-shared", "0", "1")]
    assert float(rows[0]["iw_images"]) == 20 and float(rows[0]["sigma_x_at_floor"]) == 0.0
    assert 0 < float(rows[0]["test_nll_iw_bpd"]) < 16


def test_a_torch_python_that_is_not_there_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        gaussian_results.main(["--torch-python", str(tmp_path / "python")])
    assert "--torch-python must be an executable Python" in capsys.readouterr().err

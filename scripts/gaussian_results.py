"""The Gaussian decoders on Fashion-MNIST, in numpyvae and in PyTorch: the runs of docs/results.md.

For each sigma_x choice (per pixel with its floor, shared, fixed) and each seed, it trains the
same configuration twice, with ``numpyvae train`` and with scripts/torch_reference.py, on
dequantized Fashion-MNIST, then compares the test negative ELBO and the importance-weighted
bound, in bits per dimension (eq. (48)), and the share of pixels at the sigma_x floor:

    python scripts/gaussian_results.py --torch-python /path/to/venv-with-torch/bin/python

It writes one row per run to ``--csv`` (default docs/gaussian-runs.csv) and prints the table
of docs/results.md: the mean and spread over the seeds of each framework, and whether the two
bounds agree within 2% and within the spread between seeds. The run folders go to ``--out``;
a finished run is read again rather than retrained, so an interrupted sweep can be resumed.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIKELIHOODS = ("gaussian", "gaussian-shared", "gaussian-fixed")
FIELDS = ("framework", "likelihood", "seed", "epochs", "test_loss", "test_kl", "test_bpd",
          "iw_samples", "iw_images", "test_nll_iw", "test_nll_iw_bpd", "sigma_x_at_floor",
          "train_seconds")
AGREEMENT = 0.02          # the bounds of the two frameworks agree within 2%


def numpyvae_run(args, likelihood, seed):
    """Train and evaluate with numpyvae (or read the finished run); one CSV row."""
    folder = Path(args.out) / f"numpyvae-{likelihood}-{seed}"
    if not (folder / "evaluation.json").exists():
        common = ["--data-dir", args.data_dir] if args.data_dir else []
        _call([sys.executable, "-m", "numpyvae", "train", "--dataset", args.dataset,
               "--likelihood", likelihood, "--dequantize", "--epochs", str(args.epochs),
               "--seed", str(seed), "--out", str(folder), "--quiet", *common])
        _call([sys.executable, "-m", "numpyvae", "evaluate", str(folder),
               "--samples", str(args.iw_samples), "--limit", str(args.iw_limit), *common])
    last = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
    evaluation = json.loads((folder / "evaluation.json").read_text())
    seconds = sum(json.loads(line)["epoch_seconds"]
                  for line in (folder / "metrics.jsonl").read_text().splitlines())
    return {"framework": "numpyvae", "likelihood": likelihood, "seed": seed,
            "epochs": last["epoch"], "test_loss": last["test_loss"], "test_kl": last["test_kl"],
            "test_bpd": last["test_bpd"], "iw_samples": evaluation["importance_samples"],
            "iw_images": evaluation["test_images"], "test_nll_iw": evaluation["test_nll_iw"],
            "test_nll_iw_bpd": evaluation["test_nll_iw_bpd"],
            "sigma_x_at_floor": evaluation.get("test_sigma_x_at_floor"),
            "train_seconds": seconds}


def torch_run(args, likelihood, seed):
    """Train and evaluate with scripts/torch_reference.py (or read its report); one CSV row."""
    report_path = Path(args.out) / f"torch-{likelihood}-{seed}.json"
    if not report_path.exists():
        data_dir = ([] if not args.data_dir else
                    ["--data-dir", str(Path(args.data_dir) / args.dataset)])
        _call([args.torch_python, str(ROOT / "scripts" / "torch_reference.py"),
               "--dataset", args.dataset, "--likelihood", likelihood, "--dequantize",
               "--epochs", str(args.epochs), "--seed", str(seed),
               "--iw-samples", str(args.iw_samples), "--iw-limit", str(args.iw_limit),
               "--json", str(report_path), *data_dir])
    report = json.loads(report_path.read_text())
    return {"framework": "pytorch", "likelihood": likelihood, "seed": seed,
            "epochs": len(report["epochs"]), "test_loss": report["test_loss"],
            "test_kl": report["test_kl"], "test_bpd": report["test_bpd"],
            "iw_samples": report["importance_samples"], "iw_images": report["iw_images"],
            "test_nll_iw": report["test_nll_iw"], "test_nll_iw_bpd": report["test_nll_iw_bpd"],
            "sigma_x_at_floor": report["test_sigma_x_at_floor"],
            "train_seconds": sum(e["train_seconds"] for e in report["epochs"])}


def _call(command):
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def summarize(rows):
    """Per sigma_x choice: mean and spread (max - min over seeds) of each framework, and the
    agreement of their bounds. Returns (markdown lines, all agree)."""
    lines = ["| sigma_x | framework | test -ELBO, bits/dim | IW bound, bits/dim | KL, nats "
             "| at the floor |", "|---|---|---|---|---|---|"]
    verdicts, agree = [], True
    for likelihood in LIKELIHOODS:
        bounds = {}
        for framework in ("numpyvae", "pytorch"):
            mine = [r for r in rows if r["likelihood"] == likelihood
                    and r["framework"] == framework]
            if not mine:
                continue
            elbo = [r["test_bpd"] for r in mine]
            bound = [r["test_nll_iw_bpd"] for r in mine]
            kl = [r["test_kl"] for r in mine]
            floor = [r["sigma_x_at_floor"] for r in mine if r["sigma_x_at_floor"] is not None]
            bounds[framework] = bound
            lines.append(f"| {likelihood} | {framework} ({len(mine)} seeds) | {_spread(elbo)} "
                         f"| {_spread(bound)} | {_spread(kl, 1)} | "
                         + (f"{100 * statistics.mean(floor):.1f}%" if floor else "n/a") + " |")
        if len(bounds) == 2:
            a, b = (statistics.mean(bounds[f]) for f in ("numpyvae", "pytorch"))
            spread = max(max(v) - min(v) for v in bounds.values())
            relative = abs(a - b) / b
            ok = relative <= AGREEMENT and abs(a - b) <= spread
            agree &= ok
            verdicts.append(f"{likelihood}: the mean bounds differ by {abs(a - b):.4f} bits/dim "
                            f"({100 * relative:.2f}%), the spread between seeds is "
                            f"{spread:.4f}: {'agree' if ok else 'DO NOT agree'}")
    return lines + [""] + verdicts, agree


def _spread(values, digits=3):
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch-python", help="a Python with torch and numpyvae installed; "
                                          "without it, numpyvae's runs only")
    p.add_argument("--dataset", default="fashion-mnist",
                   choices=("fashion-mnist", "fashion-mini", "mnist", "mnist-mini"))
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"),
                   help="the data folder, holding the dataset's subfolder (default: "
                        "../shared/data)")
    p.add_argument("--likelihoods", nargs="+", choices=LIKELIHOODS, default=list(LIKELIHOODS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--iw-samples", type=int, default=1000)
    p.add_argument("--iw-limit", type=int, default=1000)
    p.add_argument("--out", default="runs/gaussian-results")
    p.add_argument("--csv", default=str(ROOT / "docs" / "gaussian-runs.csv"))
    args = p.parse_args(argv)
    if args.torch_python and not os.access(args.torch_python, os.X_OK):
        p.error(f"--torch-python must be an executable Python; got {args.torch_python!r}")
    if args.dataset.endswith("mini"):
        args.data_dir = None
    Path(args.out).mkdir(parents=True, exist_ok=True)
    rows = []
    for likelihood in args.likelihoods:
        for seed in args.seeds:
            rows.append(numpyvae_run(args, likelihood, seed))
            if args.torch_python:
                rows.append(torch_run(args, likelihood, seed))
    tmp = Path(args.csv).with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, args.csv)
    lines, agree = summarize(rows)
    print("\n".join(lines))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())

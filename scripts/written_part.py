"""The written part of the assignment (task 'written', graded by hand), and its report template.

    python scripts/written_part.py             # print the report template
    python scripts/written_part.py --write     # rewrite docs/report-template.md from it
    python scripts/written_part.py --check     # exit 1 if docs/report-template.md is stale,
                                               # or the rubric disagrees with the questions

:data:`QUESTIONS` holds the questions as data: ``(id, points, question)``, the question in
Markdown. scripts/make_assignment.py prints them in the student copy's ASSIGNMENT.md and
writes :func:`render_report` there as REPORT.md, the report the student hands in: every
question with room for the answer, and slots for the figures ``numpyvae train`` writes into
the run folder and for the trained model's numbers. docs/report-template.md is the same text,
kept in the repository so that it can be read without building a copy.

What a full answer contains, for the grader, is in tests/instructor/written_rubric.py (left
out of the student copy), keyed by the same ids. To change a question, edit it here and its
rubric there, keep the points adding up to the task's in scripts/assignment_tasks.py, and run
this script with --write.
"""
import argparse
import importlib.util
import json
import shlex
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.dont_write_bytecode = True    # leave no __pycache__ in the project

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "docs" / "report-template.md"
BANDS = ROOT / "scripts" / "results_bands.json"
RUBRIC = ROOT / "tests" / "instructor" / "written_rubric.py"
RUN_FOLDER = "results/trained-model"
BETA_FOLDER = "results/beta-4"



def _beta_command():
    """The set command of the results task with beta = 4 and the run folder BETA_FOLDER."""
    words = ["python", "-m", "numpyvae", "train", "--dataset", "mnist-mini", "--epochs", "10",
             "--seed", "0"]
    if BANDS.is_file():
        words = shlex.split(json.loads(BANDS.read_text(encoding="utf-8"))["command"])
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("--beta", "--out"):
            skip = True
        else:
            kept.append(word)
    return shlex.join(kept + ["--beta", "4", "--out", BETA_FOLDER])


QUESTIONS = (
    ("kl-zero", 2, r"""
Eq. (12) gives the KL divergence from $q(\mathbf{z}\mid\mathbf{x}) = \mathcal{N}(\boldsymbol{\mu},
\operatorname{diag}\boldsymbol{\sigma}^2)$ to the prior $\mathcal{N}(\mathbf{0}, I)$ as
$\frac12\sum_{k=1}^{K}(\mu_k^2 + \sigma_k^2 - 1 - \log\sigma_k^2)$.

1. Show that it is never negative, and that it is 0 only when $\mu_k = 0$ and $\sigma_k = 1$
   for every $k$, that is, only when $q$ is the prior. Give a complete argument for each term
   (an inequality or a derivative), not an example.
2. What would a test KL of 0 for every image mean for the latent code of a trained model?
   What is your trained model's test KL, and what does it say?
"""),
    ("sigma-not-variance", 2, r"""
The encoder's second head outputs $s = \log\sigma^2$ (eq. (6)), and everything after it works
with $\sigma$.

1. Why does the encoder output $\log\sigma^2$, rather than $\sigma$ or $\sigma^2$ itself?
2. Eq. (9) multiplies the noise $\mathbf{v}$ by $\boldsymbol{\sigma}$. What is the
   distribution of $\boldsymbol{\mu} + \boldsymbol{\sigma}^2\odot\mathbf{v}$, and why is it
   not $q(\mathbf{z}\mid\mathbf{x})$?
3. The VAE of the numpy-ml library scaled the noise by the variance, in its forward pass and
   in its backward pass alike, and its gradient checks passed. Why did they pass? Describe a
   test that catches the mistake.
"""),
    ("notes-typo", 2, r"""
This line of the lecture notes (section "KL distance in closed form", under "Writing in full
notation") has a typo:

$$\sum_{i=1}^K \sum_{k=1}^K 0.5 \left[-1.0 - \log \sigma_{\mathbf{z}_k|\mathbf{x}^i}^2 + \mu_{\mathbf{z}_k|\mathbf{x}^i}^2 + \sigma_{\mathbf{z}_k|\mathbf{x}^i}^2 \right]$$

Write the corrected line. Say what each of the two sums runs over and why, and what a training
loop written from the line as it stands would compute for a minibatch of $B = 128$ examples
with $K = 20$ latent dimensions.
"""),
    ("beta", 2, rf"""
Train the configuration of your trained model again with $\beta = 4$ (eq. (2)), changing
nothing else:

```bash
{_beta_command()}
```

Compare its last epoch's test KL and test reconstruction (in `metrics.jsonl`; both are
computed with $\beta = 1$) with those of your trained model, and its `samples.png` and
`reconstructions.png` with yours. Explain what $\beta > 1$ does to the KL, to the
reconstructions and to the samples, and why. Is the loss with $\beta = 4$ still a bound on
$-\log p(\mathbf{{x}})$?
"""),
    ("iwae-tighter", 2, rf"""
The importance-weighted bound $\mathcal{{L}}_S$ of eq. (36), whose log-weights and
log-mean-exp you wrote (task `iwae-bound`).

1. Show that $\mathcal{{L}}_1$ is the ELBO, and explain why $\mathcal{{L}}_S \ge \mathcal{{L}}_1$
   for every $S$: where does the gain come from, and when is it 0?
2. Run `python -m numpyvae evaluate {RUN_FOLDER} --samples 1000 --limit 500` and report the
   test negative ELBO and the importance-weighted $-\log p(\mathbf{{x}})$ it prints. Which is
   larger, by how much, and what does the gap say about $q(\mathbf{{z}}\mid\mathbf{{x}})$?
"""),
)

FIGURES = (
    ("samples.png", "samples: decoder means of z ~ N(0, I)"),
    ("reconstructions.png", "test images and their reconstructions"),
    ("curves.png", "learning curves: the train and test negative ELBO, reconstruction and KL "
                   "per epoch"),
)
NUMBERS = (("test_loss", "test negative ELBO"), ("test_recon", "test reconstruction"),
           ("test_kl", "test KL"))


def total_points():
    return sum(points for _, points, _ in QUESTIONS)


def rubric_problems(path=RUBRIC):
    """Where tests/instructor/written_rubric.py and QUESTIONS disagree (ids, points); a list
    of messages, empty when they agree or when the rubric is absent (a student copy)."""
    if not Path(path).is_file():
        return []
    spec = importlib.util.spec_from_file_location("written_rubric", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    problems = []
    asked = {qid: points for qid, points, _ in QUESTIONS}
    for qid in sorted(set(asked) ^ set(module.RUBRIC)):
        where = "has no rubric" if qid in asked else "is in the rubric but not a question"
        problems.append(f"question {qid!r} {where}")
    for qid in sorted(set(asked) & set(module.RUBRIC)):
        if abs(module.points(qid) - asked[qid]) > 1e-9:
            problems.append(f"question {qid!r} is worth {asked[qid]} points but its rubric "
                            f"adds up to {module.points(qid):g}")
    return problems


def _load_bands(path=BANDS):
    if not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text(encoding="utf-8"))


def render_report(bands=None):
    """The report template as Markdown: REPORT.md of a student copy.

    Parameters
    ----------
    bands : dict, optional
        scripts/results_bands.json (read from the file when not given; the template leaves
        out the command and the bands if the file does not exist).
    """
    bands = bands if bands is not None else _load_bands()
    lines = [
        "# Report",
        "",
        "Name:",
        "",
        "Student id:",
        "",
        "Fill in every part of this file and hand it in with your copy of numpyvae and the run "
        f"folder `{RUN_FOLDER}/`. Answer in your own words; equations in Markdown with "
        "`$...$` are welcome. The figure paths are relative to the root of your copy, where "
        "this file is: keep the run folders where the commands below write them.",
        "",
        "## 1. Your trained model",
        "",
    ]
    if bands is not None:
        lines += ["The command you ran (the seed may be any):", "", "```bash",
                  bands["command"], "```", ""]
    lines += [
        "Seed:",
        "",
        "The numbers of the last epoch, from `metrics.jsonl` (nats per image):",
        "",
        "| Number | Your run | Band |" if bands else "| Number | Your run |",
        "|---|---|---|" if bands else "|---|---|",
    ]
    for key, name in NUMBERS:
        if bands:
            band = bands["bands"][key]
            lines.append(f"| {name} (`{key}`) | | {band['low']:.2f} to {band['high']:.2f} |")
        else:
            lines.append(f"| {name} (`{key}`) | |")
    lines += ["", "Figures written by `numpyvae train` into the run folder. Put each one "
              "below its heading with the line shown, and say in a sentence or two what it "
              "shows about your model.", ""]
    for name, what in FIGURES:
        lines += [f"### {what[0].upper() + what[1:]}", "",
                  f"`![{name}]({RUN_FOLDER}/{name})`", "", "Comment:", ""]
    lines += [f"## 2. Written questions ({total_points()} points, graded by hand)", ""]
    for number, (qid, points, question) in enumerate(QUESTIONS, start=1):
        lines += [f"### {number}. `{qid}` ({points} points)", "", question.strip(), "",
                  "**Answer.**", ""]
        if qid == "beta":
            lines += [f"| Number | Your trained model | beta = 4 (`{BETA_FOLDER}`) |",
                      "|---|---|---|"]
            lines += [f"| {name} (`{key}`) | | |" for key, name in NUMBERS]
            lines += ["", f"`![samples, beta = 4]({BETA_FOLDER}/samples.png)`", "",
                      f"`![reconstructions, beta = 4]({BETA_FOLDER}/reconstructions.png)`", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print or write the report template of the "
                                                 "written part (docs/report-template.md).")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true",
                        help=f"rewrite {TEMPLATE.relative_to(ROOT)}")
    action.add_argument("--check", action="store_true",
                        help=f"exit 1 if {TEMPLATE.relative_to(ROOT)} differs from the template "
                             f"or the rubric from the questions")
    args = parser.parse_args(argv)
    text = render_report()
    if args.write:
        TEMPLATE.write_text(text, encoding="utf-8")
        print(f"wrote {TEMPLATE.relative_to(ROOT)}")
    elif args.check:
        current = TEMPLATE.read_text(encoding="utf-8") if TEMPLATE.exists() else None
        problems = rubric_problems()
        if current != text:
            problems.append(f"{TEMPLATE.relative_to(ROOT)} is stale: run python "
                            f"scripts/written_part.py --write")
        for problem in problems:
            print(f"written_part: {problem}", file=sys.stderr)
        if problems:
            return 1
        print(f"{TEMPLATE.relative_to(ROOT)} is up to date, and the rubric agrees with the "
              f"questions")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

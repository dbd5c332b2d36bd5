"""Grade a student copy: run this project's graded tests against the package in DIR.

    python scripts/grade.py student/                        # the table of points per task
    python scripts/grade.py student/ --json alice.json      # the same, also as JSON
    python scripts/grade.py student/ --gradescope results.json   # Gradescope's results format
    python scripts/grade.py student/ --tasks kl,adam        # only the tasks that were set
    python scripts/grade.py student/ --details              # and why each failing test failed
    python scripts/grade.py student/ --visible-only         # leave the hidden tests out

A graded test carries ``@pytest.mark.points(n, task="...")`` (``hidden=True`` for a hidden
test, under tests/instructor/); it earns its n points when it passes, and nothing when it
fails, errors, is skipped or times out. The tests are this project's own (the ones next to
this script), hidden ones included, never the copies in DIR, which a student could have
edited. Only DIR/numpyvae is used: it is copied to a temporary folder that is put first on the
import path, and the run stops if ``import numpyvae`` resolves anywhere else (such as an
editable install of the reference). The tests of a results task read the student's run folder
from DIR (NUMPYVAE_GRADE_SUBMISSION). The points possible come from collecting the same tests
against this project's own package, so a student module that does not import still counts
its tests, at 0. The written task is graded by hand: the table lists its points apart, and
the total adds them, so that it equals the total of the copy's ASSIGNMENT.md. Run from a
student copy, which holds no hidden tests, the table counts the hidden tests' points apart
too (from the task table). Nothing is written into the project or into DIR.

Exit status: 0 when the grading ran (whatever the score), 2 when it could not.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

if __name__ == "__main__":
    sys.dont_write_bytecode = True    # leave no __pycache__ in the project
sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignment_tasks  # noqa: E402  (the task table, next to this script)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "numpyvae"
PLUGIN = Path(__file__).resolve().parent / "grade_plugin.py"
DEFAULT_TIMEOUT = 900.0
DEFAULT_TEST_TIMEOUT = 60.0


class GradingError(Exception):
    """The grading could not run (the message says why)."""


def run_tests(package_root, work, tasks=(), collect_only=False, timeout=DEFAULT_TIMEOUT,
              test_timeout=DEFAULT_TEST_TIMEOUT, expected_package=None, visible_only=False,
              files=None):
    """Run the graded tests of this project against ``package_root/numpyvae``.

    Parameters
    ----------
    package_root : Path
        A folder holding ``numpyvae/``: the student's folder, also where the tests of a
        results task look for the run (NUMPYVAE_GRADE_SUBMISSION).
    work : Path
        An empty temporary folder for this run.
    tasks : sequence of str
        Task ids to run (empty: every graded test).
    collect_only : bool
        Only collect the tests (for the points possible).
    timeout, test_timeout : float
        Seconds for the whole run and for one test (0: no per-test limit).
    expected_package : Path or None
        Where ``import numpyvae`` must resolve (default: the copy this function makes). Only
        tests change it, to see that a mismatch stops the grading.
    visible_only : bool
        Leave out the hidden tests (tests/instructor/).
    files : sequence of str or None
        The test files to run, relative to this project (default: all of tests/); a run
        that grades a few tasks imports only the modules that hold their tests.

    Returns
    -------
    dict with ``tests`` {nodeid: (task, points, hidden)}, ``results`` {nodeid: (outcome, message)},
    ``collect_errors`` [(nodeid, message)], ``timed_out`` (bool) and ``output`` (pytest's).
    """
    work.mkdir(parents=True, exist_ok=True)
    path_dir = work / "path"
    shutil.copytree(Path(package_root) / PACKAGE, path_dir / PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(PLUGIN, path_dir / PLUGIN.name)
    report = work / "report.jsonl"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONSTARTUP")}
    env.update(PYTHONPATH=str(path_dir), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
               NUMPYVAE_GRADE_REPORT=str(report),
               NUMPYVAE_GRADE_SUBMISSION=str(Path(package_root).resolve()),
               NUMPYVAE_GRADE_PACKAGE=str(expected_package or path_dir / PACKAGE),
               NUMPYVAE_GRADE_TEST_TIMEOUT=str(test_timeout))
    targets = [str(ROOT / "tests")] if files is None else [str(ROOT / f) for f in files]
    cmd = [sys.executable, "-m", "pytest", *targets, "-c", str(ROOT / "pyproject.toml"),
           "--rootdir", str(ROOT), "-m", "points", "-p", "no:cacheprovider", "-p",
           PLUGIN.stem, "-q", "--continue-on-collection-errors", "--basetemp",
           str(work / "basetemp")]
    cmd += [f"--task={t}" for t in tasks]
    if visible_only:
        cmd.append(f"--ignore={ROOT / 'tests' / 'instructor'}")
    if collect_only:
        cmd.append("--collect-only")
    timed_out = False
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout)
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        timed_out = True
        output = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                         for x in (err.stdout, err.stderr))
    run = {"tests": {}, "results": {}, "collect_errors": [], "timed_out": timed_out,
           "output": output, "package": None, "imported": None}
    lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    for line in lines:
        record = json.loads(line)
        kind = record["kind"]
        if kind in ("package", "imported"):
            run[kind] = record["file"]
        elif kind == "test":
            run["tests"][record["nodeid"]] = (record["task"], record["points"],
                                              record.get("hidden", False))
        elif kind == "result":
            run["results"][record["nodeid"]] = (record["outcome"], record["message"])
        elif kind == "collect-error":
            run["collect_errors"].append((record["nodeid"], record["message"]))
    expected = Path(expected_package or path_dir / PACKAGE).resolve()
    for what in ("package", "imported"):
        found = run[what]
        if found is None and what == "imported" and not run["tests"]:
            continue                  # nothing imported numpyvae: every module failed first
        if found is None or expected not in Path(found).resolve().parents:
            raise GradingError(
                f"the graded run imported numpyvae from {found}, not from {expected}: the "
                f"grade would not be of the package asked for. Is numpyvae installed in a "
                f"way that shadows PYTHONPATH?\n{_tail(output)}")
    return run


def _tail(text, lines=25):
    return "\n".join(text.splitlines()[-lines:])


def collect_reference(tasks=(), timeout=DEFAULT_TIMEOUT, visible_only=False):
    """The graded tests, collected against this project's own package: the points possible.

    ``tasks`` are task ids (empty: every graded test). Returns :func:`run_tests`'s dict, with
    ``visible_only``; raises GradingError when the tests do not collect.
    """
    with tempfile.TemporaryDirectory(prefix="numpyvae-grade-") as tmp:
        reference = run_tests(ROOT, Path(tmp) / "reference", tasks, collect_only=True,
                              timeout=timeout, visible_only=visible_only)
    if reference["collect_errors"] or not reference["tests"]:
        raise GradingError("the graded tests do not collect against this project's own "
                           "package, so the points possible are unknown:\n"
                           + "\n".join(m for _, m in reference["collect_errors"])
                           + "\n" + _tail(reference["output"]))
    reference["visible_only"] = visible_only
    return reference


def grade(directory, tasks=(), timeout=DEFAULT_TIMEOUT, test_timeout=DEFAULT_TEST_TIMEOUT,
          visible_only=False, reference=None):
    """Grade the package in ``directory``; returns the table as a dict (see ``--json``).

    ``tasks`` are the tasks set (ids or groups; empty: every task of the table). The written
    task is listed with its points, graded by hand; ``visible_only`` leaves the hidden tests
    out, and their points are then counted apart, like those of hidden tests that a student
    copy does not hold. ``reference`` is a :func:`collect_reference` of every task, with the
    same ``visible_only``, to reuse when grading many copies in one process.
    """
    directory = Path(directory).resolve()
    if not (directory / PACKAGE / "__init__.py").is_file():
        raise GradingError(f"{directory} holds no {PACKAGE}/__init__.py; give the folder of a "
                           f"student copy (the one holding {PACKAGE}/)")
    chosen = assignment_tasks.expand(tasks) if tasks else assignment_tasks.task_ids()
    tested = [t for t in chosen if not assignment_tasks.get_task(t).by_hand]
    if reference is not None and reference.get("visible_only") != visible_only:
        raise ValueError(f"reference was collected with visible_only="
                         f"{reference.get('visible_only')}, not {visible_only}")
    collected = {}
    run = {"results": {}, "collect_errors": [], "timed_out": False}
    if tested:
        if reference is None:
            reference = collect_reference(tested if tasks else (), timeout, visible_only)
        collected = {n: info for n, info in reference["tests"].items() if info[0] in tested}
        files = sorted({nodeid.split("::")[0] for nodeid in collected})
        with tempfile.TemporaryDirectory(prefix="numpyvae-grade-") as tmp:
            run = run_tests(directory, Path(tmp) / "student", tested if tasks else (),
                            timeout=timeout, test_timeout=test_timeout,
                            visible_only=visible_only, files=files)
    rows = {t: _row(t) for t in chosen}
    tests = []
    for nodeid, (task_id, points, hidden) in collected.items():
        outcome, message = run["results"].get(nodeid, ("not run", _why_not_run(nodeid, run)))
        earned = points if outcome == "passed" else 0
        row = rows.setdefault(task_id, _row(task_id))
        row["earned"] += earned
        row["possible"] += points
        row["hidden"] += points if hidden else 0
        row["tests"] += 1
        row["passed"] += outcome == "passed"
        tests.append({"nodeid": nodeid, "task": task_id, "points": points, "earned": earned,
                      "hidden": hidden, "outcome": outcome, "message": message})
    order = assignment_tasks.task_ids()

    def rank(task_id):
        return order.index(task_id) if task_id in order else len(order)

    table = sorted(rows.values(), key=lambda r: (rank(r["task"]), r["task"]))
    tests.sort(key=lambda test: rank(test["task"]))
    hidden_ran = not visible_only and (ROOT / "tests" / "instructor").is_dir()
    for row in table:
        if row["kind"] == "written" or row["task"] not in order:
            continue
        missing = assignment_tasks.get_task(row["task"]).points - row["possible"]
        if missing < 0 or (missing > 0 and hidden_ran):
            raise GradingError(
                f"task {row['task']!r} is worth {row['possible'] + missing:g} points in "
                f"scripts/assignment_tasks.py, but its graded tests add up to "
                f"{row['possible']:g}; make the table and the points markers agree")
        row["hidden_elsewhere"] = missing
    autograded = [r for r in table if r["kind"] != "written"]
    earned = sum(r["earned"] for r in autograded)
    possible = sum(r["possible"] for r in autograded)
    elsewhere = sum(r["hidden_elsewhere"] for r in autograded)
    by_hand = sum(r["possible"] for r in table if r["kind"] == "written")
    written = [{"id": qid, "points": points, "question": question}
               for qid, points, question in assignment_tasks.written_questions()] \
        if "written" in chosen else []
    return {"directory": str(directory), "package": str(directory / PACKAGE),
            "tasks": table, "earned": earned, "possible": possible,
            "hidden_elsewhere": elsewhere, "by_hand": by_hand,
            "total_possible": possible + elsewhere + by_hand, "written": written,
            "tests": tests, "timed_out": run["timed_out"],
            "collect_errors": [{"nodeid": n, "message": m} for n, m in run["collect_errors"]]}


def _row(task_id):
    try:
        task = assignment_tasks.get_task(task_id)
    except ValueError:
        return {"task": task_id, "title": "", "kind": "code", "earned": 0, "possible": 0,
                "hidden": 0, "hidden_elsewhere": 0, "tests": 0, "passed": 0}
    if task.by_hand:
        return {"task": task.id, "title": task.title, "kind": task.kind, "earned": None,
                "possible": task.points, "hidden": 0, "hidden_elsewhere": 0, "tests": 0,
                "passed": 0}
    return {"task": task.id, "title": task.title, "kind": task.kind, "earned": 0,
            "possible": 0, "hidden": 0, "hidden_elsewhere": 0, "tests": 0, "passed": 0}


def _why_not_run(nodeid, run):
    module = nodeid.split("::")[0]
    for failed, message in run["collect_errors"]:
        if failed == module:
            return f"{module} did not import:\n{message}"
    if run["timed_out"]:
        return "the test run was stopped by the grader's timeout before this test"
    return "the test did not run"


def format_table(result):
    labels = [r["task"] for r in result["tasks"]] + ["graded by hand", "hidden tests"]
    width = max(len(label) for label in labels)

    def line(label, earned, possible, rest=""):
        earned = "-" if earned is None else f"{earned:g}"
        return f"{label:<{width}}  {earned:>6} / {possible:<8g}  {rest}".rstrip()

    lines = [f"numpyvae grade of {result['package']}", "",
             f"{'task':<{width}}  {'earned':>6} / {'possible':<8}  tests passed"]
    for row in result["tasks"]:
        if row["kind"] == "written":
            count = len(result["written"])
            what = f"{count} question(s) in REPORT.md" if count else "REPORT.md"
            lines.append(line(row["task"], None, row["possible"],
                              f"graded by hand: {what}"))
            continue
        notes = []
        if row["hidden"]:
            notes.append(f"{row['hidden']:g} of them in hidden tests")
        if row["hidden_elsewhere"]:
            notes.append(f"+ {row['hidden_elsewhere']:g} in hidden tests that only the "
                         f"autograder runs")
        lines.append(line(row["task"], row["earned"], row["possible"],
                          f"{row['passed']}/{row['tests']}  {row['title']}"
                          + (f" ({'; '.join(notes)})" if notes else "")))
    extra = result["hidden_elsewhere"] or result["by_hand"]
    if extra:
        lines.append(line("autograded", result["earned"], result["possible"]))
    if result["hidden_elsewhere"]:
        lines.append(line("hidden tests", None, result["hidden_elsewhere"],
                          "run by the autograder only"))
    if result["by_hand"]:
        lines.append(line("graded by hand", None, result["by_hand"], "the written part"))
    later = []
    if result["hidden_elsewhere"]:
        later.append(f"{result['hidden_elsewhere']:g} of hidden tests, from the autograder")
    if result["by_hand"]:
        later.append(f"{result['by_hand']:g} of the written part, graded by hand")
    lines.append(line("total", result["earned"], result["total_possible"],
                      f"(to come: {'; '.join(later)})" if later else ""))
    return "\n".join(lines)


def format_details(result):
    lines = []
    for test in result["tests"]:
        if test["outcome"] != "passed":
            hidden = ", hidden" if test["hidden"] else ""
            lines.append(f"\n{test['nodeid']}  [{test['task']}, {test['points']:g} point(s)"
                         f"{hidden}, {test['outcome']}]")
            for line in test["message"].splitlines()[:14]:
                lines += textwrap.wrap(line, 100, initial_indent="    ",
                                       subsequent_indent="      ") or [""]
    return "\n".join(lines)


def gradescope_results(result):
    """The result in the format of Gradescope's results.json.

    Every graded test is one entry: ``name`` (the test's id), ``number`` (task.test),
    ``score``, ``max_score``, ``status``, ``output`` (why it failed and what to re-read),
    ``tags`` (its task) and ``visibility`` ("after_published" for a hidden test). Each
    question of the written part is an entry worth 0 here, its output saying how many points
    a person grades (its output in Markdown, ``output_format`` "md"): the top-level ``score``
    is the autograded part only. See
    https://gradescope-autograders.readthedocs.io/en/latest/specs/.
    """
    numbers = {row["task"]: i for i, row in enumerate(result["tasks"], start=1)}
    counts, entries = {}, []
    for test in result["tests"]:
        counts[test["task"]] = counts.get(test["task"], 0) + 1
        passed = test["outcome"] == "passed"
        output = "" if passed else test["message"]
        if not passed and test["outcome"] not in ("failed", "passed"):
            output = f"{test['outcome']}: {output}"
        entries.append({
            "name": test["nodeid"],
            "number": f"{numbers.get(test['task'], 0)}.{counts[test['task']]}",
            "score": test["earned"], "max_score": test["points"],
            "status": "passed" if passed else "failed", "output": output,
            "tags": [test["task"]],
            "visibility": "after_published" if test["hidden"] else "visible"})
    for row in result["tasks"]:
        if row["kind"] != "written":
            continue
        questions = result["written"] or [{"id": row["task"], "points": row["possible"],
                                           "question": row["title"]}]
        for i, question in enumerate(questions, start=1):
            text = question["question"].strip()
            entries.append({
                "name": f"{row['task']}: {question['id']} (graded by hand)",
                "number": f"{numbers[row['task']]}.{i}", "score": 0, "max_score": 0,
                "output": f"Graded by hand: {question['points']:g} point(s), from your "
                          f"REPORT.md, added to the autograder's score by the course staff."
                          + (f"\n\n{text}" if text else ""),
                "output_format": "md", "tags": [row["task"], "graded by hand"],
                "visibility": "visible"})
    summary = [format_table(result)]
    if result["collect_errors"]:
        summary.append("test modules that did not import (their tests earn 0): "
                       + ", ".join(e["nodeid"] for e in result["collect_errors"]))
    if result["timed_out"]:
        summary.append("the test run was stopped by the grader's timeout; tests that had not "
                       "run earn 0")
    return {"score": result["earned"], "output": "\n\n".join(summary),
            "stdout_visibility": "hidden", "tests": entries}


def write_json(result, path):
    """Write the result to ``path`` whole or not at all (a temporary file, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run this project's graded tests against the numpyvae package in DIR and "
                    "print the points per task.")
    parser.add_argument("directory", metavar="DIR", help="a student copy (the folder holding "
                                                         "numpyvae/)")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON to FILE")
    parser.add_argument("--gradescope", metavar="FILE",
                        help="also write the grade in the format of Gradescope's results.json "
                             "to FILE")
    parser.add_argument("--tasks", action="append", metavar="TASK[,TASK...]",
                        help="grade only the tasks that were set: ids, or the groups 'model', "
                             "'optimizers', 'all' (default: every task of the table)")
    parser.add_argument("--visible-only", action="store_true",
                        help="leave out the hidden tests (tests/instructor/); their points "
                             "are counted apart")
    parser.add_argument("--details", action="store_true",
                        help="print why each graded test that did not pass failed")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"limit of the whole test run (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT,
                        metavar="SECONDS", help=f"limit of one test, 0 for none (default "
                                                f"{DEFAULT_TEST_TIMEOUT:g})")
    args = parser.parse_args(argv)
    try:
        result = grade(args.directory, args.tasks or (), args.timeout, args.test_timeout,
                       args.visible_only)
    except (GradingError, ValueError) as err:
        print(f"grade: error: {err}", file=sys.stderr)
        return 2
    print(format_table(result))
    failing = [t for t in result["tests"] if t["outcome"] != "passed"]
    if result["timed_out"]:
        print(f"\nthe test run was stopped after {args.timeout:g} s; tests that had not run "
              f"earn 0")
    if result["collect_errors"]:
        print("\ntest modules that did not import (their tests earn 0): "
              + ", ".join(e["nodeid"] for e in result["collect_errors"]))
    if failing and args.details:
        print(format_details(result))
    elif failing:
        print(f"\n{len(failing)} graded test(s) did not pass; --details shows why.")
    if args.json:
        write_json(result, args.json)
        print(f"wrote {args.json}")
    if args.gradescope:
        write_json(gradescope_results(result), args.gradescope)
        print(f"wrote {args.gradescope}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

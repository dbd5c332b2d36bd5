"""Grade a student copy: run this project's graded tests against the package in DIR.

    python scripts/grade.py student/                        # the table of points per task
    python scripts/grade.py student/ --json alice.json      # the same, also as JSON
    python scripts/grade.py student/ --tasks kl,adam        # only the tasks that were set
    python scripts/grade.py student/ --details              # and why each failing test failed

A graded test carries ``@pytest.mark.points(n, task="...")``; it earns its n points when it
passes, and nothing when it fails, errors, is skipped or times out. The tests are this
project's own (the ones next to this script), never the copies in DIR, which a student could
have edited. Only DIR/numpyvae is used: it is copied to a temporary folder that is put first
on the import path, and the run stops if ``import numpyvae`` resolves anywhere else (such as an
editable install of the reference). The points possible come from collecting the same tests
against this project's own package, so a student module that does not import still counts
its tests, at 0. Nothing is written into the project or into DIR.

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
              test_timeout=DEFAULT_TEST_TIMEOUT, expected_package=None):
    """Run the graded tests of this project against ``package_root/numpyvae``.

    Parameters
    ----------
    package_root : Path
        A folder holding ``numpyvae/``.
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

    Returns
    -------
    dict with ``tests`` {nodeid: (task, points)}, ``results`` {nodeid: (outcome, message)},
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
               NUMPYVAE_GRADE_PACKAGE=str(expected_package or path_dir / PACKAGE),
               NUMPYVAE_GRADE_TEST_TIMEOUT=str(test_timeout))
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests"), "-c", str(ROOT / "pyproject.toml"),
           "--rootdir", str(ROOT), "-m", "points", "-p", "no:cacheprovider", "-p",
           PLUGIN.stem, "-q", "--continue-on-collection-errors", "--basetemp",
           str(work / "basetemp")]
    cmd += [f"--task={t}" for t in tasks]
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
            run["tests"][record["nodeid"]] = (record["task"], record["points"])
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


def grade(directory, tasks=(), timeout=DEFAULT_TIMEOUT, test_timeout=DEFAULT_TEST_TIMEOUT):
    """Grade the package in ``directory``; returns the table as a dict (see ``--json``)."""
    directory = Path(directory).resolve()
    if not (directory / PACKAGE / "__init__.py").is_file():
        raise GradingError(f"{directory} holds no {PACKAGE}/__init__.py; give the folder of a "
                           f"student copy (the one holding {PACKAGE}/)")
    tasks = assignment_tasks.expand(tasks) if tasks else ()
    with tempfile.TemporaryDirectory(prefix="numpyvae-grade-") as tmp:
        reference = run_tests(ROOT, Path(tmp) / "reference", tasks, collect_only=True,
                              timeout=timeout)
        if reference["collect_errors"] or not reference["tests"]:
            raise GradingError("the graded tests do not collect against this project's own "
                               "package, so the points possible are unknown:\n"
                               + "\n".join(m for _, m in reference["collect_errors"])
                               + "\n" + _tail(reference["output"]))
        run = run_tests(directory, Path(tmp) / "student", tasks, timeout=timeout,
                        test_timeout=test_timeout)
    order = assignment_tasks.task_ids()
    rows, tests = {}, []
    for nodeid, (task_id, points) in reference["tests"].items():
        outcome, message = run["results"].get(nodeid, ("not run", _why_not_run(nodeid, run)))
        earned = points if outcome == "passed" else 0
        row = rows.setdefault(task_id, {"task": task_id, "title": _title(task_id),
                                        "earned": 0, "possible": 0, "tests": 0, "passed": 0})
        row["earned"] += earned
        row["possible"] += points
        row["tests"] += 1
        row["passed"] += outcome == "passed"
        tests.append({"nodeid": nodeid, "task": task_id, "points": points, "earned": earned,
                      "outcome": outcome, "message": message})
    table = sorted(rows.values(), key=lambda r: (order.index(r["task"])
                                                 if r["task"] in order else len(order), r["task"]))
    return {"directory": str(directory), "package": str(directory / PACKAGE),
            "tasks": table, "earned": sum(r["earned"] for r in table),
            "possible": sum(r["possible"] for r in table), "tests": tests,
            "timed_out": run["timed_out"],
            "collect_errors": [{"nodeid": n, "message": m} for n, m in run["collect_errors"]]}


def _title(task_id):
    try:
        return assignment_tasks.get_task(task_id).title
    except ValueError:
        return ""


def _why_not_run(nodeid, run):
    module = nodeid.split("::")[0]
    for failed, message in run["collect_errors"]:
        if failed == module:
            return f"{module} did not import:\n{message}"
    if run["timed_out"]:
        return "the test run was stopped by the grader's timeout before this test"
    return "the test did not run"


def format_table(result):
    width = max([len(r["task"]) for r in result["tasks"]] + [5])
    lines = [f"numpyvae grade of {result['package']}", "",
             f"{'task':<{width}}  {'earned':>6} / {'possible':<8}  tests passed"]
    for row in result["tasks"]:
        lines.append(f"{row['task']:<{width}}  {row['earned']:>6g} / {row['possible']:<8g}  "
                     f"{row['passed']}/{row['tests']}  {row['title']}")
    lines.append(f"{'total':<{width}}  {result['earned']:>6g} / {result['possible']:<8g}")
    return "\n".join(lines)


def format_details(result):
    lines = []
    for test in result["tests"]:
        if test["outcome"] != "passed":
            lines.append(f"\n{test['nodeid']}  [{test['task']}, {test['points']:g} point(s), "
                         f"{test['outcome']}]")
            for line in test["message"].splitlines()[:14]:
                lines += textwrap.wrap(line, 100, initial_indent="    ",
                                       subsequent_indent="      ") or [""]
    return "\n".join(lines)


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
    parser.add_argument("--tasks", action="append", metavar="TASK[,TASK...]",
                        help="grade only these tasks: ids, or the groups 'model', "
                             "'optimizers', 'all' (default: every task, full-model included)")
    parser.add_argument("--details", action="store_true",
                        help="print why each graded test that did not pass failed")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"limit of the whole test run (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT,
                        metavar="SECONDS", help=f"limit of one test, 0 for none (default "
                                                f"{DEFAULT_TEST_TIMEOUT:g})")
    args = parser.parse_args(argv)
    try:
        result = grade(args.directory, args.tasks or (), args.timeout, args.test_timeout)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

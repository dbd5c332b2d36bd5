"""The assignment's ``points`` marker (see docs/teaching.md), and the import path of the tests.

- ``@pytest.mark.points(n, task="...")`` must name a task of scripts/assignment_tasks.py that
  is graded by tests (not the written part), with n > 0, and a test carries at most one such
  marker.
- ``@pytest.mark.points(n, task="...", hidden=True)`` marks a hidden test: it goes to the
  autograder only, never to the student copy. A hidden test lives under tests/instructor/, and
  a graded test under tests/instructor/ is hidden.
- ``pytest --task ID`` runs only the graded tests of that task (repeatable; ids, groups or
  comma-separated lists).
- A graded test that fails says which task it grades and what to re-read.

tests/ and tests/instructor/ are both put on sys.path, so a test anywhere can import a helper
module of either folder (``import oracle``) whatever order pytest imports the modules in.
"""
import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INSTRUCTOR = HERE / "instructor"
_TABLE = HERE.parent / "scripts" / "assignment_tasks.py"

for _folder in (INSTRUCTOR, HERE):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


def _load_task_table():
    if "assignment_tasks" not in sys.modules:
        spec = importlib.util.spec_from_file_location("assignment_tasks", _TABLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["assignment_tasks"] = module
    return sys.modules["assignment_tasks"]


TASKS = _load_task_table()


def _under_instructor(item):
    try:
        Path(str(item.path)).resolve().relative_to(INSTRUCTOR)
        return True
    except ValueError:
        return False


def graded(item):
    """(points, task, hidden) of a test's ``points`` marker, or None for an ungraded test."""
    marks = list(item.iter_markers("points"))
    if not marks:
        return None
    if len(marks) > 1:
        raise pytest.UsageError(f"{item.nodeid}: more than one points marker; a graded test "
                                f"belongs to exactly one task")
    mark = marks[0]
    points = mark.args[0] if mark.args else mark.kwargs.get("n")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not points > 0:
        raise pytest.UsageError(f"{item.nodeid}: points must be a number > 0, as in "
                                f"@pytest.mark.points(2, task=...); got {points!r}")
    try:
        task = TASKS.get_task(mark.kwargs.get("task"))
    except ValueError as err:
        raise pytest.UsageError(f"{item.nodeid}: {err}") from None
    if task.by_hand:
        raise pytest.UsageError(f"{item.nodeid}: task {task.id!r} is graded by hand; a points "
                                f"marker must name a task graded by tests")
    hidden = mark.kwargs.get("hidden", False)
    if not isinstance(hidden, bool):
        raise pytest.UsageError(f"{item.nodeid}: hidden must be True or False; got {hidden!r}")
    unknown = set(mark.kwargs) - {"n", "task", "hidden"}
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: the points marker takes n, task and hidden; "
                                f"got {', '.join(sorted(unknown))}")
    inside = _under_instructor(item)
    if hidden and not inside:
        raise pytest.UsageError(f"{item.nodeid}: a hidden test must live under tests/instructor/"
                                f" (which the student copy leaves out); move it there")
    if inside and not hidden:
        raise pytest.UsageError(f"{item.nodeid}: a graded test under tests/instructor/ must be "
                                f"hidden (the student copy leaves the folder out); add "
                                f"hidden=True to its points marker or move it out")
    return points, task, hidden


def _hint(points, task, hidden):
    kind = "hidden test" if hidden else "test"
    head = f"This {kind} earns {points:g} point(s) of task '{task.id}' ({task.title})."
    if task.kind == "results":
        return (head + " Train with the command of ASSIGNMENT.md and hand in the run folder; "
                "if the numbers are off, re-read "
                f"{TASKS.format_equations(TASKS.task_equations(task))} of {TASKS.DERIVATION}.")
    equations = TASKS.task_equations(task)
    if not equations:
        return head
    return head + f" Re-read {TASKS.format_equations(equations)} of {TASKS.DERIVATION}."


def pytest_addoption(parser):
    parser.addoption("--task", action="append", default=[], metavar="TASK",
                     help="run only the graded tests of this assignment task (repeatable)")


def pytest_collection_modifyitems(config, items):
    infos = [graded(item) for item in items]
    chosen = config.getoption("--task")
    if chosen:
        try:
            wanted = set(TASKS.expand(chosen))
        except ValueError as err:
            raise pytest.UsageError(f"--task: {err}") from None
        keep = [info is not None and info[1].id in wanted for info in infos]
        config.hook.pytest_deselected(items=[item for item, k in zip(items, keep) if not k])
        items[:] = [item for item, k in zip(items, keep) if k]


# matplotlib is a runtime dependency (setup.cfg), installed wherever numpyvae is, CI included.
# In an interpreter without it, a test that draws a figure is reported as skipped, with the
# reason, rather than failed; every other test still runs.
MISSING_MATPLOTLIB = ("matplotlib, a runtime dependency of numpyvae (setup.cfg), is not "
                      "installed in this interpreter: this test draws or reads a figure")


def _needs_missing_matplotlib(call, report):
    """The test failed because matplotlib is missing: the import raised, or the command said
    it could not draw (numpyvae.app.cli's message)."""
    if importlib.util.find_spec("matplotlib") is not None:
        return False
    excinfo = call.excinfo
    if (excinfo is not None and excinfo.errisinstance(ModuleNotFoundError)
            and (excinfo.value.name or "").split(".")[0] == "matplotlib"):
        return True
    return "matplotlib, which numpyvae draws its figures with, is not installed" in \
        report.capstderr


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _needs_missing_matplotlib(call, report):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {MISSING_MATPLOTLIB}")
        return
    info = graded(item) if report.failed else None
    if info:
        report.sections.append(("assignment", _hint(*info)))

"""The assignment's ``points`` marker (see docs/teaching.md).

- ``@pytest.mark.points(n, task="...")`` must name a task of scripts/assignment_tasks.py, with
  n > 0, and a test carries at most one such marker.
- ``pytest --task ID`` runs only the graded tests of that task (repeatable; ids, groups or
  comma-separated lists).
- A graded test that fails says which task it grades and which equations to re-read.
"""
import importlib.util
import sys
from pathlib import Path

import pytest

_TABLE = Path(__file__).resolve().parents[1] / "scripts" / "assignment_tasks.py"


def _load_task_table():
    if "assignment_tasks" not in sys.modules:
        spec = importlib.util.spec_from_file_location("assignment_tasks", _TABLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["assignment_tasks"] = module
    return sys.modules["assignment_tasks"]


TASKS = _load_task_table()


def graded(item):
    """(points, task) of a test's ``points`` marker, or None for an ungraded test."""
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
    return points, task


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    info = graded(item) if report.failed else None
    if info:
        points, task = info
        report.sections.append((
            "assignment", f"This test earns {points:g} point(s) of task '{task.id}' "
                          f"({task.title}). Re-read "
                          f"{TASKS.format_equations(TASKS.task_equations(task))} of "
                          f"{TASKS.DERIVATION}."))

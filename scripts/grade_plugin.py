"""The pytest plugin of scripts/grade.py: it writes what the graded run did as JSON lines.

grade.py loads it with ``-p grade_plugin`` and reads the file named by NUMPYVAE_GRADE_REPORT,
one JSON object per line:

- ``{"kind": "package", "file": ...}``: where ``import numpyvae`` resolves, checked against
  NUMPYVAE_GRADE_PACKAGE before any test module is imported (the run stops if it differs);
- ``{"kind": "test", "nodeid", "task", "points", "hidden"}``: a collected graded test
  (``hidden``: its marker says ``hidden=True``);
- ``{"kind": "collect-error", "nodeid", "message"}``: a test module that did not import;
- ``{"kind": "result", "nodeid", "outcome", "message"}``: a test's outcome, written as soon
  as it is known (so a run stopped by a timeout keeps what it had);
- ``{"kind": "imported", "file": ...}``: ``numpyvae.__file__`` at the end of the session.

NUMPYVAE_GRADE_TEST_TIMEOUT (seconds, 0 for none) stops a single test that runs too long, so
an endless loop costs that test only. It uses SIGALRM, which exists on Unix only.
"""
import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

import pytest

_state = {"file": None, "phases": {}}


class GradingTimeout(Exception):
    """A graded test ran longer than the grader's per-test limit."""


def _write(record):
    _state["file"].write(json.dumps(record) + "\n")
    _state["file"].flush()


def _inside(path, folder):
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
        return True
    except ValueError:
        return False


def _message(report):
    """Why a test failed: the exception without pytest's assert details, and the task's hint
    (the "assignment" section that tests/conftest.py adds)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = text.split("\nassert ")[0].splitlines()[:12]
    lines += [content for name, content in report.sections if name == "assignment"]
    return "\n".join(lines)


def pytest_configure(config):
    _state["file"] = open(os.environ["NUMPYVAE_GRADE_REPORT"], "a", encoding="utf-8")
    spec = importlib.util.find_spec("numpyvae")
    origin = spec.origin if spec is not None else None
    _write({"kind": "package", "file": origin})
    expected = os.environ["NUMPYVAE_GRADE_PACKAGE"]
    if origin is None or not _inside(origin, expected):
        pytest.exit(f"import numpyvae resolves to {origin}, not to the package under {expected}",
                    returncode=3)


def pytest_unconfigure(config):
    if _state["file"] is not None:
        module = sys.modules.get("numpyvae")
        _write({"kind": "imported", "file": getattr(module, "__file__", None)})
        _state["file"].close()
        _state["file"] = None


def pytest_collectreport(report):
    if report.failed:
        _write({"kind": "collect-error", "nodeid": report.nodeid,
                "message": "\n".join(str(report.longrepr).splitlines()[-15:])})


def pytest_collection_finish(session):
    for item in session.items:
        mark = item.get_closest_marker("points")
        if mark is not None:
            points = mark.args[0] if mark.args else mark.kwargs.get("n")
            _write({"kind": "test", "nodeid": item.nodeid, "task": mark.kwargs.get("task"),
                    "points": points, "hidden": bool(mark.kwargs.get("hidden", False))})


def _on_timeout(signum, frame):
    raise GradingTimeout(f"the test ran longer than the grader's limit of "
                         f"{os.environ['NUMPYVAE_GRADE_TEST_TIMEOUT']} s (an endless loop?)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    limit = float(os.environ.get("NUMPYVAE_GRADE_TEST_TIMEOUT", "0"))
    armed = limit > 0 and hasattr(signal, "SIGALRM")
    if armed:
        previous = signal.signal(signal.SIGALRM, _on_timeout)
        signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def pytest_runtest_logreport(report):
    _state["phases"].setdefault(report.nodeid, []).append(report)


def pytest_runtest_logfinish(nodeid, location):
    reports = _state["phases"].pop(nodeid, [])
    failed = [r for r in reports if r.failed]
    if failed:
        outcome = "failed" if failed[0].when == "call" else "error"
        message = _message(failed[0])
    elif any(r.skipped for r in reports):
        outcome, message = "skipped", ""
    elif any(r.when == "call" and r.passed for r in reports):
        outcome, message = "passed", ""
    else:
        outcome, message = "error", "the test did not run"
    _write({"kind": "result", "nodeid": nodeid, "outcome": outcome, "message": message})

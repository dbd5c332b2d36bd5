"""What the kit's tests (test_assignment.py, test_autograder.py) share: copies and runs.

Left out of every copy, with those tests (scripts/make_assignment.py, KIT).
"""
import ast
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
import assignment_tasks  # noqa: E402
from make_assignment import BEGIN, END  # noqa: E402

TABLE_POINTS = {t.id: t.points for t in assignment_tasks.TASKS}
TOTAL = sum(TABLE_POINTS.values())
BY_HAND = sum(t.points for t in assignment_tasks.TASKS if t.by_hand)
AUTOGRADED = {t.id: t.points for t in assignment_tasks.TASKS if not t.by_hand}


def run(args, cwd, **kwargs):
    return subprocess.run([sys.executable] + [str(a) for a in args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, **kwargs)


def earned(result):
    """{task: points earned} of grade.grade's result, the tasks graded by tests only."""
    return {row["task"]: row["earned"] for row in result["tasks"] if row["kind"] != "written"}


def function_span(lines, qualname):
    """0-based [start, stop) of the lines of ``Class.method`` or ``function``, found by ast."""
    nodes = ast.parse("".join(lines)).body
    for part in qualname.split("."):
        node = next(n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                    and n.name == part)
        nodes = node.body
    return node.lineno - 1, node.end_lineno


def restore(copy_root, task_id):
    """Put the reference code of a task's functions back into a student copy."""
    for function in assignment_tasks.get_task(task_id).functions:
        reference = (ROOT / function.path).read_text().splitlines(keepends=True)
        target = Path(copy_root) / function.path
        student = target.read_text().splitlines(keepends=True)
        r0, r1 = function_span(reference, function.qualname)
        s0, s1 = function_span(student, function.qualname)
        body = [line for line in reference[r0:r1] if line.strip() not in (BEGIN, END)]
        target.write_text("".join(student[:s0] + body + student[s1:]))


def write_solutions(copy_root, solutions):
    """Put solution bodies into the stubs of a student copy, in place of each TODO and raise.

    ``solutions`` maps (path, qualname) to a body of statements, unindented; each replaces
    the stub of that function, indented like it.
    """
    for (rel, qualname), body in solutions.items():
        target = Path(copy_root) / rel
        lines = target.read_text().splitlines(keepends=True)
        start, stop = function_span(lines, qualname)
        todo = next(i for i in range(start, stop) if lines[i].strip().startswith("# TODO task"))
        node = ast.parse("".join(lines))
        for part in qualname.split("."):
            node = next(n for n in ast.iter_child_nodes(node)
                        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part)
        stub = next(n for n in ast.walk(node) if isinstance(n, ast.Raise)
                    and n.lineno - 1 > todo)
        indent = lines[todo][:len(lines[todo]) - len(lines[todo].lstrip())]
        new = [indent + line + "\n" for line in body.strip("\n").splitlines()]
        target.write_text("".join(lines[:todo] + new + lines[stub.end_lineno:]))


def set_command():
    """The set command of the results task (scripts/results_bands.json), as a list of words."""
    bands = json.loads((SCRIPTS / "results_bands.json").read_text())
    return shlex.split(bands["command"])


def train_run(copy_root):
    """Train the copy's own package with the set command, from the copy's folder, as a
    student does; the run folder lands where the command says (results/trained-model)."""
    words = set_command()
    assert words[:3] == ["python", "-m", "numpyvae"], words
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env.update(PYTHONPATH=str(copy_root), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    proc = run(words[1:], cwd=copy_root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

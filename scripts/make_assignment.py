"""Write a student copy of numpyvae, with the chosen tasks blanked, or a clean solution copy.

    python scripts/make_assignment.py --out student              # every task blanked
    python scripts/make_assignment.py --out student --tasks kl,adam
    python scripts/make_assignment.py --solutions solutions      # the reference, no markers
    python scripts/make_assignment.py --list                     # the tasks, their points

The reference code marks each piece a student writes with two lines, ``# BEGIN SOLUTION`` and
``# END SOLUTION``. In the student copy each fenced block of a chosen task becomes a stub that
raises NotImplementedError naming the task, the goal and the equations to implement. The
function's signature, its docstring, any prompt comment written above the fence and all code
outside the fence stay as they are. Fences of tasks that were not chosen lose their marker
lines and keep the reference code. The task of a fence is found from the function around it,
through the table in scripts/assignment_tasks.py; a fence the table does not name is an error.

Copied: the package, tests, docs, scripts, setup.cfg, pyproject.toml, README.md and LICENSE
(not .git, .venv, runs/ or caches). tests/test_assignment.py, which tests this kit against the
fenced reference, and tests/textbook_solutions.py, a second solution of every task, are left
out of both copies. A copy is built in a temporary folder next to
the destination and moved into place when complete.
"""
import argparse
import ast
import os
import shutil
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":
    sys.dont_write_bytecode = True    # leave no __pycache__ in the project
sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignment_tasks  # noqa: E402  (the task table, next to this script)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "numpyvae"
COPIED = (PACKAGE, "tests", "docs", "scripts", "setup.cfg", "pyproject.toml", "README.md",
          "LICENSE")
LEFT_OUT = ("tests/test_assignment.py", "tests/textbook_solutions.py")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info",
                                 ".pytest_cache", ".DS_Store")
BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"


class AssignmentError(Exception):
    """The reference cannot be turned into an assignment as it stands (the message says why)."""


class Fence:
    """One fenced block: 0-based line numbers of its marker lines, its function, its indent."""

    def __init__(self, begin, end, qualname, indent):
        self.begin, self.end, self.qualname, self.indent = begin, end, qualname, indent


# ---------------------------------------------------------------- finding the fences


def _functions(tree):
    """(qualname, first line, last line) of every function, classes and nesting included."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    found.append((name, child.lineno, child.end_lineno))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def find_fences(text, path):
    """Every fence of a source file, each with the function it sits in.

    Raises AssignmentError for a marker that is not exactly one of the two lines, an unpaired
    marker, an empty fence, or a fence that is not inside one function.
    """
    lines = text.splitlines()
    fences, begin = [], None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker not in (BEGIN, END):
            if "BEGIN SOLUTION" in line.upper() or "END SOLUTION" in line.upper():
                raise AssignmentError(
                    f"{path}:{i + 1}: a marker must be a line holding exactly {BEGIN!r} or "
                    f"{END!r} (indented like the code); got {marker!r}")
            continue
        indent = line[:len(line) - len(line.lstrip())]
        if marker == BEGIN:
            if begin is not None:
                raise AssignmentError(f"{path}:{i + 1}: {BEGIN!r} inside the fence opened at "
                                      f"line {begin[0] + 1}; close it with {END!r} first")
            begin = (i, indent)
            continue
        if begin is None:
            raise AssignmentError(f"{path}:{i + 1}: {END!r} without a {BEGIN!r} above it")
        if indent != begin[1]:
            raise AssignmentError(f"{path}:{i + 1}: {END!r} must be indented like the "
                                  f"{BEGIN!r} of line {begin[0] + 1}")
        if not any(l.strip() and not l.strip().startswith("#") for l in lines[begin[0] + 1:i]):
            raise AssignmentError(f"{path}:{begin[0] + 1}: the fence holds no code")
        fences.append(Fence(begin[0], i, None, begin[1]))
        begin = None
    if begin is not None:
        raise AssignmentError(f"{path}:{begin[0] + 1}: {BEGIN!r} is never closed by {END!r}")
    if fences:
        try:
            functions = _functions(ast.parse(text, filename=str(path)))
        except SyntaxError as err:
            raise AssignmentError(f"{path}: cannot be parsed: {err}") from None
        for fence in fences:
            # The function around the fence's code (a comment past a function's last
            # statement, such as an END marker after a return, is outside its ast range).
            code = [i + 1 for i in range(fence.begin + 1, fence.end)
                    if lines[i].strip() and not lines[i].strip().startswith("#")]
            around = [(last - first, name) for name, first, last in functions
                      if first < code[0] and code[-1] <= last]
            if not around:
                raise AssignmentError(f"{path}:{fence.begin + 1}: the fence is not inside a "
                                      f"function; a task is a block of statements in one")
            fence.qualname = min(around)[1]       # the innermost function
    return fences


def package_fences(source, tasks=assignment_tasks.TASKS):
    """{relative path: [(fence, task, function), ...]} for every fenced file of the package.

    Every fence must belong to a function of the task table, and every function of the table
    must hold a fence; anything else is an AssignmentError.
    """
    index = assignment_tasks.fenced_functions(tasks)
    found, seen = {}, set()
    for path in sorted((source / PACKAGE).rglob("*.py")):
        rel = path.relative_to(source).as_posix()
        fences = find_fences(path.read_text(encoding="utf-8"), rel)
        for fence in fences:
            if (rel, fence.qualname) not in index:
                raise AssignmentError(
                    f"{rel}:{fence.begin + 1}: the fence in {fence.qualname} belongs to no "
                    f"task; add {fence.qualname} to a task in scripts/assignment_tasks.py")
            seen.add((rel, fence.qualname))
        if fences:
            found[rel] = [(f,) + index[(rel, f.qualname)] for f in fences]
    missing = sorted(set(index) - seen)
    if missing:
        raise AssignmentError(
            "the task table names functions that hold no fence: "
            + ", ".join(f"{path} {name}" for path, name in missing)
            + f" (mark each task's code with {BEGIN!r} / {END!r} lines)")
    return found


# ---------------------------------------------------------------- rewriting a file


def _string_lines(message, width):
    """The message as string literals of at most ``width`` characters, split between words."""
    words = message.split(" ")
    chunks, current = [], ""
    for word in words:
        candidate = current + (" " if current else "") + word
        if current and len(candidate) + 3 > width:
            chunks.append(current + " ")
            current = word
        else:
            current = candidate
    chunks.append(current)
    return ['"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks]


def stub_lines(indent, task, function):
    """The lines that replace a fenced block: a comment and the raise."""
    literals = _string_lines(assignment_tasks.stub_message(task, function),
                             max(40, 92 - len(indent) - 4))
    lines = [f"{indent}# TODO task '{task.id}': replace this raise with your code.",
             f"{indent}raise NotImplementedError("]
    lines += [f"{indent}    {lit}" for lit in literals]
    lines[-1] += ")"
    return lines


def render(text, path, entries, blank):
    """The file with the fences of the tasks in ``blank`` stubbed and every marker removed.

    ``entries`` is the list of (fence, task, function) of this file from
    :func:`package_fences`. With an empty ``blank`` this is the solution: the marker lines
    go and nothing else changes.
    """
    lines = text.splitlines(keepends=True)
    out, position = [], 0
    for fence, task, function in sorted(entries, key=lambda e: e[0].begin):
        out += lines[position:fence.begin]
        if task.id in blank:
            newline = "\r\n" if lines[fence.begin].endswith("\r\n") else "\n"
            out += [line + newline for line in stub_lines(fence.indent, task, function)]
        else:
            out += lines[fence.begin + 1:fence.end]
        position = fence.end + 1
    out += lines[position:]
    result = "".join(out)
    try:
        compile(result, path, "exec")
    except SyntaxError as err:
        raise AssignmentError(f"{path}: the rewritten file is not valid Python ({err}); a "
                              f"fence must hold whole statements") from None
    return result


# ---------------------------------------------------------------- writing a copy


def assignment_notes(chosen, tasks=assignment_tasks.TASKS):
    """ASSIGNMENT.md of a student copy: the tasks to do, where, and how to check them."""
    rows = [t for t in tasks if t.id in chosen]
    lines = [
        "# Your assignment",
        "",
        "Each task below is a function (or a few) in `numpyvae/` whose body has been replaced "
        "by a `raise NotImplementedError(...)` that says what to compute and which equations "
        "of [docs/derivation.md](docs/derivation.md) to implement. Replace each raise with "
        "your code; keep the function's signature and the lines around the raise.",
        "",
        "| Task | Functions | Equations | Points |",
        "|---|---|---|---|",
    ]
    for task in rows:
        where = "<br>".join(f"`{f.path}` `{f.qualname}`" for f in task.functions)
        lines.append(f"| `{task.id}`: {task.title} | {where} | "
                     f"{assignment_tasks.format_equations(assignment_tasks.task_equations(task))}"
                     f" | {task.points} |")
    lines += [
        "",
        "Check your work from this folder (after `pip install -e .`, or with the folder as "
        "the working directory):",
        "",
        "```bash",
    ]
    commands = [
        ("python -m pytest --task " + (rows[0].id if rows else "dense-backward"),
         "the graded tests of one task"),
        ("python -m pytest -m points", "every graded test"),
        ("python scripts/grade.py .", "the points, task by task"),
        ("python -m numpyvae gradcheck", "the whole model, parameter by parameter"),
    ]
    width = max(len(command) for command, _ in commands) + 3
    lines += [f"{command:<{width}}# {what}" for command, what in commands]
    lines += [
        "```",
        "",
        "A failing gradient check names the parameter, the worst entry's index, the analytic "
        "and numeric values, the equation to re-read and the usual causes.",
        "",
    ]
    return "\n".join(lines)


def _inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def write_copy(source, dest, blank=(), notes=None, force=False, tasks=assignment_tasks.TASKS):
    """Copy the project from ``source`` to ``dest``, rewriting the package's fenced files.

    Parameters
    ----------
    source, dest : Path
    blank : collection of task ids
        The tasks whose fences become stubs; the others keep the reference code. Empty for
        the solution copy.
    notes : str or None
        Written to ``dest/ASSIGNMENT.md`` when given.
    force : bool
        Replace ``dest`` if it exists (otherwise that is an error).
    tasks : the task table

    Returns
    -------
    list of (task id, relative path, qualname) of the functions stubbed.
    """
    source, dest = Path(source).resolve(), Path(dest).resolve()
    if not (source / PACKAGE / "__init__.py").is_file():
        raise AssignmentError(f"source must be a project folder holding {PACKAGE}/; got {source}")
    if dest == source or any(_inside(dest, source / name) for name in COPIED) \
            or _inside(source, dest):
        raise AssignmentError(f"the destination {dest} must not be the project, inside one of "
                              f"the folders it copies, or around it")
    if dest.exists() and not force:
        raise AssignmentError(f"{dest} exists; remove it or pass --force to replace it")
    fenced = package_fences(source, tasks)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    stubbed = []
    try:
        for name in COPIED:
            item = source / name
            if item.is_dir():
                shutil.copytree(item, work / name, ignore=IGNORED)
            elif item.is_file():
                shutil.copy2(item, work / name)
        for rel in LEFT_OUT:
            (work / rel).unlink(missing_ok=True)
        for rel, entries in fenced.items():
            text = (source / rel).read_text(encoding="utf-8")
            (work / rel).write_text(render(text, rel, entries, set(blank)), encoding="utf-8")
            stubbed += [(t.id, rel, f.qualname) for _, t, f in entries if t.id in blank]
        if notes is not None:
            (work / "ASSIGNMENT.md").write_text(notes, encoding="utf-8")
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            os.replace(dest, old / "copy")
            os.replace(work, dest)
            shutil.rmtree(old)
        else:
            os.replace(work, dest)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return sorted(set(stubbed))


def print_table(tasks=assignment_tasks.TASKS):
    print(f"{'task':<16} {'points':>6} {'minutes':>7}  equations / functions")
    for task in tasks:
        eqs = assignment_tasks.format_equations(assignment_tasks.task_equations(task))
        where = ("integration: runs the whole model; builds on " + ", ".join(task.builds_on)
                 if task.integration else
                 ", ".join(f"{f.path}:{f.qualname}" for f in task.functions))
        print(f"{task.id:<16} {task.points:>6} {task.minutes:>7}  {eqs}\n{'':<33}{where}")
    print(f"{'total':<16} {sum(t.points for t in tasks):>6}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write a student copy of numpyvae with the chosen tasks blanked (--out), "
                    "or the reference without its markers (--solutions).")
    parser.add_argument("--out", metavar="DIR", help="where to write the student copy")
    parser.add_argument("--solutions", metavar="DIR",
                        help="where to write the clean reference copy (markers removed)")
    parser.add_argument("--tasks", action="append", metavar="TASK[,TASK...]",
                        help="tasks to blank: ids or the groups 'model', 'optimizers', 'all' "
                             "(default: all). See --list.")
    parser.add_argument("--force", action="store_true", help="replace DIR if it exists")
    parser.add_argument("--list", action="store_true", help="print the task table and exit")
    args = parser.parse_args(argv)
    if args.list:
        print_table()
        return 0
    if not (args.out or args.solutions):
        parser.error("give --out DIR, --solutions DIR, or both (or --list)")
    try:
        chosen = assignment_tasks.expand(args.tasks or ["all"])
        integration = [t for t in chosen if assignment_tasks.get_task(t).integration]
        if integration:
            raise AssignmentError(f"{', '.join(integration)} is an integration task: it has no "
                                  f"code to blank (it is graded by the tests that run the "
                                  f"whole model)")
        if args.out:
            stubbed = write_copy(ROOT, Path(args.out), chosen, assignment_notes(chosen),
                                 args.force)
            print(f"wrote the student copy to {args.out}: {len(chosen)} task(s), "
                  f"{len(stubbed)} function(s) to write")
            for task_id, rel, qualname in stubbed:
                print(f"  {task_id:<16} {rel} {qualname}")
        if args.solutions:
            write_copy(ROOT, Path(args.solutions), (), None, args.force)
            print(f"wrote the solutions to {args.solutions}")
    except (AssignmentError, ValueError) as err:
        print(f"make_assignment: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write a student copy of numpyvae, a clean solution copy, or a Gradescope autograder.

    python scripts/make_assignment.py --out student              # every task set
    python scripts/make_assignment.py --out student --tasks kl,adam,written
    python scripts/make_assignment.py --solutions solutions      # the reference, no markers
    python scripts/make_assignment.py --autograder autograder.zip   # for Gradescope
    python scripts/make_assignment.py --list                     # the tasks, their points

``--tasks`` names the tasks set (default: all). The reference code marks each piece a student
writes with two lines, ``# BEGIN SOLUTION`` and ``# END SOLUTION``. In the student copy each
fenced block of a code task that is set becomes a stub that raises NotImplementedError naming
the task, the goal and the equations to implement. The function's signature, its docstring,
any prompt comment written above the fence and all code outside the fence stay as they are.
Fences of tasks that were not set lose their marker lines and keep the reference code. The
task of a fence is found from the function around it, through the table in
scripts/assignment_tasks.py; a fence the table does not name is an error. The other tasks
(integration, results, written) have no code to blank; they are listed with their points.

In the Markdown files, a block between two lines ``<!-- BEGIN SOLUTION -->`` and
``<!-- END SOLUTION -->`` gives code away: the student copy drops it with its marker lines,
the solution copy keeps it without them.

Copied: the package, tests, docs, scripts, setup.cfg, pyproject.toml, README.md and LICENSE
(not .git, .venv, runs/ or caches). The kit's own tests and the second solution they grade
(tests/instructor/test_assignment.py, test_autograder.py, kit_helpers.py and
textbook_solutions.py) are left out of every copy; the student copy also leaves out the rest
of tests/instructor/ (hidden tests, reference implementations, the written part's rubric),
and gets ASSIGNMENT.md (every task set, its points and how it is graded, with a total equal
to grade.py's) and REPORT.md (the written part's template).

The autograder zip follows Gradescope's specification: setup.sh and run_autograder at its
root, next to the solution copy (hidden tests included; its package gives the points
possible) and autograder.json (the tasks set). run_autograder runs
scripts/autograder/autograde.py, which grades the numpyvae/ it finds in the submission.

Every copy and the zip are built in a temporary place next to the destination and moved into
place when complete.
"""
import argparse
import ast
import configparser
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

if __name__ == "__main__":
    sys.dont_write_bytecode = True    # leave no __pycache__ in the project
sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignment_tasks  # noqa: E402  (the task table, next to this script)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "numpyvae"
COPIED = (PACKAGE, "tests", "docs", "scripts", "setup.cfg", "pyproject.toml", "README.md",
          "LICENSE")
INSTRUCTOR = "tests/instructor"
# The kit's own tests (they need the fenced reference) and the second solution they grade.
KIT = ("tests/instructor/test_assignment.py", "tests/instructor/test_autograder.py",
       "tests/instructor/kit_helpers.py", "tests/instructor/textbook_solutions.py")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info",
                                 ".pytest_cache", ".DS_Store")
BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
MD_BEGIN = "<!-- BEGIN SOLUTION -->"
MD_END = "<!-- END SOLUTION -->"
BANDS = "scripts/results_bands.json"
AUTOGRADER_TEMPLATES = Path(__file__).resolve().parent / "autograder"
AUTOGRADER_CONFIG = "autograder.json"
AUTOGRADER_TIMEOUT = 300        # seconds, for each of the grader's two pytest runs


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


# ---------------------------------------------------------------- Markdown fences


def markdown_fences(text, path):
    """0-based (begin, end) line numbers of each ``<!-- BEGIN SOLUTION -->`` block.

    Raises AssignmentError for an unpaired or nested marker, or a line that starts like a
    marker but is not exactly one (prose may name the markers, in backquotes).
    """
    fences, begin = [], None
    for i, line in enumerate(text.splitlines()):
        marker = line.strip()
        if marker not in (MD_BEGIN, MD_END):
            if re.match(r"<!--\s*(BEGIN|END)\s+SOLUTION", marker, re.IGNORECASE):
                raise AssignmentError(f"{path}:{i + 1}: a Markdown marker must be a line "
                                      f"holding exactly {MD_BEGIN!r} or {MD_END!r}; got "
                                      f"{marker!r}")
            continue
        if marker == MD_BEGIN:
            if begin is not None:
                raise AssignmentError(f"{path}:{i + 1}: {MD_BEGIN!r} inside the block opened "
                                      f"at line {begin + 1}; close it with {MD_END!r} first")
            begin = i
        elif begin is None:
            raise AssignmentError(f"{path}:{i + 1}: {MD_END!r} without a {MD_BEGIN!r} above it")
        else:
            fences.append((begin, i))
            begin = None
    if begin is not None:
        raise AssignmentError(f"{path}:{begin + 1}: {MD_BEGIN!r} is never closed by {MD_END!r}")
    return fences


def render_markdown(text, path, student):
    """The Markdown file with its solution blocks dropped (``student``) or kept without their
    marker lines."""
    fences = markdown_fences(text, path)
    if not fences:
        return text
    lines = text.splitlines(keepends=True)
    out, position = [], 0
    for begin, end in fences:
        out += lines[position:begin]
        if not student:
            out += lines[begin + 1:end]
        position = end + 1
    out += lines[position:]
    return "".join(out)


# ---------------------------------------------------------------- what the copy says


def graded_points():
    """{task id: (points, points of hidden tests)} of this project's graded tests, collected
    against the reference package the way grade.py collects them."""
    import grade
    with tempfile.TemporaryDirectory(prefix="numpyvae-collect-") as tmp:
        run = grade.run_tests(ROOT, Path(tmp) / "collect", collect_only=True)
    if run["collect_errors"] or not run["tests"]:
        raise AssignmentError("this project's graded tests do not collect, so their points "
                              "are unknown:\n" + "\n".join(m for _, m in run["collect_errors"])
                              + "\n" + "\n".join(run["output"].splitlines()[-15:]))
    points = {}
    for task, n, hidden in run["tests"].values():
        total, in_hidden = points.get(task, (0, 0))
        points[task] = (total + n, in_hidden + (n if hidden else 0))
    return points


def check_points(chosen, points, tasks=assignment_tasks.TASKS):
    """Refuse a task set whose table points and test markers disagree."""
    for task in tasks:
        if task.id not in chosen or task.by_hand:
            continue
        found = points.get(task.id, (0, 0))[0]
        if found != task.points:
            raise AssignmentError(
                f"task {task.id!r} is worth {task.points} points in scripts/"
                f"assignment_tasks.py, but its graded tests add up to {found:g}; make the "
                f"table and the points markers agree before setting it")


def load_bands(source=ROOT):
    """The document of scripts/results_bands.json (the results task's command and bands)."""
    path = Path(source) / BANDS
    if not path.is_file():
        raise AssignmentError(f"{BANDS} is missing: the task 'trained-model' needs the set "
                              f"command and its bands; run python scripts/results_bands.py")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        document["command"], document["bands"]
    except (ValueError, KeyError, TypeError) as err:
        raise AssignmentError(f"{BANDS}: expected the JSON that scripts/results_bands.py "
                              f"writes, with 'command' and 'bands'; {err}") from None
    return document


def written_questions():
    questions = assignment_tasks.written_questions()
    if not questions:
        raise AssignmentError(f"{assignment_tasks.WRITTEN_PART} is missing or holds no "
                              f"questions: the task 'written' needs them")
    return questions


def report_template():
    """REPORT.md of a student copy: the written part's template, from scripts/written_part.py."""
    written_questions()
    return assignment_tasks.load_written_part().render_report()


def _cell(text):
    return text.replace("|", "\\|")


def _points(task, points):
    hidden = points.get(task.id, (0, 0))[1]
    return f"{task.points} ({hidden:g} in hidden tests)" if hidden else str(task.points)


def assignment_notes(chosen, points=None, bands=None, questions=None,
                     tasks=assignment_tasks.TASKS):
    """ASSIGNMENT.md of a student copy: every task set, its points, how it is graded.

    Parameters
    ----------
    chosen : collection of task ids
    points : {task id: (points, points in hidden tests)} or None
        From :func:`graded_points`; None leaves the hidden points unsaid.
    bands : dict or None
        scripts/results_bands.json, needed when the results task is set.
    questions : list of (id, points, question) or None
        The written part, needed when the written task is set.
    """
    points = points or {}
    rows = [t for t in tasks if t.id in chosen]
    by_kind = {kind: [t for t in rows if t.kind == kind] for kind in assignment_tasks.KINDS}
    total = sum(t.points for t in rows)
    by_hand = sum(t.points for t in by_kind["written"])
    hidden = sum(points.get(t.id, (0, 0))[1] for t in rows)
    parts = [f"{total - by_hand} graded by tests"]
    if hidden:
        parts[0] += f" ({hidden:g} of them in hidden tests, which only the autograder runs)"
    if by_hand:
        parts.append(f"{by_hand} graded by hand")
    lines = ["# Your assignment", "",
             f"The tasks set, what each is worth and how it is graded: {total} points in all, "
             + " and ".join(parts) + ".", "",
             "| Task | What you do | Points |", "|---|---|---|"]
    for task in rows:
        what = {"code": "write the functions below",
                "integration": "nothing new: its tests run the whole model",
                "results": "train with the set command and hand in the run folder",
                "written": "answer in REPORT.md; graded by hand"}[task.kind]
        lines.append(f"| `{task.id}`: {_cell(task.title)} | {what} | "
                     f"{_points(task, points)} |")
    lines += [f"| **total** | | **{total}** |", ""]
    if by_kind["code"]:
        lines += [
            "## Code", "",
            "Each task below is a function (or a few) in `numpyvae/` whose body has been "
            "replaced by a `raise NotImplementedError(...)` that says what to compute and "
            "which equations of [docs/derivation.md](docs/derivation.md) to implement. "
            "Replace each raise with your code; keep the function's signature and the lines "
            "around the raise.", "",
            "| Task | Functions | Equations | Points |", "|---|---|---|---|"]
        for task in by_kind["code"]:
            where = "<br>".join(f"`{f.path}` `{f.qualname}`" for f in task.functions)
            eqs = assignment_tasks.format_equations(assignment_tasks.task_equations(task))
            lines.append(f"| `{task.id}` | {where} | {eqs} | {_points(task, points)} |")
        lines.append("")
    for task in by_kind["integration"]:
        eqs = assignment_tasks.format_equations(assignment_tasks.task_equations(task))
        lines += [f"## `{task.id}`: {task.title}", "",
                  f"No code of its own, {task.points} points: its tests check the gradient of "
                  f"the whole model, so they pass once every task it builds on is right: "
                  + ", ".join(f"`{t}`" for t in task.builds_on) + f" ({eqs}).", ""]
    for task in by_kind["results"]:
        if bands is None:
            raise AssignmentError(f"task {task.id!r} is set but no bands were given")
        run_folder = bands.get("run_folder", "results/trained-model")
        lines += [f"## `{task.id}`: {task.title}", "",
                  f"Once your model is written ({', '.join(f'`{t}`' for t in task.builds_on)}"
                  f"), train it from this folder with this command (any seed; change nothing "
                  f"else):", "", "```bash", bands["command"], "```", "",
                  f"and hand in the run folder `{run_folder}/` it writes, with your copy. Its "
                  f"{task.points} points check the last epoch's test numbers of "
                  f"`metrics.jsonl` against bands made from the reference"
                  + (f" (the mean +- {bands['sd_multiple']:g} standard deviations over "
                     f"{len(bands['seeds'])} seeds)" if "sd_multiple" in bands and "seeds"
                     in bands else "") + ":", "",
                  "| Number | Band |", "|---|---|"]
        names = {"test_loss": "test negative ELBO", "test_recon": "test reconstruction",
                 "test_kl": "test KL"}
        for key, band in bands["bands"].items():
            lines.append(f"| {names.get(key, key)} (`{key}`) | "
                         f"{band['low']:.2f} to {band['high']:.2f} |")
        lines += ["", "A run trained with another configuration than the command's (its "
                  "`config.json`) earns nothing. "
                  f"`python -m pytest --task {task.id}` checks your run.", ""]
    for task in by_kind["written"]:
        if not questions:
            raise AssignmentError(f"task {task.id!r} is set but no questions were given")
        asked = sum(q[1] for q in questions)
        if asked != task.points:
            raise AssignmentError(f"the written questions add up to {asked:g} points but "
                                  f"task {task.id!r} is worth {task.points}")
        lines += [f"## `{task.id}`: {task.title} (graded by hand)", "",
                  f"{task.points} points, graded by hand: answer each question in "
                  f"[REPORT.md](REPORT.md), with the figures it asks for.", ""]
        for number, (qid, worth, question) in enumerate(questions, start=1):
            lines += [f"### {number}. {qid} ({worth:g} points, graded by hand)", "",
                      question.strip(), ""]
    first = (by_kind["code"] or by_kind["integration"] or by_kind["results"] or [None])[0]
    commands = [
        ("python -m pytest --task " + (first.id if first else "dense-backward"),
         "the graded tests of one task"),
        ("python -m pytest -m points", "every graded test"),
        ("python scripts/grade.py ." + ("" if set(chosen) == set(assignment_tasks.task_ids())
                                        else " --tasks " + ",".join(t.id for t in rows)),
         "the points, task by task"),
        ("python -m numpyvae gradcheck", "the whole model, parameter by parameter"),
    ]
    width = max(len(command) for command, _ in commands) + 3
    lines += ["## Checking your work", "",
              "From this folder (after `pip install -e .`, or with the folder as the working "
              "directory):", "", "```bash"]
    lines += [f"{command:<{width}}# {what}" for command, what in commands]
    lines += ["```", "",
              "A failing test names the task, its points and what to re-read; a failing "
              "gradient check also names the parameter, the worst entry's index, the analytic "
              "and numeric values and the usual causes."
              + (" `scripts/grade.py` runs the tests this copy holds; the hidden ones, run by "
                 "the autograder only, check the same functions on other inputs, and their "
                 "points are shown apart." if hidden else ""), "",
              "## Handing in", "",
              "Upload this whole folder, or a zip of it, with `numpyvae/`"
              + (", the run folder" if by_kind["results"] else "")
              + (" and REPORT.md" if by_kind["written"] else "")
              + " in it. Only your `numpyvae/` package"
              + (" and your run folder are" if by_kind["results"] else " is")
              + " graded by the autograder; the tests are the course's own.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- writing a copy


def _inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _hidden_markers(tests):
    """(file, line) of every points marker with hidden=True in a folder of tests."""
    found = []
    for path in sorted(Path(tests).rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "points" \
                    and any(k.arg == "hidden" and not (isinstance(k.value, ast.Constant)
                                                       and k.value.value is False)
                            for k in node.keywords):
                found.append((path, node.lineno))
    return found


def _build(source, work, blank, student, files, tasks):
    """Write the copy into the empty folder ``work``; returns the functions stubbed."""
    fenced = package_fences(source, tasks)
    stubbed = []
    for name in COPIED:
        item = source / name
        if item.is_dir():
            shutil.copytree(item, work / name, ignore=IGNORED)
        elif item.is_file():
            shutil.copy2(item, work / name)
    for rel in KIT:
        (work / rel).unlink(missing_ok=True)
    if student:
        shutil.rmtree(work / INSTRUCTOR, ignore_errors=True)
        hidden = _hidden_markers(work / "tests")
        if hidden:
            raise AssignmentError(
                "hidden tests outside tests/instructor/ would go to the student copy: "
                + ", ".join(f"{p.relative_to(work).as_posix()}:{line}" for p, line in hidden)
                + " (move them under tests/instructor/)")
    for rel, entries in fenced.items():
        text = (source / rel).read_text(encoding="utf-8")
        (work / rel).write_text(render(text, rel, entries, set(blank)), encoding="utf-8")
        stubbed += [(t.id, rel, f.qualname) for _, t, f in entries if t.id in blank]
    for path in sorted(work.rglob("*.md")):
        rel = path.relative_to(work).as_posix()
        text = path.read_text(encoding="utf-8")
        rendered = render_markdown(text, rel, student)
        if rendered != text:
            path.write_text(rendered, encoding="utf-8")
    for rel, text in (files or {}).items():
        (work / rel).write_text(text, encoding="utf-8")
    return sorted(set(stubbed))


def _replace(work, dest):
    """Move the finished ``work`` to ``dest``, replacing what is there."""
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
        os.replace(dest, old / "previous")
        os.replace(work, dest)
        shutil.rmtree(old)
    else:
        os.replace(work, dest)


def _check_destination(source, dest, force):
    if not (source / PACKAGE / "__init__.py").is_file():
        raise AssignmentError(f"source must be a project folder holding {PACKAGE}/; got {source}")
    if dest == source or any(_inside(dest, source / name) for name in COPIED) \
            or _inside(source, dest):
        raise AssignmentError(f"the destination {dest} must not be the project, inside one of "
                              f"the folders it copies, or around it")
    if dest.exists() and not force:
        raise AssignmentError(f"{dest} exists; remove it or pass --force to replace it")


def write_copy(source, dest, blank=(), student=True, files=None, force=False,
               tasks=assignment_tasks.TASKS):
    """Copy the project from ``source`` to ``dest``, rewriting the package's fenced files.

    Parameters
    ----------
    source, dest : Path
    blank : collection of task ids
        The tasks whose fences become stubs; the others keep the reference code.
    student : bool
        A student copy: tests/instructor/ left out, the Markdown solution blocks dropped. The
        solution copy (False) keeps both, without the marker lines.
    files : {relative path: text} or None
        Extra files to write into the copy (ASSIGNMENT.md, REPORT.md).
    force : bool
        Replace ``dest`` if it exists (otherwise that is an error).
    tasks : the task table

    Returns
    -------
    list of (task id, relative path, qualname) of the functions stubbed.
    """
    source, dest = Path(source).resolve(), Path(dest).resolve()
    _check_destination(source, dest, force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        stubbed = _build(source, work, blank, student, files, tasks)
        _replace(work, dest)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return stubbed


# ---------------------------------------------------------------- the autograder


def requirements(source=ROOT):
    """The requirements setup.cfg asks for: install_requires and the ``test`` extra."""
    config = configparser.ConfigParser()
    config.read(Path(source) / "setup.cfg", encoding="utf-8")
    found = []
    for section, key in (("options", "install_requires"), ("options.extras_require", "test")):
        value = config.get(section, key, fallback="")
        found += [line.strip() for line in value.splitlines() if line.strip()]
    if not found:
        raise AssignmentError(f"{Path(source) / 'setup.cfg'}: found no install_requires")
    return found


def autograder_files(chosen, source=ROOT):
    """{name: (text, executable)} of the files at the autograder zip's root."""
    setup = (AUTOGRADER_TEMPLATES / "setup.sh").read_text(encoding="utf-8")
    setup = setup.replace("@REQUIREMENTS@", " ".join(f"'{r}'" for r in requirements(source)))
    config = {"tasks": list(chosen), "timeout": AUTOGRADER_TIMEOUT}
    return {
        "setup.sh": (setup, True),
        "run_autograder": ((AUTOGRADER_TEMPLATES / "run_autograder").read_text(
            encoding="utf-8"), True),
        AUTOGRADER_CONFIG: (json.dumps(config, indent=2) + "\n", False),
    }


def write_autograder(source, zip_path, chosen, force=False, tasks=assignment_tasks.TASKS):
    """Write Gradescope's autograder zip: setup.sh, run_autograder and autograder.json at its
    root, next to the solution copy of the project (hidden tests included).

    The zip is written to a temporary file next to ``zip_path`` and moved into place whole.
    """
    source, zip_path = Path(source).resolve(), Path(zip_path).resolve()
    if zip_path.suffix != ".zip":
        raise AssignmentError(f"--autograder must name a .zip file; got {zip_path}")
    _check_destination(source, zip_path, force)
    if zip_path.is_dir():
        raise AssignmentError(f"{zip_path} is a folder; --autograder names the zip to write")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{zip_path.name}.", suffix=".tmp",
                                 dir=zip_path.parent))
    try:
        tree = work / "tree"
        tree.mkdir()
        _build(source, tree, (), False, None, tasks)
        partial = work / zip_path.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, (text, executable) in autograder_files(chosen, source).items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                mode = 0o755 if executable else 0o644
                info.external_attr = (stat.S_IFREG | mode) << 16
                archive.writestr(info, text)
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(tree).as_posix())
        os.replace(partial, zip_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- the command line


def print_table(points=None, tasks=assignment_tasks.TASKS):
    """The task table; ``points`` (from :func:`graded_points`) adds the hidden points."""
    points = points or {}
    print(f"{'task':<16} {'points':>6} {'hidden':>6} {'minutes':>7}  {'kind':<11}  "
          f"equations / functions")
    for task in tasks:
        equations = assignment_tasks.task_equations(task)
        eqs = assignment_tasks.format_equations(equations) if equations else ""
        if task.kind == "code":
            where = ", ".join(f"{f.path}:{f.qualname}" for f in task.functions)
        elif task.kind == "written":
            where = "questions in scripts/written_part.py, answered in REPORT.md, graded by hand"
        else:
            where = f"{task.kind}: builds on " + ", ".join(task.builds_on)
        hidden = f"{points[task.id][1]:g}" if task.id in points else "-"
        print(f"{task.id:<16} {task.points:>6} {hidden:>6} {task.minutes:>7}  {task.kind:<11}  "
              f"{eqs}\n{'':<53}{where}")
    print(f"{'total':<16} {sum(t.points for t in tasks):>6} "
          f"{sum(h for _, h in points.values()):>6g}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write a student copy of numpyvae with the tasks set (--out), the "
                    "reference without its markers (--solutions), or a Gradescope "
                    "autograder (--autograder).")
    parser.add_argument("--out", metavar="DIR", help="where to write the student copy")
    parser.add_argument("--solutions", metavar="DIR",
                        help="where to write the clean reference copy (markers removed)")
    parser.add_argument("--autograder", metavar="ZIP",
                        help="where to write Gradescope's autograder zip (autograder.zip)")
    parser.add_argument("--tasks", action="append", metavar="TASK[,TASK...]",
                        help="the tasks set: ids or the groups 'model', 'optimizers', 'all' "
                             "(default: all). See --list.")
    parser.add_argument("--force", action="store_true", help="replace DIR or ZIP if it exists")
    parser.add_argument("--list", action="store_true", help="print the task table and exit")
    args = parser.parse_args(argv)
    if args.list:
        try:
            points = graded_points()
        except AssignmentError as err:
            print(f"make_assignment: the hidden points are unknown: {err}", file=sys.stderr)
            points = None
        print_table(points)
        return 0
    if not (args.out or args.solutions or args.autograder):
        parser.error("give --out DIR, --solutions DIR, --autograder ZIP, or several (or --list)")
    if args.autograder and not args.autograder.endswith(".zip"):
        print(f"make_assignment: error: --autograder must name a .zip file, such as "
              f"autograder.zip; got {args.autograder}", file=sys.stderr)
        return 2
    try:
        chosen = assignment_tasks.expand(args.tasks or ["all"])
        blank = [t for t in chosen if assignment_tasks.get_task(t).kind == "code"]
        points = graded_points() if args.out or args.autograder else {}
        if points:
            check_points(chosen, points)
        if args.out:
            files = {"ASSIGNMENT.md": assignment_notes(
                chosen, points,
                load_bands() if "trained-model" in chosen else None,
                written_questions() if "written" in chosen else None)}
            if "written" in chosen:
                files["REPORT.md"] = report_template()
            stubbed = write_copy(ROOT, Path(args.out), blank, True, files, args.force)
            print(f"wrote the student copy to {args.out}: {len(chosen)} task(s), "
                  f"{len(stubbed)} function(s) to write")
            for task_id, rel, qualname in stubbed:
                print(f"  {task_id:<16} {rel} {qualname}")
        if args.solutions:
            write_copy(ROOT, Path(args.solutions), (), False, None, args.force)
            print(f"wrote the solutions to {args.solutions}")
        if args.autograder:
            write_autograder(ROOT, Path(args.autograder), chosen, args.force)
            print(f"wrote the Gradescope autograder to {args.autograder}: {len(chosen)} "
                  f"task(s); upload it as the assignment's autograder (docs/teaching.md)")
    except (AssignmentError, ValueError) as err:
        print(f"make_assignment: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

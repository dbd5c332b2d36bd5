"""The teaching kit: scripts/make_assignment.py, scripts/grade.py and the task table.

Run as an instructor would: a student copy and a solution copy of this project are made once
(module fixture), then graded. The oracles: the reference (with a run of the set command for
the results task) must score full marks, a fresh copy 0 on every task, and a copy with one
task's reference functions put back (by locating them with ast, not with the generator's
fences) exactly that task's points. A fresh copy must hold no solution: no statement of a
fence of the reference, and none of their non-trivial expressions, in any of its files. The
generator's rules (prompt comments kept, unmapped fences refused, Markdown solution blocks,
hidden tests) are checked on small fixtures.
"""
import ast
import difflib
import io
import json
import re
import shutil
import textwrap
import tokenize
from pathlib import Path
from types import SimpleNamespace

import pytest

from kit_helpers import (AUTOGRADED, BY_HAND, ROOT, SCRIPTS, TABLE_POINTS, TOTAL, earned,
                         function_span, restore, run, train_run, write_solutions)
import assignment_tasks  # noqa: E402  (scripts/, put on sys.path by kit_helpers)
import grade  # noqa: E402
import make_assignment  # noqa: E402
from assignment_tasks import Function, Task  # noqa: E402
from make_assignment import BEGIN, END, MD_BEGIN, MD_END, AssignmentError  # noqa: E402

LEFT_OUT_OF_STUDENT = {make_assignment.INSTRUCTOR}


def copied_files(root, skip_prefixes=()):
    """Relative paths of the files make_assignment copies from ``root``."""
    found = set()
    for name in make_assignment.COPIED:
        item = root / name
        paths = [item] if item.is_file() else item.rglob("*")
        for path in paths:
            rel = path.relative_to(root).as_posix()
            if path.is_file() and not any(part == "__pycache__" or part.endswith(".egg-info")
                                          for part in path.relative_to(root).parts) \
                    and rel not in make_assignment.KIT \
                    and not any(rel.startswith(p + "/") for p in skip_prefixes):
                found.add(rel)
    return found


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A student copy of every task and a solution copy, made with the command line."""
    base = tmp_path_factory.mktemp("kit")
    proc = run([SCRIPTS / "make_assignment.py", "--out", base / "student", "--solutions",
                base / "solutions"], cwd=base)
    assert proc.returncode == 0, proc.stderr
    return SimpleNamespace(base=base, student=base / "student", solutions=base / "solutions",
                           output=proc.stdout)


@pytest.fixture(scope="module")
def fresh(kit):
    """The fresh student copy graded with the command line, --json included."""
    out = kit.base / "grades" / "fresh.json"
    proc = run([SCRIPTS / "grade.py", kit.student, "--json", out], cwd=kit.base)
    assert proc.returncode == 0, proc.stderr
    return SimpleNamespace(stdout=proc.stdout, json_path=out,
                           result=json.loads(out.read_text()))


@pytest.fixture(scope="module")
def trained_solutions(kit):
    """The solution copy with a run of the set command in it, as a student hands it in."""
    train_run(kit.solutions)
    return kit.solutions


@pytest.fixture(scope="module")
def reference():
    """The graded tests collected once against the reference, for every grade.grade here."""
    return grade.collect_reference()


@pytest.fixture(scope="module")
def reference_grade(trained_solutions, reference):
    return grade.grade(trained_solutions, reference=reference)


# ---------------------------------------------------------------- the task table


def test_task_table_is_consistent():
    ids = assignment_tasks.task_ids()
    assert len(set(ids)) == len(ids)
    for task in assignment_tasks.TASKS:
        assert task.kind in assignment_tasks.KINDS, task.id
        assert set(task.builds_on) <= set(ids) - {task.id}, task.id
        assert bool(task.functions) == (task.kind == "code"), task.id
        assert task.points > 0 and task.minutes > 0
    for group in assignment_tasks.GROUPS.values():
        assert set(group) <= set(ids)
    assert assignment_tasks.GROUPS["all"] == ids
    assert assignment_tasks.expand(["kl,adam", "sgd"]) == ("kl", "sgd", "adam")
    assert assignment_tasks.expand(["optimizers"]) == ("sgd", "weight-decay", "adam", "adagrad")
    with pytest.raises(ValueError, match="unknown task 'nope'; the tasks are dense-backward"):
        assignment_tasks.expand(["nope"])
    kinds = {t.id: t.kind for t in assignment_tasks.TASKS}
    assert (kinds["full-model"], kinds["iwae-bound"], kinds["trained-model"],
            kinds["written"]) == ("integration", "code", "results", "written")
    assert (TABLE_POINTS["iwae-bound"], TABLE_POINTS["trained-model"],
            TABLE_POINTS["written"]) == (6, 5, 10)


def test_equations_are_cited_in_the_style_of_the_docs():
    fmt = assignment_tasks.format_equations
    assert fmt([9]) == "eq. (9)"
    assert fmt([26, 24, 25]) == "eqs. (24)-(26)"
    assert fmt([27, 29]) == "eqs. (27), (29)"
    assert fmt([7, 8, 10, 11, 12, 18]) == "eqs. (7)-(8), (10)-(12), (18)"


def test_every_fence_of_the_reference_belongs_to_a_task():
    fenced = make_assignment.package_fences(ROOT)
    found = {(rel, f.qualname) for rel, entries in fenced.items() for f, _, _ in entries}
    assert found == set(assignment_tasks.fenced_functions())


def test_issue_tasks_are_all_marked():
    """The tasks the issue asks for, by the functions that implement them."""
    index = assignment_tasks.fenced_functions()
    names = {qualname for _, qualname in index}
    assert {"dense_backward", "reparameterize_forward", "reparameterize_backward",
            "kl_forward", "kl_backward", "bernoulli_nll_backward", "gaussian_nll_backward",
            "sgd_update", "adam_update", "adagrad_update", "log_weights",
            "log_mean_exp"} <= names
    assert {f"{a}_backward" for a in assignment_tasks.ACTIVATION_EQUATIONS} <= names


def test_written_questions_add_up_to_the_written_task():
    questions = assignment_tasks.written_questions()
    ids = [qid for qid, _, _ in questions]
    assert len(questions) >= 4 and len(set(ids)) == len(ids)
    assert sum(points for _, points, _ in questions) == TABLE_POINTS["written"]
    assert all(text.strip() for _, _, text in questions)


def test_reference_scores_full_marks_and_the_table_matches_the_markers(reference_grade):
    result = reference_grade
    assert {r["task"]: r["possible"] for r in result["tasks"] if r["kind"] != "written"} == \
        AUTOGRADED
    assert earned(result) == AUTOGRADED
    assert result["earned"] == result["possible"] == TOTAL - BY_HAND
    assert result["hidden_elsewhere"] == 0 and result["by_hand"] == BY_HAND
    assert result["total_possible"] == TOTAL
    hidden = {t["task"] for t in result["tests"] if t["hidden"]}
    assert {"iwae-bound"} <= hidden, "the hidden tests are graded too"
    assert all(t["nodeid"].startswith("tests/instructor/") == t["hidden"]
               for t in result["tests"])


def test_teaching_guide_lists_every_task_with_its_points_and_time(reference):
    text = (ROOT / "docs" / "teaching.md").read_text()
    hidden = sum(points for _, points, is_hidden in reference["tests"].values() if is_hidden)
    assert (f"worth {TOTAL} points: {TOTAL - BY_HAND} graded by tests ({hidden:g} of them in "
            f"hidden tests) and\n{BY_HAND} graded by hand") in text
    readme = (ROOT / "README.md").read_text()
    assert f"{len(assignment_tasks.TASKS)} tasks and {TOTAL} points" in readme
    for task in assignment_tasks.TASKS:
        row = next((line for line in text.splitlines()
                    if line.startswith(f"| `{task.id}` |")), None)
        assert row is not None, task.id
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert str(task.points) in cells and f"{task.minutes} min" in cells, row


# ---------------------------------------------------------------- the student copy


def test_copy_holds_the_project_and_nothing_else(kit):
    student = copied_files(ROOT, skip_prefixes=LEFT_OUT_OF_STUDENT)
    assert {p.relative_to(kit.student).as_posix() for p in kit.student.rglob("*")
            if p.is_file()} == student | {"ASSIGNMENT.md", "REPORT.md"}
    assert copied_files(kit.solutions) == copied_files(ROOT)
    assert not (kit.solutions / "ASSIGNMENT.md").exists()
    assert not (kit.student / make_assignment.INSTRUCTOR).exists()
    for rel in student:
        if rel.startswith("numpyvae/") and rel.endswith(".py"):
            continue
        expected = (ROOT / rel).read_bytes()
        if rel.endswith(".md"):
            expected = make_assignment.render_markdown(expected.decode(), rel, True).encode()
        assert (kit.student / rel).read_bytes() == expected, rel
    assert not list(kit.base.glob(".*tmp"))          # no half-built copy left behind


def test_solutions_are_the_reference_without_its_marker_lines(kit):
    for rel in copied_files(kit.solutions):
        source = (ROOT / rel).read_bytes()
        if (rel.startswith("numpyvae/") and rel.endswith(".py")) or rel.endswith(".md"):
            markers = (BEGIN, END) if rel.endswith(".py") else (MD_BEGIN, MD_END)
            lines = source.decode().splitlines(keepends=True)
            source = "".join(l for l in lines if l.strip() not in markers).encode()
        assert (kit.solutions / rel).read_bytes() == source, rel
    assert "SOLUTION" not in "".join(p.read_text() for p in
                                     (kit.solutions / "numpyvae").rglob("*.py"))


def test_student_copy_changes_only_the_fenced_blocks(kit):
    stubbed = set()
    for path in sorted((ROOT / "numpyvae").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        ref = path.read_text().splitlines()
        new = (kit.student / rel).read_text().splitlines()
        assert "SOLUTION" not in "\n".join(new), rel
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ref, new,
                                                          autojunk=False).get_opcodes():
            if op == "equal":
                continue
            assert op == "replace", (rel, ref[i1:i2], new[j1:j2])
            assert ref[i1].strip() == BEGIN and ref[i2 - 1].strip() == END, (rel, ref[i1:i2])
            assert new[j1].strip().startswith("# TODO task '"), (rel, new[j1:j2])
            assert new[j1 + 1].strip() == "raise NotImplementedError(", (rel, new[j1:j2])
            stubbed.add(rel)
        ref_tree, new_tree = ast.parse(path.read_text()), ast.parse("\n".join(new))
        ref_defs = {n.name: (ast.dump(n.args), ast.get_docstring(n)) for n in ast.walk(ref_tree)
                    if isinstance(n, ast.FunctionDef)}
        new_defs = {n.name: (ast.dump(n.args), ast.get_docstring(n)) for n in ast.walk(new_tree)
                    if isinstance(n, ast.FunctionDef)}
        assert new_defs == ref_defs, rel
    assert stubbed == {f.path for t in assignment_tasks.TASKS for f in t.functions}


def test_student_copy_imports_cleanly(kit):
    # The figures module needs matplotlib, a runtime dependency; an interpreter without it
    # imports everything else.
    code = ("import importlib, importlib.util, pkgutil, numpyvae\n"
            "figures = importlib.util.find_spec('matplotlib') is not None\n"
            "for m in pkgutil.walk_packages(numpyvae.__path__, 'numpyvae.'):\n"
            "    if not m.name.endswith('__main__') and (figures or m.name != 'numpyvae.app.plots'):\n"
            "        importlib.import_module(m.name)\n"
            "print(numpyvae.__file__)")
    proc = run(["-c", code], cwd=kit.student)
    assert proc.returncode == 0, proc.stderr
    imported = Path(proc.stdout.strip()).resolve()
    assert imported == (kit.student / "numpyvae" / "__init__.py").resolve()


def test_numpyvae_gradcheck_in_the_student_copy_points_to_the_task(kit):
    proc = run(["-m", "numpyvae", "gradcheck", "--likelihood", "bernoulli"], cwd=kit.student)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out, out
    assert "task '" in out and "of docs/derivation.md" in out, out


def test_student_copy_holds_no_hidden_test_and_no_instructor_file(kit):
    assert make_assignment._hidden_markers(kit.student / "tests") == []
    names = {Path(rel).stem for rel in make_assignment.KIT} | {
        p.stem for p in (ROOT / make_assignment.INSTRUCTOR).glob("*.py")}
    for path in kit.student.rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names} | {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and node.module}
        assert not imported & names, (path, imported & names)


# ---------------------------------------------------------------- no solution in the copy


TRIVIAL = (ast.Name, ast.Attribute, ast.Constant, ast.Starred, ast.Slice, ast.Subscript,
           ast.Tuple, ast.List, ast.UnaryOp, ast.expr_context)


def _trivial(node):
    """Names, attributes, constants, subscripts and tuples of them: nothing to give away."""
    return all(isinstance(n, TRIVIAL) or isinstance(n, (ast.unaryop, ast.Load))
               for n in ast.walk(node))


def fence_snippets(root=ROOT):
    """Every statement of every fence of the reference, and its non-trivial expressions.

    Returns a list of (task id, "path:line" of the fence, kind, ast.dump, source), ``kind``
    "statement" or "expression". The expressions are the right-hand sides of assignments and
    augmented assignments, returned values and expression statements.
    """
    snippets = []
    for rel, entries in make_assignment.package_fences(root).items():
        lines = (root / rel).read_text().splitlines()
        for fence, task, _ in entries:
            body = textwrap.dedent("\n".join(lines[fence.begin + 1:fence.end]))
            where = f"{rel}:{fence.begin + 1}"
            for node in ast.walk(ast.parse(body)):
                if not isinstance(node, ast.stmt):
                    continue
                value = getattr(node, "value", None) if isinstance(
                    node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return,
                           ast.Expr)) else None
                if value is not None and _trivial(value):
                    continue
                snippets.append((task.id, where, "statement", ast.dump(node),
                                 ast.unparse(node)))
                if value is not None:
                    snippets.append((task.id, where, "expression", ast.dump(value),
                                     ast.unparse(value)))
    return snippets


def _squeezed(text):
    """The text without whitespace, and the line of each of its characters."""
    chars, lines, line = [], [], 1
    for char in text:
        if char == "\n":
            line += 1
        if not char.isspace():
            chars.append(char)
            lines.append(line)
    return "".join(chars), lines


def _text_finds(text, first_line, snippets):
    """(line, snippet) of each snippet's source found in ``text``, whitespace ignored; a
    snippet that starts or ends with a name must not run into a longer name or a superscript
    (``mu + sigma * v_k`` and ``mu + sigma * v^{i,j}``, the math of eq. (9) with its indices,
    are not ``mu + sigma * v``)."""
    squeezed, lines = _squeezed(text)
    finds = []
    for snippet in snippets:
        needle = _squeezed(snippet[4])[0]
        pattern = ((r"(?<![\w.])" if re.match(r"\w", needle) else "") + re.escape(needle)
                   + (r"(?![\w^])" if re.search(r"\w$", needle) else ""))
        match = re.search(pattern, squeezed)
        if match:
            finds.append((first_line + lines[match.start()] - 1, snippet))
    return finds


def _python_finds(text, snippets):
    """Code: statements and expressions compared as ast; strings and comments as text."""
    tree = ast.parse(text)
    statements = {s[3]: s for s in snippets if s[2] == "statement"}
    expressions = {s[3]: s for s in snippets if s[2] == "expression"}
    finds = []
    for node in ast.walk(tree):
        table = statements if isinstance(node, ast.stmt) else \
            expressions if isinstance(node, ast.expr) else None
        if table is not None:
            snippet = table.get(ast.dump(node))
            if snippet is not None:
                finds.append((node.lineno, snippet))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            finds += _text_finds(node.value, node.lineno, snippets)
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            finds += _text_finds(token.string, token.start[0], snippets)
    return finds


def solution_finds(copy_root, snippets):
    """Every place in the files of ``copy_root`` where a fenced solution shows, as messages."""
    messages = set()
    for path in sorted(copy_root.rglob("*")):
        if not path.is_file() or path.suffix in (".npz", ".png", ".pdf", ".pyc"):
            continue
        rel = path.relative_to(copy_root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        finds = _python_finds(text, snippets) if path.suffix == ".py" else \
            _text_finds(text, 1, snippets)
        for line, (task, where, kind, _, source) in finds:
            messages.add(f"{rel}:{line}: task '{task}': the {kind} `{source}` of the fence at "
                         f"{where}")
    return sorted(messages)


def test_the_solution_finder_sees_code_text_strings_and_comments(tmp_path):
    snippets = fence_snippets()
    assert any(s[4] == "dz.sum(axis=0)" and s[0] == "reparameterize" for s in snippets)
    assert not any(s[4] in ("dy", "lme", "log_w") for s in snippets)      # trivial values
    (tmp_path / "a.py").write_text(
        "import numpy as np\n\n\ndef f(dz, v):\n    '''Returns\n    (v*dz).sum( axis=0 ).'''\n"
        "    out = dz.sum(axis=0)   # or dz . sum(axis=0)\n    return out\n")
    (tmp_path / "b.md").write_text("The backward:\n\n    dmu = dz.sum(\n        axis=0)\n")
    (tmp_path / "c.md").write_text("dz.sum(axis=1) and dz * v are fine\n")
    finds = solution_finds(tmp_path, snippets)
    assert {":".join(f.split(":")[:2]) for f in finds} == {"a.py:6", "a.py:7", "b.md:3"}, finds
    assert any(f.startswith("a.py:6: task 'reparameterize': the expression "
                            "`(v * dz).sum(axis=0)` of the fence at numpyvae/reparam.py:")
               for f in finds), finds


def test_no_file_of_the_student_copy_holds_a_solution(kit):
    """Every statement of every fence of the reference, and every non-trivial expression of
    them, is looked for in every file of a fresh copy: code as ast, text with whitespace
    ignored."""
    finds = solution_finds(kit.student, fence_snippets())
    assert not finds, f"{len(finds)} solution(s) in the student copy:\n" + "\n".join(finds)


# ---------------------------------------------------------------- what the copy says


def _slug(heading):
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path):
    anchors, seen, fenced = set(), {}, False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"#{1,6}\s+(.*)", line)
        if match:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def broken_links(root):
    """'file: link (why)' for every relative Markdown link under ``root`` that does not
    resolve: a missing file or folder, or a missing heading anchor."""
    broken = []
    for path in sorted(root.rglob("*.md")):
        text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
        text = re.sub(r"`[^`\n]*`", "", text)
        for match in LINK.finditer(text):
            target = match.group(1) or match.group(2)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue                                    # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            where = path if not file_part else (path.parent / file_part)
            rel = path.relative_to(root).as_posix()
            if not where.exists():
                broken.append(f"{rel}: {target} (no such file)")
            elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
                broken.append(f"{rel}: {target} (no such heading)")
    return broken


def test_every_link_of_the_student_copy_resolves(kit):
    broken = broken_links(kit.student)
    assert not broken, "links that do not resolve in the student copy:\n" + "\n".join(broken)


def test_every_link_of_the_solution_copy_resolves(kit):
    broken = broken_links(kit.solutions)
    assert not broken, "links that do not resolve in the solution copy:\n" + "\n".join(broken)


def test_stubs_keep_no_words_about_blanked_code(kit):
    """A stubbed function's docstring and comments must not point to code that is gone."""
    pointing = re.compile(r"\b(see|as|shown|written|computed|done|code|lines?|loop|steps?)\s+"
                          r"below\b|\bbelow\s*[:)]|\bthe following (code|lines?)\b|"
                          r"\bthese lines\b|\bthis line\b|\bthe code here\b", re.IGNORECASE)
    for function in (f for t in assignment_tasks.TASKS for f in t.functions):
        lines = (kit.student / function.path).read_text().splitlines(keepends=True)
        start, stop = function_span(lines, function.qualname)
        source = "".join(lines[start:stop])
        node = ast.parse(textwrap.dedent(source)).body[0]
        words = (ast.get_docstring(node) or "") + "\n" + "\n".join(
            t.string for t in tokenize.generate_tokens(io.StringIO(
                textwrap.dedent(source)).readline) if t.type == tokenize.COMMENT)
        found = pointing.search(words)
        assert found is None, (f"{function.path} {function.qualname}: "
                               f"'{found.group(0)}' in a stub points to code that is gone")


def test_markdown_solution_blocks_leave_the_student_copy(tmp_path):
    text = (f"# T\n\nThe math stays.\n\n{MD_BEGIN}\n```python\ndmu = dz.sum(axis=0)\n```\n"
            f"{MD_END}\n\nAfter.\n")
    assert make_assignment.render_markdown(text, "x.md", True) == \
        "# T\n\nThe math stays.\n\n\nAfter.\n"
    assert make_assignment.render_markdown(text, "x.md", False) == \
        "# T\n\nThe math stays.\n\n```python\ndmu = dz.sum(axis=0)\n```\n\nAfter.\n"
    prose = f"Code goes between `{MD_BEGIN}` and `{MD_END}` lines.\n"
    assert make_assignment.render_markdown(prose, "x.md", True) == prose
    for bad, message in [(f"{MD_BEGIN}\nx\n", "never closed"),
                         (f"x\n{MD_END}\n", "without a"),
                         (f"{MD_BEGIN}\n{MD_BEGIN}\n{MD_END}\n", "inside the block opened"),
                         ("<!-- BEGIN SOLUTION --> x\n", "must be a line holding exactly"),
                         ("  <!--  end solution -->\n", "must be a line holding exactly")]:
        with pytest.raises(AssignmentError, match=message):
            make_assignment.render_markdown(bad, "docs/x.md", True)


def _assignment_rows(notes):
    rows = {}
    table = notes.split("| Task | What you do | Points |")[1].split("\n\n")[0]
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].split("`")[1] if "`" in cells[0] else cells[0]] = cells[-1]
    return rows


def test_assignment_lists_every_task_with_its_points(kit):
    notes = (kit.student / "ASSIGNMENT.md").read_text()
    rows = _assignment_rows(notes)
    for task in assignment_tasks.TASKS:
        assert rows[task.id].split()[0] == str(task.points), (task.id, rows[task.id])
    assert rows["**total**"] == f"**{TOTAL}**"
    assert f"{TOTAL} points in all, {TOTAL - BY_HAND} graded by tests" in notes
    assert f"{BY_HAND} graded by hand" in notes
    assert "(3 in hidden tests)" in rows["iwae-bound"]
    bands = json.loads((SCRIPTS / "results_bands.json").read_text())
    assert f"```bash\n{bands['command']}\n```" in notes
    for qid, points, _ in assignment_tasks.written_questions():
        assert f". {qid} ({points:g} points, graded by hand)" in notes, qid
    assert "python -m pytest --task" in notes and "scripts/grade.py" in notes
    report = (kit.student / "REPORT.md").read_text()
    assert report == assignment_tasks.load_written_part().render_report()
    assert all(qid in report for qid, _, _ in assignment_tasks.written_questions())


def test_assignment_total_is_the_graders_total(kit, fresh):
    rows = _assignment_rows((kit.student / "ASSIGNMENT.md").read_text())
    total = int(rows["**total**"].strip("*"))
    assert fresh.result["total_possible"] == total == TOTAL
    line = next(l for l in fresh.stdout.splitlines() if l.startswith("total "))
    assert re.match(rf"total\s+0 / {total}\b", line), line
    by_hand = next(l for l in fresh.stdout.splitlines() if l.startswith("graded by hand"))
    assert f"- / {BY_HAND}" in by_hand
    written = next(l for l in fresh.stdout.splitlines() if l.startswith("written "))
    assert "graded by hand" in written


def test_chosen_tasks_only(tmp_path, capsys):
    out = tmp_path / "two"
    assert make_assignment.main(["--out", str(out), "--tasks", "kl,adam"]) == 0
    assert "2 task(s), 3 function(s) to write" in capsys.readouterr().out
    assert "raise NotImplementedError" in (out / "numpyvae/kl.py").read_text()
    assert "raise NotImplementedError" in (out / "numpyvae/optim/adam.py").read_text()
    dense = (out / "numpyvae/dense.py").read_text()
    assert "NotImplementedError" not in dense and "SOLUTION" not in dense
    assert "dW = x.T @ dy" in dense
    notes = (out / "ASSIGNMENT.md").read_text()
    assert set(_assignment_rows(notes)) == {"kl", "adam", "**total**"}
    assert "python scripts/grade.py . --tasks kl,adam" in notes
    assert not (out / "REPORT.md").exists()


@pytest.mark.parametrize("argv, message", [
    (["--out", "x", "--tasks", "nope"], "unknown task 'nope'"),
    (["--out", "x", "--tasks", "kl", "--force", "--autograder", "x"],
     "--autograder must name a .zip file"),
])
def test_command_line_errors(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / a) if a == "x" else a for a in argv]
    assert make_assignment.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- grading


def test_fresh_student_copy_scores_zero_on_every_task(fresh):
    result = fresh.result
    assert earned(result) == {task: 0 for task in AUTOGRADED}
    assert {r["task"]: r["possible"] for r in result["tasks"]} == TABLE_POINTS
    for task in assignment_tasks.TASKS:
        assert any(line.startswith(task.id) for line in fresh.stdout.splitlines()), task.id
    assert [p.name for p in fresh.json_path.parent.iterdir()] == ["fresh.json"]


def test_fresh_student_copy_failures_name_the_task_and_what_to_reread(fresh):
    for test in fresh.result["tests"]:
        assert test["outcome"] == "failed", test["nodeid"]
        task = assignment_tasks.get_task(test["task"])
        assert f"task '{task.id}'" in test["message"], test["message"]
        if task.kind == "code":
            assert "NotImplementedError: task '" in test["message"], test["nodeid"]
            assert any(assignment_tasks.format_equations(f.equations) + " of docs/derivation.md"
                       in test["message"] for f in task.functions), test["message"]
        elif task.kind == "integration":
            assert "NotImplementedError: task '" in test["message"], test["nodeid"]
        else:
            assert "results/trained-model" in test["message"], test["message"]


@pytest.mark.parametrize("tasks", [["dense-backward"], ["iwae-bound"], ["iwae-gradient"],
                                   ["gaussian-shared"], list(assignment_tasks.GROUPS["model"])],
                         ids=["dense-backward", "iwae-bound", "iwae-gradient", "gaussian-shared",
                              "model-and-integration"])
def test_restoring_tasks_scores_exactly_their_points(kit, reference, tmp_path, tasks):
    copy = tmp_path / "copy"
    shutil.copytree(kit.student, copy)
    for task in tasks:
        restore(copy, task)
    expected = {task: 0 for task in AUTOGRADED}
    expected.update({task: TABLE_POINTS[task] for task in tasks})
    if set(assignment_tasks.get_task("full-model").builds_on) <= set(tasks):
        expected["full-model"] = TABLE_POINTS["full-model"]
    assert earned(grade.grade(copy, reference=reference)) == expected


def test_an_independent_textbook_solution_earns_full_marks(kit, trained_solutions, reference,
                                                           tmp_path):
    """Every task solved as the derivation and the textbooks write it, independently of the
    reference (tests/instructor/textbook_solutions.py): new arrays where the reference writes
    in place, Algorithm 1's m[:] = ..., the textbook sigmoid 1 / (1 + e^-a), no skipped dx.
    (The run folder is the reference's: tests/instructor/test_autograder.py trains this
    solution itself.)"""
    import textbook_solutions

    copy = tmp_path / "copy"
    shutil.copytree(kit.student, copy)
    shutil.copytree(trained_solutions / "results", copy / "results")
    assert set(textbook_solutions.SOLUTIONS) == set(assignment_tasks.fenced_functions())
    write_solutions(copy, textbook_solutions.SOLUTIONS)
    assert "# TODO task" not in "".join(p.read_text() for p in (copy / "numpyvae").rglob("*.py"))
    result = grade.grade(copy, reference=reference)
    failing = {t["nodeid"]: t["message"] for t in result["tests"] if t["outcome"] != "passed"}
    assert not failing, failing
    assert earned(result) == AUTOGRADED and result["earned"] == TOTAL - BY_HAND


def test_a_copy_grades_its_visible_tests_and_counts_the_hidden_points_apart(kit, reference):
    proc = run([kit.student / "scripts" / "grade.py", ".", "--tasks", "adagrad,written"],
               cwd=kit.student)
    assert proc.returncode == 0, proc.stderr
    hidden = sum(points for task, points, is_hidden in reference["tests"].values()
                 if task == "adagrad" and is_hidden)
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    visible = TABLE_POINTS["adagrad"] - hidden
    assert re.match(rf"adagrad\s+0 / {visible}\b", lines["adagrad"]), lines["adagrad"]
    assert f"+ {hidden} in hidden tests that only the autograder runs" in lines["adagrad"]
    assert re.match(rf"hidden tests\s+- / {hidden}\b", lines["hidden"]), lines["hidden"]
    total = TABLE_POINTS["adagrad"] + BY_HAND
    assert re.match(rf"total\s+0 / {total}\b", lines["total"]), lines["total"]


def test_visible_only_leaves_the_hidden_tests_out(trained_solutions, reference):
    with pytest.raises(ValueError, match="reference was collected with visible_only=False"):
        grade.grade(trained_solutions, visible_only=True, reference=reference)
    result = grade.grade(trained_solutions, tasks=["adam"], visible_only=True)
    assert not any(t["hidden"] for t in result["tests"])
    row = result["tasks"][0]
    assert row["possible"] + row["hidden_elsewhere"] == TABLE_POINTS["adam"]
    assert row["hidden_elsewhere"] > 0 and result["total_possible"] == TABLE_POINTS["adam"]


def test_a_wrong_gradient_earns_partial_credit_and_says_why(kit, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(kit.solutions, copy)
    dense = copy / "numpyvae" / "dense.py"
    text = dense.read_text()
    assert text.count("db = np.sum(dy, axis=0)") == 1
    dense.write_text(text.replace("db = np.sum(dy, axis=0)", "db = np.mean(dy, axis=0)"))
    results = grade.run_tests(copy, tmp_path / "work", tasks=["dense-backward"])["results"]
    outcomes = {nodeid.split("::")[1]: outcome for nodeid, (outcome, _) in results.items()}
    assert outcomes == {"test_dense_backward_alone[x-24]": "passed",
                        "test_dense_backward_alone[W-25]": "passed",
                        "test_dense_backward_alone[b-26]": "failed",
                        "test_dense_backward_returns_arrays_of_the_right_shapes_and_leaves_its_"
                        "inputs_alone": "passed"}
    message = next(m for n, (_, m) in results.items() if n.endswith("[b-26]"))
    for part in ["gradient of 'b'", "at index (", "analytic", "numeric", "relative error",
                 "> bar 1e-07", "Re-read eq. (26)", "forgotten sum over the batch",
                 "over the r samples", "1/r", "sigma confused with sigma^2",
                 "task 'dense-backward'"]:
        assert part in message, part


def test_a_module_that_does_not_import_still_counts_its_points(kit, reference, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(kit.solutions, copy)
    (copy / "numpyvae" / "optim" / "adam.py").write_text("def adam_update(:\n")
    result = grade.grade(copy, tasks=["adam", "dense-backward"], reference=reference)
    assert {r["task"]: (r["earned"], r["possible"]) for r in result["tasks"]} == {
        "dense-backward": (4, 4), "adam": (0, TABLE_POINTS["adam"])}
    # every test module importing numpyvae.optim fails to import, tests/test_optim.py among them
    assert "tests/test_optim.py" in [e["nodeid"] for e in result["collect_errors"]]
    adam = [t for t in result["tests"] if t["task"] == "adam"]
    assert all(" did not import" in t["message"] for t in adam)


def test_an_endless_loop_costs_only_its_tests(kit, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(kit.student, copy)
    restore(copy, "weight-decay")
    path = copy / "numpyvae" / "optim" / "weight_decay.py"
    tree = ast.parse(path.read_text())
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                    and n.name == "add_weight_decay")
    lines = path.read_text().splitlines(keepends=True)
    last = function.body[-1]
    indent = " " * last.col_offset
    lines[last.lineno - 1:last.end_lineno] = [f"{indent}while True:\n", f"{indent}    pass\n"]
    path.write_text("".join(lines))
    results = grade.run_tests(copy, tmp_path / "work", tasks=["weight-decay"],
                              test_timeout=0.5)["results"]
    assert len(results) == TABLE_POINTS["weight-decay"]
    for outcome, message in results.values():
        assert outcome == "failed" and "longer than the grader's limit" in message


def test_grading_refuses_a_package_imported_from_elsewhere(tmp_path):
    with pytest.raises(grade.GradingError, match="imported numpyvae from .*, not from"):
        grade.run_tests(ROOT, tmp_path / "work", tasks=["weight-decay"], collect_only=True,
                        expected_package=tmp_path / "somewhere-else" / "numpyvae")


def test_grade_command_line_errors(tmp_path):
    proc = run([SCRIPTS / "grade.py", tmp_path], cwd=tmp_path)
    assert proc.returncode == 2 and "holds no numpyvae/__init__.py" in proc.stderr
    (tmp_path / "numpyvae").mkdir()
    (tmp_path / "numpyvae" / "__init__.py").write_text("")
    proc = run([SCRIPTS / "grade.py", tmp_path, "--tasks", "nope"], cwd=tmp_path)
    assert proc.returncode == 2 and "unknown task 'nope'" in proc.stderr


# ---------------------------------------------------------------- the generator's rules


FIXTURE_TASKS = (
    Task("double", "doubling", (Function("numpyvae/core.py", "double", (23,),
                                         "return twice x"),), 1, 5, (), "code"),
    Task("step", "a method", (Function("numpyvae/core.py", "Model.step", (40, 41),
                                       "update theta in place"),), 1, 5, (), "code"),
)

FIXTURE = '''"""A fixture package."""


def double(x):
    """Twice x, eq. (23)."""
    y = None
    # Prompt for the student: multiply x by two.
    # Hint: one line.
    # BEGIN SOLUTION
    y = 2 * x
    # END SOLUTION
    return y


class Model:
    def step(self, theta):
        """One step."""
        # BEGIN SOLUTION
        theta -= 1
        # END SOLUTION
        return theta
'''


def fixture_project(tmp_path, core=FIXTURE):
    source = tmp_path / "source"
    (source / "numpyvae").mkdir(parents=True)
    (source / "numpyvae" / "__init__.py").write_text("")
    (source / "numpyvae" / "core.py").write_text(core)
    return source


def load(path):
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def test_stub_keeps_signature_docstring_prompt_and_the_code_around(tmp_path):
    source = fixture_project(tmp_path)
    stubbed = make_assignment.write_copy(source, tmp_path / "out", {"double", "step"},
                                         tasks=FIXTURE_TASKS)
    assert stubbed == [("double", "numpyvae/core.py", "double"),
                       ("step", "numpyvae/core.py", "Model.step")]
    text = (tmp_path / "out" / "numpyvae" / "core.py").read_text()
    assert ('def double(x):\n    """Twice x, eq. (23)."""\n    y = None\n'
            '    # Prompt for the student: multiply x by two.\n    # Hint: one line.\n'
            "    # TODO task 'double'") in text
    assert "2 * x" not in text and "theta -= 1" not in text and "SOLUTION" not in text
    assert text.count("    return y\n") == 1 and text.count("        return theta\n") == 1
    namespace = load(tmp_path / "out" / "numpyvae" / "core.py")
    with pytest.raises(NotImplementedError,
                       match=r"task 'double' \(doubling\): double in numpyvae/core.py .* "
                             r"Goal: return twice x\. Implement eq\. \(23\) of "
                             r"docs/derivation\.md"):
        namespace["double"](1.0)
    with pytest.raises(NotImplementedError, match=r"task 'step'.*eqs\. \(40\)-\(41\)"):
        namespace["Model"]().step(1.0)


def test_tasks_not_chosen_keep_the_reference_without_markers(tmp_path):
    source = fixture_project(tmp_path)
    make_assignment.write_copy(source, tmp_path / "out", {"double"}, tasks=FIXTURE_TASKS)
    namespace = load(tmp_path / "out" / "numpyvae" / "core.py")
    assert namespace["Model"]().step(5) == 4
    with pytest.raises(NotImplementedError):
        namespace["double"](1.0)


def test_solution_copy_removes_the_marker_lines_only(tmp_path):
    source = fixture_project(tmp_path)
    make_assignment.write_copy(source, tmp_path / "out", (), student=False,
                               tasks=FIXTURE_TASKS)
    expected = "".join(line for line in FIXTURE.splitlines(keepends=True)
                       if "SOLUTION" not in line)
    assert (tmp_path / "out" / "numpyvae" / "core.py").read_text() == expected


def test_a_fence_no_task_names_is_an_error(tmp_path):
    core = FIXTURE + ("\n\ndef halve(x):\n    # BEGIN SOLUTION\n    return x / 2\n"
                      "    # END SOLUTION\n")
    source = fixture_project(tmp_path, core)
    with pytest.raises(AssignmentError, match=r"core.py:25: the fence in halve belongs to no "
                                              r"task"):
        make_assignment.write_copy(source, tmp_path / "out", {"double"}, tasks=FIXTURE_TASKS)
    assert not (tmp_path / "out").exists()


def test_a_task_function_without_a_fence_is_an_error(tmp_path):
    source = fixture_project(tmp_path)
    tasks = FIXTURE_TASKS + (Task("gone", "gone", (Function("numpyvae/core.py", "gone", (1,),
                                                            "x"),), 1, 5, (), "code"),)
    with pytest.raises(AssignmentError, match="names functions that hold no fence: "
                                              "numpyvae/core.py gone"):
        make_assignment.write_copy(source, tmp_path / "out", {"double"}, tasks=tasks)


@pytest.mark.parametrize("body, message", [
    ("    # BEGIN SOLUTION\n    y = 1\n", "never closed"),
    ("    y = 1\n    # END SOLUTION\n", "without a"),
    ("    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    y = 1\n    # END SOLUTION\n",
     "inside the fence opened at line 2"),
    ("    # BEGIN SOLUTION\n    # just a comment\n    # END SOLUTION\n", "holds no code"),
    ("    #BEGIN SOLUTION\n    y = 1\n    # END SOLUTION\n", "must be a line holding exactly"),
    ("    # BEGIN SOLUTION\n    y = 1\n  # END SOLUTION\n", "must be indented like"),
    ("    # BEGIN SOLUTION\n    if y:\n    # END SOLUTION\n        y = 2\n", "not valid Python"),
])
def test_malformed_fences_are_errors(tmp_path, body, message):
    text = "def f(y):\n" + body + "    return y\n"
    with pytest.raises(AssignmentError, match=message):
        fences = make_assignment.find_fences(text, "numpyvae/bad.py")
        task = Task("t", "t", (Function("numpyvae/bad.py", "f", (1,), "x"),), 1, 5, (), "code")
        entries = [(f, task, task.functions[0]) for f in fences]
        make_assignment.render(text, "numpyvae/bad.py", entries, {"t"})


def test_a_fence_outside_a_function_is_an_error():
    text = "# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n"
    with pytest.raises(AssignmentError, match="bad.py:1: the fence is not inside a function"):
        make_assignment.find_fences(text, "bad.py")


def test_destination_is_replaced_only_with_force(tmp_path):
    source = fixture_project(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(AssignmentError, match="exists; remove it or pass --force"):
        make_assignment.write_copy(source, out, {"double"}, tasks=FIXTURE_TASKS)
    make_assignment.write_copy(source, out, {"double"}, tasks=FIXTURE_TASKS, force=True)
    assert not (out / "old.txt").exists() and (out / "numpyvae" / "core.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "source"]
    with pytest.raises(AssignmentError, match="must not be the project, inside one of"):
        make_assignment.write_copy(source, source / "numpyvae" / "x", {"double"},
                                   tasks=FIXTURE_TASKS)


def test_a_hidden_test_outside_the_instructor_folder_stops_the_generator(tmp_path):
    source = fixture_project(tmp_path)
    (source / "tests").mkdir()
    (source / "tests" / "test_core.py").write_text(
        "import pytest\n\n\n@pytest.mark.points(1, task='double', hidden=True)\n"
        "def test_double():\n    pass\n")
    with pytest.raises(AssignmentError, match=r"hidden tests outside tests/instructor/ would go "
                                              r"to the student copy: tests/test_core.py:4"):
        make_assignment.write_copy(source, tmp_path / "out", {"double"}, tasks=FIXTURE_TASKS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]
    make_assignment.write_copy(source, tmp_path / "solutions", (), student=False,
                               tasks=FIXTURE_TASKS)
    assert (tmp_path / "solutions" / "tests" / "test_core.py").exists()


def test_the_student_copy_leaves_the_instructor_folder_out(tmp_path):
    source = fixture_project(tmp_path)
    (source / "tests" / "instructor").mkdir(parents=True)
    (source / "tests" / "instructor" / "test_hidden.py").write_text("X = 1\n")
    (source / "tests" / "instructor" / "test_assignment.py").write_text("X = 1\n")
    (source / "tests" / "test_visible.py").write_text("X = 1\n")
    (source / "README.md").write_text(f"a\n{MD_BEGIN}\ny = 2 * x\n{MD_END}\nb\n")
    make_assignment.write_copy(source, tmp_path / "out", {"double"}, tasks=FIXTURE_TASKS,
                               files={"ASSIGNMENT.md": "set\n"})
    make_assignment.write_copy(source, tmp_path / "sol", (), student=False, tasks=FIXTURE_TASKS)
    out, sol = tmp_path / "out", tmp_path / "sol"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "ASSIGNMENT.md", "README.md", "numpyvae/__init__.py", "numpyvae/core.py",
        "tests/test_visible.py"]
    assert (out / "README.md").read_text() == "a\nb\n"
    assert (sol / "README.md").read_text() == "a\ny = 2 * x\nb\n"
    assert (sol / "tests" / "instructor" / "test_hidden.py").exists()
    assert not (sol / "tests" / "instructor" / "test_assignment.py").exists()


@pytest.mark.parametrize("where, marker, message", [
    ("test_x.py", 'points(1, task="nope")', "unknown task 'nope'"),
    ("test_x.py", 'points(0, task="kl")', "points must be a number > 0"),
    ("test_x.py", 'points(1, task="written")', "is graded by hand"),
    ("test_x.py", 'points(1, task="kl", hidden=True)', "a hidden test must live under "
                                                        "tests/instructor/"),
    ("test_x.py", 'points(1, task="kl", hidden=1)', "hidden must be True or False"),
    ("instructor/test_y.py", 'points(1, task="kl")', "a graded test under tests/instructor/ "
                                                     "must be hidden"),
])
def test_a_bad_points_marker_stops_the_run(tmp_path, where, marker, message):
    for rel in ["pyproject.toml", "scripts/assignment_tasks.py", "tests/conftest.py"]:
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    test = tmp_path / "tests" / where
    test.parent.mkdir(exist_ok=True)
    test.write_text(f"import pytest\n\n\n@pytest.mark.{marker}\ndef test_x():\n    pass\n")
    proc = run(["-m", "pytest", "-p", "no:cacheprovider", "tests"], cwd=tmp_path)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr, proc.stdout


def test_a_hidden_test_under_the_instructor_folder_runs(tmp_path):
    for rel in ["pyproject.toml", "scripts/assignment_tasks.py", "tests/conftest.py"]:
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    (tmp_path / "tests" / "instructor").mkdir()
    (tmp_path / "tests" / "instructor" / "helper_mod.py").write_text("VALUE = 3\n")
    (tmp_path / "tests" / "test_visible.py").write_text(
        "import helper_mod\n\n\ndef test_v():\n    assert helper_mod.VALUE == 3\n")
    (tmp_path / "tests" / "instructor" / "test_h.py").write_text(
        "import pytest\n\n\n@pytest.mark.points(1, task='kl', hidden=True)\n"
        "def test_h():\n    pass\n")
    proc = run(["-m", "pytest", "-p", "no:cacheprovider", "tests", "-q"], cwd=tmp_path)
    assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout

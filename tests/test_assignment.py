"""The teaching kit: scripts/make_assignment.py, scripts/grade.py and the task table.

Run as an instructor would: a student copy and a solution copy of this project are made once
(module fixture), then graded. The oracles: the reference must score full marks, a fresh copy
0 on every task, and a copy with one task's reference functions put back (by locating them
with ast, not with the generator's fences) exactly that task's points. The generator's rules
(prompt comments kept, unmapped fences refused) are checked on a small fixture package.
"""
import ast
import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
import assignment_tasks  # noqa: E402
import grade  # noqa: E402
import make_assignment  # noqa: E402
from assignment_tasks import Function, Task  # noqa: E402
from make_assignment import BEGIN, END, AssignmentError  # noqa: E402

TABLE_POINTS = {t.id: t.points for t in assignment_tasks.TASKS}
TOTAL = sum(TABLE_POINTS.values())


def run(args, cwd, **kwargs):
    return subprocess.run([sys.executable] + [str(a) for a in args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, **kwargs)


def earned(result):
    return {row["task"]: row["earned"] for row in result["tasks"]}


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
        target = copy_root / function.path
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
        target = copy_root / rel
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


def copied_files(root, skip=()):
    """Relative paths of the files make_assignment copies from ``root``."""
    found = set()
    for name in make_assignment.COPIED:
        item = root / name
        paths = [item] if item.is_file() else item.rglob("*")
        for path in paths:
            rel = path.relative_to(root).as_posix()
            if path.is_file() and not any(part == "__pycache__" or part.endswith(".egg-info")
                                          for part in path.relative_to(root).parts) \
                    and rel not in skip:
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
def reference_grade():
    return grade.grade(ROOT)


# ---------------------------------------------------------------- the task table


def test_task_table_is_consistent():
    ids = assignment_tasks.task_ids()
    assert len(set(ids)) == len(ids)
    for task in assignment_tasks.TASKS:
        assert set(task.builds_on) <= set(ids) - {task.id}, task.id
        assert bool(task.functions) != task.integration, task.id
        assert task.points > 0 and task.minutes > 0
    for group in assignment_tasks.GROUPS.values():
        assert set(group) <= set(ids)
    assert assignment_tasks.expand(["kl,adam", "sgd"]) == ("kl", "sgd", "adam")
    assert assignment_tasks.expand(["optimizers"]) == ("sgd", "weight-decay", "adam", "adagrad")
    with pytest.raises(ValueError, match="unknown task 'nope'; the tasks are dense-backward"):
        assignment_tasks.expand(["nope"])


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
            "sgd_update", "adam_update", "adagrad_update"} <= names
    assert {f"{a}_backward" for a in assignment_tasks.ACTIVATION_EQUATIONS} <= names


def test_reference_scores_full_marks_and_the_table_matches_the_markers(reference_grade):
    assert {r["task"]: r["possible"] for r in reference_grade["tasks"]} == TABLE_POINTS
    assert earned(reference_grade) == TABLE_POINTS
    assert reference_grade["earned"] == reference_grade["possible"] == TOTAL


def test_teaching_guide_lists_every_task_with_its_points_and_time():
    text = (ROOT / "docs" / "teaching.md").read_text()
    for task in assignment_tasks.TASKS:
        row = next((line for line in text.splitlines()
                    if line.startswith(f"| `{task.id}` |")), None)
        assert row is not None, task.id
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert str(task.points) in cells and f"{task.minutes} min" in cells, row


# ---------------------------------------------------------------- the student copy


def test_copy_holds_the_project_and_nothing_else(kit):
    expected = copied_files(ROOT, skip=make_assignment.LEFT_OUT)
    assert copied_files(kit.student) | {"ASSIGNMENT.md"} == \
        {p.relative_to(kit.student).as_posix() for p in kit.student.rglob("*") if p.is_file()}
    assert copied_files(kit.student) == expected
    assert copied_files(kit.solutions) == expected
    assert not (kit.solutions / "ASSIGNMENT.md").exists()
    for rel in expected - {p for p in expected if p.startswith("numpyvae/")}:
        assert (kit.student / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
    assert not list(kit.base.glob(".*tmp"))          # no half-built copy left behind


def test_solutions_are_the_reference_without_its_marker_lines(kit):
    for rel in copied_files(kit.solutions):
        source = (ROOT / rel).read_bytes()
        if rel.startswith("numpyvae/") and rel.endswith(".py"):
            lines = source.decode().splitlines(keepends=True)
            source = "".join(l for l in lines if l.strip() not in (BEGIN, END)).encode()
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
    code = ("import importlib, pkgutil, numpyvae\n"
            "for m in pkgutil.walk_packages(numpyvae.__path__, 'numpyvae.'):\n"
            "    if not m.name.endswith('__main__'):\n"
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


def test_assignment_notes_list_the_tasks(kit):
    notes = (kit.student / "ASSIGNMENT.md").read_text()
    for task in assignment_tasks.TASKS:
        assert (f"`{task.id}`" in notes) != task.integration, task.id
    assert "python -m pytest --task" in notes and "scripts/grade.py" in notes


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
    assert "`kl`" in notes and "`adam`" in notes and "`sgd`" not in notes


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "nope"], "unknown task 'nope'"),
    (["--tasks", "full-model"], "full-model is an integration task"),
])
def test_command_line_errors(tmp_path, capsys, argv, message):
    assert make_assignment.main(["--out", str(tmp_path / "x")] + argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- grading


def test_fresh_student_copy_scores_zero_on_every_task(fresh):
    result = fresh.result
    assert earned(result) == {task: 0 for task in TABLE_POINTS}
    assert {r["task"]: r["possible"] for r in result["tasks"]} == TABLE_POINTS
    assert "total" in fresh.stdout and f"0 / {TOTAL}" in fresh.stdout
    for task in assignment_tasks.TASKS:
        assert any(line.startswith(task.id) for line in fresh.stdout.splitlines()), task.id
    assert [p.name for p in fresh.json_path.parent.iterdir()] == ["fresh.json"]


def test_fresh_student_copy_failures_name_the_task_and_its_equations(fresh):
    for test in fresh.result["tests"]:
        assert test["outcome"] == "failed", test["nodeid"]
        assert "NotImplementedError: task '" in test["message"], test["nodeid"]
        if test["task"] != "full-model":
            task = assignment_tasks.get_task(test["task"])
            assert f"task '{task.id}'" in test["message"]
            assert any(assignment_tasks.format_equations(f.equations) + " of docs/derivation.md"
                       in test["message"] for f in task.functions), test["message"]


@pytest.mark.parametrize("tasks", [["dense-backward"], ["kl"],
                                   list(assignment_tasks.GROUPS["model"])],
                         ids=["dense-backward", "kl", "model-and-integration"])
def test_restoring_tasks_scores_exactly_their_points(kit, tmp_path, tasks):
    copy = tmp_path / "copy"
    shutil.copytree(kit.student, copy)
    for task in tasks:
        restore(copy, task)
    expected = {task: 0 for task in TABLE_POINTS}
    expected.update({task: TABLE_POINTS[task] for task in tasks})
    if set(assignment_tasks.get_task("full-model").builds_on) <= set(tasks):
        expected["full-model"] = TABLE_POINTS["full-model"]
    assert earned(grade.grade(copy)) == expected


def test_an_independent_textbook_solution_earns_full_marks(kit, tmp_path):
    """Every task solved as the derivation and the textbooks write it, independently of the
    reference (tests/textbook_solutions.py): new arrays where the reference writes in place,
    Algorithm 1's m[:] = ..., the textbook sigmoid 1 / (1 + e^-a), no skipped dx."""
    import textbook_solutions

    copy = tmp_path / "copy"
    shutil.copytree(kit.student, copy)
    assert set(textbook_solutions.SOLUTIONS) == set(assignment_tasks.fenced_functions())
    write_solutions(copy, textbook_solutions.SOLUTIONS)
    assert "# TODO task" not in "".join(p.read_text() for p in (copy / "numpyvae").rglob("*.py"))
    result = grade.grade(copy)
    failing = {t["nodeid"]: t["message"] for t in result["tests"] if t["outcome"] != "passed"}
    assert not failing, failing
    assert earned(result) == TABLE_POINTS and result["earned"] == TOTAL


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


def test_a_module_that_does_not_import_still_counts_its_points(kit, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(kit.solutions, copy)
    (copy / "numpyvae" / "optim" / "adam.py").write_text("def adam_update(:\n")
    result = grade.grade(copy, tasks=["adam", "dense-backward"])
    assert {r["task"]: (r["earned"], r["possible"]) for r in result["tasks"]} == {
        "dense-backward": (4, 4), "adam": (0, TABLE_POINTS["adam"])}
    # every test module importing numpyvae.optim fails to import, tests/test_optim.py among them
    assert "tests/test_optim.py" in [e["nodeid"] for e in result["collect_errors"]]
    adam = [t for t in result["tests"] if t["task"] == "adam"]
    assert all("tests/test_optim.py did not import" in t["message"] for t in adam)


def test_an_endless_loop_costs_only_its_tests(kit, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(kit.student, copy)
    restore(copy, "weight-decay")
    path = copy / "numpyvae" / "optim" / "weight_decay.py"
    text = path.read_text()
    assert text.count("    return g + weight_decay * theta") == 1
    path.write_text(text.replace("    return g + weight_decay * theta",
                                 "    while True:\n        pass"))
    results = grade.run_tests(copy, tmp_path / "work", tasks=["weight-decay"],
                              test_timeout=0.5)["results"]
    assert len(results) == 2
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
                                         "return twice x"),), 1, 5, (), False),
    Task("step", "a method", (Function("numpyvae/core.py", "Model.step", (40, 41),
                                       "update theta in place"),), 1, 5, (), False),
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
    make_assignment.write_copy(source, tmp_path / "out", (), tasks=FIXTURE_TASKS)
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
                                                            "x"),), 1, 5, (), False),)
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
        task = Task("t", "t", (Function("numpyvae/bad.py", "f", (1,), "x"),), 1, 5, (), False)
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


@pytest.mark.parametrize("marker, message", [
    ('points(1, task="nope")', "unknown task 'nope'"),
    ('points(0, task="kl")', "points must be a number > 0"),
])
def test_a_bad_points_marker_stops_the_run(tmp_path, marker, message):
    for rel in ["pyproject.toml", "scripts/assignment_tasks.py", "tests/conftest.py"]:
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    (tmp_path / "tests" / "test_x.py").write_text(
        f"import pytest\n\n\n@pytest.mark.{marker}\ndef test_x():\n    pass\n")
    proc = run(["-m", "pytest", "-p", "no:cacheprovider", "tests"], cwd=tmp_path)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr, proc.stdout

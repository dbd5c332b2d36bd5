"""The Gradescope autograder, end to end, on a simulated /autograder tree.

``make_assignment.py --autograder`` writes the zip once (module fixture); it is unpacked into
a temporary ROOT/source as Gradescope does, and run_autograder runs with
NUMPYVAE_AUTOGRADER_ROOT=ROOT (setup.sh's pip is not run: the venv has the requirements;
setup.sh is checked by reading it). Three copies are uploaded, each as a folder (nested in
the submission) and as a zip of the copy: a blank one, a half-done one (a few tasks' reference
code put back) and a correct one (tests/instructor/textbook_solutions.py, with a run of the
set command trained by that solution). The six gradings run at once.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from kit_helpers import (AUTOGRADED, BY_HAND, SCRIPTS, TABLE_POINTS, TOTAL, restore, run,
                         train_run, write_solutions)
import assignment_tasks  # noqa: E402  (scripts/, put on sys.path by kit_helpers)
import make_assignment  # noqa: E402

HALF_DONE = ("dense-backward", "kl", "adam", "iwae-bound")
COPIES = ("blank", "half-done", "correct")
UPLOADS = ("folder", "zip")
HIDDEN_TASKS = {"adam", "adagrad", "iwae-bound", "iwae-gradient", "gaussian-shared"}


def environment(root=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "NUMPYVAE_GRADE_SUBMISSION")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if root is not None:
        env["NUMPYVAE_AUTOGRADER_ROOT"] = str(root)
    return env


def unpack(archive, root):
    """A Gradescope tree at ``root``: the zip in source/, run_autograder copied next to it."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, root / "source"))
            mode = info.external_attr >> 16
            if mode:
                path.chmod(stat.S_IMODE(mode))
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def upload(copy, root, how):
    """Put a student copy into ROOT/submission as a folder (two levels down) or a zip."""
    if how == "folder":
        shutil.copytree(copy, root / "submission" / "work" / "my-copy")
    else:
        with zipfile.ZipFile(root / "submission" / "submission.zip", "w") as zf:
            for path in sorted(copy.rglob("*")):
                if path.is_file():
                    zf.write(path, Path("my-copy") / path.relative_to(copy))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("autograder")
    proc = run([SCRIPTS / "make_assignment.py", "--out", base / "student", "--autograder",
                base / "autograder.zip"], cwd=base)
    assert proc.returncode == 0, proc.stderr
    return SimpleNamespace(base=base, student=base / "student", zip=base / "autograder.zip")


@pytest.fixture(scope="module")
def copies(built):
    base = built.base / "copies"
    blank = base / "blank"
    shutil.copytree(built.student, blank)
    half = base / "half-done"
    shutil.copytree(built.student, half)
    for task in HALF_DONE:
        restore(half, task)
    import textbook_solutions

    correct = base / "correct"
    shutil.copytree(built.student, correct)
    write_solutions(correct, textbook_solutions.SOLUTIONS)
    train_run(correct)
    return {"blank": blank, "half-done": half, "correct": correct}


@pytest.fixture(scope="module")
def graded(built, copies):
    """results.json of each copy and upload, and grade.py --gradescope of the half-done copy,
    all run at once."""
    jobs, roots = {}, {}
    for name in COPIES:
        for how in UPLOADS:
            root = unpack(built.zip, built.base / "trees" / f"{name}-{how}")
            upload(copies[name], root, how)
            roots[name, how] = root
            jobs[name, how] = subprocess.Popen(
                [str(root / "run_autograder")], cwd=root, env=environment(root),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    direct = built.base / "direct" / "results.json"
    jobs["direct"] = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "grade.py"), str(copies["half-done"]), "--gradescope",
         str(direct)], env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    outputs = {key: job.communicate(timeout=900)[0] for key, job in jobs.items()}
    for key, job in jobs.items():
        assert job.returncode == 0, (key, outputs[key])
    results = {key: json.loads((root / "results" / "results.json").read_text())
               for key, root in roots.items()}
    return SimpleNamespace(results=results, roots=roots, outputs=outputs,
                           direct=json.loads(direct.read_text()))


def task_scores(results):
    scores = {}
    for test in results["tests"]:
        task = test["tags"][0]
        scores[task] = scores.get(task, 0) + test["score"]
    return scores


def expected_scores(name):
    if name == "blank":
        return {task: 0 for task in AUTOGRADED}
    if name == "correct":
        return dict(AUTOGRADED)
    return {task: (points if task in HALF_DONE else 0) for task, points in AUTOGRADED.items()}


# ---------------------------------------------------------------- the zip


def test_the_zip_follows_gradescopes_layout(built):
    with zipfile.ZipFile(built.zip) as zf:
        infos = {info.filename: info for info in zf.infolist()}
        names = set(infos)
        for script in ("setup.sh", "run_autograder"):
            assert script in names
            assert (infos[script].external_attr >> 16) & 0o111, f"{script} is not executable"
            assert zf.read(script).startswith(b"#!/usr/bin/env bash\n")
        config = json.loads(zf.read("autograder.json"))
        reference = zf.read("numpyvae/kl.py").decode()
    assert config["tasks"] == list(assignment_tasks.task_ids())
    assert {"scripts/grade.py", "scripts/grade_plugin.py", "scripts/assignment_tasks.py",
            "scripts/autograder/autograde.py", "scripts/results_bands.json",
            "scripts/written_part.py", "pyproject.toml", "setup.cfg",
            "numpyvae/__init__.py"} <= names
    hidden = {n for n in names if n.startswith("tests/instructor/test_")}
    assert hidden and not hidden & set(make_assignment.KIT)
    assert not set(make_assignment.KIT) & names and "ASSIGNMENT.md" not in names
    assert "SOLUTION" not in reference and "raise NotImplementedError" not in reference
    assert not any("__pycache__" in n for n in names)


def test_setup_installs_what_setup_cfg_asks_and_nothing_else(built):
    with zipfile.ZipFile(built.zip) as zf:
        setup = zf.read("setup.sh").decode()
    code = [line.strip() for line in setup.splitlines()
            if line.strip() and not line.strip().startswith("#")]
    installs = [line for line in code if "pip install" in line]
    assert len(installs) == 1, installs
    asked = installs[0].split("pip install", 1)[1].split()
    assert [a for a in asked if not a.startswith("-")] == \
        [f"'{r}'" for r in make_assignment.requirements()], installs
    assert {r.split(">")[0] for r in make_assignment.requirements()} == {"numpy", "matplotlib",
                                                                         "pytest"}
    apt = [line for line in code if line.startswith("apt-get install")]
    assert apt == ["apt-get install -y python3 python3-pip"], apt
    assert subprocess.run(["bash", "-n"], input=setup, text=True).returncode == 0


def test_writing_the_zip_is_atomic(built, tmp_path, monkeypatch):
    target = tmp_path / "autograder.zip"
    target.write_bytes(b"old")
    assert make_assignment.main(["--autograder", str(target)]) == 2
    assert target.read_bytes() == b"old"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(make_assignment, "autograder_files", broken)
    with pytest.raises(OSError, match="disk full"):
        make_assignment.write_autograder(make_assignment.ROOT, target, ["kl"], force=True)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autograder.zip"]


# ---------------------------------------------------------------- results.json


@pytest.mark.parametrize("how", UPLOADS)
@pytest.mark.parametrize("name", COPIES)
def test_results_json_of_each_copy(graded, name, how):
    results = graded.results[name, how]
    assert {"score", "tests", "output"} <= set(results)
    tests = results["tests"]
    graded_tests = [t for t in tests if "graded by hand" not in t["tags"]]
    by_hand = [t for t in tests if "graded by hand" in t["tags"]]
    for test in graded_tests:
        assert {"name", "score", "max_score", "status", "output", "tags", "visibility",
                "number"} <= set(test), test
        assert test["tags"][0] in AUTOGRADED, test
        assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
        hidden = test["name"].startswith("tests/instructor/")
        assert test["visibility"] == ("after_published" if hidden else "visible"), test
        if test["status"] == "failed":
            assert f"task '{test['tags'][0]}'" in test["output"], test
    assert {t["tags"][0] for t in graded_tests if t["visibility"] == "after_published"} == \
        HIDDEN_TASKS
    assert sum(t["max_score"] for t in graded_tests) == TOTAL - BY_HAND
    assert task_scores({"tests": graded_tests}) == expected_scores(name)
    assert results["score"] == sum(t["score"] for t in tests) == \
        sum(expected_scores(name).values())
    questions = assignment_tasks.written_questions()
    assert [t["name"] for t in by_hand] == [f"written: {qid} (graded by hand)"
                                            for qid, _, _ in questions]
    for test, (qid, points, _) in zip(by_hand, questions):
        assert test["score"] == test["max_score"] == 0 and test["visibility"] == "visible"
        assert f"Graded by hand: {points:g} point(s)" in test["output"]
    assert f"/ {TOTAL}" in results["output"].splitlines()[-1] or \
        any(line.startswith("total") and f"/ {TOTAL}" in line
            for line in results["output"].splitlines())


@pytest.mark.parametrize("name", COPIES)
def test_a_folder_and_a_zip_of_the_same_copy_grade_the_same(graded, name):
    folder, archive = graded.results[name, "folder"], graded.results[name, "zip"]
    assert [(t["name"], t["score"], t.get("status")) for t in folder["tests"]] == \
        [(t["name"], t["score"], t.get("status")) for t in archive["tests"]]


def test_the_blank_copy_fails_every_test_with_its_stub(graded):
    for test in graded.results["blank", "folder"]["tests"]:
        if "graded by hand" in test["tags"]:
            continue
        task = assignment_tasks.get_task(test["tags"][0])
        if task.kind == "results":
            assert "results/trained-model" in test["output"], test
        else:
            assert "NotImplementedError: task '" in test["output"], test


def test_grade_py_writes_the_same_results(graded):
    autograder = graded.results["half-done", "folder"]
    assert graded.direct["score"] == autograder["score"]
    assert graded.direct["tests"] == autograder["tests"]


def test_the_run_folder_of_the_correct_copy_is_read_from_the_submission(graded):
    trained = [t for t in graded.results["correct", "zip"]["tests"]
               if t["tags"][0] == "trained-model"]
    assert trained and all(t["status"] == "passed" for t in trained)
    assert sum(t["max_score"] for t in trained) == TABLE_POINTS["trained-model"]


# ---------------------------------------------------------------- what cannot be graded


def run_tree(built, root, submission):
    """run_autograder on a tree whose submission folder ``submission`` fills; results.json."""
    unpack(built.zip, root)
    submission(root / "submission")
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=environment(root),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_a_submission_without_numpyvae_gets_a_message(built, tmp_path):
    def submission(folder):
        (folder / "dense.py").write_text("def dense_backward(): pass\n")

    results = run_tree(built, tmp_path / "root", submission)
    assert results["score"] == 0 and results["tests"] == []
    assert "no numpyvae/ package" in results["output"]
    assert "Upload your whole copy, as a folder or a zip" in results["output"]


def test_two_copies_at_the_same_depth_are_refused(built, tmp_path):
    def submission(folder):
        for name in ("a", "b"):
            (folder / name / "numpyvae").mkdir(parents=True)
            (folder / name / "numpyvae" / "__init__.py").write_text("")

    results = run_tree(built, tmp_path / "root", submission)
    assert results["score"] == 0 and "several numpyvae/ packages" in results["output"]

"""Gradescope's side of the grader: find the student's numpyvae/, grade it, write results.json.

run_autograder (at the root of the zip that ``scripts/make_assignment.py --autograder``
writes) runs this file for each submission:

    python3 /autograder/source/scripts/autograder/autograde.py --root /autograder

The tree is Gradescope's: the zip unpacked in ROOT/source (this project with its hidden tests
and the reference package), the student's upload in ROOT/submission, and the results to write
at ROOT/results/results.json. The upload may be the student's copy as a folder, at any depth,
or one or more zips of it: the folder holding the shallowest ``numpyvae/__init__.py`` is
graded (its ``results/`` holds the run of a results task). The tasks set come from
ROOT/source/autograder.json. Whatever happens, results.json is written (whole, or not at all),
so the student sees a message rather than an autograder error; the exit status is 0 when it
was written.
"""
import argparse
import json
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

sys.dont_write_bytecode = True
SCRIPTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCRIPTS))
import grade  # noqa: E402  (scripts/grade.py, next to this folder)

PACKAGE = "numpyvae"
SKIPPED = ("__MACOSX", "__pycache__", ".git")
MAX_UNZIPPED = 2 * 1024 ** 3      # bytes a submission's zips may unpack to


class SubmissionError(Exception):
    """The submission holds nothing to grade (the message, shown to the student, says why)."""


def _copies(folder):
    """Folders under ``folder`` (itself included) that hold numpyvae/__init__.py."""
    found = []
    for init in Path(folder).rglob(f"{PACKAGE}/__init__.py"):
        parts = init.relative_to(folder).parts
        if not any(p in SKIPPED or p.startswith(".") for p in parts):
            found.append(init.parent.parent)
    return found


def _unzip(archive, into):
    with zipfile.ZipFile(archive) as zf:
        size = sum(info.file_size for info in zf.infolist())
        if size > MAX_UNZIPPED:
            raise SubmissionError(f"{archive.name} unpacks to {size / 1024 ** 2:.0f} MB, more "
                                  f"than the {MAX_UNZIPPED / 1024 ** 2:.0f} MB allowed; zip "
                                  f"your copy without runs/ or data of your own")
        zf.extractall(into)           # zipfile drops absolute paths and '..' parts


def find_copy(submission, work):
    """The folder holding the student's numpyvae/, in ``submission`` or in a zip in it, and
    how to name it to the student (its path in the upload).

    Zips are unpacked into ``work``. Raises SubmissionError when there is no numpyvae/, or
    when two are equally shallow.
    """
    submission, work = Path(submission), Path(work)
    if not submission.is_dir():
        raise SubmissionError(f"the submission folder {submission} does not exist")
    found = _copies(submission)
    names = {}
    if not found:
        archives = sorted(p for p in submission.rglob("*.zip")
                          if not any(part in SKIPPED for part in p.parts))
        for i, archive in enumerate(archives):
            try:
                _unzip(archive, work / f"zip-{i}")
            except zipfile.BadZipFile:
                raise SubmissionError(f"{archive.relative_to(submission)} is not a readable "
                                      f"zip file") from None
            names[work / f"zip-{i}"] = archive.relative_to(submission).as_posix() + ": "
        found = _copies(work) if archives else []
    if not found:
        raise SubmissionError(
            f"no {PACKAGE}/ package (a folder holding {PACKAGE}/__init__.py) was found in "
            f"the submission. Upload your whole copy, as a folder or a zip, with {PACKAGE}/ "
            f"in it.")
    depth = min(len(p.parts) for p in found)
    shallowest = sorted(p for p in found if len(p.parts) == depth)
    if len(shallowest) > 1:
        raise SubmissionError(
            f"the submission holds several {PACKAGE}/ packages at the same depth ("
            + ", ".join(str(p / PACKAGE) for p in shallowest)
            + "); upload one copy")
    copy = shallowest[0]
    for unzipped, name in names.items():
        if unzipped in copy.parents or copy == unzipped:
            return copy, name + (copy / PACKAGE).relative_to(unzipped).as_posix()
    return copy, (copy / PACKAGE).relative_to(submission).as_posix()


def _error_results(message):
    return {"score": 0, "output": message, "stdout_visibility": "hidden", "tests": []}


def run(root):
    """Grade the submission of the tree at ``root``; returns the results as a dict."""
    root = Path(root)
    config = json.loads((root / "source" / "autograder.json").read_text(encoding="utf-8"))
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="numpyvae-submission-") as work:
        try:
            copy, name = find_copy(root / "submission", work)
        except SubmissionError as err:
            return _error_results(f"Nothing was graded: {err}")
        print(f"grading {copy / PACKAGE}")
        try:
            result = grade.grade(copy, config.get("tasks") or (),
                                 timeout=config.get("timeout", grade.DEFAULT_TIMEOUT))
        except grade.GradingError as err:
            return _error_results(f"The autograder could not grade {name}: {err}")
    result["package"] = name
    print(grade.format_table(result))
    results = grade.gradescope_results(result)
    results["execution_time"] = round(time.monotonic() - start)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade the submission of a Gradescope "
                                                 "autograder tree; write results/results.json.")
    parser.add_argument("--root", default="/autograder", help="the tree (default /autograder)")
    args = parser.parse_args(argv)
    target = Path(args.root) / "results" / "results.json"
    try:
        results = run(args.root)
    except Exception:                      # the student must still get a result
        traceback.print_exc()
        results = _error_results("The autograder failed; your course staff has been "
                                 "shown why. Nothing was graded.")
    grade.write_json(results, target)
    print(f"wrote {target}: score {results['score']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""docs/derivation.md and the code stay in step, both ways."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DERIVATION = ROOT / "docs" / "derivation.md"
PACKAGE = ROOT / "numpyvae"

# "eq. (9)", "eqs. (10)-(11)", "eqs. (16)/(19)", "eqs. (7), (23)-(34)", "eq. (7) or (8)"
CITATION = re.compile(r"\beqs?\.\s*(\(\d+\)(?:\s*(?:,|-|/|or|and)\s*\(\d+\))*)", re.I)


def cited_numbers(text):
    """Every equation number cited in ``text``, ranges expanded."""
    numbers = set()
    for match in CITATION.finditer(text):
        group = match.group(1)
        for a, b in re.findall(r"\((\d+)\)\s*-\s*\((\d+)\)", group):
            numbers.update(range(int(a), int(b) + 1))
        numbers.update(int(n) for n in re.findall(r"\((\d+)\)", group))
    return numbers


def document_numbers():
    return {int(n) for n in re.findall(r"\\tag\{(\d+)\}", DERIVATION.read_text())}


def code_citations():
    """(file, line number, equation) for every citation in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for n in cited_numbers(line):
                found.append((path.relative_to(ROOT), lineno, n))
    return found


def where_in_the_code():
    """{equation: (path, function)} from the document's table."""
    text = DERIVATION.read_text()
    block = text.split("<!-- where-in-the-code: begin -->")[1].split("<!-- where-in-the-code: end -->")[0]
    rows = re.findall(r"^\|\s*\((\d+)\)\s*\|[^|]*\|\s*`([^`]+)`\s*`([^`]+)`\s*\|", block, re.M)
    return {int(n): (path, func) for n, path, func in rows}


def function_source(path, qualified_name):
    """The source lines of ``Class.method`` or ``function`` in ``path``, or None."""
    source = (ROOT / path).read_text()
    parts = qualified_name.split(".")
    nodes = ast.parse(source).body
    node = None
    for part in parts:
        node = next((n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        nodes = node.body
    return "\n".join(source.splitlines()[node.lineno - 1:node.end_lineno])


def test_equations_are_numbered_1_to_n_once_each():
    tags = re.findall(r"\\tag\{(\d+)\}", DERIVATION.read_text())
    numbers = sorted(map(int, tags))
    assert numbers == list(range(1, len(numbers) + 1)), numbers


def test_the_citation_parser():
    assert cited_numbers("x  # eq. (9): z") == {9}
    assert cited_numbers("eqs. (10)-(12) and eq. (4)") == {4, 10, 11, 12}
    assert cited_numbers("eqs. (16)/(19), eq. (7) or (8)") == {7, 8, 16, 19}
    assert cited_numbers("shape (4, 5)") == set()


def test_every_equation_cited_in_the_code_exists_in_the_document():
    numbers = document_numbers()
    missing = [f"{path}:{line} cites eq. ({n})" for path, line, n in code_citations()
               if n not in numbers]
    assert not missing, "the code cites equations docs/derivation.md lacks:\n" + "\n".join(missing)


def test_the_table_maps_every_equation():
    assert sorted(where_in_the_code()) == sorted(document_numbers())


@pytest.mark.parametrize("number", sorted(document_numbers()))
def test_every_mapped_equation_is_cited_where_the_table_says(number):
    path, func = where_in_the_code()[number]
    assert (ROOT / path).exists(), f"eq. ({number}): the table names {path}, which does not exist"
    source = function_source(path, func)
    assert source is not None, f"eq. ({number}): {path} has no {func}"
    assert number in cited_numbers(source), (
        f"eq. ({number}): the table says {path} {func} implements it, but {func} does not "
        f"cite it (add `eq. ({number})` to the line that implements it)")


def test_the_readme_python_examples_run_as_written(tmp_path):
    """The README's Python blocks, in order, in one fresh interpreter, as a reader would."""
    import os
    import subprocess
    import sys

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=path)     # this checkout's numpyvae
    env.pop("OPENBLAS_THREAD_TIMEOUT", None)
    proc = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr

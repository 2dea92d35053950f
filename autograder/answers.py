"""Answers as a student would write them: the reference solution, or a cataloged mistake, in a handed-out notebook.

For trying a grading setup end to end (the benchmark, the tests that play students): the
reference comes from the exercise's source notebook and each mistake from its check
module's catalog, so no answer is written twice.
"""

from __future__ import annotations

import copy
import inspect
import re
import textwrap
from pathlib import Path

import nbformat

from . import paths
from .checks.grading import Mistake, evaluate, load_exercise


def solution_code(exercise: str, question: str, exercises_dir: Path = paths.EXERCISES) -> str:
    """The source notebook's reference solution for `question`, without otter's markers."""
    source = exercises_dir / f"{exercise}.ipynb"
    for cell in nbformat.read(source, as_version=4).cells:
        if cell.cell_type == "code" and defines(cell.source, question):
            return "\n".join(line for line in cell.source.splitlines() if "SOLUTION" not in line)
    raise LookupError(f"no cell defines {question} in {source}")


def defines(source: str, name: str) -> bool:
    """Whether a cell's `source` defines `name` at its top level: a function, a class or an answer variable."""
    return re.search(rf"^(?:def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*=", source, re.MULTILINE) is not None


def reference_answers(exercise: str) -> dict[str, str]:
    """Every graded question of `exercise`, answered with the reference solution."""
    return {question: solution_code(exercise, question) for question in load_exercise(exercise)}


def as_answer(function, question: str) -> str:
    """`function`'s source (or class's), renamed to define `question`: a student's answer cell; for an answer that is
    a value (a midterm question's), the assignment of its repr."""
    if not callable(function):
        return f"{question} = {function!r}"
    source = textwrap.dedent(inspect.getsource(function))
    return re.sub(rf"^(def|class) {re.escape(function.__name__)}\b", rf"\1 {question}", source, count=1, flags=re.M)


def cataloged_mistake(exercise: str, question: str, name: str) -> Mistake:
    """The mistake `name` of `question`'s catalog."""
    for mistake in load_exercise(exercise)[question].mistakes:
        if mistake.name == name:
            return mistake
    raise LookupError(f"{exercise}: {question} catalogs no mistake {name!r}")


def failing_checks(exercise: str, question: str, mistake: Mistake) -> list[str]:
    """The checks of `question` that `mistake` fails, as the grader decides them."""
    definition = load_exercise(exercise)[question]
    records = definition.records_of(mistake.step, trusted=True)
    return [check for check in definition.checks if not evaluate(definition, check, records[check]).passed]


def filled(notebook: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of `notebook` with the cell defining each question (not a test of it) replaced by the given code."""
    nb = copy.deepcopy(notebook)
    for question, code in answers.items():
        cells = [
            c for c in nb.cells if c.cell_type == "code" and defines(c.source, question) and "test_" not in c.source
        ]
        if len(cells) != 1:
            raise LookupError(f"expected one cell defining {question}, found {len(cells)}")
        cells[0].source = code
    return nb

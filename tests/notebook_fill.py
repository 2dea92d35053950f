"""Fill a handed-out notebook as a student would: the reference solution, or a typical mistake.

Shared by the tests that play students (test_hub, test_colab); the reference comes from the
exercise's source notebook, so no answer is written twice.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
EXERCISE = "04_momentum"
SOURCE = REPO / "exercises" / f"{EXERCISE}.ipynb"
QUESTIONS = ("momentum_step_lecture", "sgd_momentum_step")

# A typical mistake: the parameter updated in place. `hint` is a phrase its feedback must contain;
# `failing_test` is the only test of the question it fails.
MISTAKE_QUESTION = "sgd_momentum_step"
MISTAKE_CODE = '''
def sgd_momentum_step(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    grad = grad + weight_decay * w
    buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
    w -= lr * buf
    return w, buf
'''
MISTAKE_HINT = "modified its input `w` in place"
MISTAKE_FAILING_TEST = "test_leaves_inputs_unchanged"


def solution_code(question: str, source: Path = SOURCE) -> str:
    """The source's reference solution for `question`, without otter's markers."""
    for cell in nbformat.read(source, as_version=4).cells:
        if cell.cell_type == "code" and f"def {question}(" in cell.source:
            return "\n".join(line for line in cell.source.splitlines() if "SOLUTION" not in line)
    raise LookupError(f"no cell defines {question}() in {source}")


REFERENCE = {q: solution_code(q) for q in QUESTIONS}


def filled(notebook: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of `notebook` with the cell defining each question (not a test of it) replaced by the given code."""
    nb = copy.deepcopy(notebook)
    for question, code in answers.items():
        cells = [c for c in nb.cells if c.cell_type == "code" and f"def {question}(" in c.source
                 and "test_" not in c.source]
        if len(cells) != 1:
            raise LookupError(f"expected one cell defining {question}(), found {len(cells)}")
        cells[0].source = code
    return nb

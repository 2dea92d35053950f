"""The autograder end to end: build into a temp dir, then grade batches with both engines."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest

from autograder import paths
from autograder.build import build_all
from autograder.grade import grade_folder

EXERCISE = "04_momentum"
SOURCE = paths.EXERCISES / f"{EXERCISE}.ipynb"

# Typical mistakes, each in one question only; `mistake` is a phrase its feedback must contain.
WRONG = {
    "lr_outside_velocity": ("momentum_step_lecture", "learning rate must be inside the velocity", '''
def momentum_step_lecture(w, grad, delta_w, lr, alpha):
    delta_w = alpha * delta_w + grad
    return w - lr * delta_w, delta_w
'''),
    "dampening_first_step": ("sgd_momentum_step", "dampening must not apply on the first step", '''
def sgd_momentum_step(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    grad = grad + weight_decay * w
    buf = (1 - dampening) * grad if buf is None else momentum * buf + (1 - dampening) * grad
    return w - lr * buf, buf
'''),
    "weight_decay_after": ("sgd_momentum_step", "weight decay must be added to the gradient before momentum", '''
def sgd_momentum_step(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
    return w - lr * (buf + weight_decay * w), buf
'''),
    "modifies_w": ("sgd_momentum_step", "modified its input `w` in place", '''
def sgd_momentum_step(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    grad = grad + weight_decay * w
    buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
    w -= lr * buf
    return w, buf
'''),
}


def solution_code(question: str) -> str:
    """The source's reference solution for `question`, without otter's markers."""
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        if cell.cell_type == "code" and f"def {question}(" in cell.source:
            return "\n".join(line for line in cell.source.splitlines() if "SOLUTION" not in line)
    raise LookupError(question)


def filled(notebook: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of `notebook` with the cell defining each question replaced by the given code."""
    nb = nbformat.read(notebook, as_version=4)
    for question, code in answers.items():
        [cell] = [c for c in nb.cells if c.cell_type == "code" and f"def {question}(" in c.source
                  and "test_" not in c.source]
        cell.source = code
    return nb


QUESTIONS = ("momentum_step_lecture", "sgd_momentum_step")
REFERENCE = {q: solution_code(q) for q in QUESTIONS}


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("build")
    assert build_all(root) == [EXERCISE]
    return root


def write_batch(folder: Path, notebook: Path, extra: dict[str, str | bytes | nbformat.NotebookNode]) -> Path:
    folder.mkdir()
    for name, content in extra.items():
        target = folder / f"{name}.ipynb"
        if isinstance(content, nbformat.NotebookNode):
            nbformat.write(content, target)
        else:
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_artifacts_exist_at_fixed_paths(built):
    for path in [paths.student_notebook(built, EXERCISE), paths.otter_zip(built, EXERCISE),
                 paths.nbgrader_notebook(built, "source", EXERCISE), paths.nbgrader_notebook(built, "release", EXERCISE),
                 paths.nbgrader_course(built) / "nbgrader_config.py", paths.nbgrader_course(built) / "gradebook.db"]:
        assert path.is_file(), path


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["student", "release"])
def test_handouts_hold_no_hidden_tests_and_no_solution(built, stage):
    notebook = (paths.student_notebook(built, EXERCISE) if stage == "student"
                else paths.nbgrader_notebook(built, "release", EXERCISE))
    text = notebook.read_text()
    for secret in ["check_lecture_trajectory", "check_sgd_first_step", "check_sgd_is_pure", "autograder.checks",
                   "BEGIN HIDDEN", "BEGIN SOLUTION", "alpha * delta_w + lr * grad\\n", "buf = grad.clone()"]:
        assert secret not in text, f"{secret!r} leaked into the {stage} notebook"
    assert "import optimlab" not in text and "from optimlab" not in text  # runs in Colab without the course package


@pytest.mark.slow
def test_otter_batch(built, tmp_path):
    student = paths.student_notebook(built, EXERCISE)
    submissions = {"reference": filled(student, REFERENCE), "unmodified": nbformat.read(student, as_version=4),
                   "not_json": b"\x00garbage", "empty_json": "{}"}
    for name, (question, _, code) in WRONG.items():
        submissions[name] = filled(student, {**REFERENCE, question: code})
    loop = filled(student, REFERENCE)
    loop.cells.insert(2, nbformat.v4.new_code_cell("while True:\n    pass"))
    submissions["infinite_loop"] = loop
    exits = filled(student, REFERENCE)
    exits.cells.insert(2, nbformat.v4.new_code_cell("import sys\nsys.exit(1)"))
    submissions["exits"] = exits
    out = tmp_path / "out"
    grade_folder(EXERCISE, write_batch(tmp_path / "subs", student, submissions), out,
                 root=built, engine="otter", jobs=2, timeout=25)
    grades = read_grades(out)
    assert set(grades) == set(submissions)
    assert list(grades["reference"]) == ["submission", *QUESTIONS, "total", "possible", "error"]

    assert float(grades["reference"]["total"]) == float(grades["reference"]["possible"]) == 5
    assert grades["reference"]["error"] == ""
    assert float(grades["unmodified"]["total"]) == 0

    for name in ["not_json", "empty_json"]:
        assert float(grades[name]["total"]) == 0 and "not a notebook" in grades[name]["error"]
    assert float(grades["infinite_loop"]["total"]) == 0 and "timed out" in grades["infinite_loop"]["error"]
    # IPython turns sys.exit into an error in its cell and runs on: the row says so, the later cells still count.
    assert "raised SystemExit" in grades["exits"]["error"] and "sys.exit" not in grades["reference"]["error"]

    for name, (question, mistake, _) in WRONG.items():
        other = next(q for q in QUESTIONS if q != question)
        assert float(grades[name][question]) < float(grades["reference"][question]), name
        assert grades[name][other] == grades["reference"][other], name
        feedback = (out / "feedback" / f"{name}.html").read_text()
        assert mistake in feedback.replace("&#x27;", "'").replace("&quot;", '"'), (name, feedback)


@pytest.mark.slow
def test_nbgrader_batch(built, tmp_path):
    release = paths.nbgrader_notebook(built, "release", EXERCISE)
    question, mistake, code = WRONG["dampening_first_step"]
    submissions = {"reference": filled(release, REFERENCE), "unmodified": nbformat.read(release, as_version=4),
                   "dampening_first_step": filled(release, {**REFERENCE, question: code}), "not_json": "nope"}
    out = tmp_path / "out"
    grade_folder(EXERCISE, write_batch(tmp_path / "subs", release, submissions), out,
                 root=built, engine="nbgrader", jobs=2, timeout=120)
    grades = read_grades(out)
    assert float(grades["reference"]["total"]) == float(grades["reference"]["possible"]) == 5, grades["reference"]
    assert float(grades["unmodified"]["total"]) == 0
    assert "not a notebook" in grades["not_json"]["error"]
    wrong = grades["dampening_first_step"]
    assert float(wrong[question]) < 3 and float(wrong["momentum_step_lecture"]) == 2
    assert mistake in (out / "feedback" / "dampening_first_step.html").read_text()

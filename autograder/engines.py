"""Grade one submission with otter or nbgrader; runs inside `autograder.worker`, one process per submission.

Both engines return the same `Outcome`: per question the score, the points possible and
one line per failing test (its message), plus the errors the notebook raised while running.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from . import paths


@dataclasses.dataclass
class Outcome:
    scores: dict[str, float] = dataclasses.field(default_factory=dict)
    possible: dict[str, float] = dataclasses.field(default_factory=dict)
    failures: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    error: str = ""


class NotANotebook(ValueError):
    """The submission is not a Jupyter notebook; the message says why."""


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The submission as a notebook, or NotANotebook saying, in words, what it is instead."""
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotANotebook(f"not a notebook: the file is not JSON ({error})") from None
    try:
        nb = nbformat.from_dict(data)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds on malformed input
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotANotebook(f"not a notebook: JSON, but not a valid Jupyter notebook ({first_line})") from None
    return nb


def notebook_errors(nb: nbformat.NotebookNode) -> list[str]:
    """'the cell starting `...` raised Name: value' for each code cell of an executed notebook that ended in an error."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
                found.append(f"the cell starting `{first_line[:60]}` raised {output['ename']}: {output['evalue']}".strip())
    return found


# ---------------------------------------------------------------- otter

def grade_with_otter(submission: Path, root: Path, exercise: str) -> Outcome:
    from otter.api import grade_submission

    read_submission(submission)
    with tempfile.TemporaryDirectory(prefix="otter-") as scratch:
        # otter names nothing after the student; a fixed file name keeps odd student ids harmless
        copy = Path(scratch) / f"{exercise}.ipynb"
        shutil.copyfile(submission, copy)
        results = grade_submission(str(copy), str(paths.otter_zip(root, exercise)), quiet=True)
    if results.catastrophic_error is not None:
        raise RuntimeError(f"otter could not grade it: {results.catastrophic_error}")
    outcome = Outcome()
    for question in results.test_files:
        test_file = results.get_result(question)
        outcome.scores[question] = test_file.score
        outcome.possible[question] = test_file.possible
        outcome.failures[question] = [
            _last_line(r.message) for r in test_file.test_case_results if not r.passed]
    if results.notebook is not None:
        outcome.error = "; ".join(notebook_errors(results.notebook))
    return outcome


def _last_line(message: str) -> str:
    """otter's failure message ends with `ExceptionName: message`; that line is what the student needs."""
    return message.strip().splitlines()[-1] if message and message.strip() else "test failed"


# ---------------------------------------------------------------- nbgrader

def grade_with_nbgrader(submission: Path, root: Path, exercise: str, student: str) -> Outcome:
    from nbgrader.api import Gradebook

    read_submission(submission)
    course = paths.nbgrader_course(root)
    with tempfile.TemporaryDirectory(prefix="nbgrader-") as scratch:
        # A private copy of the course: autograde writes to the gradebook and its folders.
        work = Path(scratch)
        shutil.copyfile(course / "nbgrader_config.py", work / "nbgrader_config.py")
        shutil.copyfile(course / "gradebook.db", work / "gradebook.db")
        shutil.copytree(course / "source" / exercise, work / "source" / exercise)
        submitted = work / "submitted" / student / exercise / f"{exercise}.ipynb"
        submitted.parent.mkdir(parents=True)
        shutil.copyfile(submission, submitted)
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "autograde", exercise, f"--student={student}",
             "--create", "--force", "--log-level=ERROR"],
            cwd=work, env=paths.tool_environment(), capture_output=True, text=True)
        graded = work / "autograded" / student / exercise / f"{exercise}.ipynb"
        if done.returncode != 0 or not graded.exists():
            raise RuntimeError(f"nbgrader autograde failed: {_last_error_line(done.stderr + done.stdout)}")

        outcome = Outcome()
        with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gradebook:
            notebook = gradebook.find_submission_notebook(exercise, exercise, student)
            for grade in notebook.grades:
                question = grade.name.split("-")[0]  # grade ids are `question-test_name`
                outcome.scores[question] = outcome.scores.get(question, 0.0) + (grade.score or 0.0)
                outcome.possible[question] = outcome.possible.get(question, 0.0) + grade.max_score
                outcome.failures.setdefault(question, [])
        executed = nbformat.read(graded, as_version=4)
    for cell in executed.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        is_test = cell.metadata.get("nbgrader", {}).get("grade", False) and cell.cell_type == "code"
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if is_test and errors:
            outcome.failures[grade_id.split("-")[0]].append(f"{errors[0]['ename']}: {errors[0]['evalue']}")
    student_cells = nbformat.v4.new_notebook(cells=[
        c for c in executed.cells if not c.metadata.get("nbgrader", {}).get("grade", False)])
    outcome.error = "; ".join(notebook_errors(student_cells))
    return outcome


def _last_error_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"

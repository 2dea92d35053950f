"""One submission: read it as a notebook, run its cells in a sandbox worker, decide its grade from what comes back.

`python -m autograder grade` (`autograder.grade`) calls `grade_submission` for each file of
a folder, the Gradescope autograder (`autograder.gradescope`) for its one notebook: the same
reading, sandbox request and decision (`autograder.decide`) in both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from .decide import Outcome, Plan, decide
from .sandbox import Sandbox, WorkerFailed

MAX_SUBMISSION_BYTES = 20 * 2**20
MEMORY_MB = 2048  # address space a submission may add on top of the interpreter with torch loaded
GRADER_CHECK = re.compile(r"^\s*grader\.check(_all)?\(.*\)\s*$", re.MULTILINE)  # otter's public checks: not graded


class NotANotebook(ValueError):
    """The submission is not a Jupyter notebook; the message says why."""


def grade_submission(path: Path, plan: Plan, engine: str, sandbox: Sandbox, timeout: float) -> Outcome:
    try:
        nb = read_submission(path)
    except NotANotebook as error:
        return plan.empty(str(error))
    stamped = (
        nb.metadata.get("autograder", {}).get("exercise") if isinstance(nb.metadata.get("autograder"), dict) else None
    )
    if stamped and stamped != plan.exercise:
        return plan.empty(f"wrong exercise: this notebook is {stamped}, not {plan.exercise}")
    cells = student_cells(nb, engine)
    try:
        answer = sandbox.run(sandbox_request(plan, cells, timeout))
    except WorkerFailed as error:
        return plan.empty(str(error))
    return decide(plan, cells, answer, timeout)


def sandbox_request(plan: Plan, cells: list[str], timeout: float) -> dict:
    """What the worker needs to run a submission: its cells, the limits, each graded function's signature and cases."""
    questions = {
        name: {
            "params": q.signature.params,
            "returns": q.signature.returns,
            "kinds": q.signature.kinds,
            "exempt": q.signature.exempt,
            "runner": q.runner,
            "cases": q.cases,
        }
        for name, q in plan.questions.items()
    }
    return {
        "cells": cells,
        "timeout": timeout,
        "memory_mb": MEMORY_MB,
        "questions": questions,
        "optimizers_allowed": plan.optimizers_allowed,
    }


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The submission as a notebook, or NotANotebook saying, in words, what it is instead."""
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise NotANotebook(
            f"not graded: the file is {size / 2**20:.0f} MB, more than the "
            f"{MAX_SUBMISSION_BYTES // 2**20} MB a notebook may have"
        )
    try:
        text = path.read_bytes().decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotANotebook(f"not a notebook: the file is not JSON ({error})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds on malformed input
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotANotebook(f"not a notebook: JSON, but not a valid Jupyter notebook ({first_line})") from None
    return nb


def student_cells(nb: nbformat.NotebookNode, engine: str) -> list[str]:
    """The code the student's notebook runs, in order, without the grader's own cells.

    otter: the setup cell (it imports otter) and `grader.check(...)` lines are the public
    checks; nbgrader: autograded test cells (grade, not solution) are the public tests.
    """
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        nbgrader = cell.metadata.get("nbgrader", {})
        if (
            engine == "nbgrader"
            and isinstance(nbgrader, dict)
            and nbgrader.get("grade")
            and not nbgrader.get("solution")
        ):
            continue
        if engine == "otter" and "otter.Notebook(" in cell.source:
            continue
        cells.append(GRADER_CHECK.sub("", cell.source) if engine == "otter" else cell.source)
    return cells

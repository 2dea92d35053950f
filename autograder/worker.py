"""`python -m autograder.worker ENGINE ROOT EXERCISE SUBMISSION RESULT_JSON`: grade one submission, write its Outcome.

Runs in its own process (group), started by `autograder.grade`, so a submission that
loops forever, exits or crashes the interpreter can be killed without stopping the batch.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from .engines import NotANotebook, Outcome, grade_with_nbgrader, grade_with_otter


def main(argv: list[str]) -> int:
    engine, root, exercise, submission, result_path = argv
    root, submission = Path(root), Path(submission)
    try:
        if engine == "otter":
            outcome = grade_with_otter(submission, root, exercise)
        elif engine == "nbgrader":
            outcome = grade_with_nbgrader(submission, root, exercise, student=submission.stem)
        else:
            raise ValueError(f"unknown engine {engine!r}; use otter or nbgrader")
    except NotANotebook as error:
        outcome = Outcome(error=str(error))
    except BaseException as error:  # SystemExit included: whatever happened, the row must say it
        outcome = Outcome(error=f"grading failed: {type(error).__name__}: {error}")
    Path(result_path).write_text(json.dumps(dataclasses.asdict(outcome)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

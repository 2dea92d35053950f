"""Hidden checks: per exercise, each graded function's hidden cases, reference and catalog of common mistakes.

`records` (cases and results as plain data) runs inside the student's sandbox, with the
runners and makers of `runners`; `grading` decides a check from records; one module per
exercise defines its questions: exercise `NN_topic` has its checks in `checks/topic.py`.
These modules travel in the otter autograder zip, so they import only numpy, torch,
`optimlab` and each other, and this file imports only the standard library.
"""

from pathlib import Path


def check_module(exercise: str) -> str:
    """The module of this package holding `exercise`'s checks: `05_nesterov` -> `nesterov`."""
    number, _, topic = exercise.partition("_")
    if not (number.isdigit() and topic.isidentifier()):
        raise LookupError(f"{exercise!r} is not an exercise name (NN_topic, as exercises/NN_topic.ipynb)")
    return topic


def known_exercises() -> list[str]:
    """The topics that have a check module here (for messages)."""
    skip = {"__init__", "cases", "grading", "records"}
    return sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem not in skip)

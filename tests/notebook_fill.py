"""Exercise 04_momentum's answers for the tests that play students (test_hub, test_colab, the grading batch).

The functions are `autograder.answers`'s (the benchmark uses them too); this module binds
them to the exercise the tests grade.
"""

from __future__ import annotations

from functools import partial

from autograder import answers, paths
from autograder.answers import as_answer, filled  # noqa: F401  (re-exported for the tests)
from autograder.checks.grading import load_exercise

EXERCISE = "04_momentum"
SOURCE = paths.EXERCISES / f"{EXERCISE}.ipynb"
QUESTIONS = tuple(load_exercise(EXERCISE))
REFERENCE = answers.reference_answers(EXERCISE)
cataloged_mistake = partial(answers.cataloged_mistake, EXERCISE)
failing_checks = partial(answers.failing_checks, EXERCISE)

# A typical mistake, as a student writes it: the parameter updated in place.
MISTAKE_QUESTION = "sgd_momentum_step"
MISTAKE = cataloged_mistake(MISTAKE_QUESTION, "modifies_w_in_place")
MISTAKE_CODE = as_answer(MISTAKE.step, MISTAKE_QUESTION)

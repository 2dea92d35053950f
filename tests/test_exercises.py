"""Every exercise, whatever it asks for: its reference passes, its catalog fails, and both engines agree.

For each exercise of `exercises/` (its checks in `autograder/checks/<topic>.py`):

- the reference solution passes every hidden check, in this process;
- every cataloged mistake fails a check of its own question, and the feedback gives its hint;
- through `python -m autograder grade`, in the sandbox and in both engines, the notebook as handed
  out scores 0 and the notebook filled with the reference solution scores full marks; the handed-out
  notebook's feedback page lists a section to review for every question.
"""

from __future__ import annotations

import nbformat
import pytest
from fixtures.grading import built_root, read_grades, write

from autograder import paths
from autograder.answers import failing_checks, filled, reference_answers
from autograder.checks.grading import evaluate, load_exercise
from autograder.cli import main
from autograder.decide import make_plan

EXERCISES = paths.discover_exercises()
CHECKS = [(e, q, c) for e in EXERCISES for q, d in load_exercise(e).items() for c in d.checks]
MISTAKES = [(e, q, m) for e in EXERCISES for q, d in load_exercise(e).items() for m in d.mistakes]


def test_every_exercise_has_checks_and_each_question_a_book_section():
    for exercise in EXERCISES:
        questions = load_exercise(exercise)
        assert questions, exercise
        for name, question in questions.items():
            assert question.checks, (exercise, name)
            assert question.label.startswith("sec-"), (exercise, name, question.label)


@pytest.mark.parametrize("exercise, question, check", CHECKS, ids=[f"{e}-{q}-{c}" for e, q, c in CHECKS])
def test_the_reference_passes_every_hidden_check(exercise, question, check):
    definition = load_exercise(exercise)[question]
    result = evaluate(definition, check, definition.reference_records[check])
    assert result.passed, result.finding


@pytest.mark.parametrize("exercise, question, mistake", MISTAKES, ids=[f"{e}-{q}-{m.name}" for e, q, m in MISTAKES])
def test_each_cataloged_mistake_fails_its_own_question_with_its_hint(exercise, question, mistake):
    failing = failing_checks(exercise, question, mistake)
    assert failing, f"{exercise}: the mistake {mistake.name} of {question} passes every check"
    definition = load_exercise(exercise)[question]
    records = definition.records_of(mistake.step, trusted=True)
    hints = {h for check in failing for h in evaluate(definition, check, records[check]).finding.hints}
    assert mistake.hint in hints, (mistake.name, hints)


@pytest.fixture(scope="module", params=["otter", "nbgrader"])
def graded(request, tmp_path_factory):
    """Every exercise graded in `engine`: its notebook as handed out, and filled with the reference solution."""
    engine, root = request.param, built_root()
    results = {}
    for exercise in EXERCISES:
        path = paths.student_notebook(root, exercise)
        if engine == "nbgrader":
            path = paths.nbgrader_notebook(root, "release", exercise)
        blank = nbformat.read(path, as_version=4)
        submissions = {"handed_out": (blank, None), "reference": (filled(blank, reference_answers(exercise)), None)}
        folder = write(tmp_path_factory.mktemp(f"{exercise}-{engine}") / "submissions", submissions)
        out = tmp_path_factory.mktemp(f"{exercise}-{engine}-out")
        arguments = ["grade", exercise, str(folder), "--out", str(out), "--engine", engine, "--root", str(root)]
        assert main([*arguments, "--jobs", "2", "--timeout", "60"]) == 0
        results[exercise] = {"grades": read_grades(out), "out": out, "plan": make_plan(root, exercise)}
    return results


@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_reference_scores_full_marks_and_the_handed_out_notebook_zero(graded, exercise):
    grades, plan = graded[exercise]["grades"], graded[exercise]["plan"]
    possible = sum(plan.possible(q) for q in plan.questions)
    assert float(grades["reference"]["total"]) == possible, grades["reference"]
    assert float(grades["handed_out"]["total"]) == 0, grades["handed_out"]
    assert grades["reference"]["error"] == "", grades["reference"]["error"]


@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_handed_out_notebook_s_feedback_lists_a_section_to_review_for_every_question(graded, exercise):
    from autograder import book

    page = (graded[exercise]["out"] / "feedback" / "handed_out.html").read_text(encoding="utf-8")
    review = page.split("<h2>To review</h2>", 1)[1].split("<h2>", 1)[0]
    for name, question in graded[exercise]["plan"].questions.items():
        assert f"#{book.target(question.label).anchor}" in review, (exercise, name, question.label)

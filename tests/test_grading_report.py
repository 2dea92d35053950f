"""Feedback says each hint once per question: the failing checks that share it are listed under it.

The outcome is decided from records as the sandbox sends them (`autograder.decide.decide`),
here computed in this process from the mistake catalog, so the test needs no build and no sandbox.
"""

from __future__ import annotations

import functools
import html
import json

import pytest
from notebook_fill import EXERCISE, QUESTIONS

from autograder.checks.grading import load_exercise
from autograder.decide import decide, plan_from_points
from autograder.report import feedback_page, question_feedback_text

DEFINITIONS = load_exercise(EXERCISE)
PLAN = plan_from_points(EXERCISE, {name: dict.fromkeys(q.checks, 1.0) for name, q in DEFINITIONS.items()})


def outcome_of(answers: dict):
    """The outcome of a notebook whose functions are `answers` (question -> step function), as the grader decides it."""
    events = [{"event": "cell", "index": 0}]
    for name, step in answers.items():
        events += [{"event": "question", "name": name}, {"event": "records", "name": name}]
        events[-1]["checks"] = DEFINITIONS[name].records_of(step)
    events.append({"event": "done"})
    answer = {"events": "\n".join(json.dumps(event) for event in events), "timeout": False, "exit_code": 0}
    return decide(PLAN, [""], answer, timeout=10)


@functools.cache
def failing_more_than_one_check() -> list:
    return list(_failing_more_than_one_check())


def _failing_more_than_one_check():
    for question, definition in DEFINITIONS.items():
        for mistake in definition.mistakes:
            outcome = outcome_of({question: mistake.step})
            findings = outcome.questions[question].findings
            if len([finding for finding in findings if finding.check and mistake.hint in finding.hints]) > 1:
                yield pytest.param(question, mistake, outcome, id=f"{question}-{mistake.name}")


@pytest.mark.parametrize("question, mistake, outcome", failing_more_than_one_check())
def test_a_hint_is_said_once_with_every_failing_check_under_it(question, mistake, outcome):
    findings = outcome.questions[question].findings
    checks = [finding.check for finding in findings if mistake.hint in finding.hints]
    page = html.unescape(feedback_page("student", outcome, PLAN))
    section = page[page.index(f"<code>{question}</code>") :]
    section = section[: section.index("<h2>")] if "<h2>" in section else section
    text = question_feedback_text(outcome.questions[question])
    for rendering in (section, text):
        assert rendering.count(mistake.hint) == 1, rendering
        for check in checks:
            assert check.replace("_", " ") in rendering, (check, rendering)
        groups = {hint for finding in findings for hint in finding.hints}
        listed = sum(len([f for f in findings if hint in f.hints]) for hint in groups)
        assert rendering.count("irst failing case: step") == listed, rendering


def test_every_question_has_a_mistake_whose_hint_several_checks_share():
    assert {question for question, *_ in (p.values for p in failing_more_than_one_check())} == set(QUESTIONS)


def test_a_correct_question_says_all_hidden_tests_passed():
    outcome = outcome_of({name: definition.reference for name, definition in DEFINITIONS.items()})
    assert all(result.score == result.possible for result in outcome.questions.values())
    assert question_feedback_text(outcome.questions[QUESTIONS[0]]) == "All hidden tests passed."
    assert feedback_page("student", outcome, PLAN).count("All hidden tests passed.") == len(QUESTIONS)

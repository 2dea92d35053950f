"""Exercise 10_checkpointing, what the generic exercise tests cannot know: the pair is graded together, each
question for its own part, with files only in a fresh folder of the working folder."""

import pytest

from autograder.answers import solution_code
from autograder.checks.checkpointing import OFF_BY_ONE_HINT
from autograder.checks.grading import evaluate, load_exercise

EXERCISE = "10_checkpointing"
QUESTIONS = load_exercise(EXERCISE)


def _notebook_solution() -> dict:
    """The source notebook's two solution cells, run in one namespace, as a student's notebook would hold them."""
    namespace: dict = {}
    exec("import os\nimport tempfile\n\nimport torch", namespace)  # the notebook's import cell
    for question in QUESTIONS:
        exec(solution_code(EXERCISE, question), namespace)
    return namespace


def _failing(question: str, subject) -> list[str]:
    definition = QUESTIONS[question]
    records = definition.records_of(subject)
    return [check for check in definition.checks if not evaluate(definition, check, records[check]).passed]


@pytest.fixture(autouse=True)
def _in_a_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the runners write under the working folder, as in the sandbox
    yield
    assert list(tmp_path.iterdir()) == [], "a runner left files behind"


def test_the_notebook_s_own_solution_passes_every_check():
    solution = _notebook_solution()
    for question in QUESTIONS:
        assert _failing(question, solution[question]) == [], question


def test_a_wrong_load_costs_only_the_load_question():
    """The save question resumes at the epoch it saved, so a load that returns the wrong epoch does not fail it."""
    namespace = _notebook_solution()
    namespace["right_load"] = namespace["load_checkpoint"]
    exec(  # defined in the notebook's namespace, so each function finds the other
        "def load_checkpoint(path, model, optimizer, scheduler):\n"
        "    return right_load(path, model, optimizer, scheduler) - 1",
        namespace,
    )
    assert _failing("save_checkpoint", namespace["save_checkpoint"]) == []
    definition = QUESTIONS["load_checkpoint"]
    records = definition.records_of(namespace["load_checkpoint"])["returns_the_next_epoch"]
    assert evaluate(definition, "returns_the_next_epoch", records).finding.hint == OFF_BY_ONE_HINT


def test_a_function_without_its_partner_is_told_to_define_both():
    namespace = _notebook_solution()
    del namespace["load_checkpoint"]
    definition = QUESTIONS["save_checkpoint"]
    check = next(iter(definition.checks))
    records = definition.records_of(namespace["save_checkpoint"])[check]
    result = evaluate(definition, check, records)
    assert not result.passed
    assert "define both functions" in result.finding.hint


def test_the_reference_pair_resumes_exactly_with_dropout_and_shuffling():
    definition = QUESTIONS["save_checkpoint"]
    records = definition.records_of(definition.reference)["restores_shuffling_and_dropout"]
    assert all(record["steps"][0]["out"] == [True] * 6 for record in records)

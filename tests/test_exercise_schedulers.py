"""Exercise 03_schedulers: what the generic exercise tests cannot know. The reference of lr_trajectory (PyTorch's
LambdaLR) agrees with optimlab's closed form on every hidden case; the makers build the factors they name; the
runner that probes a returned factor reports what is wrong in words."""

import math

import pytest
import torch

from autograder.checks.grading import load_exercise
from autograder.checks.records import decode
from autograder.checks.runners.schedulers import run_lr_lambda_values, warmup_exponential_factor
from optimlab.schedules import lr_trajectory, step_decay, warmup_then_exponential

QUESTIONS = load_exercise("03_schedulers")


def _calls(question: str) -> list[dict]:
    return [
        {name: decode(value) for name, value in case["steps"][0].items()}
        for cases in QUESTIONS[question].cases.values()
        for case in cases
    ]


def test_lambdalr_reference_equals_the_closed_form_on_every_hidden_case():
    reference = QUESTIONS["lr_trajectory"].reference
    calls = _calls("lr_trajectory")
    assert {call["epochs"] for call in calls} >= {0, 1}
    for call in calls:
        expected = lr_trajectory(call["lr0"], call["lr_lambda"], call["epochs"])
        assert reference(call["lr0"], call["lr_lambda"], call["epochs"]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("warmup", "k"), [(1, 0.5), (3, 0.2), (5, 0.0)])
def test_warmup_maker_is_the_exercise_factor(warmup, k):
    made, ours = warmup_exponential_factor(warmup, k), warmup_then_exponential(warmup, k)
    assert [made(e) for e in range(20)] == [ours(e) for e in range(20)]


def test_step_maker_is_step_decay():
    (case, _) = QUESTIONS["lr_trajectory"].cases["step_factor"]
    step = case["steps"][0]
    assert step["lr_lambda"]["made"] == "step_factor"
    factor = decode(step["lr_lambda"])
    assert [0.1 * factor(e) for e in range(12)] == pytest.approx([step_decay(0.1, 0.5, 3, e) for e in range(12)])


def _factor_record(fn, epochs=4):
    question = QUESTIONS["warmup_then_exponential"]
    case = {"state": {}, "steps": [{"warmup_epochs": 2, "k": 0.1, "epochs": epochs}]}
    return run_lr_lambda_values(fn, question.signature, case)


def test_runner_records_the_values_as_numbers_and_accepts_one_element_tensors():
    record = _factor_record(lambda warmup_epochs, k: lambda e: torch.tensor(0.5 * e))
    assert record == {"steps": [{"out": [[0.0, 0.5, 1.0, 1.5]], "modified": []}], "delegated": []}
    reference = _factor_record(warmup_then_exponential)
    assert reference["steps"][0]["out"][0] == pytest.approx([0.5, 1.0, 1.0, math.exp(-0.1)])


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda warmup_epochs, k: 0.5, "returned float; it must return a function of the epoch"),
        (lambda warmup_epochs, k: None, "returned None; it must return a function of the epoch"),
        (lambda warmup_epochs, k: lambda e: [e], "gave list at epoch 0; it must return a number"),
        (lambda warmup_epochs, k: lambda e: 1 / (e - 2), "raised ZeroDivisionError: division by zero at epoch 2"),
        (lambda warmup_epochs, k: 1 / 0, "calling warmup_then_exponential raised ZeroDivisionError"),
    ],
)
def test_runner_explains_what_is_wrong(answer, words):
    (step,) = _factor_record(answer)["steps"]
    assert words in step["error"]

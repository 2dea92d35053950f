"""The 09_pytorch_api hidden checks: what the runner records is torch.optim's own behaviour, the cases cover
every name and both norm layers, and the notebook's solution passes like the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from autograder.answers import solution_code
from autograder.checks.grading import assert_check, load_exercise
from autograder.checks.records import decode, decode_array
from autograder.checks.runners.pytorch_api import TRAINING_STEPS, _train

EXERCISE = "09_pytorch_api"
QUESTION = load_exercise(EXERCISE)["make_optimizer"]


def _steps() -> list[dict]:
    return [case["steps"][0] for cases in QUESTION.cases.values() for case in cases]


@pytest.mark.parametrize("check", list(QUESTION.checks))
def test_the_notebooks_solution_passes_every_check(check):
    namespace = {"torch": torch, "nn": nn}
    exec(solution_code(EXERCISE, "make_optimizer"), namespace)
    assert_check(EXERCISE, "make_optimizer", check, namespace["make_optimizer"])


def test_the_cases_cover_every_name_both_norms_the_default_decay_and_unknown_names():
    steps = _steps()
    names = {decode(step["name"]) for step in steps}
    assert {"sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"} < names
    assert {"lion", "adagrad"} < names
    assert {step["model"]["args"]["norm"] for step in steps} == {"layer", "batch"}
    assert any(step["weight_decay"] is None for step in steps)
    assert any(decode(step["kwargs"]) for step in steps)


def test_unknown_names_are_recorded_as_value_errors():
    for record in QUESTION.reference_records["unknown_name_raises_value_error"]:
        assert record["steps"][0]["out"][0] == "raised ValueError"


def test_recorded_training_is_torch_optim_sgd_with_two_groups_built_by_hand():
    [case] = [c for c in QUESTION.cases["kwargs_forwarded"] if decode(c["steps"][0]["name"]) == "momentum"]
    step = case["steps"][0]
    model = decode(step["model"])
    weights = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.SGD(
        [{"params": weights, "weight_decay": step["weight_decay"]}, {"params": others}], lr=step["lr"], momentum=0.8
    )
    trained = _train(model, optimizer, step["model"]["args"]["seed"])
    recorded = QUESTION.reference_records["kwargs_forwarded"][QUESTION.cases["kwargs_forwarded"].index(case)]
    for mine, theirs in zip(recorded["steps"][0]["out"][2], trained, strict=True):
        np.testing.assert_array_equal(decode_array(mine), theirs.numpy())
    assert TRAINING_STEPS >= 2  # momentum shows from the second step on


def test_a_function_that_returns_no_optimizer_gets_an_error_in_words():
    def returns_nothing(model, name, lr, weight_decay=0.0, **kwargs):
        return None

    record = QUESTION.run(returns_nothing, QUESTION.cases["each_name_makes_its_method"][0])
    assert record["steps"][0]["error"] == "make_optimizer returned None; it must return a torch.optim.Optimizer"

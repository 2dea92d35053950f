"""Exercise 02_lr_decay: what the generic exercise tests cannot know. The reference of exponential_decay is
PyTorch's ExponentialLR on every whole-epoch hidden case, and the reference k halves the rate on every case."""

import math

import pytest
import torch

from autograder.checks.grading import load_exercise
from autograder.checks.records import decode

QUESTIONS = load_exercise("02_lr_decay")


def _calls(question: str) -> list[dict]:
    return [
        {name: decode(value) for name, value in step.items()}
        for cases in QUESTIONS[question].cases.values()
        for case in cases
        for step in case["steps"]
    ]


def _exponential_lr(eta0: float, k: float, t: int) -> float:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=eta0)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=math.exp(-k))
    for _ in range(t):
        optimizer.step()
        scheduler.step()
    return optimizer.param_groups[0]["lr"]


def test_exponential_decay_reference_is_exponential_lr_on_the_hidden_cases():
    reference = QUESTIONS["exponential_decay"].reference
    whole = [call for call in _calls("exponential_decay") if float(call["t"]).is_integer() and call["t"] <= 1000]
    assert len(whole) > 50
    for call in whole:
        expected = _exponential_lr(call["eta0"], call["k"], int(call["t"]))
        assert reference(call["eta0"], call["k"], call["t"]) == pytest.approx(expected, rel=1e-9), call


def test_halving_reference_halves_the_rate_on_every_hidden_case():
    reference = QUESTIONS["decay_constant_for_halving"].reference
    for call in _calls("decay_constant_for_halving"):
        k = reference(call["epochs"])
        assert math.exp(-k * call["epochs"]) == pytest.approx(0.5, rel=1e-12)

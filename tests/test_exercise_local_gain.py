"""Exercise 06_local_gain: what the generic exercise tests cannot know. The cases thread the previous gradient
correctly and contain what the checks are named for (sign flips, exact zeros, float32), and the reference's
results on them obey the rule of chapter 6."""

from __future__ import annotations

import torch

from autograder.checks.grading import load_exercise
from autograder.checks.records import decode

QUESTION = load_exercise("06_local_gain")["local_gain_step"]
TRAJECTORIES = ("signs_agree_and_flip_over_many_steps", "gains_that_ramp_then_shrink")


def _agreement(step: dict) -> torch.Tensor:
    return decode(step["grad"]) * decode(step["prev_grad"])


def test_each_trajectory_hands_in_the_previous_steps_gradient():
    for check in (*TRAJECTORIES, "keeps_float32_and_inputs_unchanged"):
        for case in QUESTION.cases[check]:
            steps = case["steps"]
            if len(steps) < 2:
                continue
            assert torch.equal(decode(steps[0]["prev_grad"]), torch.zeros_like(decode(steps[0]["grad"])))
            for before, after in zip(steps, steps[1:]):
                assert torch.equal(decode(after["prev_grad"]), decode(before["grad"]))


def test_the_cases_contain_agreements_flips_and_exact_zeros():
    products = [_agreement(step) for check in TRAJECTORIES for case in QUESTION.cases[check] for step in case["steps"]]
    products = torch.cat([p.flatten() for p in products])
    assert (products > 0).sum() > 100 and (products < 0).sum() > 100
    zeros = [_agreement(step) for case in QUESTION.cases["zero_products_leave_the_gain"] for step in case["steps"]]
    grads = [decode(step["grad"]) for case in QUESTION.cases["zero_products_leave_the_gain"] for step in case["steps"]]
    prevs = [decode(s["prev_grad"]) for case in QUESTION.cases["zero_products_leave_the_gain"] for s in case["steps"]]
    assert any(((g == 0) & (p != 0)).any() for g, p in zip(grads, prevs))  # zero gradient, previous not zero
    assert any(((g != 0) & (p == 0)).any() for g, p in zip(grads, prevs))  # previous zero, gradient not zero
    assert all((z == 0).any() for z in zeros)
    float32 = [c for c in QUESTION.cases["keeps_float32_and_inputs_unchanged"] if c["state"]["w"]["dtype"] == "float32"]
    assert len(float32) >= 3


def test_the_reference_obeys_the_rule_and_keeps_gains_positive_on_every_case():
    for check, cases in QUESTION.cases.items():
        for case, record in zip(cases, QUESTION.reference_records[check], strict=True):
            w, gain = decode(case["state"]["w"]), decode(case["state"]["gain"])
            for step, result in zip(case["steps"], record["steps"], strict=True):
                grad, agreement, beta, lr = decode(step["grad"]), _agreement(step), step["beta"], step["lr"]
                expected = torch.where(agreement > 0, gain + beta, torch.where(agreement < 0, gain * (1 - beta), gain))
                new_w, new_gain = (decode(out) for out in result["out"])
                torch.testing.assert_close(new_gain, expected)
                torch.testing.assert_close(new_w, w - lr * expected * grad)
                assert (new_gain > 0).all()
                w, gain = new_w, new_gain

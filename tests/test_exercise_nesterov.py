"""The 05_nesterov hidden checks beyond what every exercise's generic test covers: both references take
torch.optim.SGD(nesterov=True)'s steps on the hidden cases, and the cases cover what the exercise promises."""

from __future__ import annotations

import numpy as np
import torch

from autograder.checks.grading import load_exercise
from autograder.checks.records import decode, decode_array
from optimlab.optimizers.nesterov import nesterov_lookahead_step

EXERCISE = "05_nesterov"
QUESTIONS = load_exercise(EXERCISE)


def _tolerance(encoded: dict) -> dict:
    """Float64 agrees to rounding; float32 within the grader's own float32 tolerance (the order of adds differs)."""
    return dict(rtol=1e-12, atol=0) if encoded["dtype"] == "float64" else dict(rtol=1e-5, atol=1e-6)


def test_the_pytorch_form_reference_is_torch_optim_sgd_nesterov_on_the_hidden_cases():
    question = QUESTIONS["nesterov_step"]
    for check, cases in question.cases.items():
        for case, record in zip(cases, question.reference_records[check]):
            param = decode(case["state"]["w"]).clone().requires_grad_()
            first = case["steps"][0]
            optimizer = torch.optim.SGD(
                [param], lr=first["lr"], momentum=first["momentum"], weight_decay=first["weight_decay"], nesterov=True
            )
            if case["state"]["buf"] is not None:
                optimizer.state[param]["momentum_buffer"] = decode(case["state"]["buf"]).clone()
            for step, result in zip(case["steps"], record["steps"]):
                optimizer.param_groups[0]["lr"] = step["lr"]
                param.grad = decode(step["grad"])
                optimizer.step()
                w, buf = result["out"]
                assert w["dtype"] == case["state"]["w"]["dtype"], check
                torch_buf = optimizer.state[param]["momentum_buffer"]
                np.testing.assert_allclose(decode_array(w), param.detach().numpy(), **_tolerance(w))
                np.testing.assert_allclose(decode_array(buf), torch_buf.numpy(), **_tolerance(buf))


def test_the_lookahead_reference_is_torch_optim_sgd_nesterov_in_shifted_variables_on_the_hidden_cases():
    """At a constant rate, the reference's look-ahead points w - alpha delta_w are PyTorch's parameters, with
    alpha = momentum and PyTorch's buffer delta_w / lr (chapter 5); with a changing rate the two forms differ."""
    question = QUESTIONS["nesterov_lookahead_step"]
    assert question.reference is nesterov_lookahead_step
    compared = 0
    for check, cases in question.cases.items():
        for case, record in zip(cases, question.reference_records[check]):
            rates, alphas = ({step[name] for step in case["steps"]} for name in ("lr", "alpha"))
            if len(rates) > 1:
                continue
            (lr,), (alpha,) = rates, alphas
            w, delta_w = decode(case["state"]["w"]), decode(case["state"]["delta_w"])
            param = (w - alpha * delta_w).clone().requires_grad_()
            optimizer = torch.optim.SGD([param], lr=lr, momentum=alpha, nesterov=True)
            if delta_w.abs().max() > 0:
                optimizer.state[param]["momentum_buffer"] = delta_w / lr
            for step, result in zip(case["steps"], record["steps"]):
                param.grad = decode(step["grad_fn"])(param.detach())
                optimizer.step()
                w, delta_w = (decode(out) for out in result["out"])
                lookahead = (w - alpha * delta_w).numpy()
                np.testing.assert_allclose(lookahead, param.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=check)
            compared += 1
    assert compared >= 5


def test_hidden_cases_cover_the_first_step_weight_decay_a_changing_rate_shapes_and_float32():
    steps = [step for cases in QUESTIONS["nesterov_step"].cases.values() for case in cases for step in case["steps"]]
    assert any(step["weight_decay"] > 0 for step in steps)
    first_steps = QUESTIONS["nesterov_step"].cases["first_step_buffer_is_the_gradient"]
    assert all(case["state"]["buf"] is None for case in first_steps)
    for question, definition in QUESTIONS.items():
        rates = {step["lr"] for cases in definition.cases.values() for case in cases for step in case["steps"]}
        assert len(rates) > 1, question
        shapes = {tuple(case["state"]["w"]["shape"]) for case in definition.cases["many_steps_every_shape"]}
        assert len(shapes) >= 4, question
        outputs = [
            out
            for record in definition.reference_records["keeps_float32"]
            for step in record["steps"]
            for out in step["out"]
        ]
        assert outputs and all(out["dtype"] == "float32" for out in outputs), question
        assert any(check.pure for check in definition.checks.values()), question

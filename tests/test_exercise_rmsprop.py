"""Exercise 07_rmsprop: what the generic exercise tests cannot know. The reference's results on every hidden case
are torch.optim.RMSprop's, defaults included, and the cases exercise what the checks are named for."""

from __future__ import annotations

import numpy as np
import torch

from autograder.checks.grading import load_exercise
from autograder.checks.records import decode, decode_array
from autograder.checks.runners.rmsprop import DEFAULT

QUESTION = load_exercise("07_rmsprop")["rmsprop_step"]
TORCH_DEFAULTS = {"alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0}


def _options(step: dict) -> dict:
    """The step's alpha, eps and weight_decay as torch.optim.RMSprop takes them (absent where the case leaves
    them to the defaults)."""
    return {name: step[name] for name in TORCH_DEFAULTS if step.get(name, DEFAULT) != DEFAULT}


def test_the_reference_is_torch_optim_rmsprop_on_the_hidden_cases():
    compared = 0
    for check, cases in QUESTION.cases.items():
        for case, record in zip(cases, QUESTION.reference_records[check], strict=True):
            param = decode(case["state"]["w"]).clone().requires_grad_()
            first = case["steps"][0]
            optimizer = torch.optim.RMSprop([param], lr=first["lr"], **_options(first))
            optimizer.state[param]["step"] = torch.tensor(0.0)
            optimizer.state[param]["square_avg"] = decode(case["state"]["square_avg"]).clone()
            for step, result in zip(case["steps"], record["steps"], strict=True):
                optimizer.param_groups[0].update(lr=step["lr"], **_options(step))
                param.grad = decode(step["grad"])
                optimizer.step()
                w, square_avg = result["out"]
                assert w["dtype"] == case["state"]["w"]["dtype"], check
                # float64 tight; float32 within the grader's own float32 tolerance (torch fuses some products)
                rtol, atol = (1e-12, 1e-30) if w["dtype"] == "float64" else (1e-5, 1e-6)
                np.testing.assert_allclose(decode_array(w), param.detach().numpy(), rtol=rtol, atol=atol)
                np.testing.assert_allclose(
                    decode_array(square_avg), optimizer.state[param]["square_avg"].numpy(), rtol=rtol, atol=atol
                )
                compared += 1
    assert compared > 400  # every step of every case


def test_the_cases_separate_eps_inside_and_outside_the_root():
    for case in QUESTION.cases["eps_outside_the_square_root"][:3]:
        step = case["steps"][0]
        grad, eps, alpha = decode(step["grad"]), step["eps"], step["alpha"]
        square_avg = (1 - alpha) * grad**2
        outside, inside = grad / (square_avg.sqrt() + eps), grad / (square_avg + eps).sqrt()
        assert ((outside - inside).abs() > 1e-3 * inside.abs()).all()


def test_the_defaults_check_leaves_every_option_to_the_function():
    for case in QUESTION.cases["pytorch_defaults"]:
        assert all(step[name] == DEFAULT for step in case["steps"] for name in TORCH_DEFAULTS)
    float32 = [c for c in QUESTION.cases["keeps_float32_and_inputs_unchanged"] if c["state"]["w"]["dtype"] == "float32"]
    assert len(float32) >= 3 and QUESTION.checks["keeps_float32_and_inputs_unchanged"].pure

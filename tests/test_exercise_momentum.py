"""The 04_momentum hidden checks: seeded cases, the reference passes, every cataloged mistake is caught and named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fixtures.grading import sgd_through_optimlab, sgd_through_torch_optim

from autograder.checks.cases import learning_rates
from autograder.checks.grading import assert_check, evaluate, load_exercise, static_delegation
from autograder.checks.records import decode, decode_array, encode

EXERCISE = "04_momentum"
QUESTIONS = load_exercise(EXERCISE)
MISTAKES = [(q, m) for q, definition in QUESTIONS.items() for m in definition.mistakes]


@pytest.mark.parametrize("question, check", [(q, c) for q, d in QUESTIONS.items() for c in d.checks])
def test_the_reference_passes_every_check(question, check):
    assert_check(EXERCISE, question, check, QUESTIONS[question].reference)


def test_the_sgd_reference_is_torch_optim_sgd_on_the_hidden_cases():
    question = QUESTIONS["sgd_momentum_step"]
    for check, cases in question.cases.items():
        for case, record in zip(cases, question.reference_records[check]):
            param = decode(case["state"]["w"]).clone().requires_grad_()
            first = case["steps"][0]
            optimizer = torch.optim.SGD([param], lr=first["lr"], momentum=first["momentum"],
                                        dampening=first["dampening"], weight_decay=first["weight_decay"])
            if case["state"]["buf"] is not None:
                optimizer.state[param]["momentum_buffer"] = decode(case["state"]["buf"]).clone()
            for step, result in zip(case["steps"], record["steps"]):
                optimizer.param_groups[0]["lr"] = step["lr"]
                param.grad = decode(step["grad"])
                optimizer.step()
                np.testing.assert_allclose(decode_array(result["out"][0]), param.detach().numpy(), rtol=1e-12)
                np.testing.assert_allclose(decode_array(result["out"][1]),
                                           optimizer.state[param]["momentum_buffer"].numpy(), rtol=1e-12)


def test_cases_are_seeded_and_cover_many_steps_shapes_and_a_changing_learning_rate():
    for definition in QUESTIONS.values():
        for name, check in definition.checks.items():
            assert json.dumps(check.cases()) == json.dumps(check.cases()), name
    trajectory = QUESTIONS["sgd_momentum_step"].cases["everything_at_once"]
    assert len(trajectory) == 4 and all(len(case["steps"]) == 50 for case in trajectory)
    assert {tuple(case["state"]["w"]["shape"]) for case in trajectory} == {(), (5,), (3, 4), (2, 3, 2)}
    assert len({step["lr"] for step in trajectory[0]["steps"]}) > 1


@pytest.mark.parametrize("question", QUESTIONS)
def test_each_update_rule_catalogs_at_least_four_mistakes(question):
    names = [m.name for m in QUESTIONS[question].mistakes]
    assert len(names) >= 4 and len(set(names)) == len(names)


@pytest.mark.parametrize("question, mistake", MISTAKES, ids=[f"{q}-{m.name}" for q, m in MISTAKES])
def test_each_mistake_fails_a_check_and_every_failure_names_it(question, mistake):
    definition = QUESTIONS[question]
    records = definition.records_of(mistake.step)
    failed = [evaluate(definition, check, records[check]) for check in definition.checks]
    failed = [result for result in failed if not result.passed]
    assert failed, f"{mistake.name} passes every check of {question}"
    for result in failed:
        assert mistake.hint in result.finding.hint, (result.finding.check, result.finding.hint)


def test_an_uncataloged_mistake_gets_the_first_failing_case_in_small_form():
    def halves_the_step(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad
        return w - delta_w / 2, delta_w

    with pytest.raises(AssertionError) as failure:
        assert_check(EXERCISE, "momentum_step_lecture", "matches_reference_constant_lr", halves_the_step)
    message = str(failure.value)
    assert message.startswith("`w` differs from the reference; compare your update with the formulas in the prompt.")
    assert "First failing case: step 1 of 50, called with w=" in message and "lr=0.05, alpha=0.9" in message
    assert "Expected w=" in message and "; got w=" in message


@pytest.mark.parametrize("fn, library", [(sgd_through_torch_optim, "torch.optim"), (sgd_through_optimlab, "optimlab")])
def test_a_delegating_solution_fails_in_the_kernel_with_a_message_saying_so(fn, library):
    fn.__name__ = "sgd_momentum_step"
    with pytest.raises(AssertionError, match=f"calls {library}.* implement the update rule yourself"):
        assert_check(EXERCISE, "sgd_momentum_step", "first_step_rule", fn)


@pytest.mark.parametrize("source, aliases, found", [
    ("def f(w):\n    return torch.optim.SGD([w], lr=0.1)", {"torch": "torch"}, ["torch.optim"]),
    ("def f(w):\n    return SGD([w], lr=0.1)", {"SGD": "torch.optim.SGD"}, ["torch.optim"]),
    ("def f(w):\n    from torch import optim\n    return optim.SGD([w])", {}, ["torch.optim"]),
    ("def f(w):\n    import optimlab.optimizers as o\n    return o.sgd_momentum_step(w)", {}, ["optimlab"]),
    ("def f(w):\n    return torch.clamp(w * 2, min=0)", {"torch": "torch"}, []),
    ("def g(w):\n    return torch.optim.SGD\ndef f(w):\n    return w", {"torch": "torch"}, []),
])
def test_static_delegation_finds_optimizer_libraries_only_in_the_graded_function(source, aliases, found):
    assert static_delegation(source, "f", aliases) == found


def test_records_carry_tensors_as_plain_data():
    for tensor in [torch.tensor(1.5, dtype=torch.float64), torch.arange(6.0).reshape(2, 3), torch.ones(2, dtype=torch.bfloat16)]:
        data = json.loads(json.dumps(encode(tensor)))
        back = decode(data)
        assert back.shape == tensor.shape and torch.equal(back, tensor.to(back.dtype))
    with pytest.raises(ValueError, match="not an encoded array"):
        decode_array({"dtype": "object", "shape": [1], "data": ""})


def test_learning_rates_reject_unknown_schedules():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'cosine'"):
        learning_rates(3, "cosine")

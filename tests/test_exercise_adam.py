"""The 08_adam hidden checks: the references are torch.optim.Adam on the hidden cases, the notebook's solutions pass,
the training runner's round trip is what the round-trip mistake fails, and delegation is told from subclassing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.answers import solution_code
from autograder.checks.grading import evaluate, load_exercise
from autograder.checks.records import decode, decode_array
from optimlab.optimizers.adam import Adam as OptimlabAdam

EXERCISE = "08_adam"
QUESTIONS = load_exercise(EXERCISE)


def _solution(question: str):
    """The notebook's reference answer, defined as a student's cell would define it."""
    namespace = {"torch": torch}
    exec(solution_code(EXERCISE, question), namespace)
    return namespace[question]


def test_the_adam_step_reference_is_torch_optim_adam_on_the_hidden_cases():
    question = QUESTIONS["adam_step"]
    for check, cases in question.cases.items():
        for case, record in zip(cases, question.reference_records[check]):
            param = decode(case["state"]["w"]).clone().requires_grad_()
            first = case["steps"][0]
            optimizer = torch.optim.Adam(
                [param],
                lr=first["lr"],
                betas=tuple(first["betas"]),
                eps=first["eps"],
                weight_decay=first["weight_decay"],
            )
            if first["t"] > 1:  # a probe that starts from moments of earlier steps
                optimizer.state[param].update(
                    step=torch.tensor(float(first["t"] - 1)),
                    exp_avg=decode(case["state"]["m"]).clone(),
                    exp_avg_sq=decode(case["state"]["v"]).clone(),
                )
            for step, result in zip(case["steps"], record["steps"]):
                optimizer.param_groups[0]["lr"] = step["lr"]
                param.grad = decode(step["grad"])
                optimizer.step()
                w, m, v = (decode_array(out) for out in result["out"])
                rtol, atol = (1e-5, 1e-6) if w.dtype == np.float32 else (1e-12, 1e-15)
                np.testing.assert_allclose(w, param.detach().numpy(), rtol=rtol, atol=atol, err_msg=check)
                np.testing.assert_allclose(m, optimizer.state[param]["exp_avg"].numpy(), rtol=rtol, atol=atol)
                np.testing.assert_allclose(v, optimizer.state[param]["exp_avg_sq"].numpy(), rtol=rtol, atol=atol)


def test_the_class_reference_records_are_optimlabs_adam_too():
    """torch.optim.Adam (the reference) and optimlab's tested twin record the same training runs, round trips
    included: the runner measures Adam, not an accident of one implementation."""
    question = QUESTIONS["AdamFromScratch"]
    for check, records in question.records_of(OptimlabAdam).items():
        assert evaluate(question, check, records).passed, check


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_the_notebook_s_solution_passes_every_hidden_check_without_delegating(question):
    definition = QUESTIONS[question]
    records = definition.records_of(_solution(question))
    for check, check_records in records.items():
        assert evaluate(definition, check, check_records).passed, check
        assert all(not record["delegated"] for record in check_records), check


def test_the_round_trip_mistake_fails_exactly_the_checks_with_a_round_trip():
    question = QUESTIONS["AdamFromScratch"]
    mistake = next(m for m in question.mistakes if m.name == "state_not_in_self_state")
    with_round_trip = {
        check for check, cases in question.cases.items() if any(case["state"]["round_trip_at"] for case in cases)
    }
    failed = {
        check
        for check in question.checks
        if not evaluate(question, check, question.mistake_records(mistake, check)).passed
    }
    assert failed == with_round_trip and with_round_trip


def test_an_optimizer_that_steps_with_torch_optim_adam_is_seen_delegating():
    class Delegating(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
            super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
            self.inner = torch.optim.Adam(self.param_groups)

        def step(self, closure=None):
            return self.inner.step(closure)

    question = QUESTIONS["AdamFromScratch"]
    record = question.run(Delegating, question.cases["first_steps"][0])
    assert "torch.optim" in record["delegated"]


def test_every_question_catalogs_at_least_five_mistakes_with_the_chapter_s_errata():
    for definition in QUESTIONS.values():
        names = {m.name for m in definition.mistakes}
        assert len(names) >= 5
        assert {"no_bias_correction", "betas_swapped", "eps_inside_sqrt", "decoupled_weight_decay"} <= names
        assert {"t_counted_from_zero", "bias_correction_m_only"} <= names

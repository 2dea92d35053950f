"""The 04_momentum hidden checks: seeded cases, the reference passes, every cataloged mistake is caught and named.

Also the hidden-test cells `python -m autograder build` writes from the checks.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
import torch
from fixtures.grading import sgd_through_optimlab, sgd_through_torch_optim
from notebook_fill import REFERENCE, SOURCE, as_answer

from autograder.build import with_hidden_tests
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
            optimizer = torch.optim.SGD(
                [param],
                lr=first["lr"],
                momentum=first["momentum"],
                dampening=first["dampening"],
                weight_decay=first["weight_decay"],
            )
            if case["state"]["buf"] is not None:
                optimizer.state[param]["momentum_buffer"] = decode(case["state"]["buf"]).clone()
            for step, result in zip(case["steps"], record["steps"]):
                optimizer.param_groups[0]["lr"] = step["lr"]
                param.grad = decode(step["grad"])
                optimizer.step()
                w, buf = result["out"]
                assert w["dtype"] == case["state"]["w"]["dtype"], check
                np.testing.assert_allclose(decode_array(w), param.detach().numpy(), rtol=1e-12)
                torch_buf = optimizer.state[param].get("momentum_buffer")
                if torch_buf is None:  # momentum 0: torch.optim.SGD keeps no buffer
                    assert buf is None, check
                else:
                    np.testing.assert_allclose(decode_array(buf), torch_buf.numpy(), rtol=1e-12)


def test_hidden_cases_cover_momentum_0_with_dampening_dampening_1_and_float32():
    sgd_steps = [
        step for cases in QUESTIONS["sgd_momentum_step"].cases.values() for case in cases for step in case["steps"]
    ]
    assert any(step["momentum"] == 0 and step["dampening"] > 0 for step in sgd_steps)
    assert any(step["dampening"] == 1 for step in sgd_steps)
    for question, definition in QUESTIONS.items():
        inputs = [value for case in definition.cases["keeps_float32"] for value in case["state"].values() if value]
        assert inputs and all(value["dtype"] == "float32" for value in inputs), question
        outputs = [
            out
            for record in definition.reference_records["keeps_float32"]
            for step in record["steps"]
            for out in step["out"]
        ]
        assert outputs and all(out is None or out["dtype"] == "float32" for out in outputs), question


def test_an_output_of_another_dtype_fails_with_a_hint_naming_both_dtypes():
    def computes_in_float64(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        w, grad = w.double(), grad.double() + weight_decay * w.double()
        if momentum != 0:
            buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
            grad = buf
        return w - lr * grad, buf

    assert_check(EXERCISE, "sgd_momentum_step", "everything_at_once", computes_in_float64)  # float64 cases pass
    with pytest.raises(AssertionError, match="`w` comes back as float64 for float32 inputs: keep the inputs' dtype"):
        assert_check(EXERCISE, "sgd_momentum_step", "keeps_float32", computes_in_float64)


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


def test_the_rescale_catalog_names_the_sign_the_inverse_ratio_and_the_in_place_mistakes():
    names = {m.name for m in QUESTIONS["rescale_velocity"].mistakes}
    assert {"sign_error", "inverse_ratio", "modifies_delta_w_in_place"} <= names


@pytest.mark.parametrize("question, mistake", MISTAKES, ids=[f"{q}-{m.name}" for q, m in MISTAKES])
def test_each_mistake_fails_a_check_and_every_failure_names_it(question, mistake):
    definition = QUESTIONS[question]
    records = definition.records_of(mistake.step)
    failed = [evaluate(definition, check, records[check]) for check in definition.checks]
    failed = [result for result in failed if not result.passed]
    assert failed, f"{mistake.name} passes every check of {question}"
    for result in failed:
        assert mistake.hint in result.finding.hint, (result.finding.check, result.finding.hint)


def run_answers(answers: dict[str, str]) -> dict:
    """The answer cells run in one namespace, as a notebook's kernel runs them; returns that namespace."""
    kernel = {}
    for code in answers.values():
        exec(compile(code, "<answer cell>", "exec"), kernel)
    return kernel


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_notebook_s_solution_passes_every_hidden_check(question):
    solution = run_answers({question: REFERENCE[question]})[question]
    for check in QUESTIONS[question].checks:
        assert_check(EXERCISE, question, check, solution)


RESCALE_MISTAKES = list(QUESTIONS["rescale_velocity"].mistakes)


@pytest.mark.parametrize("mistake", RESCALE_MISTAKES, ids=[m.name for m in RESCALE_MISTAKES])
def test_a_rescale_mistake_in_a_filled_notebook_loses_points_on_its_own_question_only(mistake):
    kernel = run_answers({**REFERENCE, "rescale_velocity": as_answer(mistake.step, "rescale_velocity")})
    failures = {}
    for question, definition in QUESTIONS.items():
        for check in definition.checks:
            try:
                assert_check(EXERCISE, question, check, kernel[question])
            except AssertionError as failure:
                failures[question, check] = str(failure)
    assert failures, f"{mistake.name} passes every check"
    assert {question for question, _ in failures} == {"rescale_velocity"}, list(failures)
    for (_, check), message in failures.items():
        assert mistake.hint in message, (check, message)


def test_a_lone_return_value_must_be_the_tensor_itself():
    def returns_a_tuple(delta_w, old_lr, new_lr):
        return (delta_w * new_lr / old_lr,)

    with pytest.raises(AssertionError, match="rescale_velocity returned tuple for `delta_w`; it must be a tensor"):
        assert_check(EXERCISE, "rescale_velocity", "matches_reference", returns_a_tuple)


def test_the_hidden_test_cells_are_written_from_the_checks_after_each_question_s_public_tests():
    cells = with_hidden_tests(nbformat.read(SOURCE, as_version=4).cells, EXERCISE)
    tests_by_question, question = {}, None
    for cell in cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            question = cell.source.split("name:")[1].split()[0]
        elif cell.cell_type == "code" and cell.source.lstrip().startswith('""" # BEGIN TEST CONFIG'):
            name = cell.source.split("def test_")[1].split("(")[0]
            tests_by_question.setdefault(question, []).append((name, "hidden: true" in cell.source))
    for question, definition in QUESTIONS.items():
        hidden = [name for name, is_hidden in tests_by_question[question] if is_hidden]
        assert hidden == list(definition.checks), question
        assert not tests_by_question[question][0][1], f"{question}: its public test comes first"


def test_a_hand_typed_hidden_test_or_a_question_without_checks_stops_the_build():
    cells = nbformat.read(SOURCE, as_version=4).cells
    typed = with_hidden_tests(cells, EXERCISE)
    with pytest.raises(ValueError, match="hidden tests are written from autograder/checks, not in the notebook"):
        with_hidden_tests(typed, EXERCISE)
    renamed = [
        nbformat.v4.new_raw_cell(c.source.replace("name: rescale_velocity", "name: rescale"))
        if c.cell_type == "raw"
        else c
        for c in cells
    ]
    with pytest.raises(ValueError, match="question 'rescale' has no hidden checks"):
        with_hidden_tests(renamed, EXERCISE)
    without = [c for c in cells if not (c.cell_type == "raw" and "name: rescale_velocity" in c.source)]
    with pytest.raises(ValueError, match="no question for the checks of rescale_velocity"):
        with_hidden_tests(without, EXERCISE)


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
    with pytest.raises(AssertionError, match=f"calls {library}.* implement the update rule yourself"):
        assert_check(EXERCISE, "sgd_momentum_step", "first_step_rule", fn)


@pytest.mark.parametrize(
    "source, aliases, found",
    [
        ("def f(w):\n    return torch.optim.SGD([w], lr=0.1)", {"torch": "torch"}, ["torch.optim"]),
        ("def f(w):\n    return SGD([w], lr=0.1)", {"SGD": "torch.optim.SGD"}, ["torch.optim"]),
        ("def f(w):\n    from torch import optim\n    return optim.SGD([w])", {}, ["torch.optim"]),
        ("def f(w):\n    import optimlab.optimizers as o\n    return o.sgd_momentum_step(w)", {}, ["optimlab"]),
        ("def f(w):\n    return torch.clamp(w * 2, min=0)", {"torch": "torch"}, []),
        ("def g(w):\n    return torch.optim.SGD\ndef f(w):\n    return w", {"torch": "torch"}, []),
    ],
)
def test_static_delegation_finds_optimizer_libraries_only_in_the_graded_function(source, aliases, found):
    assert static_delegation(source, "f", aliases) == found


def test_records_carry_tensors_as_plain_data():
    for tensor in [
        torch.tensor(1.5, dtype=torch.float64),
        torch.arange(6.0).reshape(2, 3),
        torch.ones(2, dtype=torch.bfloat16),
    ]:
        data = json.loads(json.dumps(encode(tensor)))
        back = decode(data)
        assert back.shape == tensor.shape and torch.equal(back, tensor.to(back.dtype))
    with pytest.raises(ValueError, match="not an encoded array"):
        decode_array({"dtype": "object", "shape": [1], "data": ""})


def test_learning_rates_reject_unknown_schedules():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'cosine'"):
        learning_rates(3, "cosine")

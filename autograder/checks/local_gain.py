"""Hidden checks for exercise 06_local_gain: cases, reference and the catalog of common mistakes.

Each check is one hidden test of the notebook (`test_<check>`): `python -m autograder build` writes those test
cells from `QUESTIONS`. The reference is `optimlab`'s `local_gain_step`; local gains have no PyTorch twin, and
optimlab's own tests pin it to a hand-worked example and to its defining properties.

The step does not return the previous gradient, so a case cannot thread it: every step hands `prev_grad` in
explicitly (zeros on the first step, then the previous step's `grad`), and the runner threads only `w` and
`gain`.
"""

from __future__ import annotations

import torch

from optimlab.optimizers.local_gain import local_gain_step

from .cases import DTYPE, SHAPES, case, learning_rates, normal
from .grading import Check, Mistake, Question, modified_hint
from .records import Signature

STEPS = 40
FLOAT32_STEPS = 20


def _trajectory_steps(grads: list[torch.Tensor], lrs: list[float], beta: float) -> list[dict]:
    """One step per gradient, each handed the previous step's gradient (zeros on the first)."""
    previous = [torch.zeros_like(grads[0]), *grads[:-1]]
    return [
        {"grad": grad, "prev_grad": prev_grad, "lr": lr, "beta": beta}
        for grad, prev_grad, lr in zip(grads, previous, lrs, strict=True)
    ]


def _trajectories(beta: float, schedule: str, seed: int, dtype: torch.dtype = DTYPE, length: int = STEPS) -> list:
    """On every shape, `length` steps from gain 1 with random gradients: about half the products flip sign."""
    cases = []
    for index, shape in enumerate(SHAPES):
        w, *grads = normal(shape, length + 1, seed=seed + index, dtype=dtype)
        steps = _trajectory_steps(grads, learning_rates(length, schedule), beta)
        cases.append(case({"w": w, "gain": torch.ones_like(w)}, steps))
    return cases


def _agreeing_trajectories(seed: int) -> list:
    """Gradients that keep their sign for several steps, then flip (a weight that overshoots now and then)."""
    cases = []
    for index, shape in enumerate(SHAPES[1:]):
        w, base = normal(shape, 2, seed=seed + index)
        magnitudes = [g.abs() + 0.1 for g in normal(shape, STEPS, seed=seed + 10 + index)]
        signs = [base.sign() * (1 if (t // 6) % 2 == 0 else -1) for t in range(STEPS)]  # flips every 6 steps
        grads = [sign * magnitude for sign, magnitude in zip(signs, magnitudes, strict=True)]
        cases.append(case({"w": w, "gain": torch.ones_like(w)}, _trajectory_steps(grads, [0.05] * STEPS, 0.2)))
    return cases


def _zero_cases() -> list:
    """Exact zeros: the first step (no previous gradient), gradients that are 0 on some coordinates, and a
    previous gradient that is 0 where the current one is not. A zero product leaves the gain unchanged."""
    w = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=DTYPE)
    gain = torch.tensor([1.5, 0.7, 2.0, 1.0], dtype=DTYPE)
    single = [
        {"grad": torch.tensor([0.5, -1.0, 2.0, -0.3], dtype=DTYPE), "prev_grad": torch.zeros(4, dtype=DTYPE)},
        {
            "grad": torch.tensor([0.0, -1.0, 0.0, 0.4], dtype=DTYPE),
            "prev_grad": torch.tensor([1.0, -2.0, -1.0, 0.0], dtype=DTYPE),
        },
        {"grad": torch.zeros(4, dtype=DTYPE), "prev_grad": torch.tensor([1.0, -2.0, 3.0, -4.0], dtype=DTYPE)},
    ]
    cases = [case({"w": w, "gain": gain}, [{**step, "lr": 0.1, "beta": 0.2}]) for step in single]
    grads = [torch.tensor(values, dtype=DTYPE) for values in ([1.0, 0.0, -1.0], [2.0, 0.0, 0.0], [-1.0, 3.0, 0.0])]
    grads += [torch.tensor([0.0, 1.0, 2.0], dtype=DTYPE), torch.tensor([0.0, -1.0, 2.0], dtype=DTYPE)]
    cases.append(
        case(
            {"w": torch.ones(3, dtype=DTYPE), "gain": torch.ones(3, dtype=DTYPE)},
            _trajectory_steps(grads, [0.1] * 5, 0.3),
        )
    )
    return cases


def _single_steps() -> list:
    """One step from various gains: agreement, flips, a gain far from 1, beta = 0 (gains never change), a large
    beta, and a scalar."""
    w, grad, prev_grad, gain = normal((6,), 4, seed=200)
    gain = gain.abs() * 3 + 0.1
    cases = [
        case({"w": w, "gain": gain}, [{"grad": grad, "prev_grad": prev_grad, "lr": lr, "beta": beta}])
        for lr, beta in [(0.1, 0.05), (0.01, 0.0), (0.5, 0.9), (1e-3, 0.5)]
    ]
    scalar = torch.tensor(0.3, dtype=DTYPE)
    cases.append(
        case(
            {"w": scalar, "gain": torch.tensor(2.0, dtype=DTYPE)},
            [
                {
                    "grad": torch.tensor(-1.5, dtype=DTYPE),
                    "prev_grad": torch.tensor(0.5, dtype=DTYPE),
                    "lr": 0.1,
                    "beta": 0.1,
                }
            ],
        )
    )
    return cases


def _float32_and_probes() -> list:
    """float32 trajectories (the dtype must be kept), and small probes whose inputs must come back unchanged."""
    cases = _trajectories(0.1, "changing", seed=90, dtype=torch.float32, length=FLOAT32_STEPS)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=DTYPE)
    grad = torch.tensor([0.5, 1.0, -1.5], dtype=DTYPE)
    prev_grad = torch.tensor([0.2, -0.1, -0.3], dtype=DTYPE)
    gain = torch.tensor([1.0, 2.0, 0.5], dtype=DTYPE)
    cases.append(case({"w": w, "gain": gain}, [{"grad": grad, "prev_grad": prev_grad, "lr": 0.1, "beta": 0.1}]))
    return cases


def _mistakes() -> tuple[Mistake, ...]:
    def multiplicative_increase(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        gain = torch.where(agreement > 0, gain * (1 + beta), gain)
        gain = torch.where(agreement < 0, gain * (1 - beta), gain)
        return w - lr * gain * grad, gain

    def additive_decrease(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        gain = torch.where(agreement > 0, gain + beta, gain)
        gain = torch.where(agreement < 0, gain - beta, gain)
        return w - lr * gain * grad, gain

    def reset_on_flip(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        gain = torch.where(agreement > 0, gain + beta, gain)
        gain = torch.where(agreement < 0, torch.ones_like(gain), gain)
        return w - lr * gain * grad, gain

    def zero_counted_as_flip(w, grad, prev_grad, gain, lr, beta):
        gain = torch.where(grad * prev_grad > 0, gain + beta, gain * (1 - beta))
        return w - lr * gain * grad, gain

    def zero_counted_as_agreement(w, grad, prev_grad, gain, lr, beta):
        gain = torch.where(grad * prev_grad >= 0, gain + beta, gain * (1 - beta))
        return w - lr * gain * grad, gain

    def increase_and_decrease_swapped(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        gain = torch.where(agreement < 0, gain + beta, gain)
        gain = torch.where(agreement > 0, gain * (1 - beta), gain)
        return w - lr * gain * grad, gain

    def update_with_prev_grad(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        gain = torch.where(agreement > 0, gain + beta, gain)
        gain = torch.where(agreement < 0, gain * (1 - beta), gain)
        return w - lr * gain * prev_grad, gain

    def step_with_old_gain(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        new_gain = torch.where(agreement > 0, gain + beta, gain)
        new_gain = torch.where(agreement < 0, new_gain * (1 - beta), new_gain)
        return w - lr * gain * grad, new_gain

    def gain_not_returned(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        new_gain = torch.where(agreement > 0, gain + beta, gain)
        new_gain = torch.where(agreement < 0, new_gain * (1 - beta), new_gain)
        return w - lr * new_gain * grad, gain

    def sign_error(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        gain = torch.where(agreement > 0, gain + beta, gain)
        gain = torch.where(agreement < 0, gain * (1 - beta), gain)
        return w + lr * gain * grad, gain

    def modifies_gain_in_place(w, grad, prev_grad, gain, lr, beta):
        agreement = grad * prev_grad
        gain[agreement > 0] += beta
        gain[agreement < 0] *= 1 - beta
        return w - lr * gain * grad, gain

    def gain_averaged_over_tensor(w, grad, prev_grad, gain, lr, beta):
        agreement = (grad * prev_grad).sum()
        if agreement > 0:
            gain = gain + beta
        elif agreement < 0:
            gain = gain * (1 - beta)
        return w - lr * gain * grad, gain

    def computes_in_float64(w, grad, prev_grad, gain, lr, beta):
        w, grad, prev_grad, gain = w.double(), grad.double(), prev_grad.double(), gain.double()
        agreement = grad * prev_grad
        gain = torch.where(agreement > 0, gain + beta, gain)
        gain = torch.where(agreement < 0, gain * (1 - beta), gain)
        return w - lr * gain * grad, gain

    return (
        Mistake(
            "multiplicative_increase",
            "when the signs agree the gain grows by adding beta (gain + beta), not by multiplying it by 1 + beta: "
            "additive increase, multiplicative decrease.",
            multiplicative_increase,
        ),
        Mistake(
            "additive_decrease",
            "when the sign flips the gain is multiplied by (1 - beta), not reduced by beta: subtracting can make "
            "the gain zero or negative, and a negative gain climbs the gradient.",
            additive_decrease,
        ),
        Mistake(
            "reset_on_flip",
            "a sign flip shrinks the gain by the factor (1 - beta); it does not reset it to 1.",
            reset_on_flip,
        ),
        Mistake(
            "zero_counted_as_flip",
            "where grad * prev_grad is exactly 0 (the first step, or a zero gradient) the gain must stay as it "
            "is; you shrank it as if the sign had flipped. Test > 0 and < 0 separately.",
            zero_counted_as_flip,
        ),
        Mistake(
            "zero_counted_as_agreement",
            "where grad * prev_grad is exactly 0 (the first step, or a zero gradient) the gain must stay as it "
            "is; you grew it as if the signs agreed. Test > 0 and < 0 separately.",
            zero_counted_as_agreement,
        ),
        Mistake(
            "increase_and_decrease_swapped",
            "the gain grows when the signs agree (grad * prev_grad > 0) and shrinks when they flip; yours does "
            "the opposite.",
            increase_and_decrease_swapped,
        ),
        Mistake(
            "update_with_prev_grad",
            "the weights move along the current gradient: w = w - lr * gain * grad (prev_grad only decides how "
            "the gain changes).",
            update_with_prev_grad,
        ),
        Mistake(
            "step_with_old_gain",
            "update the gain first, then step with the new gain: w = w - lr * new_gain * grad.",
            step_with_old_gain,
        ),
        Mistake(
            "gain_not_returned",
            "return the new gain: the gain you return must be the updated one (the next step starts from it).",
            gain_not_returned,
        ),
        Mistake("sign_error", "the weights move against the gradient: w = w - lr * gain * grad.", sign_error),
        Mistake("modifies_gain_in_place", modified_hint("gain"), modifies_gain_in_place),
        Mistake(
            "gain_averaged_over_tensor",
            "every weight has its own gain: compare grad and prev_grad element by element (torch.where), not "
            "summed over the tensor.",
            gain_averaged_over_tensor,
        ),
        Mistake(
            "computes_in_float64",
            "your results come back as float64 for float32 inputs: keep the inputs' dtype (no .double()).",
            computes_in_float64,
        ),
    )


QUESTIONS = {
    "local_gain_step": Question(
        signature=Signature("local_gain_step", ("w", "grad", "prev_grad", "gain", "lr", "beta"), ("w", "gain")),
        reference=local_gain_step,
        checks={
            "signs_agree_and_flip_over_many_steps": Check(lambda: _trajectories(0.1, "changing", seed=0)),
            "gains_that_ramp_then_shrink": Check(lambda: _agreeing_trajectories(seed=40)),
            "zero_products_leave_the_gain": Check(_zero_cases),
            "single_steps_from_any_gain": Check(_single_steps),
            "keeps_float32_and_inputs_unchanged": Check(_float32_and_probes, pure=True),
        },
        mistakes=_mistakes(),
        label="sec-local-gain-rule",
    ),
}

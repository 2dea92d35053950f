"""Hidden checks for exercise 07_rmsprop: cases, reference and the catalog of common mistakes.

Each check is one hidden test of the notebook (`test_<check>`): `python -m autograder build` writes those test
cells from `QUESTIONS`. The reference is `optimlab`'s `rmsprop_step`, which optimlab's tests hold equal to
`torch.optim.RMSprop` (and tests/test_exercise_rmsprop.py does so on exactly these cases). Cases run through
the "steps_with_defaults" runner (`runners/rmsprop.py`): a case that gives `alpha`, `eps` and `weight_decay` as
"default" calls the student's function without them, so its defaults, which must be PyTorch's, decide them.
"""

from __future__ import annotations

import torch

from optimlab.optimizers.rmsprop import rmsprop_step

from .cases import DTYPE, SHAPES, case, learning_rates, normal
from .grading import Check, Mistake, Question, modified_hint
from .records import Signature
from .runners.rmsprop import DEFAULT

STEPS = 40
FLOAT32_STEPS = 20
# Gradient scales from tiny to large: RMSProp's step must not depend on them (above eps).
SCALES = (1e-3, 1.0, 1e3)


def _trajectories(options: dict, seed: int, dtype: torch.dtype = DTYPE, length: int = STEPS) -> list[dict]:
    """On every shape, `length` steps from square_avg = 0 with a changing learning rate; `options` are passed
    on every step (`DEFAULT` for a name leaves it to the function's default)."""
    cases = []
    for index, shape in enumerate(SHAPES):
        scale = SCALES[index % len(SCALES)]
        w, *grads = normal(shape, length + 1, seed=seed + index, dtype=dtype)
        steps = [{"grad": scale * g, "lr": lr, **options} for g, lr in zip(grads, learning_rates(length, "changing"))]
        cases.append(case({"w": w, "square_avg": torch.zeros_like(w)}, steps))
    return cases


def _first_steps() -> list[dict]:
    """One step from square_avg = 0, for several decays and gradient scales: the step is lr / sqrt(1 - alpha)
    in size (for gradients well above eps), whatever the scale."""
    cases = []
    for index, (alpha, scale) in enumerate([(0.99, 1.0), (0.9, 1e-3), (0.5, 1e3), (0.0, 2.0)]):
        w, grad = normal((5,), 2, seed=300 + index)
        step = {"grad": scale * grad, "lr": 0.01, "alpha": alpha, "eps": 1e-8, "weight_decay": 0.0}
        cases.append(case({"w": w, "square_avg": torch.zeros_like(w)}, [step]))
    return cases


def _eps_cases() -> list[dict]:
    """A large eps against small gradients, where g / (sqrt(v) + eps) and g / sqrt(v + eps) differ by far, and
    exact zero gradients (the step must be 0, not nan)."""
    cases = []
    for index, eps in enumerate([0.1, 1e-2, 1e-4]):
        w, *grads = normal((4,), 6, seed=400 + index)
        steps = [{"grad": 1e-2 * g, "lr": 0.1, "alpha": 0.9, "eps": eps, "weight_decay": 0.0} for g in grads]
        cases.append(case({"w": w, "square_avg": torch.zeros_like(w)}, steps))
    zero = torch.zeros(3, dtype=DTYPE)
    w = torch.tensor([1.0, -1.0, 2.0], dtype=DTYPE)
    steps = [{"grad": zero, "lr": 0.1, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0}] * 2
    cases.append(case({"w": w, "square_avg": zero}, steps))
    return cases


def _float32_and_probes() -> list[dict]:
    """float32 trajectories (the dtype must be kept), and probes whose inputs must come back unchanged."""
    options = {"alpha": 0.95, "eps": 1e-6, "weight_decay": 0.01}
    cases = _trajectories(options, seed=90, dtype=torch.float32, length=FLOAT32_STEPS)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=DTYPE)
    grad = torch.tensor([0.5, 1.0, -1.5], dtype=DTYPE)
    square_avg = torch.tensor([0.2, 0.1, 0.3], dtype=DTYPE)
    step = {"grad": grad, "lr": 0.1, "alpha": 0.9, "eps": 1e-8, "weight_decay": 0.1}
    cases.append(case({"w": w, "square_avg": square_avg}, [step, step]))
    return cases


def _mistakes() -> tuple[Mistake, ...]:
    def eps_inside_sqrt(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        return w - lr * grad / (square_avg + eps).sqrt(), square_avg

    def alpha_and_one_minus_alpha_swapped(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg = (1 - alpha) * square_avg + alpha * grad**2
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def sqrt_missing(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        return w - lr * grad / (square_avg + eps), square_avg

    def forgot_to_square(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * grad.abs()
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def weight_decay_after_the_average(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        grad = grad + weight_decay * w
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def weight_decay_decoupled(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        return w - lr * weight_decay * w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def weight_decay_missing(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def step_with_old_average(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        return w - lr * grad / (square_avg.sqrt() + eps), alpha * square_avg + (1 - alpha) * grad**2

    def average_not_returned(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        new_average = alpha * square_avg + (1 - alpha) * grad**2
        return w - lr * grad / (new_average.sqrt() + eps), square_avg

    def default_alpha_wrong(w, grad, square_avg, lr, alpha=0.9, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def sign_error(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        return w + lr * grad / (square_avg.sqrt() + eps), square_avg

    def modifies_square_avg_in_place(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def average_over_the_tensor(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        grad = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * (grad**2).mean()
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    def computes_in_float64(w, grad, square_avg, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
        w, grad, square_avg = w.double(), grad.double(), square_avg.double()
        grad = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * grad**2
        return w - lr * grad / (square_avg.sqrt() + eps), square_avg

    return (
        Mistake(
            "eps_inside_sqrt",
            "PyTorch adds eps outside the square root: divide by (sqrt(square_avg) + eps), not sqrt(square_avg + eps).",
            eps_inside_sqrt,
            label="sec-rmsprop-pytorch",
        ),
        Mistake(
            "alpha_and_one_minus_alpha_swapped",
            "alpha weights the old average and (1 - alpha) the new squared gradient: "
            "square_avg = alpha * square_avg + (1 - alpha) * grad**2.",
            alpha_and_one_minus_alpha_swapped,
        ),
        Mistake(
            "sqrt_missing",
            "divide by the root of the average, sqrt(square_avg) + eps: the average holds squared gradients.",
            sqrt_missing,
        ),
        Mistake(
            "forgot_to_square",
            "the moving average is of the squared gradient: (1 - alpha) * grad**2, not the gradient's size.",
            forgot_to_square,
        ),
        Mistake(
            "weight_decay_after_the_average",
            "add weight_decay * w to the gradient first, then use that gradient both in the average and in the "
            "step (PyTorch's L2 penalty); you averaged the raw gradient.",
            weight_decay_after_the_average,
        ),
        Mistake(
            "weight_decay_decoupled",
            "torch.optim.RMSprop's weight decay is an L2 penalty added to the gradient before the average, not a "
            "separate shrink of w (that is AdamW's decoupled decay).",
            weight_decay_decoupled,
        ),
        Mistake(
            "weight_decay_missing",
            "weight decay is missing: grad = grad + weight_decay * w before updating the average.",
            weight_decay_missing,
        ),
        Mistake(
            "step_with_old_average",
            "update square_avg first, then divide by its new value: the first step from zeros divides by "
            "sqrt((1 - alpha) grad**2) + eps.",
            step_with_old_average,
        ),
        Mistake(
            "average_not_returned",
            "return the new square_avg: the one you return must be the updated average (the next step starts from it).",
            average_not_returned,
        ),
        Mistake(
            "default_alpha_wrong",
            "PyTorch's default decay is alpha = 0.99 (and eps = 1e-8, weight_decay = 0): use its defaults in the "
            "signature.",
            default_alpha_wrong,
            label="sec-rmsprop-pytorch",
        ),
        Mistake("sign_error", "the weights move against the gradient: w = w - lr * grad / (...).", sign_error),
        Mistake("modifies_square_avg_in_place", modified_hint("square_avg"), modifies_square_avg_in_place),
        Mistake(
            "average_over_the_tensor",
            "every coordinate keeps its own average of its own squared gradient: do not average grad**2 over the "
            "tensor.",
            average_over_the_tensor,
        ),
        Mistake(
            "computes_in_float64",
            "your results come back as float64 for float32 inputs: keep the inputs' dtype (no .double()).",
            computes_in_float64,
        ),
    )


QUESTIONS = {
    "rmsprop_step": Question(
        signature=Signature(
            "rmsprop_step",
            ("w", "grad", "square_avg", "lr", "alpha", "eps", "weight_decay"),
            ("w", "square_avg"),
        ),
        reference=rmsprop_step,
        checks={
            "first_step_from_zeros": Check(_first_steps),
            "eps_outside_the_square_root": Check(_eps_cases),
            "weight_decay_over_many_steps": Check(
                lambda: _trajectories({"alpha": 0.9, "eps": 1e-8, "weight_decay": 0.05}, seed=20)
            ),
            "pytorch_defaults": Check(
                lambda: _trajectories({"alpha": DEFAULT, "eps": DEFAULT, "weight_decay": DEFAULT}, seed=40)
            ),
            "keeps_float32_and_inputs_unchanged": Check(_float32_and_probes, pure=True),
        },
        mistakes=_mistakes(),
        label="sec-rmsprop-rule",
        runner="steps_with_defaults",
    ),
}

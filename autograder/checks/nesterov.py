"""Hidden checks for exercise 05_nesterov: cases, references and the catalog of common mistakes.

Each check is one hidden test of the notebook (`test_<check>`): `python -m autograder build`
writes those test cells from `QUESTIONS`. Both references are `optimlab`'s; `tests/test_exercise_nesterov.py`
checks them against `torch.optim.SGD(nesterov=True)` on the hidden cases. The look-ahead step takes a
gradient *function*: its cases pass `made("quadratic_gradient", ...)` (`autograder.checks.runners.nesterov`).
"""

from __future__ import annotations

import torch

from optimlab.optimizers.nesterov import nesterov_lookahead_step, nesterov_step

from .cases import DTYPE, FLOAT32_STEPS, SHAPES, STEPS, case, learning_rates, normal, probe
from .grading import Check, Mistake, Question, modified_hint
from .records import Signature, made

# ---------------------------------------------------------------- PyTorch form


def _pytorch_trajectories(
    schedule: str, momentum: float, weight_decay: float, seed: int, dtype: torch.dtype = DTYPE, length: int = STEPS
) -> list[dict]:
    """On every shape: `length` steps from buf = None, the learning rate following `schedule`."""
    cases = []
    for index, shape in enumerate(SHAPES):
        w, *grads = normal(shape, length + 1, seed=seed + index, dtype=dtype)
        steps = [
            {"grad": g, "lr": lr, "momentum": momentum, "weight_decay": weight_decay}
            for g, lr in zip(grads, learning_rates(len(grads), schedule))
        ]
        cases.append(case({"w": w, "buf": None}, steps))
    return cases


def _pytorch_first_steps() -> list[dict]:
    """One step from buf = None: the buffer starts as the (decayed) gradient and the step is lr (g + mu g)."""
    cases = []
    for index, (momentum, weight_decay) in enumerate([(0.9, 0.0), (0.5, 0.0), (0.9, 0.1)]):
        w, grad = normal((4,), 2, seed=200 + index)
        step = {"grad": grad, "lr": 0.1, "momentum": momentum, "weight_decay": weight_decay}
        cases.append(case({"w": w, "buf": None}, [step]))
    return cases


def _pytorch_probes() -> list[dict]:
    w, grad, buf = probe()
    step = {"grad": grad, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}
    return [case({"w": w, "buf": None}, [step] * 2), case({"w": w, "buf": buf}, [step])]


def _pytorch_mistakes() -> tuple[Mistake, ...]:
    def plain_momentum(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + grad
        return w - lr * buf, buf

    def old_buffer_in_step(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        old = torch.zeros_like(w) if buf is None else buf
        return w - lr * (grad + momentum * old), momentum * old + grad

    def first_step_without_momentum_term(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        if buf is None:
            return w - lr * grad, grad.clone()
        buf = momentum * buf + grad
        return w - lr * (grad + momentum * buf), buf

    def weight_decay_after_buffer(w, grad, buf, lr, momentum, weight_decay=0.0):
        buf = grad.clone() if buf is None else momentum * buf + grad
        return w - lr * (grad + weight_decay * w + momentum * buf), buf

    def weight_decay_missing(w, grad, buf, lr, momentum, weight_decay=0.0):
        buf = grad.clone() if buf is None else momentum * buf + grad
        return w - lr * (grad + momentum * buf), buf

    def lr_inside_buffer(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = lr * grad if buf is None else momentum * buf + lr * grad
        return w - (lr * grad + momentum * buf), buf

    def momentum_term_subtracted(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + grad
        return w - lr * (grad - momentum * buf), buf

    def buffer_not_updated(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        new_buf = grad.clone() if buf is None else momentum * buf + grad
        return w - lr * (grad + momentum * new_buf), buf

    def modifies_w_in_place(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + grad
        w -= lr * (grad + momentum * buf)
        return w, buf

    def modifies_buf_in_place(w, grad, buf, lr, momentum, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else buf.mul_(momentum).add_(grad)
        return w - lr * (grad + momentum * buf), buf

    return (
        Mistake(
            "plain_momentum",
            "that is heavy-ball momentum (w = w - lr * buf): Nesterov's step in PyTorch's form uses "
            "the gradient plus the momentum-weighted new buffer, w = w - lr * (grad + momentum * buf).",
            plain_momentum,
        ),
        Mistake(
            "old_buffer_in_step",
            "you stepped along grad + momentum * (the old buffer): update the buffer first, "
            "buf = momentum * buf + grad (on the first step buf = grad), then step along grad + momentum * buf "
            "with the new buffer, so that the first step moves by lr * (1 + momentum) * grad.",
            old_buffer_in_step,
        ),
        Mistake(
            "first_step_without_momentum_term",
            "your first step moves by lr * grad only: on the first step too the direction is "
            "grad + momentum * buf, with buf = grad, so the step is lr * (1 + momentum) * grad "
            "(PyTorch's parameters are the look-ahead points).",
            first_step_without_momentum_term,
        ),
        Mistake(
            "weight_decay_after_buffer",
            "your weight decay enters the step but not the buffer: add it to the gradient before anything "
            "else, grad = grad + weight_decay * w, then update the buffer with that gradient.",
            weight_decay_after_buffer,
        ),
        Mistake(
            "weight_decay_missing",
            "weight decay is missing: grad = grad + weight_decay * w before updating the buffer.",
            weight_decay_missing,
        ),
        Mistake(
            "lr_inside_buffer",
            "you put the learning rate inside the buffer, so your steps go wrong once the rate changes: "
            "keep it outside, buf = momentum * buf + grad, then w = w - lr * (grad + momentum * buf).",
            lr_inside_buffer,
            label="sec-momentum-conventions",
        ),
        Mistake(
            "momentum_term_subtracted",
            "the look-ahead term is added: the direction is grad + momentum * buf, not grad - momentum * buf.",
            momentum_term_subtracted,
        ),
        Mistake(
            "buffer_not_updated",
            "you returned the buffer that was passed in: return the updated one, "
            "momentum * buf + grad (grad on the first step), since the next step starts from it.",
            buffer_not_updated,
        ),
        Mistake("modifies_w_in_place", modified_hint("w"), modifies_w_in_place),
        Mistake("modifies_buf_in_place", modified_hint("buf"), modifies_buf_in_place),
    )


# ---------------------------------------------------------------- lecture's look-ahead form


def _quadratic(shape: tuple[int, ...], seed: int, dtype: torch.dtype) -> dict:
    """A seeded `grad_fn` input: curvatures between 0.5 and 5 per coordinate, a random minimum."""
    generator = torch.Generator().manual_seed(seed)
    curvature = (0.5 + 4.5 * torch.rand(shape, generator=generator, dtype=DTYPE)).to(dtype)
    shift = torch.randn(shape, generator=generator, dtype=DTYPE).to(dtype)
    return made("quadratic_gradient", curvature=curvature, shift=shift)


def _lookahead_trajectories(
    schedule: str, alpha: float, seed: int, dtype: torch.dtype = DTYPE, length: int = STEPS
) -> list[dict]:
    """On every shape: `length` steps from delta_w = 0 on a seeded quadratic, the learning rate following `schedule`."""
    cases = []
    for index, shape in enumerate(SHAPES):
        (w,) = normal(shape, 1, seed=seed + index, dtype=dtype)
        grad_fn = _quadratic(shape, seed=seed + 50 + index, dtype=dtype)
        steps = [{"grad_fn": grad_fn, "lr": lr, "alpha": alpha} for lr in learning_rates(length, schedule)]
        cases.append(case({"w": w, "delta_w": torch.zeros_like(w)}, steps))
    return cases


def _lookahead_probes() -> list[dict]:
    w, _, delta_w = probe()
    step = {"grad_fn": _quadratic((3,), seed=300, dtype=DTYPE), "lr": 0.1, "alpha": 0.9}
    return [case({"w": w, "delta_w": delta_w}, [step] * 2)]


def _lookahead_mistakes() -> tuple[Mistake, ...]:
    def gradient_at_w(w, grad_fn, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad_fn(w)
        return w - delta_w, delta_w

    def lookahead_with_plus(w, grad_fn, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad_fn(w + alpha * delta_w)
        return w - delta_w, delta_w

    def lookahead_without_alpha(w, grad_fn, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad_fn(w - delta_w)
        return w - delta_w, delta_w

    def lr_outside_velocity(w, grad_fn, delta_w, lr, alpha):
        delta_w = alpha * delta_w + grad_fn(w - alpha * delta_w)
        return w - lr * delta_w, delta_w

    def sign_error(w, grad_fn, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad_fn(w - alpha * delta_w)
        return w + delta_w, delta_w

    def velocity_not_updated(w, grad_fn, delta_w, lr, alpha):
        return w - (alpha * delta_w + lr * grad_fn(w - alpha * delta_w)), delta_w

    def returns_lookahead_point(w, grad_fn, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad_fn(w - alpha * delta_w)
        return w - (1 + alpha) * delta_w, delta_w  # the next look-ahead point, w_new - alpha * delta_w

    def modifies_w_in_place(w, grad_fn, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad_fn(w - alpha * delta_w)
        w -= delta_w
        return w, delta_w

    def modifies_delta_w_in_place(w, grad_fn, delta_w, lr, alpha):
        grad = grad_fn(w - alpha * delta_w)
        delta_w.mul_(alpha).add_(lr * grad)
        return w - delta_w, delta_w

    return (
        Mistake(
            "gradient_at_w",
            "that is heavy-ball momentum: take the gradient at the look-ahead point, "
            "grad_fn(w - alpha * delta_w), not at w.",
            gradient_at_w,
        ),
        Mistake(
            "lookahead_with_plus",
            "the look-ahead point is where the old velocity carries w: w moves by -delta_w, so look at "
            "w - alpha * delta_w (you added it).",
            lookahead_with_plus,
        ),
        Mistake(
            "lookahead_without_alpha",
            "you looked ahead by the whole velocity, w - delta_w: look ahead by the part of it that "
            "survives the step, taking the gradient at w - alpha * delta_w.",
            lookahead_without_alpha,
        ),
        Mistake(
            "lr_outside_velocity",
            "you applied the learning rate outside the velocity (PyTorch's convention); the lecture keeps it "
            "inside: delta_w = alpha * delta_w + lr * grad_fn(w - alpha * delta_w), then w = w - delta_w.",
            lr_outside_velocity,
            label="sec-momentum-conventions",
        ),
        Mistake("sign_error", "the weights move against the velocity: w = w - delta_w (you added it).", sign_error),
        Mistake(
            "velocity_not_updated",
            "you returned the velocity that was passed in: return the new one, "
            "alpha * delta_w + lr * grad_fn(w - alpha * delta_w), since the next step starts from it.",
            velocity_not_updated,
        ),
        Mistake(
            "returns_lookahead_point",
            "return the lecture's weights, w - delta_w with the new delta_w: your w is PyTorch's "
            "shifted variable (the next look-ahead point), which is the other form of the method.",
            returns_lookahead_point,
            label="sec-nesterov-pytorch",
        ),
        Mistake("modifies_w_in_place", modified_hint("w"), modifies_w_in_place),
        Mistake("modifies_delta_w_in_place", modified_hint("delta_w"), modifies_delta_w_in_place),
    )


QUESTIONS = {
    "nesterov_step": Question(
        signature=Signature("nesterov_step", ("w", "grad", "buf", "lr", "momentum", "weight_decay"), ("w", "buf")),
        reference=nesterov_step,
        checks={
            "first_step_buffer_is_the_gradient": Check(_pytorch_first_steps),
            "many_steps_every_shape": Check(lambda: _pytorch_trajectories("constant", 0.9, 0.0, seed=0)),
            "weight_decay_and_changing_lr": Check(lambda: _pytorch_trajectories("changing", 0.8, 0.05, seed=10)),
            "keeps_float32": Check(
                lambda: _pytorch_trajectories("changing", 0.9, 0.01, seed=20, dtype=torch.float32, length=FLOAT32_STEPS)
            ),
            "leaves_inputs_unchanged": Check(_pytorch_probes, pure=True),
        },
        mistakes=_pytorch_mistakes(),
        label="sec-nesterov-pytorch",
    ),
    "nesterov_lookahead_step": Question(
        signature=Signature("nesterov_lookahead_step", ("w", "grad_fn", "delta_w", "lr", "alpha"), ("w", "delta_w")),
        reference=nesterov_lookahead_step,
        checks={
            "many_steps_every_shape": Check(lambda: _lookahead_trajectories("constant", 0.9, seed=30)),
            "changing_lr": Check(lambda: _lookahead_trajectories("changing", 0.8, seed=40)),
            "keeps_float32": Check(
                lambda: _lookahead_trajectories("changing", 0.9, seed=60, dtype=torch.float32, length=FLOAT32_STEPS)
            ),
            "leaves_inputs_unchanged": Check(_lookahead_probes, pure=True),
        },
        mistakes=_lookahead_mistakes(),
        label="sec-nesterov-lookahead",
    ),
}

"""Hidden-test helpers for exercise 04_momentum.

Each `check_*` compares a student's function with the reference (`torch.optim.SGD`, or
`optimlab`'s lecture-form step, which has no PyTorch twin) and raises AssertionError with
a message in words. When a comparison fails, `diagnose_*` probes the student's function on
small targeted inputs to name the mistake (dampening on the first step, the learning rate
in the wrong place, weight decay after the buffer, ...).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from optimlab.optimizers.momentum import momentum_step_lecture as reference_lecture_step
from optimlab.optimizers.momentum import sgd_momentum_step as reference_sgd_step

from .common import DTYPE, SHAPES, assert_inputs_unchanged, call_pair, close, random_tensors


def learning_rates(steps: int, schedule: str) -> list[float]:
    """The learning rate of each step: `constant`, or `changing` (step decay every 5 steps, as a scheduler would)."""
    if schedule == "constant":
        return [0.05] * steps
    if schedule == "changing":
        return [0.1 * 0.7 ** (t // 5) for t in range(steps)]
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; use 'constant' or 'changing'")


# Small hand-sized probe inputs: distinct values so that each mistake leaves a distinct trace.
def _probe() -> tuple[Tensor, Tensor, Tensor]:
    w = torch.tensor([1.0, -2.0, 0.5], dtype=DTYPE)
    grad = torch.tensor([0.5, 1.0, -1.5], dtype=DTYPE)
    previous = torch.tensor([0.2, -0.1, 0.3], dtype=DTYPE)
    return w, grad, previous


# ---------------------------------------------------------------- lecture form

def diagnose_lecture(student: Callable) -> list[str]:
    """Name the mistakes in a lecture-form momentum step, from one probe step."""
    w, grad, delta_w = _probe()
    lr, alpha = 0.5, 0.9
    got_w, got_delta = call_pair(student, ("w", "delta_w"), w, grad, delta_w, lr, alpha)
    want_w, want_delta = reference_lecture_step(w, grad, delta_w, lr, alpha)
    if close(got_w, want_w) and close(got_delta, want_delta):
        return []
    if close(got_w, want_delta) and close(got_delta, want_w):
        return ["return the pair in the order (w, delta_w)"]
    found = []
    if close(got_delta, alpha * delta_w + grad):
        found.append("the learning rate must be inside the velocity: delta_w = alpha * delta_w + lr * grad "
                     "(keeping it outside is PyTorch's form, which differs once the learning rate changes)")
    elif close(got_delta, alpha * delta_w + (1 - alpha) * lr * grad):
        found.append("the lecture's velocity has no (1 - alpha) factor: delta_w = alpha * delta_w + lr * grad")
    elif close(got_delta, lr * delta_w + alpha * grad):
        found.append("alpha multiplies the old velocity and lr the gradient: delta_w = alpha * delta_w + lr * grad")
    elif not close(got_delta, want_delta):
        found.append("the new velocity should be delta_w = alpha * delta_w + lr * grad")
    if close(got_w, w + got_delta):
        found.append("the weights move against the velocity: w = w - delta_w")
    elif close(got_w, w - lr * got_delta) and not close(got_delta, alpha * delta_w + grad):
        found.append("the learning rate is already inside delta_w: w = w - delta_w, without another lr")
    elif not found and not close(got_w, w - got_delta):
        found.append("the new weights should be w = w - delta_w, using the new velocity")
    return found


def check_lecture_trajectory(student: Callable, *, steps: int, lr_schedule: str, alpha: float) -> None:
    """Run the student's lecture step and optimlab's side by side for `steps` steps on every shape in SHAPES."""
    rates = learning_rates(steps, lr_schedule)
    for shape in SHAPES:
        w, *grads = random_tensors(shape, steps + 1, seed=len(shape))
        ref_w, ref_delta = w.clone(), torch.zeros_like(w)
        got_w, got_delta = w.clone(), torch.zeros_like(w)
        for t, (grad, lr) in enumerate(zip(grads, rates), start=1):
            # Each side continues from its own state, as in training.
            ref_w, ref_delta = reference_lecture_step(ref_w, grad, ref_delta, lr, alpha)
            got_w, got_delta = call_pair(student, ("w", "delta_w"), got_w, grad, got_delta, lr, alpha)
            if not (close(got_w, ref_w) and close(got_delta, ref_delta)):
                _fail(f"with tensors of shape {tuple(shape)}, step {t} (lr={lr:.4g}, alpha={alpha}) "
                      f"differs from the reference",
                      {"w": (got_w, ref_w), "delta_w": (got_delta, ref_delta)}, diagnose_lecture(student))


def check_lecture_is_pure(student: Callable) -> None:
    """The lecture step leaves w, grad and delta_w as they were."""
    w, grad, delta_w = _probe()
    assert_inputs_unchanged(student, {"w": w, "grad": grad, "delta_w": delta_w}, lr=0.1, alpha=0.9)


# ---------------------------------------------------------------- PyTorch form

def diagnose_sgd(student: Callable) -> list[str]:
    """Name the mistakes in a torch.optim.SGD momentum step, probing one rule at a time."""
    w, grad, buf = _probe()
    lr, momentum = 0.1, 0.9
    found = []

    def step(buf, dampening, weight_decay):
        got = call_pair(student, ("w", "buf"), w, grad, buf, lr, momentum, dampening, weight_decay)
        want = reference_sgd_step(w, grad, buf, lr, momentum, dampening, weight_decay)
        return got, want

    # First step: the buffer is the raw gradient; dampening is skipped.
    (got_w, got_buf), (want_w, want_buf) = step(None, dampening=0.5, weight_decay=0.0)
    if close(got_buf, 0.5 * grad):
        found.append("dampening must not apply on the first step: with buf=None the new buffer must equal the gradient")
    elif close(got_buf, lr * grad):
        found.append("the learning rate must stay outside the buffer: buf = grad on the first step, then w = w - lr * buf")
    elif not close(got_buf, want_buf):
        found.append("on the first step (buf=None) the new buffer must equal the gradient (plus weight_decay * w)")

    # Later steps: dampening scales the new gradient by (1 - dampening).
    (got_w, got_buf), (want_w, want_buf) = step(buf, dampening=0.5, weight_decay=0.0)
    if close(got_buf, momentum * buf + grad):
        found.append("your buffer ignores dampening on steps after the first: buf = momentum * buf + (1 - dampening) * grad")
    elif close(got_buf, momentum * buf + 0.5 * lr * grad) or close(got_buf, momentum * buf + lr * grad):
        found.append("the learning rate must stay outside the buffer: buf = momentum * buf + (1 - dampening) * grad, "
                     "then w = w - lr * buf (lr inside the velocity is the lecture's form)")
    elif close(got_buf, (1 - 0.5) * momentum * buf + grad) or close(got_buf, 0.5 * buf + 0.5 * grad):
        found.append("dampening scales the new gradient, not the old buffer: buf = momentum * buf + (1 - dampening) * grad")
    elif not close(got_buf, want_buf):
        found.append("after the first step the buffer should be buf = momentum * buf + (1 - dampening) * grad")

    # Weight decay joins the gradient before the buffer.
    (got_w, got_buf), (want_w, want_buf) = step(buf, dampening=0.0, weight_decay=0.1)
    if close(got_buf, momentum * buf + grad):
        if close(got_w, w - lr * (got_buf + 0.1 * w)):
            found.append("weight decay must be added to the gradient before momentum, not after: "
                         "grad = grad + weight_decay * w, then update the buffer")
        else:
            found.append("weight decay is missing: grad = grad + weight_decay * w before updating the buffer")
    elif close(got_buf, momentum * buf + grad - 0.1 * w):
        found.append("weight decay adds weight_decay * w to the gradient (you subtracted it)")

    # The weights step against the buffer, scaled by the learning rate.
    (got_w, got_buf), _ = step(buf, dampening=0.0, weight_decay=0.0)
    if close(got_w, w + lr * got_buf):
        found.append("the weights move against the buffer: w = w - lr * buf")
    elif close(got_w, w - got_buf) and not close(got_buf, momentum * buf + lr * grad):
        found.append("the step must be scaled by the learning rate: w = w - lr * buf")
    return list(dict.fromkeys(found))


def check_sgd_first_step(student: Callable) -> None:
    """With buf=None the buffer starts as the (weight-decayed) gradient, whatever the dampening."""
    for dampening, weight_decay in [(0.0, 0.0), (0.5, 0.0), (0.3, 0.1)]:
        _compare_sgd_with_torch(student, steps=1, momentum=0.9, dampening=dampening,
                                weight_decay=weight_decay, shapes=[(4,)])


def check_sgd_trajectory(student: Callable, *, steps: int, momentum: float, dampening: float, weight_decay: float) -> None:
    """Run the student's step and torch.optim.SGD side by side for `steps` steps, the learning rate changing."""
    _compare_sgd_with_torch(student, steps=steps, momentum=momentum, dampening=dampening,
                            weight_decay=weight_decay, shapes=SHAPES)


def check_sgd_is_pure(student: Callable) -> None:
    """The SGD step leaves w, grad and buf as they were, on the first step and after."""
    w, grad, buf = _probe()
    hyperparameters = dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1)
    assert_inputs_unchanged(student, {"w": w, "grad": grad, "buf": None}, **hyperparameters)
    assert_inputs_unchanged(student, {"w": w, "grad": grad, "buf": buf}, **hyperparameters)


def _compare_sgd_with_torch(student, *, steps, momentum, dampening, weight_decay, shapes) -> None:
    rates = learning_rates(steps, "changing")
    for shape in shapes:
        w, *grads = random_tensors(shape, steps + 1, seed=10 + len(shape))
        param = w.clone().requires_grad_()
        optimizer = torch.optim.SGD([param], lr=rates[0], momentum=momentum,
                                    dampening=dampening, weight_decay=weight_decay)
        got_w, got_buf = w.clone(), None
        for t, (grad, lr) in enumerate(zip(grads, rates), start=1):
            optimizer.param_groups[0]["lr"] = lr  # what a scheduler does between steps
            param.grad = grad.clone()
            optimizer.step()
            got_w, got_buf = call_pair(student, ("w", "buf"), got_w, grad, got_buf, lr, momentum, dampening, weight_decay)
            ref_buf = optimizer.state[param]["momentum_buffer"]
            if not (close(got_w, param.detach()) and close(got_buf, ref_buf)):
                _fail(f"with tensors of shape {tuple(shape)}, step {t} (lr={lr:.4g}, momentum={momentum}, "
                      f"dampening={dampening}, weight_decay={weight_decay}) differs from torch.optim.SGD",
                      {"w": (got_w, param.detach()), "buf": (got_buf, ref_buf)}, diagnose_sgd(student))


def _fail(where: str, pairs: dict[str, tuple[Tensor, Tensor]], mistakes: list[str]) -> None:
    """Raise the failure: the named mistakes first, then where and by how much each returned tensor is off."""
    details = []
    for name, (got, want) in pairs.items():
        if got.shape != want.shape:
            details.append(f"`{name}` has shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        elif not close(got, want):
            details.append(f"`{name}` is off by up to {(got - want).abs().max().item():.3g}")
    cause = "; ".join(mistakes) if mistakes else "compare your update with the formulas in the prompt"
    raise AssertionError(f"{cause}. ({where}: {', '.join(details)}.)")

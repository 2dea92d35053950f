"""Hidden checks for exercise 04_momentum: cases, references and the catalog of common mistakes.

Each check is one hidden test of the notebook (`test_<check>`). References are imported:
`optimlab`'s lecture-form step (no PyTorch twin) and its `torch.optim.SGD`-semantics step,
which optimlab's own tests pin to `torch.optim.SGD`. The mistakes below are the wrong
solutions students commonly write; `grading.evaluate` names one when the student's
results match it.
"""

from __future__ import annotations

import torch

from optimlab.optimizers.momentum import momentum_step_lecture, sgd_momentum_step

from .cases import SHAPES, case, learning_rates, normal
from .grading import Check, Mistake, Question, modified_hint
from .records import Signature

STEPS = 50


def _probe() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Small inputs with distinct values, so that each mistake leaves a distinct trace."""
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    grad = torch.tensor([0.5, 1.0, -1.5], dtype=torch.float64)
    previous = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64)
    return w, grad, previous


# ---------------------------------------------------------------- lecture form

def _lecture_trajectories(schedule: str, alpha: float, seed: int) -> list[dict]:
    """On every shape: `STEPS` steps from delta_w = 0, the learning rate following `schedule`."""
    cases = []
    for index, shape in enumerate(SHAPES):
        w, *grads = normal(shape, STEPS + 1, seed=seed + index)
        steps = [{"grad": g, "lr": lr, "alpha": alpha} for g, lr in zip(grads, learning_rates(STEPS, schedule))]
        cases.append(case({"w": w, "delta_w": torch.zeros_like(w)}, steps))
    return cases


def _lecture_probes() -> list[dict]:
    w, grad, delta_w = _probe()
    return [case({"w": w, "delta_w": delta_w}, [{"grad": grad, "lr": 0.1, "alpha": 0.9}] * 2)]


def _lecture_mistakes() -> tuple[Mistake, ...]:
    def sign_error(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad
        return w + delta_w, delta_w

    def lr_outside_velocity(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + grad
        return w - lr * delta_w, delta_w

    def lr_missing(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + grad
        return w - delta_w, delta_w

    def lr_applied_twice(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad
        return w - lr * delta_w, delta_w

    def averaged_velocity(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + (1 - alpha) * lr * grad
        return w - delta_w, delta_w

    def alpha_and_lr_swapped(w, grad, delta_w, lr, alpha):
        delta_w = lr * delta_w + alpha * grad
        return w - delta_w, delta_w

    def steps_with_old_velocity(w, grad, delta_w, lr, alpha):
        return w - delta_w, alpha * delta_w + lr * grad

    def velocity_not_updated(w, grad, delta_w, lr, alpha):
        return w - (alpha * delta_w + lr * grad), delta_w

    def modifies_delta_w_in_place(w, grad, delta_w, lr, alpha):
        delta_w.mul_(alpha).add_(lr * grad)
        return w - delta_w, delta_w

    def outputs_swapped(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad
        return delta_w, w - delta_w

    def gradient_averaged(w, grad, delta_w, lr, alpha):
        delta_w = alpha * delta_w + lr * grad.mean()
        return w - delta_w, delta_w

    return (
        Mistake("sign_error", "the weights move against the velocity: w = w - delta_w (you added it).", sign_error),
        Mistake("lr_outside_velocity", "the learning rate must be inside the velocity: delta_w = alpha * delta_w + lr * grad "
                "(keeping it outside is PyTorch's form, which differs once the learning rate changes).", lr_outside_velocity),
        Mistake("lr_missing", "the learning rate is missing: delta_w = alpha * delta_w + lr * grad.", lr_missing),
        Mistake("lr_applied_twice", "the learning rate is applied twice: it is already inside delta_w, so w = w - delta_w.",
                lr_applied_twice),
        Mistake("averaged_velocity", "the lecture's velocity has no (1 - alpha) factor: delta_w = alpha * delta_w + lr * grad.",
                averaged_velocity),
        Mistake("alpha_and_lr_swapped", "alpha multiplies the old velocity and lr the gradient: "
                "delta_w = alpha * delta_w + lr * grad.", alpha_and_lr_swapped),
        Mistake("steps_with_old_velocity", "step with the new velocity: first delta_w = alpha * delta_w + lr * grad, "
                "then w = w - delta_w.", steps_with_old_velocity),
        Mistake("velocity_not_updated", "return the new velocity: the delta_w you return must be alpha * delta_w + lr * grad, "
                "not the one passed in (the next step starts from it).", velocity_not_updated),
        Mistake("modifies_delta_w_in_place", modified_hint("delta_w"), modifies_delta_w_in_place),
        Mistake("outputs_swapped", "return the pair in the order (w, delta_w).", outputs_swapped),
        Mistake("gradient_averaged", "each coordinate moves with its own gradient: do not average (or sum) the gradient "
                "over the tensor.", gradient_averaged),
    )


# ---------------------------------------------------------------- PyTorch form

def _sgd_trajectories(momentum: float, dampening: float, weight_decay: float, seed: int) -> list[dict]:
    """On every shape: `STEPS` steps from buf = None, the learning rate changing as under a scheduler."""
    cases = []
    for index, shape in enumerate(SHAPES):
        w, *grads = normal(shape, STEPS + 1, seed=seed + index)
        steps = [{"grad": g, "lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay}
                 for g, lr in zip(grads, learning_rates(STEPS, "changing"))]
        cases.append(case({"w": w, "buf": None}, steps))
    return cases


def _sgd_first_steps() -> list[dict]:
    """One step from buf = None: the buffer starts as the (decayed) gradient, whatever the dampening."""
    cases = []
    for index, (dampening, weight_decay) in enumerate([(0.0, 0.0), (0.5, 0.0), (0.3, 0.1)]):
        w, grad = normal((4,), 2, seed=100 + index)
        cases.append(case({"w": w, "buf": None}, [{"grad": grad, "lr": 0.1, "momentum": 0.9,
                                                   "dampening": dampening, "weight_decay": weight_decay}]))
    return cases


def _sgd_probes() -> list[dict]:
    w, grad, buf = _probe()
    step = {"grad": grad, "lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.1}
    return [case({"w": w, "buf": None}, [step] * 2), case({"w": w, "buf": buf}, [step])]


def _sgd_mistakes() -> tuple[Mistake, ...]:
    def sign_error(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w + lr * buf, buf

    def dampening_on_first_step(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = (1 - dampening) * grad if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * buf, buf

    def dampening_ignored(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + grad
        return w - lr * buf, buf

    def dampening_on_buffer(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else (1 - dampening) * (momentum * buf + grad)
        return w - lr * buf, buf

    def weight_decay_after_momentum(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * (buf + weight_decay * w), buf

    def weight_decay_missing(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * buf, buf

    def weight_decay_subtracted(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad - weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * buf, buf

    def lr_inside_buffer(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = lr * grad if buf is None else momentum * buf + (1 - dampening) * lr * grad
        return w - buf, buf

    def lr_applied_twice(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = lr * grad if buf is None else momentum * buf + (1 - dampening) * lr * grad
        return w - lr * buf, buf

    def buffer_not_updated(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        new_buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * new_buf, buf

    def modifies_w_in_place(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        w -= lr * buf
        return w, buf

    def modifies_buf_in_place(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else buf.mul_(momentum).add_((1 - dampening) * grad)
        return w - lr * buf, buf

    def outputs_swapped(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return buf, w - lr * buf

    def gradient_averaged(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad.mean() + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * buf, buf

    return (
        Mistake("sign_error", "the weights move against the buffer: w = w - lr * buf (you added it).", sign_error),
        Mistake("dampening_on_first_step", "dampening must not apply on the first step: with buf=None the new buffer "
                "must equal the (weight-decayed) gradient.", dampening_on_first_step),
        Mistake("dampening_ignored", "your buffer ignores dampening on steps after the first: "
                "buf = momentum * buf + (1 - dampening) * grad.", dampening_ignored),
        Mistake("dampening_on_buffer", "dampening scales the new gradient, not the old buffer: "
                "buf = momentum * buf + (1 - dampening) * grad.", dampening_on_buffer),
        Mistake("weight_decay_after_momentum", "weight decay must be added to the gradient before momentum, not after: "
                "grad = grad + weight_decay * w, then update the buffer.", weight_decay_after_momentum),
        Mistake("weight_decay_missing", "weight decay is missing: grad = grad + weight_decay * w before updating the buffer.",
                weight_decay_missing),
        Mistake("weight_decay_subtracted", "weight decay adds weight_decay * w to the gradient (you subtracted it).",
                weight_decay_subtracted),
        Mistake("lr_inside_buffer", "the learning rate must stay outside the buffer: buf = momentum * buf + "
                "(1 - dampening) * grad, then w = w - lr * buf (lr inside the velocity is the lecture's form).",
                lr_inside_buffer),
        Mistake("lr_applied_twice", "the learning rate is applied twice: keep it out of the buffer and use it once, "
                "in w = w - lr * buf.", lr_applied_twice),
        Mistake("buffer_not_updated", "return the new buffer: the buf you return must be the updated one, "
                "not the one passed in (the next step starts from it).", buffer_not_updated),
        Mistake("modifies_w_in_place", modified_hint("w"), modifies_w_in_place),
        Mistake("modifies_buf_in_place", modified_hint("buf"), modifies_buf_in_place),
        Mistake("outputs_swapped", "return the pair in the order (w, buf).", outputs_swapped),
        Mistake("gradient_averaged", "each coordinate moves with its own gradient: do not average (or sum) the gradient "
                "over the tensor.", gradient_averaged),
    )


QUESTIONS = {
    "momentum_step_lecture": Question(
        signature=Signature("momentum_step_lecture", ("w", "grad", "delta_w", "lr", "alpha"), ("w", "delta_w")),
        reference=momentum_step_lecture,
        checks={
            "matches_reference_constant_lr": Check(lambda: _lecture_trajectories("constant", alpha=0.9, seed=0)),
            "matches_reference_changing_lr": Check(lambda: _lecture_trajectories("changing", alpha=0.8, seed=10)),
            "leaves_inputs_unchanged": Check(_lecture_probes, pure=True),
        },
        mistakes=_lecture_mistakes(),
    ),
    "sgd_momentum_step": Question(
        signature=Signature("sgd_momentum_step", ("w", "grad", "buf", "lr", "momentum", "dampening", "weight_decay"),
                            ("w", "buf")),
        reference=sgd_momentum_step,
        checks={
            "first_step_rule": Check(_sgd_first_steps),
            "dampening_over_many_steps": Check(lambda: _sgd_trajectories(0.9, 0.3, 0.0, seed=20)),
            "weight_decay_over_many_steps": Check(lambda: _sgd_trajectories(0.8, 0.0, 0.05, seed=30)),
            "everything_at_once": Check(lambda: _sgd_trajectories(0.95, 0.5, 0.01, seed=40)),
            "leaves_inputs_unchanged": Check(_sgd_probes, pure=True),
        },
        mistakes=_sgd_mistakes(),
    ),
}

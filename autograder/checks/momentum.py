"""Hidden checks for exercise 04_momentum: cases, references and the catalog of common mistakes.

Each check is one hidden test of the notebook (`test_<check>`): `python -m autograder build`
writes those test cells from `QUESTIONS`, so a check added here is graded by both engines.
References are imported: `optimlab`'s lecture-form step and velocity rescale (no PyTorch
twin) and its `torch.optim.SGD`-semantics step, which optimlab's own tests pin to
`torch.optim.SGD`. The mistakes below are the wrong solutions students commonly write;
`grading.evaluate` names one when the student's results match it.
"""

from __future__ import annotations

import torch

from optimlab.optimizers.momentum import momentum_step_lecture, rescale_velocity, sgd_momentum_step

from .cases import DTYPE, FLOAT32_STEPS, SHAPES, STEPS, case, learning_rates, normal, probe
from .grading import Check, Mistake, Question, modified_hint
from .records import Signature

# ---------------------------------------------------------------- lecture form


def _lecture_trajectories(
    schedule: str, alpha: float, seed: int, dtype: torch.dtype = DTYPE, length: int = STEPS
) -> list[dict]:
    """On every shape: `length` steps from delta_w = 0, the learning rate following `schedule`."""
    cases = []
    for index, shape in enumerate(SHAPES):
        w, *grads = normal(shape, length + 1, seed=seed + index, dtype=dtype)
        steps = [{"grad": g, "lr": lr, "alpha": alpha} for g, lr in zip(grads, learning_rates(len(grads), schedule))]
        cases.append(case({"w": w, "delta_w": torch.zeros_like(w)}, steps))
    return cases


def _lecture_probes() -> list[dict]:
    w, grad, delta_w = probe()
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
        Mistake(
            "lr_outside_velocity",
            "the learning rate must be inside the velocity: delta_w = alpha * delta_w + lr * grad "
            "(keeping it outside is PyTorch's form, which differs once the learning rate changes).",
            lr_outside_velocity,
        ),
        Mistake("lr_missing", "the learning rate is missing: delta_w = alpha * delta_w + lr * grad.", lr_missing),
        Mistake(
            "lr_applied_twice",
            "the learning rate is applied twice: it is already inside delta_w, so w = w - delta_w.",
            lr_applied_twice,
        ),
        Mistake(
            "averaged_velocity",
            "the lecture's velocity has no (1 - alpha) factor: delta_w = alpha * delta_w + lr * grad.",
            averaged_velocity,
        ),
        Mistake(
            "alpha_and_lr_swapped",
            "alpha multiplies the old velocity and lr the gradient: delta_w = alpha * delta_w + lr * grad.",
            alpha_and_lr_swapped,
        ),
        Mistake(
            "steps_with_old_velocity",
            "step with the new velocity: first delta_w = alpha * delta_w + lr * grad, then w = w - delta_w.",
            steps_with_old_velocity,
        ),
        Mistake(
            "velocity_not_updated",
            "return the new velocity: the delta_w you return must be alpha * delta_w + lr * grad, "
            "not the one passed in (the next step starts from it).",
            velocity_not_updated,
        ),
        Mistake("modifies_delta_w_in_place", modified_hint("delta_w"), modifies_delta_w_in_place),
        Mistake(
            "outputs_swapped",
            "return the pair in the order (w, delta_w).",
            outputs_swapped,
            label="sec-momentum-exercises",
        ),
        Mistake(
            "gradient_averaged",
            "each coordinate moves with its own gradient: do not average (or sum) the gradient over the tensor.",
            gradient_averaged,
        ),
    )


# ---------------------------------------------------------------- PyTorch form


def _sgd_trajectories(
    momentum: float, dampening: float, weight_decay: float, seed: int, dtype: torch.dtype = DTYPE, length: int = STEPS
) -> list[dict]:
    """On every shape: `length` steps from buf = None, the learning rate changing as under a scheduler."""
    cases = []
    for index, shape in enumerate(SHAPES):
        w, *grads = normal(shape, length + 1, seed=seed + index, dtype=dtype)
        steps = [
            {"grad": g, "lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay}
            for g, lr in zip(grads, learning_rates(len(grads), "changing"))
        ]
        cases.append(case({"w": w, "buf": None}, steps))
    return cases


def _sgd_first_steps() -> list[dict]:
    """One step from buf = None: the buffer starts as the (decayed) gradient, whatever the dampening."""
    cases = []
    for index, (dampening, weight_decay) in enumerate([(0.0, 0.0), (0.5, 0.0), (0.3, 0.1)]):
        w, grad = normal((4,), 2, seed=100 + index)
        cases.append(
            case(
                {"w": w, "buf": None},
                [{"grad": grad, "lr": 0.1, "momentum": 0.9, "dampening": dampening, "weight_decay": weight_decay}],
            )
        )
    return cases


def _sgd_probes() -> list[dict]:
    w, grad, buf = probe()
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
        if momentum != 0:
            buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
            grad = buf
        w -= lr * grad
        return w, buf

    def modifies_buf_in_place(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        if momentum != 0:
            buf = grad.clone() if buf is None else buf.mul_(momentum).add_((1 - dampening) * grad)
            grad = buf
        return w - lr * grad, buf

    def outputs_swapped(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return buf, w - lr * buf

    def gradient_averaged(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad.mean() + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * buf, buf

    def buffer_at_zero_momentum(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        return w - lr * buf, buf

    def dampening_weights_gradient(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * w
        buf = grad.clone() if buf is None else momentum * buf + dampening * grad
        return w - lr * buf, buf

    return (
        Mistake("sign_error", "the weights move against the buffer: w = w - lr * buf (you added it).", sign_error),
        Mistake(
            "dampening_on_first_step",
            "dampening must not apply on the first step: with buf=None the new buffer "
            "must equal the (weight-decayed) gradient.",
            dampening_on_first_step,
        ),
        Mistake(
            "dampening_ignored",
            "your buffer ignores dampening on steps after the first: buf = momentum * buf + (1 - dampening) * grad.",
            dampening_ignored,
        ),
        Mistake(
            "dampening_on_buffer",
            "dampening scales the new gradient, not the old buffer: buf = momentum * buf + (1 - dampening) * grad.",
            dampening_on_buffer,
            label="sec-momentum-pytorch",
        ),
        Mistake(
            "weight_decay_after_momentum",
            "weight decay must be added to the gradient before momentum, not after: "
            "grad = grad + weight_decay * w, then update the buffer.",
            weight_decay_after_momentum,
        ),
        Mistake(
            "weight_decay_missing",
            "weight decay is missing: grad = grad + weight_decay * w before updating the buffer.",
            weight_decay_missing,
        ),
        Mistake(
            "weight_decay_subtracted",
            "weight decay adds weight_decay * w to the gradient (you subtracted it).",
            weight_decay_subtracted,
        ),
        Mistake(
            "lr_inside_buffer",
            "the learning rate must stay outside the buffer: buf = momentum * buf + "
            "(1 - dampening) * grad, then w = w - lr * buf (lr inside the velocity is the lecture's form).",
            lr_inside_buffer,
            label="sec-momentum-conventions",
        ),
        Mistake(
            "lr_applied_twice",
            "the learning rate is applied twice: keep it out of the buffer and use it once, in w = w - lr * buf.",
            lr_applied_twice,
        ),
        Mistake(
            "buffer_not_updated",
            "return the new buffer: the buf you return must be the updated one, "
            "not the one passed in (the next step starts from it).",
            buffer_not_updated,
        ),
        Mistake("modifies_w_in_place", modified_hint("w"), modifies_w_in_place),
        Mistake("modifies_buf_in_place", modified_hint("buf"), modifies_buf_in_place),
        Mistake(
            "outputs_swapped", "return the pair in the order (w, buf).", outputs_swapped, label="sec-momentum-exercises"
        ),
        Mistake(
            "gradient_averaged",
            "each coordinate moves with its own gradient: do not average (or sum) the gradient over the tensor.",
            gradient_averaged,
        ),
        Mistake(
            "buffer_at_zero_momentum",
            "with momentum = 0, torch.optim.SGD keeps no buffer (so no dampening either): "
            "step along the (weight-decayed) gradient and return None for buf.",
            buffer_at_zero_momentum,
        ),
        Mistake(
            "dampening_weights_gradient",
            "dampening is the share of the new gradient left out of the buffer: "
            "weight the gradient by (1 - dampening), not by dampening.",
            dampening_weights_gradient,
            label="sec-momentum-pytorch",
        ),
    )


# ---------------------------------------------------------------- carrying the lecture's velocity across a rate change

# (old_lr, new_lr) as schedulers change the rate: a step decay, a warm-up, a steep drop, a small change.
RATE_CHANGES = [(0.1, 0.07), (0.01, 0.05), (0.3, 0.003), (0.05, 0.049)]


def _rescale_cases(seed: int, dtype: torch.dtype = DTYPE) -> list[dict]:
    """On every shape, a seeded velocity carried across each of `RATE_CHANGES`."""
    cases = []
    for index, shape in enumerate(SHAPES):
        velocities = normal(shape, len(RATE_CHANGES), seed=seed + index, dtype=dtype)
        cases += [
            case({"delta_w": delta_w}, [{"old_lr": old_lr, "new_lr": new_lr}])
            for delta_w, (old_lr, new_lr) in zip(velocities, RATE_CHANGES)
        ]
    return cases


def _rescale_edge_cases() -> list[dict]:
    """An unchanged rate, the first step's zero velocity, a 100-fold warm-up, tiny rates, large velocities,
    a rate annealed to 0, and one velocity carried across a schedule's three changes in a row."""
    delta_w, large = normal((6,), 1, seed=80)[0], 1e4 * normal((2, 3), 1, seed=81)[0]
    scalar = torch.tensor(-0.25, dtype=DTYPE)
    calls = [
        (delta_w, 0.05, 0.05),
        (torch.zeros(4, dtype=DTYPE), 0.1, 0.01),
        (delta_w, 0.001, 0.1),
        (delta_w, 1e-6, 1e-8),
        (large, 0.2, 0.02),
        (scalar, 0.5, 0.1),
        (delta_w, 0.1, 0.0),
    ]
    cases = [case({"delta_w": v}, [{"old_lr": old_lr, "new_lr": new_lr}]) for v, old_lr, new_lr in calls]
    schedule = [0.1, 0.05, 0.025, 0.1]
    cases.append(
        case(
            {"delta_w": delta_w},
            [{"old_lr": old_lr, "new_lr": new_lr} for old_lr, new_lr in zip(schedule, schedule[1:])],
        )
    )
    return cases


def _rescale_probes() -> list[dict]:
    _, _, delta_w = probe()
    return [case({"delta_w": delta_w}, [{"old_lr": 0.1, "new_lr": 0.05}])]


def _rescale_mistakes() -> tuple[Mistake, ...]:
    def sign_error(delta_w, old_lr, new_lr):
        return -delta_w * new_lr / old_lr

    def inverse_ratio(delta_w, old_lr, new_lr):
        return delta_w * old_lr / new_lr

    def modifies_delta_w_in_place(delta_w, old_lr, new_lr):
        delta_w *= new_lr / old_lr
        return delta_w

    def not_rescaled(delta_w, old_lr, new_lr):
        return delta_w.clone()

    def new_lr_only(delta_w, old_lr, new_lr):
        return delta_w * new_lr

    def old_lr_removed_only(delta_w, old_lr, new_lr):
        return delta_w / old_lr

    def rate_change_added(delta_w, old_lr, new_lr):
        return delta_w + (new_lr - old_lr)

    def computes_in_float64(delta_w, old_lr, new_lr):
        return delta_w.double() * new_lr / old_lr

    return (
        Mistake(
            "sign_error",
            "your velocity points the wrong way: a new learning rate changes the velocity's length, "
            "never its direction.",
            sign_error,
        ),
        Mistake(
            "inverse_ratio",
            "your ratio is upside down: the lecture's velocity has the learning rate inside it, so it "
            "must shrink when the rate drops and grow when it rises (yours does the opposite).",
            inverse_ratio,
        ),
        Mistake("modifies_delta_w_in_place", modified_hint("delta_w"), modifies_delta_w_in_place),
        Mistake(
            "not_rescaled",
            "your velocity is not rescaled: it still carries the old learning rate, so the next "
            "lecture step would mix the old rate with the new one and part from PyTorch's step.",
            not_rescaled,
        ),
        Mistake(
            "new_lr_only",
            "your velocity carries the old learning rate and the new one: take the old rate out "
            "before putting the new one in.",
            new_lr_only,
        ),
        Mistake(
            "old_lr_removed_only",
            "you took the old learning rate out (that is PyTorch's buffer, which excludes "
            "the rate) but did not put the new one in: the lecture's velocity includes the rate.",
            old_lr_removed_only,
        ),
        Mistake(
            "rate_change_added",
            "a learning rate scales the velocity, it is not added to it: every coordinate changes by the same factor.",
            rate_change_added,
        ),
        Mistake(
            "computes_in_float64",
            "your velocity comes back as float64 for float32 inputs: keep delta_w's dtype "
            "(no .double(), no float64 tensors).",
            computes_in_float64,
        ),
    )


QUESTIONS = {
    "momentum_step_lecture": Question(
        signature=Signature("momentum_step_lecture", ("w", "grad", "delta_w", "lr", "alpha"), ("w", "delta_w")),
        reference=momentum_step_lecture,
        checks={
            "matches_reference_constant_lr": Check(lambda: _lecture_trajectories("constant", alpha=0.9, seed=0)),
            "matches_reference_changing_lr": Check(lambda: _lecture_trajectories("changing", alpha=0.8, seed=10)),
            "keeps_float32": Check(
                lambda: _lecture_trajectories("changing", alpha=0.9, seed=90, dtype=torch.float32, length=FLOAT32_STEPS)
            ),
            "leaves_inputs_unchanged": Check(_lecture_probes, pure=True),
        },
        mistakes=_lecture_mistakes(),
        label="sec-momentum-conventions",
    ),
    "sgd_momentum_step": Question(
        signature=Signature(
            "sgd_momentum_step", ("w", "grad", "buf", "lr", "momentum", "dampening", "weight_decay"), ("w", "buf")
        ),
        reference=sgd_momentum_step,
        checks={
            "first_step_rule": Check(_sgd_first_steps),
            "dampening_over_many_steps": Check(lambda: _sgd_trajectories(0.9, 0.3, 0.0, seed=20)),
            "weight_decay_over_many_steps": Check(lambda: _sgd_trajectories(0.8, 0.0, 0.05, seed=30)),
            "everything_at_once": Check(lambda: _sgd_trajectories(0.95, 0.5, 0.01, seed=40)),
            "no_buffer_at_zero_momentum": Check(lambda: _sgd_trajectories(0.0, 0.5, 0.01, seed=50)),
            "full_dampening": Check(lambda: _sgd_trajectories(0.9, 1.0, 0.0, seed=60)),
            "keeps_float32": Check(
                lambda: _sgd_trajectories(0.9, 0.3, 0.01, seed=70, dtype=torch.float32, length=FLOAT32_STEPS)
            ),
            "leaves_inputs_unchanged": Check(_sgd_probes, pure=True),
        },
        mistakes=_sgd_mistakes(),
        label="sec-momentum-from-scratch",
    ),
    "rescale_velocity": Question(
        signature=Signature("rescale_velocity", ("delta_w", "old_lr", "new_lr"), ("delta_w",)),
        reference=rescale_velocity,
        checks={
            "matches_reference": Check(lambda: _rescale_cases(seed=100)),
            "edge_cases": Check(_rescale_edge_cases),
            "keeps_float32": Check(lambda: _rescale_cases(seed=110, dtype=torch.float32)),
            "leaves_inputs_unchanged": Check(_rescale_probes, pure=True),
        },
        mistakes=_rescale_mistakes(),
        label="sec-momentum-pytorch",
    ),
}

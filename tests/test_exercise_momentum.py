"""The 04_momentum hidden-test helpers: the reference passes, and each typical mistake is named."""

import pytest
import torch

from autograder.checks import momentum as checks
from optimlab.optimizers.momentum import momentum_step_lecture, sgd_momentum_step


def test_reference_passes_every_check():
    for schedule in ["constant", "changing"]:
        checks.check_lecture_trajectory(momentum_step_lecture, steps=50, lr_schedule=schedule, alpha=0.9)
    checks.check_lecture_is_pure(momentum_step_lecture)
    checks.check_sgd_first_step(sgd_momentum_step)
    checks.check_sgd_trajectory(sgd_momentum_step, steps=50, momentum=0.95, dampening=0.5, weight_decay=0.01)
    checks.check_sgd_is_pure(sgd_momentum_step)


def lr_outside(w, grad, delta_w, lr, alpha):
    delta_w = alpha * delta_w + grad
    return w - lr * delta_w, delta_w


def damped_first_step(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    grad = grad + weight_decay * w
    buf = (1 - dampening) * grad if buf is None else momentum * buf + (1 - dampening) * grad
    return w - lr * buf, buf


def no_dampening(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    grad = grad + weight_decay * w
    buf = grad if buf is None else momentum * buf + grad
    return w - lr * buf, buf


def decay_after_momentum(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    buf = grad if buf is None else momentum * buf + (1 - dampening) * grad
    return w - lr * (buf + weight_decay * w), buf


def in_place(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    buf = grad + weight_decay * w if buf is None else momentum * buf + (1 - dampening) * (grad + weight_decay * w)
    w -= lr * buf
    return w, buf


def raises(w, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    return 1 / 0


@pytest.mark.parametrize("check, student, phrase", [
    (lambda f: checks.check_lecture_trajectory(f, steps=50, lr_schedule="changing", alpha=0.8), lr_outside,
     "learning rate must be inside the velocity"),
    (checks.check_sgd_first_step, damped_first_step, "dampening must not apply on the first step"),
    (lambda f: checks.check_sgd_trajectory(f, steps=50, momentum=0.9, dampening=0.3, weight_decay=0.0), no_dampening,
     "ignores dampening on steps after the first"),
    (lambda f: checks.check_sgd_trajectory(f, steps=50, momentum=0.8, dampening=0.0, weight_decay=0.05),
     decay_after_momentum, "weight decay must be added to the gradient before momentum"),
    (checks.check_sgd_is_pure, in_place, "modified its input `w` in place"),
    (checks.check_sgd_first_step, raises, "raised ZeroDivisionError"),
])
def test_each_mistake_is_named(check, student, phrase):
    with pytest.raises(AssertionError, match=phrase):
        check(student)


def test_learning_rates_change_between_steps_and_reject_unknown_schedules():
    rates = checks.learning_rates(20, "changing")
    assert len(set(rates)) > 1 and all(r > 0 for r in rates)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        checks.learning_rates(3, "cosine")

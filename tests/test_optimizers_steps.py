"""The pure step functions: against torch.optim on single tensors, purity, and the
lecture-vs-PyTorch relations (momentum, Nesterov) and local gains' rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pytest
import torch

import optimlab.optimizers as ol

STEPS = 200
TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def random_tensor(seed: int, shape=(6,)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def flat(w, state):
    """``(w, NamedTuple state)`` as one flat tuple ``(w, *state)``, like the plain step functions return."""
    return (w, *state)


@dataclass(frozen=True)
class StepCase:
    """A step function, written as ``step(w, grad, state, t) -> (w, *state)``, and its torch.optim twin."""

    step: Callable
    init: Callable  # w -> the state tuple before the first step
    torch_optimizer: Callable  # params -> torch.optim optimizer
    torch_names: tuple[str, ...]  # the state tuple's entries, as torch.optim names them


def zeros(count):
    return lambda w: tuple(torch.zeros_like(w) for _ in range(count))


STEP_CASES = {
    "sgd_momentum_step-dampening-decay": StepCase(
        lambda w, g, s, t: ol.sgd_momentum_step(w, g, *s, 0.05, 0.9, 0.3, 0.01),
        lambda w: (None,),
        partial(torch.optim.SGD, lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
        ("momentum_buffer",),
    ),
    "sgd_momentum_step-nesterov-maximize": StepCase(
        lambda w, g, s, t: ol.sgd_momentum_step(w, g, *s, 0.05, 0.9, 0.0, 0.01, nesterov=True, maximize=True),
        lambda w: (None,),
        partial(torch.optim.SGD, lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True, maximize=True),
        ("momentum_buffer",),
    ),
    "nesterov_step": StepCase(
        lambda w, g, s, t: ol.nesterov_step(w, g, *s, 0.05, 0.8, 0.01),
        lambda w: (None,),
        partial(torch.optim.SGD, lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True),
        ("momentum_buffer",),
    ),
    "rmsprop_step": StepCase(
        lambda w, g, s, t: ol.rmsprop_step(w, g, *s, 0.01, 0.9, 1e-6, 0.01),
        zeros(1),
        partial(torch.optim.RMSprop, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01),
        ("square_avg",),
    ),
    "rmsprop_update-centered-momentum-maximize": StepCase(
        lambda w, g, s, t: flat(
            *ol.rmsprop_update(
                w,
                g,
                ol.RMSpropState(*s),
                0.01,
                alpha=0.9,
                weight_decay=0.01,
                momentum=0.5,
                centered=True,
                maximize=True,
            )
        ),
        lambda w: tuple(ol.rmsprop_init(w, momentum=0.5, centered=True)),
        partial(torch.optim.RMSprop, lr=0.01, alpha=0.9, weight_decay=0.01, momentum=0.5, centered=True, maximize=True),
        ("square_avg", "grad_avg", "momentum_buffer"),
    ),
    "adam_step-decay": StepCase(
        lambda w, g, s, t: ol.adam_step(w, g, *s, t, 0.01, (0.8, 0.99), 1e-8, 0.01),
        zeros(2),
        partial(torch.optim.Adam, lr=0.01, betas=(0.8, 0.99), weight_decay=0.01),
        ("exp_avg", "exp_avg_sq"),
    ),
    "adam_update-maximize": StepCase(
        lambda w, g, s, t: flat(*ol.adam_update(w, g, ol.AdamState(*s), t, 0.01, maximize=True)),
        zeros(2),
        partial(torch.optim.Adam, lr=0.01, maximize=True),
        ("exp_avg", "exp_avg_sq"),
    ),
    "adam_update-amsgrad-decay": StepCase(
        lambda w, g, s, t: flat(*ol.adam_update(w, g, ol.AdamState(*s), t, 0.01, weight_decay=0.01, amsgrad=True)),
        lambda w: tuple(ol.adam_init(w, amsgrad=True)),
        partial(torch.optim.Adam, lr=0.01, weight_decay=0.01, amsgrad=True),
        ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    ),
    "adamw_step": StepCase(
        lambda w, g, s, t: ol.adamw_step(w, g, *s, t, 0.01, weight_decay=0.05),
        zeros(2),
        partial(torch.optim.AdamW, lr=0.01, weight_decay=0.05),
        ("exp_avg", "exp_avg_sq"),
    ),
}


@pytest.mark.parametrize("case_id", STEP_CASES)
def test_step_function_matches_torch_optim(case_id):
    case = STEP_CASES[case_id]
    w = random_tensor(0)
    p = w.clone().requires_grad_()
    optimizer = case.torch_optimizer([p], foreach=False)
    state = case.init(w)
    for t in range(1, STEPS + 1):
        grad = random_tensor(t)
        if t % 7 == 0:
            grad[:2] = 0.0  # now and then, gradients that are exactly zero
        w, *state = case.step(w, grad, state, t)
        p.grad = grad
        optimizer.step()
    torch.testing.assert_close(w, p.detach(), **TIGHT)
    for name, value in zip(case.torch_names, state):
        torch.testing.assert_close(value, optimizer.state[p][name], **TIGHT)


def tensors_in(values) -> list[torch.Tensor]:
    """Every tensor in a (possibly nested) tuple of arguments or results."""
    if isinstance(values, torch.Tensor):
        return [values]
    if isinstance(values, tuple | list):
        return [tensor for value in values for tensor in tensors_in(value)]
    return []


def lookahead_case():
    def grad_fn(x):
        return torch.sin(x) + 2.0 * x

    return ol.nesterov_lookahead_step, (random_tensor(1), grad_fn, random_tensor(2), 0.1, 0.9)


PURE_CALLS = {
    "momentum_step_lecture": lambda: (
        ol.momentum_step_lecture,
        (random_tensor(1), random_tensor(2), random_tensor(3), 0.1, 0.9),
    ),
    "nesterov_lookahead_step": lookahead_case,
    "local_gain_step": lambda: (
        ol.local_gain_step,
        (random_tensor(1), random_tensor(2), random_tensor(3), 1.0 + random_tensor(4).abs(), 0.1, 0.2),
    ),
    **{
        case_id: lambda case=case: (
            partial(case.step, t=3),
            (random_tensor(1), random_tensor(2), tuple(random_tensor(10 + i) for i in range(len(case.torch_names)))),
        )
        for case_id, case in STEP_CASES.items()
    },
}


@pytest.mark.parametrize("call_id", PURE_CALLS)
def test_step_function_is_pure(call_id):
    """Inputs keep their values, and no result shares memory with an input."""
    function, args = PURE_CALLS[call_id]()
    before = [tensor.clone() for tensor in tensors_in(args)]
    results = function(*args)
    for original, kept in zip(before, tensors_in(args)):
        assert torch.equal(original, kept)
    input_storage = {tensor.untyped_storage().data_ptr() for tensor in tensors_in(args)}
    for result in tensors_in(results):
        assert result.untyped_storage().data_ptr() not in input_storage


def test_lecture_and_pytorch_momentum_agree_at_constant_lr_and_part_when_it_changes():
    """ERRATA 1: Δw = lr · buf while lr is constant; the first step after lr drops from η to η'
    differs by exactly α (η - η') b, the old velocity still carrying the old rate."""
    alpha, lr_before, lr_after, change_at = 0.9, 0.1, 0.01, 20
    w_lecture = w_torch = random_tensor(0)
    delta_w, buf = torch.zeros_like(w_lecture), None
    for t in range(1, change_at + 1):
        grad = random_tensor(t)
        w_lecture, delta_w = ol.momentum_step_lecture(w_lecture, grad, delta_w, lr_before, alpha)
        w_torch, buf = ol.sgd_momentum_step(w_torch, grad, buf, lr_before, alpha)
        torch.testing.assert_close(w_lecture, w_torch, **TIGHT)
        torch.testing.assert_close(delta_w, lr_before * buf, **TIGHT)

    grad = random_tensor(change_at + 1)
    w_lecture_next, _ = ol.momentum_step_lecture(w_lecture, grad, delta_w, lr_after, alpha)
    w_torch_next, _ = ol.sgd_momentum_step(w_torch, grad, buf, lr_after, alpha)
    torch.testing.assert_close(w_lecture_next - w_torch_next, -alpha * (lr_before - lr_after) * buf, **TIGHT)
    assert (w_lecture_next - w_torch_next).abs().max() > 1e-3


def test_pytorch_nesterov_is_the_lookahead_form_in_shifted_variables():
    """At constant lr, with θ_1 = w_1: θ_t = w_t - α Δw_{t-1} and Δw_t = lr · b_t at every step."""
    lr, alpha = 0.05, 0.9
    coupling = torch.tensor([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]], dtype=torch.float64)

    def grad_fn(x):  # gradient of a non-quadratic loss, so the identity is not a linear accident
        return coupling @ x + 0.5 * x**3

    w = theta = random_tensor(0, shape=(3,))
    delta_w, buf = torch.zeros_like(w), None
    for _ in range(STEPS):
        w, delta_w_next = ol.nesterov_lookahead_step(w, grad_fn, delta_w, lr, alpha)
        theta, buf = ol.nesterov_step(theta, grad_fn(theta), buf, lr, alpha)
        delta_w = delta_w_next
        torch.testing.assert_close(theta, w - alpha * delta_w, **TIGHT)
        torch.testing.assert_close(delta_w, lr * buf, **TIGHT)
    assert grad_fn(w).abs().max() < 1e-6, "both should have converged to the minimum at 0"


# --- local gains: a hand-worked example and the rule's properties -------------------------

LR, BETA = 0.1, 0.5
HAND_GRADS = [[1.0, -2.0, 0.0], [2.0, 1.0, 3.0], [1.0, -1.0, -3.0]]
# Worked by hand from w = [1, 2, -1], gain = [1, 1, 1], prev_grad = [0, 0, 0]:
# step 1: products [0, 0, 0]          -> gain [1, 1, 1] (untouched)
#         w = [1 - .1*1, 2 + .1*2, -1 - 0]                       = [0.9, 2.2, -1.0]
# step 2: products [2, -2, 0]         -> gain [1 + .5, 1 * .5, 1]  = [1.5, 0.5, 1.0]
#         w = [0.9 - .1*1.5*2, 2.2 - .1*.5*1, -1 - .1*1*3]       = [0.6, 2.15, -1.3]
# step 3: products [2, -1, -9]        -> gain [2.0, 0.25, 0.5]
#         w = [0.6 - .1*2*1, 2.15 + .1*.25*1, -1.3 + .1*.5*3]    = [0.4, 2.175, -1.15]
HAND_EXPECTED = [
    ([0.9, 2.2, -1.0], [1.0, 1.0, 1.0]),
    ([0.6, 2.15, -1.3], [1.5, 0.5, 1.0]),
    ([0.4, 2.175, -1.15], [2.0, 0.25, 0.5]),
]


def local_gain_by_function(w, grads):
    gain, prev_grad = torch.ones_like(w), torch.zeros_like(w)
    for grad in grads:
        w, gain = ol.local_gain_step(w, grad, prev_grad, gain, LR, BETA)
        prev_grad = grad
        yield w, gain


def local_gain_by_optimizer(w, grads):
    p = w.clone().requires_grad_()
    optimizer = ol.LocalGain([p], lr=LR, beta=BETA)
    for grad in grads:
        p.grad = grad
        optimizer.step()
        yield p.detach().clone(), optimizer.state[p]["gain"]


@pytest.mark.parametrize("run", [local_gain_by_function, local_gain_by_optimizer])
def test_local_gain_hand_worked_example(run):
    w = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64)
    grads = [torch.tensor(g, dtype=torch.float64) for g in HAND_GRADS]
    for (w_t, gain_t), (w_expected, gain_expected) in zip(run(w, grads), HAND_EXPECTED, strict=True):
        torch.testing.assert_close(gain_t, torch.tensor(gain_expected, dtype=torch.float64), rtol=0, atol=0)
        torch.testing.assert_close(w_t, torch.tensor(w_expected, dtype=torch.float64), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("beta", [0.0, 0.05, 0.5, 0.95])
def test_local_gain_rule(beta):
    """Additive increase on agreeing signs, multiplicative decrease on flips, no change at a
    zero product; the gain stays positive however often the signs flip."""
    w = random_tensor(0, (500,))
    gain, prev_grad = torch.ones_like(w), torch.zeros_like(w)
    for t in range(1, 100):
        grad = random_tensor(t, (500,)) * (random_tensor(1000 + t, (500,)) > -0.8)  # about 20% exact zeros
        _, new_gain = ol.local_gain_step(w, grad, prev_grad, gain, 0.01, beta)
        product = grad * prev_grad
        assert torch.equal(new_gain[product > 0], gain[product > 0] + beta)
        assert torch.equal(new_gain[product < 0], gain[product < 0] * (1 - beta))
        assert torch.equal(new_gain[product == 0], gain[product == 0])
        assert (new_gain > 0).all()
        gain, prev_grad = new_gain, grad


# --- Adam without bias correction (the lecture notes' form, ERRATA 7) ---------------------


def adam_first_step_by_function(w, grad, lr, bias_correction):
    zeros = torch.zeros_like(w)
    w_next, _ = ol.adam_update(w, grad, ol.AdamState(zeros, zeros), 1, lr, eps=0.0, bias_correction=bias_correction)
    return w_next


def adam_first_step_by_optimizer(w, grad, lr, bias_correction):
    p = w.clone().requires_grad_()
    p.grad = grad
    ol.Adam([p], lr=lr, eps=0.0, bias_correction=bias_correction).step()
    return p.detach()


@pytest.mark.parametrize("first_step", [adam_first_step_by_function, adam_first_step_by_optimizer])
@pytest.mark.parametrize("bias_correction", [True, False])
def test_adam_first_step_with_and_without_bias_correction(first_step, bias_correction):
    """From m = v = 0 (and eps = 0), step 1 moves every weight by lr (corrected) or by
    lr (1 - β1) / sqrt(1 - β2) ≈ 3.16 lr (the notes' uncorrected form), whatever the gradient's size."""
    lr, (beta1, beta2) = 0.01, (0.9, 0.999)
    w, grad = random_tensor(0), 1e3 * random_tensor(1)
    expected_move = lr if bias_correction else lr * (1 - beta1) / (1 - beta2) ** 0.5
    move = w - first_step(w, grad, lr, bias_correction)
    torch.testing.assert_close(move, expected_move * grad.sign(), rtol=1e-12, atol=0)


def test_adam_without_bias_correction_is_the_lecture_formula():
    """m ← β1 m + (1-β1) g, r ← β2 r + (1-β2) g², w ← w - η m / (sqrt(r) + ε), with no hats."""
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    w = w_lecture = random_tensor(0)
    m = v = m_lecture = r = torch.zeros_like(w)
    for t in range(1, 51):
        grad = random_tensor(t)
        w, (m, v, _) = ol.adam_update(
            w, grad, ol.AdamState(m, v), t, lr, betas=(beta1, beta2), eps=eps, bias_correction=False
        )
        m_lecture = beta1 * m_lecture + (1 - beta1) * grad
        r = beta2 * r + (1 - beta2) * grad**2
        w_lecture = w_lecture - lr * m_lecture / (r.sqrt() + eps)
    torch.testing.assert_close(w, w_lecture, **TIGHT)


# --- each chapter's short step function against its full-option torch.optim twin --------------

TWINS = {
    "nesterov_step": (
        lambda w, g, s, t: ol.nesterov_step(w, g, *s, 0.05, 0.8, 0.01),
        lambda w, g, s, t: ol.sgd_momentum_step(w, g, *s, 0.05, 0.8, 0.0, 0.01, nesterov=True),
        lambda w: (None,),
    ),
    "rmsprop_step": (
        lambda w, g, s, t: ol.rmsprop_step(w, g, *s, 0.01, 0.9, 1e-6, 0.01),
        lambda w, g, s, t: flat(
            *ol.rmsprop_update(w, g, ol.RMSpropState(*s), 0.01, alpha=0.9, eps=1e-6, weight_decay=0.01)
        )[:2],
        zeros(1),
    ),
    "adam_step": (
        lambda w, g, s, t: ol.adam_step(w, g, *s, t, 0.01, (0.8, 0.99), 1e-8, 0.01),
        lambda w, g, s, t: flat(*ol.adam_update(w, g, ol.AdamState(*s), t, 0.01, betas=(0.8, 0.99), weight_decay=0.01))[
            :3
        ],
        zeros(2),
    ),
    "adamw_step": (
        lambda w, g, s, t: ol.adamw_step(w, g, *s, t, 0.01, weight_decay=0.05),
        lambda w, g, s, t: flat(
            *ol.adam_update(w, g, ol.AdamState(*s), t, 0.01, weight_decay=0.05, decoupled_weight_decay=True)
        )[:3],
        zeros(2),
    ),
}


@pytest.mark.parametrize("name", TWINS)
def test_short_step_equals_its_full_option_twin(name):
    """The box's transcription and the full-option function agree step by step, state included."""
    short, full, init = TWINS[name]
    w_short = w_full = random_tensor(0)
    state_short = state_full = init(w_short)
    for t in range(1, 51):
        grad = random_tensor(t)
        w_short, *state_short = short(w_short, grad, state_short, t)
        w_full, *state_full = full(w_full, grad, state_full, t)
        torch.testing.assert_close(w_short, w_full, **TIGHT)
        for a, b in zip(state_short, state_full, strict=True):
            torch.testing.assert_close(a, b, **TIGHT)


def test_nesterov_step_without_momentum_is_gradient_descent_with_no_buffer():
    w, grad = random_tensor(0), random_tensor(1)
    new_w, buf = ol.nesterov_step(w, grad, None, 0.1, 0.0)
    assert buf is None
    torch.testing.assert_close(new_w, w - 0.1 * grad, **TIGHT)

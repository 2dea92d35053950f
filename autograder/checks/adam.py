"""Hidden checks for exercise 08_adam: cases, references and the catalog of common mistakes.

Each check is one hidden test of the notebook (`test_<check>`): `python -m autograder build`
writes those test cells from `QUESTIONS`. `adam_step` is imported from `optimlab`, whose tests pin
it to `torch.optim.Adam`; its cases give the step count `t` with each step's inputs, as a training
loop would. The reference for `AdamFromScratch` is `torch.optim.Adam` itself (the reference runs
outside the sandbox); its cases are training runs of a small network with two param groups and a
`state_dict` round trip (`autograder.checks.runners.adam`). Calling `torch.optim.Optimizer`'s own
methods (`/torch/optim/optimizer.py`) is what subclassing it means, so it is exempt from the
delegation watch; calling `torch.optim.Adam` or its functional form is delegation.
"""

from __future__ import annotations

import torch

from optimlab.optimizers.adam import adam_step

from .cases import DTYPE, SHAPES, case, learning_rates, normal
from .grading import Check, Mistake, Question, modified_hint
from .records import Signature

STEPS = 50
# Trajectories in float32 are shorter: they check the dtype, and float32 rounding grows with the steps.
FLOAT32_STEPS = 20
DEFAULT_BETAS = (0.9, 0.999)
# torch.optim.Adam's defaults, which every training case passes in full (so that a failing case can name them).
ADAM_DEFAULTS = {"lr": 1e-3, "betas": list(DEFAULT_BETAS), "eps": 1e-8, "weight_decay": 0.0}


def _probe() -> tuple[torch.Tensor, ...]:
    """Small inputs with distinct values (m and v as after a few steps), so that each mistake leaves its own trace."""
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    grad = torch.tensor([0.5, 1.0, -1.5], dtype=torch.float64)
    m = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64)
    v = torch.tensor([0.04, 0.5, 0.01], dtype=torch.float64)
    return w, grad, m, v


# ---------------------------------------------------------------- adam_step


def _step(grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0) -> dict:
    return {"grad": grad, "t": t, "lr": lr, "betas": list(betas), "eps": eps, "weight_decay": weight_decay}


def _trajectories(
    betas: tuple[float, float],
    weight_decay: float,
    seed: int,
    *,
    eps: float = 1e-8,
    scale: float = 1.0,
    dtype: torch.dtype = DTYPE,
    length: int = STEPS,
) -> list[dict]:
    """On every shape: `length` steps from m = v = 0 and t = 1, gradients of size `scale`, a changing learning rate."""
    cases = []
    for index, shape in enumerate(SHAPES):
        w, *grads = normal(shape, length + 1, seed=seed + index, dtype=dtype)
        steps = [
            _step(scale * g, t, lr, betas, eps, weight_decay)
            for t, (g, lr) in enumerate(zip(grads, learning_rates(len(grads), "changing")), start=1)
        ]
        cases.append(case({"w": w, "m": torch.zeros_like(w), "v": torch.zeros_like(w)}, steps))
    return cases


def _first_steps() -> list[dict]:
    """One step at t = 1 from m = v = 0: the corrected step is lr * g / (|g| + eps), whatever the size of g."""
    grad = torch.tensor([1e3, -1.0, 1e-3, 0.0, 2.5], dtype=DTYPE)
    cases = []
    for index, (betas, weight_decay) in enumerate([(DEFAULT_BETAS, 0.0), ((0.8, 0.99), 0.0), (DEFAULT_BETAS, 0.1)]):
        w = normal((5,), 1, seed=300 + index)[0]
        zeros = torch.zeros_like(w)
        cases.append(case({"w": w, "m": zeros, "v": zeros}, [_step(grad, 1, 0.1, betas, 1e-8, weight_decay)]))
    return cases


def _zero_gradients_and_eps() -> list[dict]:
    """Zero gradients (from zero moments, and after real steps), gradients near eps, and a large eps."""
    w, *grads = normal((6,), 9, seed=400)
    zeros = torch.zeros_like(w)
    cases = [
        case({"w": w, "m": zeros, "v": zeros}, [_step(zeros, t, 0.1) for t in (1, 2, 3)]),
        case(
            {"w": w, "m": zeros, "v": zeros},
            [_step(g, t, 0.05) for t, g in enumerate(grads[:4], start=1)]
            + [_step(zeros, t, 0.05) for t in range(5, 9)],
        ),
    ]
    cases += _trajectories(DEFAULT_BETAS, 0.0, seed=410, scale=1e-7, length=10)
    cases += _trajectories((0.8, 0.99), 0.01, seed=420, eps=1e-3, scale=0.05, length=10)
    return cases


def _probes() -> list[dict]:
    w, grad, m, v = _probe()
    return [case({"w": w, "m": m, "v": v}, [_step(grad, t, 0.1, (0.8, 0.99), 1e-8, 0.1) for t in (4, 5)])]


def _step_mistakes() -> tuple[Mistake, ...]:
    def no_bias_correction(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * m / (v.sqrt() + eps), m, v

    def betas_swapped(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta2, beta1 = betas
        grad = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v

    def eps_inside_sqrt(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * (m / (1 - beta1**t)) / (v / (1 - beta2**t) + eps).sqrt(), m, v

    def eps_before_correction(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        # The paper's "more efficient" ordering: the same except for where eps sits.
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        step_size = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
        return w - step_size * m / (v.sqrt() + eps), m, v

    def decoupled_weight_decay(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        w = w - lr * weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v

    def weight_decay_missing(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v

    def t_counted_from_zero(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * (m / (1 - beta1 ** (t + 1))) / ((v / (1 - beta2 ** (t + 1))).sqrt() + eps), m, v

    def bias_correction_m_only(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * (m / (1 - beta1**t)) / (v.sqrt() + eps), m, v

    def returns_corrected_moments(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m_hat = (beta1 * m + (1 - beta1) * grad) / (1 - beta1**t)
        v_hat = (beta2 * v + (1 - beta2) * grad**2) / (1 - beta2**t)
        return w - lr * m_hat / (v_hat.sqrt() + eps), m_hat, v_hat

    def gradient_not_squared(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad.abs()
        return w - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v

    def modifies_m_in_place(w, grad, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        grad = grad + weight_decay * w
        m.mul_(beta1).add_((1 - beta1) * grad)
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v

    return (
        Mistake(
            "no_bias_correction",
            "your step uses the raw averages (the lecture notes' form): divide by the bias corrections, "
            "m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t), before the step; with them the first "
            "step (t = 1) has size lr.",
            no_bias_correction,
            label="sec-adam-bias-correction",
        ),
        Mistake(
            "betas_swapped",
            "the two betas are swapped: betas[0] (0.9 by default) decays the gradient's average m and "
            "betas[1] (0.999) the squared gradient's average v.",
            betas_swapped,
            label="sec-adam-betas",
        ),
        Mistake(
            "eps_inside_sqrt",
            "eps goes outside the square root: divide by (sqrt(v_hat) + eps), not sqrt(v_hat + eps).",
            eps_inside_sqrt,
        ),
        Mistake(
            "eps_before_correction",
            "eps is added to the square root of the *corrected* v: sqrt(v / (1 - beta2**t)) + eps. "
            "Folding the corrections into the step size (the paper's faster form) adds eps to sqrt(v) "
            "instead, which differs where gradients are small.",
            eps_before_correction,
        ),
        Mistake(
            "decoupled_weight_decay",
            "Adam's weight_decay is an L2 term: add weight_decay * w to the gradient before the moving "
            "averages. Shrinking w directly (w - lr * weight_decay * w) is AdamW's decoupled decay.",
            decoupled_weight_decay,
            label="sec-adam-weight-decay",
        ),
        Mistake(
            "weight_decay_missing",
            "weight decay is missing: grad = grad + weight_decay * w before updating m and v.",
            weight_decay_missing,
            label="sec-adam-weight-decay",
        ),
        Mistake(
            "t_counted_from_zero",
            "t already counts from 1 (it is 1 on the first step): use beta1**t and beta2**t, not t + 1.",
            t_counted_from_zero,
            label="sec-adam-bias-correction",
        ),
        Mistake(
            "bias_correction_m_only",
            "correct the bias of both averages: v_hat = v / (1 - beta2**t) too, not only m_hat.",
            bias_correction_m_only,
            label="sec-adam-bias-correction",
        ),
        Mistake(
            "returns_corrected_moments",
            "return the raw averages m and v (the next step builds on them), not m_hat and v_hat.",
            returns_corrected_moments,
        ),
        Mistake(
            "gradient_not_squared",
            "v averages the *squared* gradient: v = beta2 * v + (1 - beta2) * grad**2.",
            gradient_not_squared,
        ),
        Mistake("modifies_m_in_place", modified_hint("m"), modifies_m_in_place),
    )


# ---------------------------------------------------------------- AdamFromScratch


def _training(
    seed: int,
    record_at: tuple[int, ...],
    *,
    groups: tuple[dict, dict],
    defaults: dict,
    round_trip_at: int | None = None,
) -> dict:
    """A training run of `autograder.checks.runners.adam`: one case step per point of the run recorded."""
    described = "two param groups of a seeded MLP" + (
        f", state_dict round trip after step {round_trip_at}" if round_trip_at else ""
    )
    defaults = {**ADAM_DEFAULTS, **defaults}
    state = {"seed": seed, "defaults": defaults, "groups": list(groups), "round_trip_at": round_trip_at}
    steps = [
        {"params": f"{described}, parameters after step {after}", **defaults, "after_steps": after}
        for after in record_at
    ]
    return case(state, steps)


def _class_first_steps() -> list[dict]:
    groups = ({"lr": 0.05}, {"lr": 0.01})
    return [_training(seed, (1, 2, 3), groups=groups, defaults={"lr": 0.02}) for seed in (0, 1)]


def _class_two_groups() -> list[dict]:
    groups = ({"lr": 0.03, "weight_decay": 0.0}, {"lr": 0.005, "weight_decay": 0.02})
    return [
        _training(seed, (5, 15, 30), groups=groups, defaults={"lr": 0.01, "betas": [0.9, 0.999]}) for seed in (2, 3)
    ]


def _class_round_trip() -> list[dict]:
    groups = ({"lr": 0.02}, {"lr": 0.01, "weight_decay": 0.05})
    return [_training(seed, (5, 10, 11, 20), groups=groups, defaults={"lr": 0.01}, round_trip_at=10) for seed in (4, 5)]


def _class_hyperparameters() -> list[dict]:
    """Non-default betas, a large eps, weight decay in both groups (different), a round trip as well."""
    groups = ({"weight_decay": 0.1, "betas": [0.8, 0.99]}, {"lr": 0.003, "weight_decay": 0.01, "eps": 1e-3})
    defaults = {"lr": 0.01, "betas": [0.85, 0.995], "eps": 1e-6, "weight_decay": 0.0}
    return [_training(6, (5, 15, 25), groups=groups, defaults=defaults, round_trip_at=10)]


# Wrong AdamFromScratch classes, each complete in itself (a student's cell could hold any of them).


class _NoBiasCorrection(torch.optim.Optimizer):
    """The lecture notes' form: raw averages."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                state["step"] += 1
                grad = p.grad + group["weight_decay"] * p
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat, v_hat = state["exp_avg"], state["exp_avg_sq"]
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class _BetasSwapped(torch.optim.Optimizer):
    """betas[0] on the squared gradient, betas[1] on the gradient."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                grad = p.grad + group["weight_decay"] * p
                beta1, beta2 = beta2, beta1
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class _EpsInsideSqrt(torch.optim.Optimizer):
    """sqrt(v_hat + eps) instead of sqrt(v_hat) + eps."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                grad = p.grad + group["weight_decay"] * p
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p.sub_(group["lr"] * m_hat / (v_hat + group["eps"]).sqrt())


class _DecoupledWeightDecay(torch.optim.Optimizer):
    """AdamW's decay instead of Adam's L2 term."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                grad = p.grad
                p.mul_(1 - group["lr"] * group["weight_decay"])
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class _StepCountedFromZero(torch.optim.Optimizer):
    """The step count advanced after the bias corrections: t = 0 on the first step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                t = state["step"]
                state["step"] += 1
                grad = p.grad + group["weight_decay"] * p
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class _BiasCorrectionOnMOnly(torch.optim.Optimizer):
    """v is used without its bias correction."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                grad = p.grad + group["weight_decay"] * p
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"]
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class _IgnoresGroupSettings(torch.optim.Optimizer):
    """Every group updated with the constructor's hyperparameters."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                settings = self.defaults
                grad = p.grad + settings["weight_decay"] * p
                beta1, beta2 = settings["betas"]
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p.sub_(settings["lr"] * m_hat / (v_hat.sqrt() + settings["eps"]))


class _StateInAttributes(torch.optim.Optimizer):
    """m, v and t kept in attributes of its own, not in self.state: lost in a round trip."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self.moments, self.steps = {}, {}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                m, v = self.moments.get(p, (torch.zeros_like(p), torch.zeros_like(p)))
                grad = p.grad + group["weight_decay"] * p
                m, v = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad**2
                t = self.steps[p] = self.steps.get(p, 0) + 1
                self.moments[p] = (m, v)
                m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class _StepCountedPerParameter(torch.optim.Optimizer):
    """One counter for the optimizer, advanced once per parameter on every step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self.t = 0

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                self.t += 1
                t = self.t
                grad = p.grad + group["weight_decay"] * p
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


def _class_mistakes() -> tuple[Mistake, ...]:
    return (
        Mistake(
            "no_bias_correction",
            "your steps use the raw averages (the lecture notes' form): divide by 1 - beta1**t and 1 - beta2**t, "
            "with t this parameter's step count from 1, before the step.",
            _NoBiasCorrection,
            label="sec-adam-bias-correction",
        ),
        Mistake(
            "betas_swapped",
            "the two betas are swapped: betas[0] decays the gradient's average (exp_avg) and betas[1] the "
            "squared gradient's (exp_avg_sq).",
            _BetasSwapped,
            label="sec-adam-betas",
        ),
        Mistake(
            "eps_inside_sqrt",
            "eps goes outside the square root: divide by (sqrt(v_hat) + eps), not sqrt(v_hat + eps).",
            _EpsInsideSqrt,
        ),
        Mistake(
            "decoupled_weight_decay",
            "Adam's weight_decay is an L2 term added to the gradient (grad + weight_decay * p) before the moving "
            "averages; shrinking p directly is AdamW's decoupled decay.",
            _DecoupledWeightDecay,
            label="sec-adam-weight-decay",
        ),
        Mistake(
            "t_counted_from_zero",
            "the step count t is 1 on a parameter's first step: increment it before the bias corrections, "
            "which use beta1**t and beta2**t (with t = 0 they divide by 1 - beta**0 = 0).",
            _StepCountedFromZero,
            label="sec-adam-bias-correction",
        ),
        Mistake(
            "bias_correction_m_only",
            "correct the bias of both averages: divide exp_avg_sq by 1 - beta2**t too.",
            _BiasCorrectionOnMOnly,
            label="sec-adam-bias-correction",
        ),
        Mistake(
            "state_not_in_self_state",
            "your optimizer loses its moments and step counts in a state_dict round trip: keep them per "
            "parameter in self.state[p] (which state_dict() saves and load_state_dict() restores), not in "
            "attributes of your own.",
            _StateInAttributes,
        ),
        Mistake(
            "step_counted_per_parameter",
            "count steps per parameter, in self.state[p]: one counter advanced for every parameter makes t "
            "grow by the number of parameters on each step.",
            _StepCountedPerParameter,
        ),
        Mistake(
            "ignores_group_settings",
            "each param group has its own hyperparameters: read lr, betas, eps and weight_decay from "
            "the group you are updating (group['lr'], ...), not from the constructor's arguments.",
            _IgnoresGroupSettings,
        ),
    )


QUESTIONS = {
    "adam_step": Question(
        signature=Signature(
            "adam_step",
            ("w", "grad", "m", "v", "t", "lr", "betas", "eps", "weight_decay"),
            ("w", "m", "v"),
            kinds=("tensor", "tensor", "tensor"),
        ),
        reference=adam_step,
        checks={
            "first_step_bias_correction": Check(_first_steps),
            "many_steps_several_shapes": Check(lambda: _trajectories((0.8, 0.99), 0.05, seed=500)),
            "zero_gradients_and_eps": Check(_zero_gradients_and_eps),
            "keeps_float32": Check(
                lambda: _trajectories(DEFAULT_BETAS, 0.01, seed=600, dtype=torch.float32, length=FLOAT32_STEPS)
            ),
            "leaves_inputs_unchanged": Check(_probes, pure=True),
        },
        mistakes=_step_mistakes(),
        label="sec-adam-algorithm",
    ),
    "AdamFromScratch": Question(
        signature=Signature(
            "AdamFromScratch",
            ("params", "lr", "betas", "eps", "weight_decay"),
            ("parameters",),
            kinds=("tensors",),
            exempt=("/torch/optim/optimizer.py",),
        ),
        reference=torch.optim.Adam,
        checks={
            "first_steps": Check(_class_first_steps),
            "two_param_groups": Check(_class_two_groups),
            "state_dict_round_trip": Check(_class_round_trip),
            "betas_eps_weight_decay": Check(_class_hyperparameters),
        },
        mistakes=_class_mistakes(),
        label="sec-adam-from-scratch",
        runner="adam_class_training",
    ),
}

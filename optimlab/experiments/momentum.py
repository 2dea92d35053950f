"""Chapter 4's experiments: momentum on a 2-D ravine, on the digits, and the two conventions.

Each experiment is a pure, seeded function ``config -> result``. A sweep over momentum
(and learning-rate) values runs as one batched computation: parameters are stacked along
a leading model dimension, so forward and backward passes serve all models at once, and
one call of :func:`optimlab.optimizers.momentum.sgd_momentum_step_batched` steps them all,
each with its own hyperparameters. A sweep of one value is the same code with ``M = 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits
from optimlab.device import default_device
from optimlab.experiments.batched_mlp import (
    init_stacked_mlp,
    minibatch_order,
    stacked_cross_entropy,
    stacked_mlp_logits,
)
from optimlab.optimizers.momentum import momentum_step_lecture, per_model, sgd_momentum_step, sgd_momentum_step_batched


def _check_sweep(momentums: tuple[float, ...], lrs: tuple[float, ...], dampening: float) -> None:
    if len(momentums) == 0:
        raise ValueError("momentums must name at least one momentum value")
    for momentum in momentums:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"Invalid momentum value: {momentum} (need 0 <= momentum < 1)")
    for lr in lrs:
        if lr <= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= dampening <= 1.0:
        raise ValueError(f"Invalid dampening value: {dampening} (need 0 <= dampening <= 1)")


def _per_model_lrs(lr: float | tuple[float, ...], momentums: tuple[float, ...]) -> tuple[float, ...]:
    """``lr`` for every model: one shared value, or a tuple with one per momentum value."""
    if isinstance(lr, tuple):
        if len(lr) != len(momentums):
            raise ValueError(f"need one learning rate per momentum value, got {len(lr)} for {len(momentums)}")
        return lr
    return (lr,) * len(momentums)


# --- A 2-D ravine: f(w) = (a w_1^2 + b w_2^2) / 2 with b >> a --------------------------------


@dataclass(frozen=True)
class QuadraticConfig:
    """SGD with momentum (PyTorch's form) on ``f(w) = (a w_1² + b w_2²) / 2``, ``(a, b) = curvatures``."""

    momentums: tuple[float, ...] = (0.0, 0.5, 0.9)
    lr: float = 0.05
    dampening: float = 0.0
    steps: int = 50
    # With lr = 0.05, lr * b = 1.9 sits just under plain SGD's limit of 2: it zigzags across the ravine.
    curvatures: tuple[float, float] = (2.0, 38.0)
    start: tuple[float, float] = (-4.5, 1.2)
    dtype: torch.dtype = torch.float64


@dataclass(frozen=True)
class QuadraticResult:
    momentums: Tensor  # (M,)
    trajectories: Tensor  # (M, steps + 1, 2): w_0 (the start), then w after each step
    losses: Tensor  # (M, steps + 1): f along the trajectory


def quadratic_loss(w: Tensor, curvatures: tuple[float, float]) -> Tensor:
    """``f(w) = (a w_1² + b w_2²) / 2`` over the last dimension of ``w``."""
    a, b = curvatures
    return 0.5 * (a * w[..., 0] ** 2 + b * w[..., 1] ** 2)


def run_quadratic(config: QuadraticConfig) -> QuadraticResult:
    """Trajectories of every momentum in ``config.momentums`` from the same start, in one batch."""
    _check_sweep(config.momentums, (config.lr,), config.dampening)
    if min(config.curvatures) <= 0:
        raise ValueError(f"curvatures must be positive, got {config.curvatures}")
    device = default_device()
    n_models = len(config.momentums)
    w = torch.tensor(config.start, dtype=config.dtype, device=device).expand(n_models, 2).clone()
    curvatures = torch.tensor(config.curvatures, dtype=config.dtype, device=device)
    momentums = per_model(config.momentums, w)
    buf = None
    trajectory = [w]
    for _ in range(config.steps):
        grad = curvatures * w  # the gradient of f, exactly
        w, buf = sgd_momentum_step_batched(w, grad, buf, config.lr, momentums, config.dampening)
        trajectory.append(w)
    trajectories = torch.stack(trajectory, dim=1)
    return QuadraticResult(
        momentums=torch.tensor(config.momentums, dtype=config.dtype),
        trajectories=trajectories.cpu(),
        losses=quadratic_loss(trajectories, config.curvatures).cpu(),
    )


# --- The digits: a 64-32-10 MLP, SGD with momentum, full batch or minibatches ---------------


@dataclass(frozen=True)
class DigitsSweepConfig:
    """SGD with momentum (PyTorch's form) on a 64-``hidden``-10 MLP, one model per momentum.

    ``lr`` is shared, or a tuple with one learning rate per momentum value (a sweep over
    pairs). ``batch_size=None`` is full-batch training; otherwise every model sees the
    same seeded minibatches, in the same order (:func:`minibatch_order`).
    """

    momentums: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
    lr: float | tuple[float, ...] = 0.05
    dampening: float = 0.0
    steps: int = 300
    batch_size: int | None = None
    hidden: int = 32
    seed: int = 0
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class DigitsSweepResult:
    momentums: Tensor  # (M,)
    lrs: Tensor  # (M,)
    # (M, steps + 1): the loss on each step's batch, before the step (the whole training
    # set at full batch), then the whole training set's loss after the last step
    train_loss: Tensor
    test_loss: Tensor  # (M,): after training
    test_accuracy: Tensor  # (M,): fraction of test digits classified correctly after training


def run_digits_sweep(config: DigitsSweepConfig, *, on_step: Callable[[int], None] | None = None) -> DigitsSweepResult:
    """Train one MLP per momentum value, all from the same initial weights, as one stacked batch.

    ``on_step(k)``, if given, is called after step ``k`` (1-based): to report progress, or
    to abandon the run by raising. It sees nothing of the training, so the result depends
    on ``config`` alone.
    """
    lrs = _per_model_lrs(config.lr, config.momentums)
    _check_sweep(config.momentums, lrs, config.dampening)
    if config.steps < 1 or config.hidden < 1:
        raise ValueError(f"steps and hidden must be positive, got steps={config.steps}, hidden={config.hidden}")
    device = default_device()
    digits = load_digits(dtype=config.dtype, device=device)
    params = init_stacked_mlp(
        (DIGITS_N_FEATURES, config.hidden, DIGITS_N_CLASSES),
        len(config.momentums),
        seed=config.seed,
        dtype=config.dtype,
        device=device,
    )
    # Per-model hyperparameters, shaped for each parameter's stack.
    momentums = [per_model(config.momentums, p) for p in params]
    step_lrs = [per_model(lrs, p) for p in params]
    bufs: list[Tensor | None] = [None] * len(params)
    train_loss = []
    for step, batch in enumerate(minibatch_order(len(digits.train.y), config.batch_size, config.steps, seed=config.seed)):
        x, y = (digits.train.x, digits.train.y) if batch is None else (digits.train.x[batch], digits.train.y[batch])
        params = [p.detach().requires_grad_() for p in params]
        losses = stacked_cross_entropy(stacked_mlp_logits(params, x), y)
        grads = torch.autograd.grad(losses.sum(), params)
        train_loss.append(losses.detach())
        with torch.no_grad():
            stepped = [
                sgd_momentum_step_batched(p, g, b, lr, momentum, config.dampening)
                for p, g, b, lr, momentum in zip(params, grads, bufs, step_lrs, momentums, strict=True)
            ]
        params = [p for p, _ in stepped]
        bufs = [b for _, b in stepped]
        if on_step is not None:
            on_step(step + 1)
    with torch.no_grad():
        train_loss.append(stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x), digits.train.y))
        test_logits = stacked_mlp_logits(params, digits.test.x)
        test_loss = stacked_cross_entropy(test_logits, digits.test.y)
        test_accuracy = (test_logits.argmax(dim=-1) == digits.test.y).to(config.dtype).mean(dim=1)
    return DigitsSweepResult(
        momentums=torch.tensor(config.momentums, dtype=config.dtype),
        lrs=torch.tensor(lrs, dtype=config.dtype),
        train_loss=torch.stack(train_loss, dim=1).cpu(),
        test_loss=test_loss.cpu(),
        test_accuracy=test_accuracy.cpu(),
    )


# --- The lecture's convention vs PyTorch's under a learning-rate drop ------------------------


@dataclass(frozen=True)
class ConventionsConfig:
    """Both momentum conventions on ``f(w) = curvature · w² / 2``; the rate drops by ``drop_factor`` at ``drop_at``."""

    lr: float = 0.1
    momentum: float = 0.9
    steps: int = 12
    drop_at: int = 6
    drop_factor: float = 0.1
    curvature: float = 1.0
    start: float = 1.0


@dataclass(frozen=True)
class ConventionsResult:
    lrs: Tensor  # (steps,): the learning rate used at steps 1..steps
    lecture: Tensor  # (steps + 1,): w_0, then w after each step, lecture form (lr inside the velocity)
    pytorch: Tensor  # (steps + 1,): the same in PyTorch's form (lr outside the buffer)


def conventions_learning_rates(config: ConventionsConfig) -> Tensor:
    """``lr`` for steps before ``drop_at`` (0-based), ``lr · drop_factor`` from then on (as ``MultiStepLR``)."""
    lrs = torch.full((config.steps,), config.lr, dtype=torch.float64)
    lrs[config.drop_at :] = config.lr * config.drop_factor
    return lrs


def run_conventions(config: ConventionsConfig) -> ConventionsResult:
    """Trajectories of both conventions with the same schedule: equal before the drop, apart after it."""
    if config.steps < 1 or not 0 <= config.drop_at <= config.steps:
        raise ValueError(f"need steps >= 1 and 0 <= drop_at <= steps, got {config.steps}, {config.drop_at}")
    lrs = conventions_learning_rates(config)
    w_lecture = w_pytorch = torch.tensor(config.start, dtype=torch.float64)
    delta_w = torch.zeros_like(w_lecture)
    buf = None
    lecture, pytorch = [w_lecture], [w_pytorch]
    for lr in lrs.tolist():
        w_lecture, delta_w = momentum_step_lecture(
            w_lecture, config.curvature * w_lecture, delta_w, lr=lr, alpha=config.momentum
        )
        w_pytorch, buf = sgd_momentum_step(
            w_pytorch, config.curvature * w_pytorch, buf, lr=lr, momentum=config.momentum
        )
        lecture.append(w_lecture)
        pytorch.append(w_pytorch)
    return ConventionsResult(lrs=lrs, lecture=torch.stack(lecture), pytorch=torch.stack(pytorch))

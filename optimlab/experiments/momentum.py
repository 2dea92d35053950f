"""Chapter 4's experiments: momentum on a 2-D ravine and its theory, on the digits, and the two conventions.

Each experiment is a pure, seeded function ``config -> result``; the configs the chapter
runs are named here (``RAVINE``, ``RATE_SWEEP``, ...) so that its tests check the claims
the chapter makes on exactly those runs. A sweep over momentum
(and learning-rate) values runs as one batched computation: parameters are stacked along
a leading model dimension, so forward and backward passes serve all models at once, and
one call of :func:`optimlab.optimizers.momentum.sgd_momentum_step_batched` steps them all,
each with its own hyperparameters. A sweep of one value is the same code with ``M = 1``.
"""

from __future__ import annotations

import dataclasses
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
from optimlab.optimizers.base import check_at_least_zero
from optimlab.optimizers.momentum import (
    momentum_step_lecture,
    per_model,
    rescale_velocity,
    sgd_momentum_step,
    sgd_momentum_step_batched,
)


def _check_sweep(momentums: tuple[float, ...], lrs: tuple[float, ...]) -> None:
    """The rules ``torch.optim.SGD`` (and :class:`optimlab.optimizers.SGD`) apply, with their messages."""
    if len(momentums) == 0:
        raise ValueError("momentums must name at least one momentum value")
    for momentum in momentums:
        check_at_least_zero("momentum value", momentum)
    for lr in lrs:
        check_at_least_zero("learning rate", lr)


def _per_model_lrs(lr: float | tuple[float, ...], momentums: tuple[float, ...]) -> tuple[float, ...]:
    """``lr`` for every model: one shared value, or a tuple with one per momentum value."""
    if isinstance(lr, tuple):
        if len(lr) != len(momentums):
            raise ValueError(f"need one learning rate per momentum value, got {len(lr)} for {len(momentums)}")
        return lr
    return (lr,) * len(momentums)


# --- A 2-D ravine: f(w) = (h_1 w_1^2 + h_2 w_2^2) / 2 with h_2 >> h_1 -------------------------


@dataclass(frozen=True)
class QuadraticConfig:
    """SGD with momentum (PyTorch's form) on ``f(w) = (h_1 w_1² + h_2 w_2²) / 2``, ``(h_1, h_2) = curvatures``."""

    momentums: tuple[float, ...] = (0.0, 0.5, 0.9)
    lr: float = 0.05
    dampening: float = 0.0
    steps: int = 50
    # With lr = 0.05, lr * h_2 = 1.9 sits just under plain SGD's limit of 2: it zigzags across the ravine.
    curvatures: tuple[float, float] = (2.0, 38.0)
    start: tuple[float, float] = (-4.5, 1.2)
    dtype: torch.dtype = torch.float64


@dataclass(frozen=True)
class QuadraticResult:
    momentums: Tensor  # (M,)
    trajectories: Tensor  # (M, steps + 1, 2): w_0 (the start), then w after each step
    losses: Tensor  # (M, steps + 1): f along the trajectory


def quadratic_loss(w: Tensor, curvatures: tuple[float, float]) -> Tensor:
    """``f(w) = (h_1 w_1² + h_2 w_2²) / 2`` over the last dimension of ``w``."""
    h_1, h_2 = curvatures
    return 0.5 * (h_1 * w[..., 0] ** 2 + h_2 * w[..., 1] ** 2)


def run_quadratic(config: QuadraticConfig) -> QuadraticResult:
    """Trajectories of every momentum in ``config.momentums`` from the same start, in one batch."""
    _check_sweep(config.momentums, (config.lr,))
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


# --- The theory of the ravine: a linear recurrence per eigen-direction -------------------------
#
# On f(w) = w^T H w / 2, heavy ball (PyTorch's form, no dampening: b_t = g_t + mu b_{t-1},
# w_{t+1} = w_t - eta b_t) moves each eigen-direction of H, with curvature h, by
#     w_{t+1} = (1 + mu - eta h) w_t - mu w_{t-1},
# so w_t is a combination of z_1^t and z_2^t, the roots of z^2 - (1 + mu - eta h) z + mu.


def contraction_rates(lr: float, momentums: Tensor, curvatures: tuple[float, ...]) -> Tensor:
    """The predicted rate of each momentum: the largest root modulus of ``z² − (1 + μ − η h) z + μ`` over ``h``.

    ``momentums`` is a float64 tensor of any shape; the distance to the minimum shrinks by
    this factor per step in the long run (above 1 it grows).
    """
    rates = torch.zeros_like(momentums)
    for curvature in curvatures:
        trace = (1 + momentums - lr * curvature).to(torch.complex128)
        root_of_discriminant = torch.sqrt(trace**2 - 4 * momentums)
        largest = torch.maximum((trace + root_of_discriminant).abs(), (trace - root_of_discriminant).abs()) / 2
        rates = torch.maximum(rates, largest)
    return rates


def measured_rates(trajectories: Tensor) -> Tensor:
    """The rate each path (``M x (T + 1) x d``) actually shrinks at, from its last three quarters.

    A path whose roots are complex spirals in: its distance ``r^t |cos(θ t + φ)|`` touches
    the envelope ``r^t`` once per half turn. The largest distance in ``[T/4, T/2]`` and in
    ``[3T/4, T]`` both sit near the envelope at the windows' starts, so their ratio is
    ``r^(T/2)``; the windows must be longer than a half turn.
    """
    distances = trajectories.norm(dim=-1)
    steps = distances.shape[1] - 1
    early = distances[:, steps // 4 : steps // 2 + 1].amax(dim=1)
    late = distances[:, 3 * steps // 4 :].amax(dim=1)
    return (late / early) ** (1.0 / (3 * steps // 4 - steps // 4))


@dataclass(frozen=True)
class RateTheory:
    """What theory says of heavy ball on a quadratic with curvatures from ``h_1`` (smallest) to ``h_2`` (largest)."""

    condition_number: float  # kappa = h_2 / h_1
    best_plain_lr: float  # 2 / (h_1 + h_2): plain gradient descent's best step
    plain_rate: float  # (kappa - 1) / (kappa + 1): its rate
    best_momentum_at_lr: float  # the momentum with the smallest rate at the given lr: (1 - sqrt(lr h_1))^2
    best_rate_at_lr: float  # its rate, 1 - sqrt(lr h_1)
    # ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2, with its own lr 4 / (sqrt(h_1) + sqrt(h_2))^2
    optimal_momentum: float
    optimal_lr: float
    optimal_rate: float  # (sqrt(kappa) - 1) / (sqrt(kappa) + 1)


def rate_theory(lr: float, curvatures: tuple[float, ...]) -> RateTheory:
    """The closed forms of :class:`RateTheory` for the learning rate ``lr``.

    At a fixed ``lr`` the smallest rate comes when the gentle direction is critically
    damped (a double root, ``μ = (1 − sqrt(η h_1))²``) while the steep one already spirals
    (its rate ``sqrt(μ)`` is then the same). The steep one spirals there as long as
    ``lr <= optimal_lr``; above it ``best_momentum_at_lr`` and ``best_rate_at_lr`` do not apply.
    """
    gentle, steep = min(curvatures), max(curvatures)
    kappa = steep / gentle
    root_kappa = kappa**0.5
    return RateTheory(
        condition_number=kappa,
        best_plain_lr=2 / (gentle + steep),
        plain_rate=(kappa - 1) / (kappa + 1),
        best_momentum_at_lr=(1 - (lr * gentle) ** 0.5) ** 2,
        best_rate_at_lr=1 - (lr * gentle) ** 0.5,
        optimal_momentum=((root_kappa - 1) / (root_kappa + 1)) ** 2,
        optimal_lr=4 / (gentle**0.5 + steep**0.5) ** 2,
        optimal_rate=(root_kappa - 1) / (root_kappa + 1),
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


def _train_digits(
    config: DigitsSweepConfig, seeds: tuple[int, ...], on_step: Callable[[int], None] | None
) -> tuple[tuple[float, ...], Tensor, Tensor, Tensor]:
    """Train ``len(seeds) x len(config.momentums)`` MLPs as one stack: seed-major, momentum-minor.

    The models of one seed start from that seed's weights and see that seed's minibatches;
    a model steps exactly as it would in a stack of its own. Returns the learning rates and
    the ``(S, M, ...)`` training losses, test losses and test accuracies.
    """
    lrs = _per_model_lrs(config.lr, config.momentums)
    _check_sweep(config.momentums, lrs)
    if config.steps < 1 or config.hidden < 1:
        raise ValueError(f"steps and hidden must be positive, got steps={config.steps}, hidden={config.hidden}")
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    device = default_device()
    digits = load_digits(dtype=config.dtype, device=device)
    n_seeds, n_momentums = len(seeds), len(config.momentums)
    sizes = (DIGITS_N_FEATURES, config.hidden, DIGITS_N_CLASSES)
    per_seed = [init_stacked_mlp(sizes, n_momentums, seed=seed, dtype=config.dtype, device=device) for seed in seeds]
    params = [torch.cat(stacks) for stacks in zip(*per_seed)]
    # Per-model hyperparameters, shaped for each parameter's stack.
    momentums = [per_model(config.momentums * n_seeds, p) for p in params]
    step_lrs = [per_model(lrs * n_seeds, p) for p in params]
    bufs: list[Tensor | None] = [None] * len(params)
    n_train = len(digits.train.y)
    orders = [minibatch_order(n_train, config.batch_size, config.steps, seed=seed) for seed in seeds]
    train_loss = []
    for step, batches in enumerate(zip(*orders)):
        if batches[0] is None:
            x, y = digits.train.x, digits.train.y
        else:
            # Each seed's batch, repeated for each of its momentum values: (S * M, batch, ...).
            index = torch.stack(batches).to(device).repeat_interleave(n_momentums, dim=0)
            x, y = digits.train.x[index], digits.train.y[index]
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

    def by_seed(values: Tensor) -> Tensor:
        return values.cpu().reshape(n_seeds, n_momentums, *values.shape[1:])

    return lrs, by_seed(torch.stack(train_loss, dim=1)), by_seed(test_loss), by_seed(test_accuracy)


def run_digits_sweep(config: DigitsSweepConfig, *, on_step: Callable[[int], None] | None = None) -> DigitsSweepResult:
    """Train one MLP per momentum value, all from the same initial weights, as one stacked batch.

    ``on_step(k)``, if given, is called after step ``k`` (1-based): to report progress, or
    to abandon the run by raising. It sees nothing of the training, so the result depends
    on ``config`` alone.
    """
    lrs, train_loss, test_loss, test_accuracy = _train_digits(config, (config.seed,), on_step)
    return DigitsSweepResult(
        momentums=torch.tensor(config.momentums, dtype=config.dtype),
        lrs=torch.tensor(lrs, dtype=config.dtype),
        train_loss=train_loss[0],
        test_loss=test_loss[0],
        test_accuracy=test_accuracy[0],
    )


@dataclass(frozen=True)
class DigitsSeedsResult:
    """A digits sweep run once per seed: each seed draws its own initial weights and minibatches."""

    seeds: tuple[int, ...]
    momentums: Tensor  # (M,)
    lrs: Tensor  # (M,)
    train_loss: Tensor  # (S, M, steps + 1), as in DigitsSweepResult, one row per seed
    test_accuracy: Tensor  # (S, M)


def run_digits_seeds(config: DigitsSweepConfig, seeds: tuple[int, ...]) -> DigitsSeedsResult:
    """:func:`run_digits_sweep` for every seed of ``seeds`` (``config.seed`` is ignored), all in one stack."""
    lrs, train_loss, _, test_accuracy = _train_digits(config, tuple(seeds), None)
    return DigitsSeedsResult(
        seeds=tuple(seeds),
        momentums=torch.tensor(config.momentums, dtype=config.dtype),
        lrs=torch.tensor(lrs, dtype=config.dtype),
        train_loss=train_loss,
        test_accuracy=test_accuracy,
    )


def equal_effective_lrs(effective_lr: float, momentums: tuple[float, ...]) -> tuple[float, ...]:
    """The learning rate ``η = η_eff (1 − μ)`` that gives every momentum the same effective rate ``η / (1 − μ)``."""
    return tuple(effective_lr * (1 - momentum) for momentum in momentums)


# --- The lecture's convention vs PyTorch's under a learning-rate drop ------------------------


@dataclass(frozen=True)
class ConventionsConfig:
    """Both momentum conventions on ``f(w) = curvature · w² / 2``; the rate drops by ``drop_factor`` at ``drop_at``."""

    lr: float = 0.1
    momentum: float = 0.9
    steps: int = 120
    drop_at: int = 6
    drop_factor: float = 0.1
    curvature: float = 1.0
    start: float = 1.0


@dataclass(frozen=True)
class ConventionsResult:
    lrs: Tensor  # (steps,): the learning rate used at steps 1..steps
    lecture: Tensor  # (steps + 1,): w_0, then w after each step, lecture form (lr inside the velocity)
    pytorch: Tensor  # (steps + 1,): the same in PyTorch's form (lr outside the buffer)
    # (steps + 1,): the lecture form whose velocity is rescaled by lr_new / lr_old whenever the rate changes
    rescaled: Tensor


def conventions_learning_rates(config: ConventionsConfig) -> Tensor:
    """``lr`` for steps before ``drop_at`` (0-based), ``lr · drop_factor`` from then on (as ``MultiStepLR``)."""
    lrs = torch.full((config.steps,), config.lr, dtype=torch.float64)
    lrs[config.drop_at :] = config.lr * config.drop_factor
    return lrs


def run_conventions(config: ConventionsConfig) -> ConventionsResult:
    """Trajectories of both conventions with the same schedule, and of the lecture form with its velocity rescaled."""
    if config.steps < 1 or not 0 <= config.drop_at <= config.steps:
        raise ValueError(f"need steps >= 1 and 0 <= drop_at <= steps, got {config.steps}, {config.drop_at}")
    lrs = conventions_learning_rates(config).tolist()
    w_lecture = w_pytorch = w_rescaled = torch.tensor(config.start, dtype=torch.float64)
    delta_w = delta_w_rescaled = torch.zeros_like(w_lecture)
    buf = None
    lecture, pytorch, rescaled = [w_lecture], [w_pytorch], [w_rescaled]
    for lr_before, lr in zip([lrs[0], *lrs], lrs):
        w_lecture, delta_w = momentum_step_lecture(
            w_lecture, config.curvature * w_lecture, delta_w, lr=lr, alpha=config.momentum
        )
        w_pytorch, buf = sgd_momentum_step(
            w_pytorch, config.curvature * w_pytorch, buf, lr=lr, momentum=config.momentum
        )
        delta_w_rescaled = rescale_velocity(delta_w_rescaled, lr_before, lr)
        w_rescaled, delta_w_rescaled = momentum_step_lecture(
            w_rescaled, config.curvature * w_rescaled, delta_w_rescaled, lr=lr, alpha=config.momentum
        )
        lecture.append(w_lecture)
        pytorch.append(w_pytorch)
        rescaled.append(w_rescaled)
    return ConventionsResult(
        lrs=torch.tensor(lrs, dtype=torch.float64),
        lecture=torch.stack(lecture),
        pytorch=torch.stack(pytorch),
        rescaled=torch.stack(rescaled),
    )


# --- Our step function against torch.optim.SGD, in float64 -----------------------------------


@dataclass(frozen=True)
class TorchMatchConfig:
    """``steps`` steps on the random quadratic ``w^T A w / 2`` (``A`` positive definite, ``dim x dim``).

    The learning rate halves every ``halve_every`` steps, set in the optimizer's param
    group as a scheduler would.
    """

    steps: int = 200
    dim: int = 5
    lr: float = 0.01
    halve_every: int = 50
    momentum: float = 0.9
    dampening: float = 0.3
    weight_decay: float = 1e-3
    seed: int = 0


@dataclass(frozen=True)
class TorchMatchResult:
    ours: Tensor  # (steps + 1, dim): the weights under the step function, float64
    theirs: Tensor  # (steps + 1, dim): the same under torch.optim.SGD
    largest_difference: float  # over all steps and coordinates


def run_torch_match(config: TorchMatchConfig, step: Callable = sgd_momentum_step) -> TorchMatchResult:
    """Run ``step`` (a function with :func:`sgd_momentum_step`'s signature) and ``torch.optim.SGD`` side by side."""
    generator = torch.Generator().manual_seed(config.seed)
    a = torch.randn(config.dim, config.dim, generator=generator, dtype=torch.float64)
    a = a @ a.T + torch.eye(config.dim, dtype=torch.float64)
    settings = dict(momentum=config.momentum, dampening=config.dampening, weight_decay=config.weight_decay)
    ours, buf = torch.ones(config.dim, dtype=torch.float64), None
    theirs = torch.ones(config.dim, dtype=torch.float64, requires_grad=True)
    reference = torch.optim.SGD([theirs], lr=config.lr, **settings)
    ours_path, theirs_path = [ours], [theirs.detach().clone()]
    for t in range(config.steps):
        lr = config.lr * 0.5 ** (t // config.halve_every)
        reference.param_groups[0]["lr"] = lr
        ours, buf = step(ours, a @ ours, buf, lr, **settings)
        theirs.grad = a @ theirs.detach()
        reference.step()
        ours_path.append(ours)
        theirs_path.append(theirs.detach().clone())
    ours_all, theirs_all = torch.stack(ours_path), torch.stack(theirs_path)
    return TorchMatchResult(
        ours=ours_all, theirs=theirs_all, largest_difference=(ours_all - theirs_all).abs().max().item()
    )


# --- The runs chapter 4 shows: its tests check the chapter's claims on these --------------------

# The ravine's sweep (50 steps, as drawn) and a longer, denser one to measure each momentum's rate.
RAVINE = QuadraticConfig(momentums=(0.0, 0.3, 0.5, 0.7, 0.9, 0.95), lr=0.05, steps=50)
RATE_SWEEP = QuadraticConfig(momentums=tuple(round(0.05 * k, 2) for k in range(20)), lr=0.05, steps=200)
# A rate at which plain gradient descent diverges (lr h_2 > 2) and heavy ball does not (lr h_2 < 2 (1 + μ)).
WIDER_RANGE = QuadraticConfig(momentums=(0.0, 0.5), lr=0.06, steps=50)
CONVENTIONS = ConventionsConfig()
# Minibatches of 32 and several seeds; the same lr for every momentum (so its effective rate
# lr / (1 - mu) grows with mu), then the same effective rate for every momentum.
DIGITS_MOMENTUMS = (0.0, 0.5, 0.8, 0.9, 0.95)
DIGITS_SEEDS = (0, 1, 2, 3, 4)
DIGITS_EFFECTIVE_LR = 0.2
DIGITS_SAME_LR = DigitsSweepConfig(momentums=DIGITS_MOMENTUMS, lr=0.05, batch_size=32, steps=400)
DIGITS_SAME_EFFECTIVE_LR = dataclasses.replace(
    DIGITS_SAME_LR, lr=equal_effective_lrs(DIGITS_EFFECTIVE_LR, DIGITS_MOMENTUMS)
)

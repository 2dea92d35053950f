"""Chapter 6's experiments: local gains on a badly scaled quadratic (with their theory), on noisy least squares
at several batch sizes, and the sign-based steps that lead to RMSProp.

Each experiment is a pure, seeded function ``config -> result``. Local gains act element-wise, so a sweep
(over ``β``, learning rates or seeds) is one stacked tensor stepped by one call of
:func:`optimlab.optimizers.local_gain.local_gain_step` with per-model hyperparameters broadcast against it.
The configs the chapter runs are named at the bottom, so that its tests check the chapter's claims on exactly
those runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from optimlab.device import default_device, one_thread
from optimlab.experiments.batched_mlp import minibatch_order
from optimlab.optimizers.base import check_at_least_zero, check_below_one
from optimlab.optimizers.local_gain import local_gain_step
from optimlab.optimizers.rmsprop import rmsprop_step


def _check_betas(betas: tuple[float, ...]) -> None:
    if len(betas) == 0:
        raise ValueError("betas must name at least one beta value")
    for beta in betas:
        check_below_one("beta value", beta)


def bounded_local_gain_step(
    w: Tensor,
    grad: Tensor,
    prev_grad: Tensor,
    gain: Tensor,
    lr: float,
    beta: float,
    *,
    gain_min: float,
    gain_max: float,
) -> tuple[Tensor, Tensor]:
    r""":func:`~optimlab.optimizers.local_gain.local_gain_step` with the gain clipped to ``[gain_min, gain_max]``.

    .. math::

        \gamma_t \leftarrow \operatorname{clip}(\text{the rule's } \gamma_t,\ \gamma_{\min},\ \gamma_{\max}),
        \qquad w_{t+1} \leftarrow w_t - \eta\, \gamma_t\, g_t

    The rule's gain comes from the reference step run with ``lr = 0`` (which leaves ``w`` alone); only the
    clip and the weight update, with the clipped gain, are written here.
    """
    _, gain = local_gain_step(w, grad, prev_grad, gain, 0.0, beta)
    gain = gain.clamp(gain_min, gain_max)
    return w - lr * gain * grad, gain


# --- A badly scaled quadratic: f(w) = sum_i h_i w_i^2 / 2 --------------------------------------


@dataclass(frozen=True)
class GainsQuadraticConfig:
    """Local gains on ``f(w) = Σ h_i w_i² / 2``, ``h = curvatures``, one run per value of ``betas``.

    ``β = 0`` is plain gradient descent (the gains stay 1). ``gain_max``, if set, bounds the gains
    (:func:`bounded_local_gain_step` with ``gain_min = 0``).
    """

    betas: tuple[float, ...] = (0.0, 0.05)
    lr: float = 0.05
    steps: int = 300
    curvatures: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    start: float = 1.0
    gain_max: float | None = None


@dataclass(frozen=True)
class GainsQuadraticResult:
    betas: Tensor  # (B,)
    curvatures: Tensor  # (d,)
    trajectories: Tensor  # (B, steps + 1, d): w_0, then w after each step
    gains: Tensor  # (B, steps + 1, d): the gains before the first step (ones), then after each step
    losses: Tensor  # (B, steps + 1): f along the trajectory


def run_gains_quadratic(config: GainsQuadraticConfig) -> GainsQuadraticResult:
    """Every ``β`` of ``config.betas`` from the same start, in one batch, in float64."""
    _check_betas(config.betas)
    check_at_least_zero("learning rate", config.lr)
    if min(config.curvatures) <= 0:
        raise ValueError(f"curvatures must be positive, got {config.curvatures}")
    device = default_device()
    curvatures = torch.tensor(config.curvatures, dtype=torch.float64, device=device)
    n_betas, dim = len(config.betas), len(config.curvatures)
    betas = torch.tensor(config.betas, dtype=torch.float64, device=device).unsqueeze(1)
    w = torch.full((n_betas, dim), config.start, dtype=torch.float64, device=device)
    gain = torch.ones_like(w)
    prev_grad = torch.zeros_like(w)  # no previous gradient before the first step: the gain stays 1
    trajectory, gains = [w], [gain]
    for _ in range(config.steps):
        grad = curvatures * w  # the gradient of f, exactly
        if config.gain_max is None:
            w, gain = local_gain_step(w, grad, prev_grad, gain, config.lr, betas)
        else:
            w, gain = bounded_local_gain_step(
                w, grad, prev_grad, gain, config.lr, betas, gain_min=0.0, gain_max=config.gain_max
            )
        prev_grad = grad
        trajectory.append(w)
        gains.append(gain)
    trajectories = torch.stack(trajectory, dim=1)
    return GainsQuadraticResult(
        betas=betas.squeeze(1).cpu(),
        curvatures=curvatures.cpu(),
        trajectories=trajectories.cpu(),
        gains=torch.stack(gains, dim=1).cpu(),
        losses=(0.5 * curvatures * trajectories**2).sum(dim=-1).cpu(),
    )


# --- The theory of the gains on a quadratic --------------------------------------------------
#
# Along a coordinate with curvature h, w_{t+1} = (1 - eta gamma_t h) w_t and g_t = h w_t, so the signs of
# g_{t+1} and g_t agree exactly when eta gamma_t h < 1. The gain grows by beta per step while
# gamma < 1 / (eta h) and shrinks by the factor 1 - beta once it is above: it is drawn to the Newton step
# gamma* = 1 / (eta h), and once near it never leaves the band [(1 - beta) gamma*, gamma* + beta].


def newton_gains(lr: float, curvatures: Tensor) -> Tensor:
    """``γ* = 1 / (η h)``: the gain that makes the step ``η γ h w`` land on the minimum of a coordinate."""
    return 1.0 / (lr * curvatures)


def gain_band(lr: float, curvatures: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """The band ``[(1 − β) γ*, γ* + β]`` that a coordinate's gain never leaves once inside it."""
    target = newton_gains(lr, curvatures)
    return (1 - beta) * target, target + beta


def ramp_gains(beta: float, steps: int) -> Tensor:
    """``1 + β (t − 1)`` after step ``t`` (1 before any step and after the first): the gain of a coordinate
    whose gradient has not changed sign, shape ``(steps + 1,)``."""
    t = torch.arange(steps + 1, dtype=torch.float64)
    return 1 + beta * (t - 1).clamp(min=0)


def first_entry_into_band(gains: Tensor, lower: Tensor, upper: Tensor) -> Tensor:
    """For each coordinate of ``gains`` (``(steps + 1, d)``), the first step its gain is inside the band
    (``steps + 1`` if never)."""
    inside = (gains >= lower) & (gains <= upper)
    never = torch.full((gains.shape[1],), gains.shape[0], dtype=torch.long)
    first = inside.to(torch.long).argmax(dim=0)
    return torch.where(inside.any(dim=0), first, never)


# --- Noisy least squares, full batch and minibatches -----------------------------------------


# A run whose loss ever exceeds this multiple of its starting loss is unstable (see tuned_lr_index).
UNSTABLE_GROWTH = 10.0


@dataclass(frozen=True)
class LeastSquaresConfig:
    """Plain SGD and local gains on ``L(w) = mean_n (x_n · w − y_n)² / 2``, every learning rate of ``lrs``.

    Feature ``i`` is drawn with standard deviation ``scales[i]``, so the curvatures are about
    ``scales[i]²`` (a condition number of about 10⁴ by default); ``y = x · w_true + noise · ε``.
    ``batch_size=None`` is full-batch training.
    """

    batch_size: int | None = None
    lrs: tuple[float, ...] = tuple(10 ** (k / 4) for k in range(-12, -2))
    beta: float = 0.2
    steps: int = 300
    n_examples: int = 512
    scales: tuple[float, ...] = tuple(10 ** (-1 + 2 * k / 11) for k in range(12))
    noise: float = 0.5


@dataclass(frozen=True)
class LeastSquaresResult:
    seeds: tuple[int, ...]
    lrs: Tensor  # (K,)
    curvatures: Tensor  # (S, d): the diagonal of each seed's data covariance X^T X / N
    # (S, 2, K, steps + 1): the excess training loss L(w) - min L over the whole training set, before
    # each step; [:, 0] plain SGD, [:, 1] local gains
    excess_loss: Tensor
    gains: Tensor  # (S, K, d): the local gains after the last step


def _least_squares_problem(config: LeastSquaresConfig, seed: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    scales = torch.tensor(config.scales, dtype=torch.float64)
    x = torch.randn(config.n_examples, len(scales), generator=generator, dtype=torch.float64) * scales
    w_true = torch.randn(len(scales), generator=generator, dtype=torch.float64) / scales
    y = x @ w_true + config.noise * torch.randn(config.n_examples, generator=generator, dtype=torch.float64)
    return x, y


@one_thread()
def run_least_squares(config: LeastSquaresConfig, seeds: tuple[int, ...]) -> LeastSquaresResult:
    """SGD (``β = 0``) and local gains (``config.beta``) at every learning rate, for every seed, as one stack.

    A seed draws its own data and its own order of minibatches; both methods and all learning rates of a seed
    see the same minibatches. Every run starts from ``w = 0``.
    """
    check_below_one("beta value", config.beta)
    for lr in config.lrs:
        check_at_least_zero("learning rate", lr)
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    device = default_device()
    problems = [_least_squares_problem(config, seed) for seed in seeds]
    x = torch.stack([x for x, _ in problems]).to(device)  # (S, N, d)
    y = torch.stack([y for _, y in problems]).to(device)  # (S, N)
    w_best = torch.linalg.lstsq(x, y.unsqueeze(-1)).solution.squeeze(-1)  # (S, d)

    def loss(w: Tensor) -> Tensor:  # w: (S, models, d) -> (S, models), on the whole training set
        return 0.5 * ((w @ x.transpose(1, 2) - y.unsqueeze(1)) ** 2).mean(dim=-1)

    min_loss = loss(w_best.unsqueeze(1))
    n_seeds, n_lrs, dim = len(seeds), len(config.lrs), len(config.scales)
    # Models of a seed: the K learning rates with beta = 0 (plain SGD), then the K with beta = config.beta.
    lrs = torch.tensor(config.lrs * 2, dtype=torch.float64, device=device).unsqueeze(-1)
    betas = torch.tensor([0.0] * n_lrs + [config.beta] * n_lrs, dtype=torch.float64, device=device).unsqueeze(-1)
    w = torch.zeros(n_seeds, 2 * n_lrs, dim, dtype=torch.float64, device=device)
    gain, prev_grad = torch.ones_like(w), torch.zeros_like(w)
    orders = [minibatch_order(config.n_examples, config.batch_size, config.steps, seed=seed) for seed in seeds]
    excess = []
    for batches in zip(*orders):
        excess.append(loss(w) - min_loss)
        if batches[0] is None:
            xb, yb = x, y
        else:
            index = torch.stack(batches).to(device)  # (S, B)
            xb = torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, dim))
            yb = torch.gather(y, 1, index)
        grad = (w @ xb.transpose(1, 2) - yb.unsqueeze(1)) @ xb / yb.shape[1]
        w, gain = local_gain_step(w, grad, prev_grad, gain, lrs, betas)
        prev_grad = grad
    excess.append(loss(w) - min_loss)
    excess_loss = torch.stack(excess, dim=-1).reshape(n_seeds, 2, n_lrs, config.steps + 1)
    return LeastSquaresResult(
        seeds=tuple(seeds),
        lrs=torch.tensor(config.lrs, dtype=torch.float64),
        curvatures=(x**2).mean(dim=1).cpu(),
        excess_loss=excess_loss.cpu(),
        gains=gain[:, n_lrs:].cpu(),
    )


def tuned_lr_index(excess_loss: Tensor) -> Tensor:
    """Per method, the learning rate whose final excess loss has the smallest mean log over seeds, among the
    rates that are stable in every seed.

    ``excess_loss`` is ``(S, 2, K, steps + 1)``. A run counts as unstable if its loss ever rose above
    ``UNSTABLE_GROWTH`` times its starting value (or stopped being finite), even if it came back down later.
    Returns the index into the learning rates, shape ``(2,)``.
    """
    final = excess_loss[..., -1].clamp(min=1e-300).log()
    peak = excess_loss.nan_to_num(nan=torch.inf).amax(dim=-1)
    stable = (peak <= UNSTABLE_GROWTH * excess_loss[..., 0]).all(dim=0)
    return torch.where(stable, final.mean(dim=0), torch.inf).argmin(dim=-1)


def gain_curvature_slope(result: LeastSquaresResult, lr_index: int) -> float:
    """The slope of log(final gain) against log(curvature), fitted over all weights and seeds of the run
    ``lrs[lr_index]``: −1 if the gains were the Newton gains ``1 / (η h)``, 0 if they ignored curvature."""
    x = result.curvatures.log().flatten()
    y = result.gains[:, lr_index].log().flatten()
    x, y = x - x.mean(), y - y.mean()
    return ((x * y).sum() / (x * x).sum()).item()


# --- From signs to RMSProp: Hinton's minibatch example ---------------------------------------


@dataclass(frozen=True)
class SignStepsResult:
    gradient_sum: float  # the sum of the gradients over all steps
    sign_displacement: float  # how far steps of fixed size lr * sign(g) carry w
    rmsprop_displacement: float  # how far RMSProp's steps carry w


def run_sign_steps(
    cycles: int = 100, lr: float = 0.01, alpha: float = 0.99, small: float = 0.1, large: float = -0.9
) -> SignStepsResult:
    """A weight whose minibatch gradients are ``small`` nine times, then ``large`` once, ``cycles`` times.

    With the defaults the gradients add to zero: full-batch descent would not move the weight. Steps of a fixed
    size in the direction of ``−sign(g)`` (Rprop's, with its step sizes frozen) move it by eight steps per
    cycle; RMSProp's steps, each divided by the same running root mean square, nearly cancel.
    """
    grads = torch.tensor(([small] * 9 + [large]) * cycles, dtype=torch.float64)
    w, v = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    for grad in grads:
        w, v = rmsprop_step(w, grad, v, lr, alpha=alpha)
    return SignStepsResult(
        gradient_sum=grads.sum().item(),
        sign_displacement=-(lr * grads.sign()).sum().item(),
        rmsprop_displacement=w.item(),
    )


# --- The runs chapter 6 shows: its tests check the chapter's claims on these ----------------------

GAINS_QUADRATIC = GainsQuadraticConfig()
# The same, with the gains bounded: the ramp stops at gain_max.
GAINS_BOUNDED = GainsQuadraticConfig(gain_max=5.0)
GAINS_SEEDS = (0, 1, 2)
BATCH_SIZES = (None, 32, 8)
LEAST_SQUARES = {batch_size: LeastSquaresConfig(batch_size=batch_size) for batch_size in BATCH_SIZES}

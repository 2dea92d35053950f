"""Chapter 5's experiments: Nesterov momentum against heavy ball, in theory and on three problems.

Chapter 4's heavy-ball analysis (:mod:`optimlab.experiments.momentum`) is extended, not
copied: its rate function and rate measurement are reused, and the one new piece of
theory is Nesterov's characteristic polynomial. Every comparison runs both methods in one
stack of models, each model with its own momentum, learning rate and method
(:func:`sgd_step_batched`), and each method is compared at its *own* tuned learning rate
(:func:`tuned_lr_index`), never at a shared one that suits one method better.
"""

from __future__ import annotations

import math
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
from optimlab.experiments.momentum import RAVINE, contraction_rates, measured_rates, rate_theory
from optimlab.optimizers.base import check_at_least_zero
from optimlab.optimizers.momentum import per_model
from optimlab.optimizers.nesterov import lookahead_point, nesterov_lookahead_step, nesterov_step

METHODS = ("heavy ball", "Nesterov")  # the order of the method dimension in every result


def sgd_step_batched(
    w: Tensor, grad: Tensor, buf: Tensor | None, lr: Tensor, momentum: Tensor, nesterov: Tensor
) -> tuple[Tensor, Tensor]:
    r"""``torch.optim.SGD``'s step (no dampening, no weight decay) for a stack of models.

    ``w`` and ``grad`` hold ``M`` models along their first dimension; ``lr``, ``momentum``
    and the boolean ``nesterov`` broadcast against ``w`` (one value per model, as
    :func:`~optimlab.optimizers.momentum.per_model` shapes them). Model ``m`` steps as
    :func:`~optimlab.optimizers.momentum.sgd_momentum_step` with its own values:

    .. math::

        b_t = \mu\, b_{t-1} + g_t \ (b_1 = g_1), \qquad
        w_{t+1} = w_t - \eta \begin{cases} g_t + \mu\, b_t & \text{Nesterov} \\ b_t & \text{heavy ball.} \end{cases}

    A model with ``momentum == 0`` keeps a buffer equal to its gradient, so both branches
    give plain gradient descent, as ``torch.optim.SGD`` does without a buffer.
    """
    buf = grad.clone() if buf is None else momentum * buf + grad
    direction = torch.where(nesterov, grad + momentum * buf, buf)
    return w - lr * direction, buf


# --- Theory: one linear recurrence per eigen-direction ------------------------------------------
#
# On a quadratic, a direction with curvature h has gradient h w. Heavy ball moves it by
#     w_{t+1} = (1 + mu - eta h) w_t - mu w_{t-1}                   (chapter 4),
# Nesterov by
#     w_{t+1} = (1 + mu)(1 - eta h) w_t - mu (1 - eta h) w_{t-1},
# since its weights step from the look-ahead point y_t = w_t + mu (w_t - w_{t-1}) with the
# gradient there: w_{t+1} = (1 - eta h) y_t. (PyTorch's parameters are these y_t, which are
# a fixed combination of w_t and w_{t-1}, so they obey the same recurrence.)


def nesterov_contraction_rates(lr: float | Tensor, momentums: Tensor, curvatures: tuple[float, ...]) -> Tensor:
    """Nesterov's predicted rate: the largest root modulus of ``z² − (1+μ)(1−ηh) z + μ(1−ηh)`` over ``h``.

    The counterpart of :func:`optimlab.experiments.momentum.contraction_rates` (heavy ball);
    ``momentums`` is a float64 tensor of any shape, ``lr`` a number or a tensor of that shape.
    """
    rates = torch.zeros_like(momentums)
    for curvature in curvatures:
        shrink = 1 - lr * curvature  # what one plain gradient step does to this direction
        trace = ((1 + momentums) * shrink).to(torch.complex128)
        root_of_discriminant = torch.sqrt(trace**2 - 4 * momentums * shrink)
        largest = torch.maximum((trace + root_of_discriminant).abs(), (trace - root_of_discriminant).abs()) / 2
        rates = torch.maximum(rates, largest)
    return rates


def method_rates(lrs: Tensor, momentums: Tensor, curvatures: tuple[float, ...], *, nesterov: bool) -> Tensor:
    """The predicted rate of each ``(lrs[k], momentums[k])`` pair (float64 tensors of one shape) for one method.

    Both rate functions are elementwise in the learning rate too, so a tensor of them broadcasts.
    """
    rates = nesterov_contraction_rates if nesterov else contraction_rates
    return rates(lrs, momentums, curvatures)


def predicted_rate_curves(lrs: Tensor, momentums: Tensor, curvatures: tuple[float, ...]) -> Tensor:
    """:func:`method_rates` of both methods, ``(2, N)`` in :data:`METHODS` order."""
    return torch.stack([method_rates(lrs, momentums, curvatures, nesterov=flag) for flag in (False, True)])


def nesterov_faster_from(x: Tensor, curves: Tensor) -> float:
    """The smallest ``x[k]`` from which on Nesterov's rate (``curves[1]``) stays below heavy ball's (``curves[0]``)."""
    slower = (curves[1] >= curves[0]).nonzero()
    if len(slower) == 0:
        return x[0].item()
    last_slower = slower.max().item()
    if last_slower == len(x) - 1:
        raise ValueError("Nesterov is not faster at the end of the curve")
    return x[last_slower + 1].item()


def best_momentums_at_lr(lr: float, curvatures: tuple[float, ...]) -> tuple[float, float, float]:
    """Each method's best momentum at a fixed ``lr``, heavy ball's then Nesterov's, and the rate both reach.

    Both are best where the gentle direction ``h_1`` is critically damped (a double root),
    as long as the steep one spirals faster. With ``x = sqrt(η h_1)``: heavy ball at
    ``μ = (1 − x)²`` (chapter 4's :func:`~optimlab.experiments.momentum.rate_theory`), Nesterov
    where ``(1 − x²)(1 + μ)² = 4μ``, that is at ``μ = (1 − x)/(1 + x)``; both double roots are
    ``1 − x``, so at their best momentums the two methods tie exactly.
    """
    heavy_ball = rate_theory(lr, curvatures)
    root = math.sqrt(lr * min(curvatures))
    return heavy_ball.best_momentum_at_lr, (1 - root) / (1 + root), heavy_ball.best_rate_at_lr


def nesterov_stable_limit(momentum: float) -> float:
    """The largest ``η h`` at which Nesterov still converges: ``2(1+μ)/(1+2μ)`` (heavy ball's is ``2(1+μ)``).

    Past ``η h = 1`` the roots are real, and the polynomial at ``z = −1``,
    ``1 + (1+2μ)(1−ηh)``, turns negative (a root crosses ``−1``) at this ``η h``.
    """
    return 2 * (1 + momentum) / (1 + 2 * momentum)


@dataclass(frozen=True)
class TunedRates:
    """The best rate of each method on a quadratic with curvatures in ``[h_1, h_2]``, ``κ = h_2 / h_1``."""

    # Heavy ball tuned in both eta and mu (Polyak): (sqrt(kappa) - 1) / (sqrt(kappa) + 1).
    heavy_ball_rate: float
    heavy_ball_lr: float
    heavy_ball_momentum: float
    # Nesterov tuned in both (Lessard, Recht and Packard, 2016): 1 - 2 / sqrt(3 kappa + 1),
    # at eta = 4 / (3 h_2 + h_1) and mu = (sqrt(3 kappa + 1) - 2) / (sqrt(3 kappa + 1) + 2).
    nesterov_rate: float
    nesterov_lr: float
    nesterov_momentum: float


def tuned_rates(curvatures: tuple[float, ...]) -> TunedRates:
    """The closed forms of :class:`TunedRates` (tested against a grid search over ``η`` and ``μ``)."""
    gentle, steep = min(curvatures), max(curvatures)
    kappa = steep / gentle
    root_kappa, root_3kappa = math.sqrt(kappa), math.sqrt(3 * kappa + 1)
    return TunedRates(
        heavy_ball_rate=(root_kappa - 1) / (root_kappa + 1),
        heavy_ball_lr=4 / (math.sqrt(gentle) + math.sqrt(steep)) ** 2,
        heavy_ball_momentum=((root_kappa - 1) / (root_kappa + 1)) ** 2,
        nesterov_rate=1 - 2 / root_3kappa,
        nesterov_lr=4 / (3 * steep + gentle),
        nesterov_momentum=(root_3kappa - 2) / (root_3kappa + 2),
    )


# --- Quadratics with diagonal curvature, both methods, one stack ---------------------------------


def run_diagonal_quadratics(
    curvatures: Tensor, start: Tensor, lrs: Tensor, momentums: Tensor, nesterov: Tensor, steps: int
) -> Tensor:
    """Paths ``(K, steps + 1, d)`` of ``K`` models on ``f_k(w) = Σ_i h_ki w_i² / 2``, float64.

    ``curvatures`` and ``start`` are ``(K, d)``; ``lrs``, ``momentums`` and the boolean
    ``nesterov`` are ``(K,)``. Diagonal is no loss of generality: both methods are
    rotation-equivariant, so they act on each eigen-direction of any quadratic alone.
    """
    for lr in lrs.tolist():
        check_at_least_zero("learning rate", lr)
    for momentum in momentums.tolist():
        check_at_least_zero("momentum value", momentum)
    device = default_device()
    curvatures = curvatures.to(device)
    w = start.to(device)
    lr, momentum, use_nesterov = (per_model(tuple(v.tolist()), w) for v in (lrs, momentums, nesterov.double()))
    use_nesterov = use_nesterov.bool()
    buf = None
    path = [w]
    for _ in range(steps):
        w, buf = sgd_step_batched(w, curvatures * w, buf, lr, momentum, use_nesterov)
        path.append(w)
    return torch.stack(path, dim=1).cpu()


@dataclass(frozen=True)
class RavineComparisonConfig:
    """Both methods on chapter 4's ravine for each ``(momentums[k], lrs[k])`` pair."""

    momentums: tuple[float, ...]
    lrs: tuple[float, ...]
    steps: int = 200
    curvatures: tuple[float, float] = RAVINE.curvatures  # chapter 4's ravine, the same start
    start: tuple[float, float] = RAVINE.start


@dataclass(frozen=True)
class RavineComparisonResult:
    momentums: Tensor  # (K,)
    lrs: Tensor  # (K,)
    trajectories: Tensor  # (2, K, steps + 1, 2): method (METHODS order), setting, step, coordinate
    predicted: Tensor  # (2, K): the rate theory predicts
    measured: Tensor  # (2, K): the rate measured on the paths (chapter 4's measured_rates)


def run_ravine_comparison(config: RavineComparisonConfig) -> RavineComparisonResult:
    """Every setting under both methods, from the same start, in one stack; predicted and measured rates."""
    if len(config.momentums) != len(config.lrs) or len(config.lrs) == 0:
        raise ValueError(f"need one learning rate per momentum, got {len(config.lrs)} and {len(config.momentums)}")
    n = len(config.lrs)
    momentums = torch.tensor(config.momentums, dtype=torch.float64)
    lrs = torch.tensor(config.lrs, dtype=torch.float64)
    nesterov = torch.tensor([False] * n + [True] * n)
    paths = run_diagonal_quadratics(
        torch.tensor(config.curvatures, dtype=torch.float64).expand(2 * n, 2),
        torch.tensor(config.start, dtype=torch.float64).expand(2 * n, 2),
        lrs.repeat(2),
        momentums.repeat(2),
        nesterov,
        config.steps,
    )
    predicted = predicted_rate_curves(lrs, momentums, config.curvatures)
    return RavineComparisonResult(
        momentums=momentums,
        lrs=lrs,
        trajectories=paths.reshape(2, n, config.steps + 1, 2),
        predicted=predicted,
        measured=measured_rates(paths).reshape(2, n),
    )


def tuned_lr_index(final_loss: Tensor) -> Tensor:
    """Per method, the index of the learning rate whose final loss is lowest on average over seeds.

    ``final_loss`` is ``(seeds, methods, lrs)``; a diverged run (inf or NaN) counts as infinitely bad.
    """
    safe = torch.nan_to_num(final_loss.double(), nan=math.inf, posinf=math.inf)
    return safe.mean(dim=0).argmin(dim=-1)


@dataclass(frozen=True)
class IllConditionedConfig:
    """Both methods at momentum ``μ`` on ``dim``-dimensional quadratics with condition number ``κ``, per seed.

    Each seed draws its own quadratic (curvatures ``1`` and ``κ`` plus ``dim − 2`` more,
    log-uniform between them) and its own start (standard normal); every learning rate of
    ``lrs`` is run for both methods.
    """

    lrs: tuple[float, ...]
    momentum: float = 0.9
    condition_number: float = 100.0
    dim: int = 50
    steps: int = 300
    seeds: tuple[int, ...] = (0, 1, 2)


@dataclass(frozen=True)
class IllConditionedResult:
    lrs: Tensor  # (L,)
    curvatures: Tensor  # (S, dim)
    losses: Tensor  # (S, 2, L, steps + 1): seed, method, learning rate, step
    distances: Tensor  # (S, 2, L, steps + 1): the distance to the minimum
    tuned: Tensor  # (2,): each method's tuned learning-rate index


def ill_conditioned_problem(seed: int, dim: int, condition_number: float) -> tuple[Tensor, Tensor]:
    """A seed's curvatures ``(dim,)`` (the extremes ``1`` and ``κ`` included) and start ``(dim,)``, float64."""
    generator = torch.Generator().manual_seed(seed)
    inner = torch.rand(dim - 2, generator=generator, dtype=torch.float64) * math.log(condition_number)
    curvatures = torch.cat([torch.tensor([0.0, math.log(condition_number)], dtype=torch.float64), inner]).exp()
    return curvatures, torch.randn(dim, generator=generator, dtype=torch.float64)


def run_ill_conditioned(config: IllConditionedConfig) -> IllConditionedResult:
    """All seeds x methods x learning rates in one stack; each method's tuned rate picked by final loss."""
    if config.dim < 2 or len(config.lrs) == 0 or len(config.seeds) == 0:
        raise ValueError("need dim >= 2, at least one learning rate and at least one seed")
    n_seeds, n_lrs = len(config.seeds), len(config.lrs)
    problems = [ill_conditioned_problem(seed, config.dim, config.condition_number) for seed in config.seeds]
    curvatures = torch.stack([h for h, _ in problems])
    starts = torch.stack([w for _, w in problems])
    # Stack layout: seed-major, then method, then learning rate.
    per_seed = 2 * n_lrs
    paths = run_diagonal_quadratics(
        curvatures.repeat_interleave(per_seed, dim=0),
        starts.repeat_interleave(per_seed, dim=0),
        torch.tensor(config.lrs, dtype=torch.float64).repeat(2 * n_seeds),
        torch.full((n_seeds * per_seed,), config.momentum, dtype=torch.float64),
        torch.tensor([False] * n_lrs + [True] * n_lrs).repeat(n_seeds),
        config.steps,
    )
    losses = 0.5 * (curvatures.repeat_interleave(per_seed, dim=0)[:, None] * paths**2).sum(dim=-1)
    losses = losses.reshape(n_seeds, 2, n_lrs, config.steps + 1)
    return IllConditionedResult(
        lrs=torch.tensor(config.lrs, dtype=torch.float64),
        curvatures=curvatures,
        losses=losses,
        distances=paths.norm(dim=-1).reshape(n_seeds, 2, n_lrs, config.steps + 1),
        tuned=tuned_lr_index(losses[..., -1]),
    )


# --- The digits: both methods, a learning-rate grid, several seeds, one stack ---------------------


@dataclass(frozen=True)
class DigitsComparisonConfig:
    """Heavy ball and Nesterov at momentum ``μ`` on chapter 4's 64-``hidden``-10 MLP, for every lr of ``lrs``.

    Each seed draws its own initial weights and minibatch order; within a seed every
    model starts from the same weights and sees the same minibatches.
    """

    lrs: tuple[float, ...]
    momentum: float = 0.9
    steps: int = 300
    batch_size: int = 32
    hidden: int = 32
    seeds: tuple[int, ...] = (0, 1, 2)
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class DigitsComparisonResult:
    lrs: Tensor  # (L,)
    # (S, 2, L, steps + 1): each step's minibatch loss before the step, then the whole
    # training set's loss after the last step (as chapter 4's sweeps record it)
    train_loss: Tensor
    test_accuracy: Tensor  # (S, 2, L)
    tuned: Tensor  # (2,): each method's tuned learning-rate index, by final training loss


def run_digits_comparison(config: DigitsComparisonConfig) -> DigitsComparisonResult:
    """Train ``seeds x 2 x lrs`` MLPs as one stack; each method's tuned rate by final training loss."""
    for lr in config.lrs:
        check_at_least_zero("learning rate", lr)
    check_at_least_zero("momentum value", config.momentum)
    if len(config.lrs) == 0 or len(config.seeds) == 0 or config.steps < 1:
        raise ValueError("need at least one learning rate, one seed and one step")
    device = default_device()
    digits = load_digits(dtype=config.dtype, device=device)
    n_seeds, n_lrs = len(config.seeds), len(config.lrs)
    per_seed = 2 * n_lrs  # method-major, then learning rate
    sizes = (DIGITS_N_FEATURES, config.hidden, DIGITS_N_CLASSES)
    stacks = [init_stacked_mlp(sizes, per_seed, seed=seed, dtype=config.dtype, device=device) for seed in config.seeds]
    params = [torch.cat(layer) for layer in zip(*stacks)]
    lrs = [per_model(config.lrs * 2 * n_seeds, p) for p in params]
    momentums = [per_model((config.momentum,) * per_seed * n_seeds, p) for p in params]
    nesterov = [per_model(((0.0,) * n_lrs + (1.0,) * n_lrs) * n_seeds, p).bool() for p in params]
    bufs: list[Tensor | None] = [None] * len(params)
    n_train = len(digits.train.y)
    orders = [minibatch_order(n_train, config.batch_size, config.steps, seed=seed) for seed in config.seeds]
    train_loss = []
    for batches in zip(*orders):
        index = torch.stack(batches).to(device).repeat_interleave(per_seed, dim=0)
        params = [p.detach().requires_grad_() for p in params]
        losses = stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x[index]), digits.train.y[index])
        grads = torch.autograd.grad(losses.sum(), params)
        train_loss.append(losses.detach())
        with torch.no_grad():
            stepped = [
                sgd_step_batched(*args) for args in zip(params, grads, bufs, lrs, momentums, nesterov, strict=True)
            ]
        params = [p for p, _ in stepped]
        bufs = [b for _, b in stepped]
    with torch.no_grad():
        train_loss.append(stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x), digits.train.y))
        test_logits = stacked_mlp_logits(params, digits.test.x)
        test_accuracy = (test_logits.argmax(dim=-1) == digits.test.y).to(config.dtype).mean(dim=1)
    train_loss_all = torch.stack(train_loss, dim=1).cpu().reshape(n_seeds, 2, n_lrs, config.steps + 1)
    return DigitsComparisonResult(
        lrs=torch.tensor(config.lrs, dtype=torch.float64),
        train_loss=train_loss_all,
        test_accuracy=test_accuracy.cpu().reshape(n_seeds, 2, n_lrs),
        tuned=tuned_lr_index(train_loss_all[..., -1]),
    )


@dataclass(frozen=True)
class DigitsTunedOutcomes:
    """What the chapter says of the digits comparison, each method at its own tuned learning rate."""

    hb_lr: float
    nag_lr: float
    loss_gap: float  # |difference of the seed means| of the final training loss
    loss_seeds: float  # the wider of the two methods' ranges over seeds
    accuracy_gap: float  # the same for the test accuracy, in percentage points
    accuracy_seeds: float
    accuracy_low: float  # the lowest and highest test accuracy at the tuned rates, in percent
    accuracy_high: float


def digits_tuned_outcomes(result: DigitsComparisonResult) -> DigitsTunedOutcomes:
    """The differences between methods, and between seeds, at each method's tuned learning rate."""
    methods = range(len(METHODS))
    final_loss = torch.stack([result.train_loss[:, m, result.tuned[m], -1] for m in methods], dim=1)
    accuracy = 100 * torch.stack([result.test_accuracy[:, m, result.tuned[m]] for m in methods], dim=1)

    def gap_and_seeds(values: Tensor) -> tuple[float, float]:
        means = values.double().mean(dim=0)
        by_seed = (values.max(dim=0).values - values.min(dim=0).values).max()
        return (means.max() - means.min()).item(), by_seed.item()

    loss_gap, loss_seeds = gap_and_seeds(final_loss)
    accuracy_gap, accuracy_seeds = gap_and_seeds(accuracy)
    return DigitsTunedOutcomes(
        hb_lr=result.lrs[result.tuned[0]].item(),
        nag_lr=result.lrs[result.tuned[1]].item(),
        loss_gap=loss_gap,
        loss_seeds=loss_seeds,
        accuracy_gap=accuracy_gap,
        accuracy_seeds=accuracy_seeds,
        accuracy_low=accuracy.min().item(),
        accuracy_high=accuracy.max().item(),
    )


# --- The look-ahead form against PyTorch's, in float64 ---------------------------------------------


@dataclass(frozen=True)
class LookaheadMatchConfig:
    """The lecture's look-ahead form, our PyTorch form and ``torch.optim.SGD(nesterov=True)`` side by side.

    The loss is the random quadratic ``w^T A w / 2`` plus weight decay ``λ |w|² / 2``; the
    lecture's form gets the gradient of both, at the look-ahead point.
    """

    steps: int = 100
    dim: int = 5
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-2
    seed: int = 0


@dataclass(frozen=True)
class LookaheadMatchResult:
    torch_params: Tensor  # (steps + 1, dim): u_t, the parameters torch.optim.SGD(nesterov=True) holds
    ours: Tensor  # (steps + 1, dim): the same under nesterov_step
    lecture: Tensor  # (steps + 1, dim): w_t, the lecture's weights
    lookahead: Tensor  # (steps + 1, dim): w_t - alpha delta_w_{t-1}, the lecture's look-ahead points
    from_torch_state: Tensor  # (steps + 1, dim): u_t + lr mu b_{t-1}, read from torch's own momentum buffer
    ours_vs_torch: float  # the largest differences, over all steps and coordinates
    lookahead_vs_torch: float
    lecture_vs_torch_state: float
    lecture_vs_torch: float  # how far apart the two *weights* are: not zero, they are shifted


def run_lookahead_match(config: LookaheadMatchConfig) -> LookaheadMatchResult:
    """Run the three forms from the same start and compare PyTorch's parameters with the look-ahead points."""
    generator = torch.Generator().manual_seed(config.seed)
    a = torch.randn(config.dim, config.dim, generator=generator, dtype=torch.float64)
    a = a @ a.T / config.dim + torch.eye(config.dim, dtype=torch.float64)

    def grad_fn(w: Tensor) -> Tensor:
        return a @ w + config.weight_decay * w  # the loss's gradient, weight decay included

    start = torch.ones(config.dim, dtype=torch.float64)
    u = start.clone().requires_grad_()
    reference = torch.optim.SGD(
        [u], lr=config.lr, momentum=config.momentum, nesterov=True, weight_decay=config.weight_decay
    )
    ours, buf = start, None
    w, delta_w = start, torch.zeros_like(start)
    torch_params, ours_path, lecture, lookahead, from_state = [start], [start], [start], [start], [start]
    for _ in range(config.steps):
        u.grad = a @ u.detach()  # PyTorch adds the weight decay itself
        reference.step()
        ours, buf = nesterov_step(ours, a @ ours, buf, config.lr, config.momentum, config.weight_decay)
        w, delta_w = nesterov_lookahead_step(w, grad_fn, delta_w, config.lr, config.momentum)
        torch_buf = reference.state[u]["momentum_buffer"]
        torch_params.append(u.detach().clone())
        ours_path.append(ours)
        lecture.append(w)
        lookahead.append(lookahead_point(w, delta_w, config.momentum))
        from_state.append(u.detach() + config.lr * config.momentum * torch_buf)
    stacked = [torch.stack(path) for path in (torch_params, ours_path, lecture, lookahead, from_state)]
    torch_all, ours_all, lecture_all, lookahead_all, state_all = stacked

    def gap(x: Tensor, y: Tensor) -> float:
        return (x - y).abs().max().item()

    return LookaheadMatchResult(
        torch_params=torch_all,
        ours=ours_all,
        lecture=lecture_all,
        lookahead=lookahead_all,
        from_torch_state=state_all,
        ours_vs_torch=gap(ours_all, torch_all),
        lookahead_vs_torch=gap(lookahead_all, torch_all),
        lecture_vs_torch_state=gap(lecture_all, state_all),
        lecture_vs_torch=gap(lecture_all, torch_all),
    )


# --- The runs chapter 5 shows: its tests check the chapter's claims on these ---------------------

# Rate against momentum at a learning rate where Nesterov is stable for every mu shown
# (eta h_2 = 0.95 < 2(1 + mu)/(1 + 2 mu)), and rate against learning rate at mu = 0.9.
RATE_LR = 0.025
RATE_BY_MOMENTUM = RavineComparisonConfig(
    momentums=tuple(round(0.05 * k, 2) for k in range(20)), lrs=(RATE_LR,) * 20, steps=200
)
RATE_MOMENTUM = 0.9
RATE_BY_LR = RavineComparisonConfig(
    momentums=(RATE_MOMENTUM,) * 20, lrs=tuple(round(0.005 * k, 3) for k in range(1, 21)), steps=200
)
# Chapter 4's ravine setting, eta = 0.05 (eta h_2 = 1.9): fine for heavy ball, too large for Nesterov.
CHAPTER4_LR = RavineComparisonConfig(momentums=(0.0, 0.5, 0.9), lrs=(0.05,) * 3, steps=50)
# Small geometric grids of learning rates, factor sqrt(2), for each method's tuning.
ILL_CONDITIONED = IllConditionedConfig(lrs=tuple(0.0025 * 2 ** (k / 2) for k in range(9)))
DIGITS_COMPARISON = DigitsComparisonConfig(lrs=tuple(0.04 * 2 ** (k / 2) for k in range(5)), steps=200)
LOOKAHEAD_MATCH = LookaheadMatchConfig()

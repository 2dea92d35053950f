"""Chapter 2's experiments: why decay (a noisy quadratic and its theory), choosing ``k``, batch size vs decay.

Each experiment is a pure, seeded function ``config -> result``; the configs the chapter
runs are named at the end (``SPREAD_SWEEP``, ``DECAY_PATHS``, ``EPOCH_DECAY``, ``BATCH_VS_DECAY``) so that
the tests check the chapter's claims on exactly those runs. Sweeps run batched: many chains
of the noisy quadratic at once, and the digits MLPs of every setting and seed as one stack
(:mod:`optimlab.experiments.batched_mlp`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from optimlab.data import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits
from optimlab.device import default_device
from optimlab.experiments.batched_mlp import init_stacked_mlp, stacked_cross_entropy, stacked_mlp_logits
from optimlab.schedules import decay_constant_for_halving, exponential_decay, multistep_decay

# --- Why decay: SGD on a noisy quadratic -------------------------------------------------------
#
# Along one eigen-direction of curvature h, with a gradient whose noise has standard deviation sigma:
#     w_{t+1} = w_t - eta_t (h w_t + sigma xi_t),   xi_t ~ N(0, 1) independent.
# Then w_{t+1} = (1 - eta_t h) w_t - eta_t sigma xi_t, and the mean square obeys, exactly,
#     E[w_{t+1}^2] = (1 - eta_t h)^2 E[w_t^2] + eta_t^2 sigma^2,
# whose fixed point at a constant eta (0 < eta h < 2) is the stationary variance
#     V = eta^2 sigma^2 / (1 - (1 - eta h)^2) = eta sigma^2 / (h (2 - eta h)).


def stationary_variance(lr: Tensor | float, curvature: float, noise: float) -> Tensor | float:
    """``η σ² / (h (2 − η h))``: the variance of ``w`` around the minimum that SGD at a constant rate settles to."""
    return lr * noise**2 / (curvature * (2 - lr * curvature))


@dataclass(frozen=True)
class NoisyQuadraticConfig:
    """``chains`` independent runs of ``w ← w − η_t (H w + σ ξ)`` per learning-rate schedule.

    ``H`` is diagonal with ``curvatures``; ``schedules`` holds one tuple of per-step learning
    rates per schedule (all of the same length). The loss is ``f(w) = ½ Σ h_i w_i²``.
    """

    schedules: tuple[tuple[float, ...], ...]
    curvatures: tuple[float, ...] = (1.0,)
    noise: float = 1.0
    start: float = 0.0  # every coordinate of w_0
    chains: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class NoisyQuadraticResult:
    lrs: Tensor  # (G, T): the rate of each schedule at each step
    mean_square: Tensor  # (G, D, T + 1): E[w_t²] per coordinate, over the chains, w_0 first
    loss: Tensor  # (G, T + 1): f(w_t) averaged over the chains
    expected_loss: Tensor  # (G, T + 1): its exact expectation, from the mean-square recurrence
    sample_paths: Tensor  # (G, D, T + 1): the first chain of each schedule


def expected_mean_square(lrs: Tensor, curvatures: tuple[float, ...], noise: float, start: float) -> Tensor:
    """``E[w_t²]`` from ``E[w_{t+1}²] = (1 − η_t h)² E[w_t²] + η_t² σ²``: ``(G, D, T + 1)`` for rates ``(G, T)``."""
    h = torch.tensor(curvatures, dtype=torch.float64)
    mean_square = torch.full((lrs.shape[0], len(curvatures)), start**2, dtype=torch.float64)
    out = [mean_square]
    for lr in lrs.T.to(torch.float64):
        mean_square = (1 - lr[:, None] * h) ** 2 * mean_square + (lr[:, None] * noise) ** 2
        out.append(mean_square)
    return torch.stack(out, dim=2)


def quadratic_loss(mean_square: Tensor, curvatures: tuple[float, ...]) -> Tensor:
    """``½ Σ h_i w_i²`` over the coordinate dimension (``-2``) of ``(..., D, T + 1)`` squares."""
    h = torch.tensor(curvatures, dtype=mean_square.dtype)
    return 0.5 * (h[:, None] * mean_square).sum(dim=-2)


def run_noisy_quadratic(config: NoisyQuadraticConfig) -> NoisyQuadraticResult:
    """All chains of all schedules in one batch; chain ``c`` draws the same noise under every schedule."""
    lengths = {len(schedule) for schedule in config.schedules}
    if len(lengths) != 1:
        raise ValueError(f"every schedule needs the same number of steps, got lengths {sorted(lengths)}")
    if min(config.curvatures) <= 0 or config.noise < 0 or config.chains < 1:
        raise ValueError(f"need curvatures > 0, noise >= 0, chains >= 1, got {config}")
    device = default_device()
    lrs = torch.tensor(config.schedules, dtype=torch.float64)  # (G, T)
    h = torch.tensor(config.curvatures, dtype=torch.float64, device=device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    shape = (lrs.shape[0], len(config.curvatures), config.chains)
    w = torch.full(shape, config.start, dtype=torch.float64, device=device)
    mean_square, sample_paths = [w.square().mean(dim=2)], [w[:, :, 0]]
    for lr in lrs.T.to(device):
        noise = torch.randn(shape[1:], generator=generator, dtype=torch.float64, device=device)
        w = w - lr[:, None, None] * (h[:, None] * w + config.noise * noise)
        mean_square.append(w.square().mean(dim=2))
        sample_paths.append(w[:, :, 0])
    mean_square = torch.stack(mean_square, dim=2).cpu()
    return NoisyQuadraticResult(
        lrs=lrs,
        mean_square=mean_square,
        loss=quadratic_loss(mean_square, config.curvatures),
        expected_loss=quadratic_loss(
            expected_mean_square(lrs, config.curvatures, config.noise, config.start), config.curvatures
        ),
        sample_paths=torch.stack(sample_paths, dim=2).cpu(),
    )


@dataclass(frozen=True)
class SpreadSweep:
    """Constant learning rates ``lrs`` on one direction, each run ``steps`` steps; measured after ``burn_in``."""

    lrs: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.3, 1.6, 1.8)
    # The slowest rate, 0.02, forgets its start as (1 - 0.02)^(2 t): by the burn-in, to about 1e-7.
    steps: int = 400
    burn_in: int = 200
    curvature: float = 1.0
    noise: float = 1.0
    chains: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class SpreadResult:
    lrs: Tensor  # (L,)
    measured: Tensor  # (L,): E[w²] averaged over the chains and over the steps after the burn-in
    predicted: Tensor  # (L,): stationary_variance at each rate


def measure_stationary_spread(sweep: SpreadSweep) -> SpreadResult:
    """The variance each constant rate settles to, measured on the chains and predicted."""
    if not 0 < sweep.burn_in < sweep.steps:
        raise ValueError(f"need 0 < burn_in < steps, got burn_in={sweep.burn_in}, steps={sweep.steps}")
    config = NoisyQuadraticConfig(
        schedules=tuple((lr,) * sweep.steps for lr in sweep.lrs),
        curvatures=(sweep.curvature,),
        noise=sweep.noise,
        chains=sweep.chains,
        seed=sweep.seed,
    )
    result = run_noisy_quadratic(config)
    lrs = torch.tensor(sweep.lrs, dtype=torch.float64)
    return SpreadResult(
        lrs=lrs,
        measured=result.mean_square[:, 0, sweep.burn_in + 1 :].mean(dim=1),
        predicted=stationary_variance(lrs, sweep.curvature, sweep.noise),
    )


@dataclass(frozen=True)
class DecayPaths:
    """From ``start``, a large constant rate, a small constant rate, and exponential decay from the large one."""

    large_lr: float = 0.5
    small_lr: float = 0.02
    k: float = 0.02  # per step
    steps: int = 250
    start: float = 5.0
    curvature: float = 1.0
    noise: float = 1.0
    chains: int = 2000
    seed: int = 1

    def labels(self) -> tuple[str, str, str]:
        return (
            f"constant η = {self.large_lr:g}",
            f"constant η = {self.small_lr:g}",
            f"η = {self.large_lr:g} e^(−{self.k:g} t)",
        )

    def config(self) -> NoisyQuadraticConfig:
        decayed = tuple(exponential_decay(self.large_lr, self.k, t) for t in range(self.steps))
        return NoisyQuadraticConfig(
            schedules=((self.large_lr,) * self.steps, (self.small_lr,) * self.steps, decayed),
            curvatures=(self.curvature,),
            noise=self.noise,
            start=self.start,
            chains=self.chains,
            seed=self.seed,
        )


def run_decay_paths(paths: DecayPaths) -> NoisyQuadraticResult:
    return run_noisy_quadratic(paths.config())


# --- Choosing k from a run without decay (the lecture's practical tip), on a noisy quadratic -----------


@dataclass(frozen=True)
class EpochDecayConfig:
    """Exponential decay by epoch, ``η_e = η₀ e^(−k e)``, on a noisy quadratic with a steep and a gentle direction.

    An "epoch" is ``steps_per_epoch`` steps; the rate changes only between epochs, as a
    scheduler stepped once per epoch changes it.
    """

    eta0: float = 0.5
    ks: tuple[float, ...] = (0.0,)
    epochs: int = 40
    steps_per_epoch: int = 10
    curvatures: tuple[float, ...] = (1.0, 0.1)
    noise: float = 1.0
    start: float = 5.0
    chains: int = 1000
    seed: int = 2

    def schedule(self, k: float) -> tuple[float, ...]:
        """The per-step rates: epoch ``e``'s rate, repeated for each of its steps."""
        return tuple(
            exponential_decay(self.eta0, k, step // self.steps_per_epoch)
            for step in range(self.epochs * self.steps_per_epoch)
        )

    def quadratic(self) -> NoisyQuadraticConfig:
        return NoisyQuadraticConfig(
            schedules=tuple(self.schedule(k) for k in self.ks),
            curvatures=self.curvatures,
            noise=self.noise,
            start=self.start,
            chains=self.chains,
            seed=self.seed,
        )


def run_epoch_decay(config: EpochDecayConfig) -> NoisyQuadraticResult:
    return run_noisy_quadratic(config.quadratic())


def epoch_ends(per_step: Tensor, steps_per_epoch: int) -> Tensor:
    """The values at the start and after each epoch: entries ``0, s, 2 s, ...`` of the last dimension."""
    return per_step[..., ::steps_per_epoch]


def plateau_epoch(loss: Tensor, *, fraction: float = 0.9) -> int:
    """The first epoch by which a run has made ``fraction`` of its total progress, on a log scale.

    ``loss`` holds the loss before training, then after each epoch. Progress is
    ``log L_0 − log L_e``; past this epoch the constant rate only crawls or bounces, and decay
    can start to pay.
    """
    progress = loss[0].log() - loss.log()
    return int(torch.nonzero(progress >= fraction * progress.max())[0, 0])


def expected_final_loss(config: EpochDecayConfig, ks: Tensor) -> Tensor:
    """The exact expected loss after the last epoch for every ``k`` of ``ks`` (the theory's curve)."""
    lrs = torch.tensor([config.schedule(k) for k in ks.tolist()], dtype=torch.float64)
    return quadratic_loss(expected_mean_square(lrs, config.curvatures, config.noise, config.start), config.curvatures)[
        :, -1
    ]


@dataclass(frozen=True)
class ChosenDecay:
    """The worked procedure: a run without decay, its plateau, the ``k`` from it, and runs around that ``k``."""

    plateau: int  # the epoch by which the run without decay made most of its progress
    k: float  # halves the rate once per plateau time: ln 2 / plateau
    ks: tuple[float, ...]  # 0 (no decay), k / spread (slower), k, k · spread (faster)
    result: NoisyQuadraticResult  # one schedule per entry of ks; the first is the run without decay


def choose_decay(config: EpochDecayConfig, *, fraction: float = 0.9, spread: float = 4.0) -> ChosenDecay:
    """Read the plateau off the run without decay (``k = 0``), set ``k = ln 2 / plateau``, compare ``k`` around it.

    The constant run is the first schedule of the comparison and draws the same noise, so the
    plateau is read from exactly the run that is shown.
    """
    constant = run_epoch_decay(dataclasses.replace(config, ks=(0.0,)))
    plateau = max(1, plateau_epoch(epoch_ends(constant.loss[0], config.steps_per_epoch), fraction=fraction))
    k = decay_constant_for_halving(plateau)
    ks = (0.0, k / spread, k, k * spread)
    return ChosenDecay(plateau=plateau, k=k, ks=ks, result=run_epoch_decay(dataclasses.replace(config, ks=ks)))


# --- The digits: plain minibatch SGD on a 64-32-10 MLP, a learning rate and a batch size per epoch -------


@dataclass(frozen=True)
class DigitsScheduleResult:
    lrs: Tensor  # (M, E): the rate of each setting in each epoch
    batch_sizes: tuple[int, ...]  # (E,): the batch size of each epoch, shared by every setting
    train_loss: Tensor  # (S, M, E + 1): the whole training set's loss before training, then after each epoch
    test_accuracy: Tensor  # (S, M): after the last epoch
    updates: int  # parameter updates (minibatch steps) each model took


def epoch_batches(n_examples: int, batch_sizes: tuple[int, ...], *, seed: int) -> list[list[Tensor]]:
    """For every epoch, a fresh seeded permutation of ``range(n_examples)`` cut into that epoch's batch size."""
    generator = torch.Generator().manual_seed(seed)
    return [list(torch.randperm(n_examples, generator=generator).split(size)) for size in batch_sizes]


def train_digits_schedules(
    lrs: tuple[tuple[float, ...], ...],
    batch_sizes: tuple[int, ...],
    seeds: tuple[int, ...],
    *,
    hidden: int = 32,
    dtype: torch.dtype = torch.float32,
) -> DigitsScheduleResult:
    """Plain minibatch SGD, ``w ← w − η_e g``, for every setting (a row of ``lrs``) and seed, in one stack.

    Every epoch ``e`` trains at ``lrs[m][e]`` with batches of ``batch_sizes[e]``. Each seed
    draws its own initial weights and its own shuffles; the settings of a seed start from the
    same weights and see the same batches, so they differ only in their rates.
    """
    if not seeds or not lrs:
        raise ValueError("need at least one seed and one setting")
    if any(len(row) != len(batch_sizes) for row in lrs) or min(batch_sizes, default=0) < 1:
        raise ValueError("need one positive batch size per epoch and one rate per epoch in every setting")
    device = default_device()
    digits = load_digits(dtype=dtype, device=device)
    n_seeds, n_settings = len(seeds), len(lrs)
    sizes = (DIGITS_N_FEATURES, hidden, DIGITS_N_CLASSES)
    per_seed = [init_stacked_mlp(sizes, n_settings, seed=seed, dtype=dtype, device=device) for seed in seeds]
    params = [torch.cat(stacks) for stacks in zip(*per_seed)]
    lr_table = torch.tensor(lrs, dtype=dtype, device=device).repeat(n_seeds, 1)  # (S * M, E), seed-major
    n_train = len(digits.train.y)
    orders = [epoch_batches(n_train, batch_sizes, seed=seed) for seed in seeds]

    def full_train_loss() -> Tensor:
        return stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x), digits.train.y)

    with torch.no_grad():
        train_loss = [full_train_loss()]
    updates = 0
    for epoch in range(len(batch_sizes)):
        lr = lr_table[:, epoch].reshape(-1, 1, 1)
        for batches in zip(*(order[epoch] for order in orders)):
            # Each seed's batch, repeated for each of its settings: (S * M, batch).
            index = torch.stack(batches).to(device).repeat_interleave(n_settings, dim=0)
            params = [p.detach().requires_grad_() for p in params]
            loss = stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x[index]), digits.train.y[index])
            grads = torch.autograd.grad(loss.sum(), params)
            params = [p.detach() - lr * g for p, g in zip(params, grads, strict=True)]
            updates += 1
        with torch.no_grad():
            train_loss.append(full_train_loss())
    with torch.no_grad():
        test_logits = stacked_mlp_logits(params, digits.test.x)
        test_accuracy = (test_logits.argmax(dim=-1) == digits.test.y).to(dtype).mean(dim=1)
    return DigitsScheduleResult(
        lrs=torch.tensor(lrs, dtype=torch.float64),
        batch_sizes=tuple(batch_sizes),
        train_loss=torch.stack(train_loss, dim=1).cpu().reshape(n_seeds, n_settings, -1),
        test_accuracy=test_accuracy.cpu().reshape(n_seeds, n_settings),
        updates=updates,
    )


# --- Raising the batch size instead of decaying the rate (Smith et al. 2018) --------------------------


@dataclass(frozen=True)
class BatchVsDecayConfig:
    """Three ways through the same ``epochs``: constant rate and batch; the rate divided by ``factor`` at
    each milestone; the batch multiplied by ``factor`` at each milestone instead."""

    eta0: float = 1.0
    # Batches of 128, then 384, then 1152 of the 1,347 training digits.
    batch_size: int = 128
    factor: int = 3
    milestones: tuple[int, ...] = (4, 8)
    epochs: int = 12
    seeds: tuple[int, ...] = (0, 1, 2)

    def decayed_lrs(self) -> tuple[float, ...]:
        return tuple(multistep_decay(self.eta0, 1 / self.factor, self.milestones, e) for e in range(self.epochs))

    def growing_batches(self) -> tuple[int, ...]:
        # The same milestones with gamma = factor > 1: the batch grows where the rate would have shrunk.
        return tuple(
            round(multistep_decay(self.batch_size, self.factor, self.milestones, e)) for e in range(self.epochs)
        )


@dataclass(frozen=True)
class BatchVsDecayResult:
    labels: tuple[str, str, str]  # constant, decay the rate, grow the batch
    train_loss: Tensor  # (S, 3, E + 1)
    test_accuracy: Tensor  # (S, 3)
    updates: tuple[int, int, int]
    largest_batch: tuple[int, int, int]
    activation_bytes: tuple[int, int, int]  # saved for the backward pass in a step at the largest batch


def activation_bytes(batch_size: int, *, hidden: int = 32, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the tensors autograd saves for the backward pass in one step of the MLP at ``batch_size``.

    Measured, not computed: every tensor saved during the forward pass is counted as it is
    packed (a parameter is counted too, so the count has a part that does not grow with the batch).
    """
    saved = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal saved
        saved += tensor.numel() * tensor.element_size()
        return tensor

    digits = load_digits(dtype=dtype, device="cpu")
    params = [
        p.requires_grad_()
        for p in init_stacked_mlp(
            (DIGITS_N_FEATURES, hidden, DIGITS_N_CLASSES), 1, seed=0, dtype=dtype, device=torch.device("cpu")
        )
    ]
    index = torch.arange(batch_size) % len(digits.train.y)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        stacked_cross_entropy(stacked_mlp_logits(params, digits.train.x[index]), digits.train.y[index]).sum()
    return saved


def run_batch_vs_decay(config: BatchVsDecayConfig) -> BatchVsDecayResult:
    """Constant and decayed rates share a stack (same batches); the growing batch is its own stack, same seeds."""
    constant = (config.eta0,) * config.epochs
    same_batches = train_digits_schedules(
        (constant, config.decayed_lrs()), (config.batch_size,) * config.epochs, config.seeds
    )
    growing = train_digits_schedules((constant,), config.growing_batches(), config.seeds)
    largest = (config.batch_size, config.batch_size, max(config.growing_batches()))
    return BatchVsDecayResult(
        labels=(
            "constant",
            f"rate ÷ {config.factor} at epochs {', '.join(map(str, config.milestones))}",
            f"batch × {config.factor} instead",
        ),
        train_loss=torch.cat([same_batches.train_loss, growing.train_loss], dim=1),
        test_accuracy=torch.cat([same_batches.test_accuracy, growing.test_accuracy], dim=1),
        updates=(same_batches.updates, same_batches.updates, growing.updates),
        largest_batch=largest,
        activation_bytes=tuple(activation_bytes(size) for size in largest),
    )


# --- The runs chapter 2 shows: its tests check the chapter's claims on these ----------------------------

SPREAD_SWEEP = SpreadSweep()
DECAY_PATHS = DecayPaths()
EPOCH_DECAY = EpochDecayConfig()
BATCH_VS_DECAY = BatchVsDecayConfig()

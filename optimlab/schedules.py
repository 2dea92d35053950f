"""Learning-rate schedules as plain functions of the epoch ``t`` (or ``e``), counted from 0.

Each function gives the rate in force during epoch ``t``; its docstring has the formula and
a doctest. Where PyTorch has the schedule (``torch.optim.lr_scheduler``), the tests pin the
formula to the real scheduler. :func:`warmup_then_exponential` and :func:`lr_trajectory`
are the references of exercise ``03_schedulers``; :func:`exponential_decay` and
:func:`decay_constant_for_halving` those of ``02_lr_decay``.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def exponential_decay(eta0: float, k: float, t: float) -> float:
    """``η_t = η₀ e^(−k t)``: the rate shrinks by the factor ``e^(−k)`` every epoch.

    >>> exponential_decay(0.1, 0.0, 5)
    0.1
    >>> round(exponential_decay(0.1, math.log(2) / 10, 20), 6)
    0.025
    """
    return eta0 * math.exp(-k * t)


def decay_constant_for_halving(epochs: float) -> float:
    """The ``k`` of :func:`exponential_decay` that halves the rate every ``epochs`` epochs: ``k = ln 2 / epochs``.

    From ``e^(−k · epochs) = 1/2``.

    >>> round(decay_constant_for_halving(10), 4)
    0.0693
    """
    return math.log(2) / epochs


def step_decay(eta0: float, gamma: float, step_size: int, t: int) -> float:
    """``η_t = η₀ γ^⌊t / s⌋``: the rate is multiplied by ``γ`` every ``s = step_size`` epochs (``StepLR``).

    >>> [step_decay(1.0, 0.5, 2, t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return eta0 * gamma ** (t // step_size)


def multistep_decay(eta0: float, gamma: float, milestones: tuple[int, ...], t: int) -> float:
    """``η_t = η₀ γ^(number of milestones ≤ t)`` (``MultiStepLR``).

    >>> [multistep_decay(1.0, 0.1, (2, 4), t) for t in range(5)]
    [1.0, 1.0, 0.1, 0.1, 0.010000000000000002]
    """
    return eta0 * gamma ** sum(milestone <= t for milestone in milestones)


def inverse_time_decay(eta0: float, k: float, t: float) -> float:
    """``η_t = η₀ / (1 + k t)``: the ``1/t`` decay of stochastic approximation (Robbins and Monro).

    >>> inverse_time_decay(0.1, 1.0, 0), inverse_time_decay(0.1, 1.0, 9)
    (0.1, 0.01)
    """
    return eta0 / (1 + k * t)


def cosine_annealing(eta0: float, eta_min: float, t_max: int, t: int) -> float:
    """``η_t = η_min + (η₀ − η_min)(1 + cos(π t / T)) / 2`` for ``t ≤ T = t_max`` (``CosineAnnealingLR``).

    >>> cosine_annealing(1.0, 0.0, 10, 0), cosine_annealing(1.0, 0.0, 10, 5), cosine_annealing(1.0, 0.0, 10, 10)
    (1.0, 0.5, 0.0)
    """
    return eta_min + (eta0 - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


def linear_warmup(eta0: float, start_factor: float, total_iters: int, t: int) -> float:
    """``η_t = η₀ (s + (1 − s) min(t, T) / T)``: from ``s η₀`` up to ``η₀`` in ``T = total_iters`` epochs.

    PyTorch's ``LinearLR`` with ``end_factor=1``.

    >>> [round(linear_warmup(1.0, 0.25, 3, t), 4) for t in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    return eta0 * (start_factor + (1 - start_factor) * min(t, total_iters) / total_iters)


def one_cycle(
    max_lr: float,
    total_steps: int,
    t: int,
    *,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> float:
    """``OneCycleLR``'s rate (its default two phases, cosine): up from ``max_lr / div_factor`` to ``max_lr``,
    then down to ``max_lr / (div_factor · final_div_factor)``.

    Phase one ends at ``t₁ = pct_start · total_steps − 1``, phase two at ``t₂ = total_steps − 1``; within a
    phase from ``a`` to ``b`` over ``[t_start, t_end]`` the rate is ``b + (a − b)(1 + cos(π p)) / 2`` with
    ``p = (t − t_start) / (t_end − t_start)``.

    >>> round(one_cycle(1.0, 11, 0, pct_start=0.5, div_factor=10.0, final_div_factor=10.0), 6)
    0.1
    >>> round(one_cycle(1.0, 11, 10, pct_start=0.5, div_factor=10.0, final_div_factor=10.0), 6)
    0.01
    """
    initial = max_lr / div_factor
    final = initial / final_div_factor
    peak_step = pct_start * total_steps - 1
    if t <= peak_step:
        start, end, progress = initial, max_lr, t / peak_step
    else:
        start, end, progress = max_lr, final, (t - peak_step) / (total_steps - 1 - peak_step)
    return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2


def warmup_then_exponential(warmup_epochs: int, k: float) -> Callable[[int], float]:
    """A ``LambdaLR`` factor: linear warmup over ``W = warmup_epochs`` epochs, then exponential decay.

    ``f(e) = (e + 1) / W`` while ``e < W``, then ``f(e) = e^(−k (e − W))``: the warmup reaches the full
    rate (``f = 1``) in its last epoch ``W − 1`` and again at ``e = W``, where the decay starts.

    >>> f = warmup_then_exponential(4, math.log(2))
    >>> [round(f(e), 3) for e in range(7)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 0.5, 0.25]
    """

    def factor(e: int) -> float:
        if e < warmup_epochs:
            return (e + 1) / warmup_epochs
        return math.exp(-k * (e - warmup_epochs))

    return factor


def lr_trajectory(lr0: float, lr_lambda: Callable[[int], float], epochs: int) -> list[float]:
    """The rate in force during epochs ``0 .. epochs − 1`` under ``LambdaLR(lr_lambda)``: ``η_e = η₀ f(e)``.

    ``LambdaLR`` sets ``lr0 · f(0)`` when it is built, and ``lr0 · f(e)`` at its ``e``-th
    ``step()``: with ``optimizer.step()`` before ``scheduler.step()`` in every epoch, epoch ``e``
    trains at ``lr0 · f(e)``. The factor always multiplies the *initial* rate; it never compounds.

    >>> lr_trajectory(0.1, lambda e: 0.5**e, 3)
    [0.1, 0.05, 0.025]
    """
    return [lr0 * lr_lambda(e) for e in range(epochs)]

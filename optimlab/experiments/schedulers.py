"""Chapter 3's experiments: PyTorch's schedulers read off the real thing, the step-order pitfall, a state_dict.

Nothing here re-implements a scheduler: every learning rate is read from
``optimizer.param_groups[0]["lr"]`` of a real ``torch.optim.lr_scheduler`` object driving a
one-parameter optimizer. :mod:`optimlab.schedules` holds the closed forms, and the tests pin
those to what these functions read.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.optim import SGD, Optimizer
from torch.optim import lr_scheduler as schedulers

from optimlab.schedules import warmup_then_exponential

MakeScheduler = Callable[[Optimizer], schedulers.LRScheduler]


def dummy_optimizer(lr: float, *, momentum: float = 0.0) -> SGD:
    """``torch.optim.SGD`` over one scalar parameter: something for a scheduler to drive."""
    return SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=momentum)


def scheduler_lrs(make: MakeScheduler, lr0: float, epochs: int, *, momentum: float = 0.0) -> list[float]:
    """The rate in force during each of ``epochs`` epochs, in the documented order.

    Every epoch: read the rate, ``optimizer.step()``, then ``scheduler.step()``. (Stepping a
    parameter without a gradient does nothing, but it is the call PyTorch checks the order by.)
    """
    optimizer = dummy_optimizer(lr0, momentum=momentum)
    scheduler = make(optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def own_function_lrs(schedule: Callable[[int], float], epochs: int) -> list[float]:
    """Option 1: no scheduler; set the rate yourself from ``schedule(epoch)`` at the start of every epoch."""
    optimizer = dummy_optimizer(schedule(0))
    lrs = []
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = schedule(epoch)
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
    return lrs


# --- The catalog: one scheduler of each kind, on the same epochs -------------------------------------

CATALOG_LR0 = 0.1
CATALOG_EPOCHS = 40
# For LambdaLR: warm up over 5 epochs, then halve every 10 (the factor of exercise 03).
CATALOG_WARMUP = 5
CATALOG_K = math.log(2) / 10


def catalog() -> dict[str, MakeScheduler]:
    """The chapter's schedulers, by the name the figure shows; each a function of the optimizer.

    ``OneCycleLR`` cycles the momentum as well by default; it is given an optimizer with
    momentum (see :func:`catalog_lrs`).
    """
    return {
        "LambdaLR (warmup, then exp)": lambda opt: schedulers.LambdaLR(
            opt, warmup_then_exponential(CATALOG_WARMUP, CATALOG_K)
        ),
        "StepLR(10, 0.5)": lambda opt: schedulers.StepLR(opt, step_size=10, gamma=0.5),
        "MultiStepLR([15, 30], 0.1)": lambda opt: schedulers.MultiStepLR(opt, milestones=[15, 30], gamma=0.1),
        "ExponentialLR(0.93)": lambda opt: schedulers.ExponentialLR(opt, gamma=0.93),
        "CosineAnnealingLR(40)": lambda opt: schedulers.CosineAnnealingLR(opt, T_max=CATALOG_EPOCHS),
        "OneCycleLR(max 0.1)": lambda opt: schedulers.OneCycleLR(opt, max_lr=CATALOG_LR0, total_steps=CATALOG_EPOCHS),
        "LinearLR(0.1, 5): warmup": lambda opt: schedulers.LinearLR(opt, start_factor=0.1, total_iters=5),
        "SequentialLR: LinearLR, then cosine": lambda opt: schedulers.SequentialLR(
            opt,
            [
                schedulers.LinearLR(opt, start_factor=0.1, total_iters=5),
                schedulers.CosineAnnealingLR(opt, T_max=CATALOG_EPOCHS - 5),
            ],
            milestones=[5],
        ),
        "ChainedScheduler: LinearLR × exp": lambda opt: schedulers.ChainedScheduler(
            [
                schedulers.LinearLR(opt, start_factor=0.1, total_iters=5),
                schedulers.ExponentialLR(opt, gamma=0.93),
            ]
        ),
    }


def catalog_lrs(epochs: int = CATALOG_EPOCHS, lr0: float = CATALOG_LR0) -> dict[str, list[float]]:
    """Every catalog scheduler's rate by epoch, read from the real scheduler."""
    return {name: scheduler_lrs(make, lr0, epochs, momentum=0.9) for name, make in catalog().items()}


# --- The step-order pitfall ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepOrderResult:
    right: list[float]  # the rate each epoch's optimizer.step() used, optimizer stepped first
    wrong: list[float]  # the same with scheduler.step() called first in every epoch
    warnings_right: list[str]  # the warnings PyTorch raised in each run
    warnings_wrong: list[str]


def _rates_used(
    make: MakeScheduler, lr0: float, epochs: int, *, scheduler_first: bool
) -> tuple[list[float], list[str]]:
    """The rate in the param group at the moment of each ``optimizer.step()``, and PyTorch's warnings."""
    optimizer = dummy_optimizer(lr0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler = make(optimizer)
        used = []
        for _ in range(epochs):
            if scheduler_first:
                scheduler.step()
            used.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if not scheduler_first:
                scheduler.step()
    return used, [str(warning.message) for warning in caught]


def run_step_order(make: MakeScheduler, lr0: float, epochs: int) -> StepOrderResult:
    """Both orders of ``optimizer.step()`` and ``scheduler.step()``, with the same scheduler."""
    right, warnings_right = _rates_used(make, lr0, epochs, scheduler_first=False)
    wrong, warnings_wrong = _rates_used(make, lr0, epochs, scheduler_first=True)
    return StepOrderResult(right=right, wrong=wrong, warnings_right=warnings_right, warnings_wrong=warnings_wrong)


def lambda_vs_multiplicative(factor: float, lr0: float, epochs: int) -> tuple[list[float], list[float]]:
    """``LambdaLR`` and ``MultiplicativeLR`` with the same constant ``lr_lambda``: the first never compounds."""
    return (
        scheduler_lrs(lambda opt: schedulers.LambdaLR(opt, lambda epoch: factor), lr0, epochs),
        scheduler_lrs(lambda opt: schedulers.MultiplicativeLR(opt, lambda epoch: factor), lr0, epochs),
    )


# --- What a scheduler's state_dict holds ----------------------------------------------------------------


class HalvingFactor:
    """A picklable ``LambdaLR`` factor, ``0.5^(e // every)``: a callable object, not a lambda."""

    def __init__(self, every: int):
        self.every = every

    def __call__(self, epoch: int) -> float:
        return 0.5 ** (epoch // self.every)


def stepped_scheduler(make: MakeScheduler, lr0: float, epochs: int) -> tuple[SGD, schedulers.LRScheduler]:
    """An optimizer and its scheduler after ``epochs`` epochs in the documented order."""
    optimizer = dummy_optimizer(lr0)
    scheduler = make(optimizer)
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
    return optimizer, scheduler


def resume_matches(make: MakeScheduler, lr0: float, stop_at: int, epochs: int) -> tuple[list[float], list[float]]:
    """The rates of epochs ``stop_at .. epochs − 1``: uninterrupted, and after a ``state_dict`` round trip.

    The resumed run builds a fresh optimizer and scheduler (with the same ``make``) and loads
    both ``state_dict``\\ s saved after ``stop_at`` epochs, as a checkpoint would.
    """
    optimizer, scheduler = stepped_scheduler(make, lr0, stop_at)
    saved = (optimizer.state_dict(), scheduler.state_dict())
    uninterrupted = []
    for _ in range(stop_at, epochs):
        uninterrupted.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    fresh_optimizer = dummy_optimizer(lr0)
    fresh_scheduler = make(fresh_optimizer)
    fresh_optimizer.load_state_dict(saved[0])
    fresh_scheduler.load_state_dict(saved[1])
    resumed = []
    for _ in range(stop_at, epochs):
        resumed.append(fresh_optimizer.param_groups[0]["lr"])
        fresh_optimizer.step()
        fresh_scheduler.step()
    return uninterrupted, resumed

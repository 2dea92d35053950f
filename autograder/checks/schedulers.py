"""Hidden checks for exercise 03_schedulers: cases, references and the catalog of common mistakes.

`warmup_then_exponential` returns a function: the runner "lr_lambda_values"
(`autograder.checks.runners.schedulers`) records its values at epochs 0 .. E-1. Its reference is
`optimlab.schedules`'. `lr_trajectory` takes a function, built in the sandbox by the makers of
that runner module; its reference runs PyTorch's own `LambdaLR` on a one-parameter optimizer
(this runs outside the student's sandbox), and `tests/test_exercise_schedulers.py` checks that
`optimlab.schedules.lr_trajectory` agrees with it on every hidden case.
"""

from __future__ import annotations

import math

import torch

from optimlab.experiments.schedulers import scheduler_lrs
from optimlab.schedules import warmup_then_exponential

from .cases import case
from .grading import Check, Mistake, Question
from .records import Signature, made

# ---------------------------------------------------------------- warmup_then_exponential


def _factor_case(warmup_epochs: int, k: float, epochs: int) -> dict:
    return case({}, [{"warmup_epochs": warmup_epochs, "k": k, "epochs": epochs}])


def _warmup_mistakes() -> tuple[Mistake, ...]:
    def warmup_from_zero(warmup_epochs, k):
        def factor(e):
            return e / warmup_epochs if e < warmup_epochs else math.exp(-k * (e - warmup_epochs))

        return factor

    def decay_from_epoch_zero(warmup_epochs, k):
        def factor(e):
            return (e + 1) / warmup_epochs if e < warmup_epochs else math.exp(-k * e)

        return factor

    def decay_one_epoch_early(warmup_epochs, k):
        def factor(e):
            return (e + 1) / warmup_epochs if e < warmup_epochs else math.exp(-k * (e - warmup_epochs + 1))

        return factor

    def warmup_one_epoch_too_long(warmup_epochs, k):
        def factor(e):
            return (e + 1) / warmup_epochs if e <= warmup_epochs else math.exp(-k * (e - warmup_epochs))

        return factor

    def growing(warmup_epochs, k):
        def factor(e):
            return (e + 1) / warmup_epochs if e < warmup_epochs else math.exp(k * (e - warmup_epochs))

        return factor

    def returns_a_value(warmup_epochs, k):
        return 1.0

    return (
        Mistake(
            "warmup_from_zero",
            "the warmup starts at (0 + 1) / warmup_epochs, not 0: a rate of 0 would waste the first epoch; "
            "use (e + 1) / warmup_epochs while e < warmup_epochs.",
            warmup_from_zero,
        ),
        Mistake(
            "decay_from_epoch_zero",
            "count the decay from the end of the warmup: exp(-k * (e - warmup_epochs)), not exp(-k * e).",
            decay_from_epoch_zero,
        ),
        Mistake(
            "decay_one_epoch_early",
            "the decay starts from 1 at e = warmup_epochs: exp(-k * (e - warmup_epochs)), "
            "not exp(-k * (e - warmup_epochs + 1)).",
            decay_one_epoch_early,
        ),
        Mistake(
            "warmup_one_epoch_too_long",
            "the warmup covers e < warmup_epochs (strictly): with e <= warmup_epochs its last value "
            "(warmup_epochs + 1) / warmup_epochs exceeds 1.",
            warmup_one_epoch_too_long,
        ),
        Mistake(
            "growing",
            "after the warmup the factor must shrink: exp(-k * (e - warmup_epochs)), with a minus sign.",
            growing,
        ),
        Mistake(
            "returns_a_value",
            "return a function of the epoch that LambdaLR can call (define `def factor(e): ...` inside and "
            "`return factor`), not a number.",
            returns_a_value,
        ),
    )


# ---------------------------------------------------------------- lr_trajectory


def lr_trajectory_with_lambdalr(lr0, lr_lambda, epochs):
    """The reference: PyTorch's `LambdaLR` itself, optimizer stepped before scheduler, the rate read each epoch."""
    return scheduler_lrs(lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda), lr0, epochs)


def _trajectory_case(lr0: float, lr_lambda: dict, epochs: int) -> dict:
    """One call. `lr_lambda` (a `made(...)` description) is added after `case()`, which would encode it as a mapping."""
    plain = case({}, [{"lr0": lr0, "epochs": epochs}])
    plain["steps"][0]["lr_lambda"] = lr_lambda
    return plain


def _warmup_exponential_cases() -> list[dict]:
    return [
        _trajectory_case(0.1, made("warmup_exponential_factor", warmup_epochs=3, k=0.2), 15),
        _trajectory_case(0.5, made("warmup_exponential_factor", warmup_epochs=1, k=0.5), 8),
        _trajectory_case(0.02, made("warmup_exponential_factor", warmup_epochs=5, k=0.0), 12),
    ]


def _step_cases() -> list[dict]:
    return [
        _trajectory_case(0.1, made("step_factor", step_size=3, gamma=0.5), 12),
        _trajectory_case(1.0, made("step_factor", step_size=1, gamma=0.9), 30),
    ]


def _constant_cases() -> list[dict]:
    return [_trajectory_case(0.1, made("constant_factor", value=0.5), 6)]


def _short_cases() -> list[dict]:
    factor = made("warmup_exponential_factor", warmup_epochs=2, k=0.3)
    return [_trajectory_case(0.1, factor, 1), _trajectory_case(0.1, factor, 0)]


def _trajectory_mistakes() -> tuple[Mistake, ...]:
    def compounds(lr0, lr_lambda, epochs):
        lrs, lr = [], lr0
        for e in range(epochs):
            lr = lr * lr_lambda(e)
            lrs.append(lr)
        return lrs

    def scheduler_stepped_first(lr0, lr_lambda, epochs):
        return [lr0 * lr_lambda(e + 1) for e in range(epochs)]

    def first_epoch_without_factor(lr0, lr_lambda, epochs):
        return [lr0 if e == 0 else lr0 * lr_lambda(e) for e in range(epochs)]

    def multiplicative_lr(lr0, lr_lambda, epochs):
        lrs, lr = [], lr0
        for e in range(epochs):
            if e > 0:
                lr = lr * lr_lambda(e)
            lrs.append(lr)
        return lrs

    def one_too_many(lr0, lr_lambda, epochs):
        return [lr0 * lr_lambda(e) for e in range(epochs + 1)]

    def lr0_missing(lr0, lr_lambda, epochs):
        return [lr_lambda(e) for e in range(epochs)]

    return (
        Mistake(
            "compounds",
            "LambdaLR does not compound: every epoch's rate is the *initial* rate times the factor, "
            "lr0 * lr_lambda(e), not the previous rate times it.",
            compounds,
            label="sec-schedulers-lambdalr",
        ),
        Mistake(
            "scheduler_stepped_first",
            "epoch e trains at lr0 * lr_lambda(e): LambdaLR applies lr_lambda(0) when it is built, and with the "
            "optimizer stepped first, each scheduler.step() sets the *next* epoch's rate (lr_lambda(e + 1) is "
            "what you get when the scheduler is stepped before the optimizer).",
            scheduler_stepped_first,
            label="sec-schedulers-order",
        ),
        Mistake(
            "first_epoch_without_factor",
            "LambdaLR applies the factor from the start: epoch 0 trains at lr0 * lr_lambda(0), not at lr0.",
            first_epoch_without_factor,
            label="sec-schedulers-lambdalr",
        ),
        Mistake(
            "multiplicative_lr",
            "that is MultiplicativeLR (each epoch multiplies the previous rate); LambdaLR sets lr0 * lr_lambda(e).",
            multiplicative_lr,
            label="sec-schedulers-lambdalr",
        ),
        Mistake(
            "one_too_many",
            "return one rate per epoch: exactly `epochs` values, for e = 0, ..., epochs - 1.",
            one_too_many,
        ),
        Mistake("lr0_missing", "multiply the factor by the initial rate: lr0 * lr_lambda(e).", lr0_missing),
    )


QUESTIONS = {
    "warmup_then_exponential": Question(
        signature=Signature(
            "warmup_then_exponential", ("warmup_epochs", "k"), ("lr_lambda(e) for e = 0, 1, ...",), kinds=("numbers",)
        ),
        reference=warmup_then_exponential,
        checks={
            "warmup_then_decay": Check(cases=lambda: [_factor_case(3, 0.2, 15), _factor_case(5, 0.1, 20)]),
            "one_epoch_warmup": Check(cases=lambda: [_factor_case(1, 0.3, 10)]),
            "k_zero_stays_at_one": Check(cases=lambda: [_factor_case(4, 0.0, 12)]),
            "long_after_warmup": Check(cases=lambda: [_factor_case(2, 0.05, 200)]),
        },
        mistakes=_warmup_mistakes(),
        label="sec-schedulers-lambdalr",
        runner="lr_lambda_values",
    ),
    "lr_trajectory": Question(
        signature=Signature("lr_trajectory", ("lr0", "lr_lambda", "epochs"), ("lrs",), kinds=("numbers",)),
        reference=lr_trajectory_with_lambdalr,
        checks={
            "warmup_exponential_factor": Check(cases=_warmup_exponential_cases),
            "step_factor": Check(cases=_step_cases),
            "constant_factor_does_not_compound": Check(cases=_constant_cases),
            "one_and_zero_epochs": Check(cases=_short_cases),
        },
        mistakes=_trajectory_mistakes(),
        label="sec-schedulers-lambdalr",
    ),
}

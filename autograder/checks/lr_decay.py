"""Hidden checks for exercise 02_lr_decay: cases, references and the catalog of common mistakes.

Both questions return plain numbers. References are `optimlab.schedules`' own
(`tests/test_schedules.py` pins `exponential_decay` to `torch.optim.lr_scheduler.ExponentialLR`).
Each case is a list of independent calls: no state is threaded between them.
"""

from __future__ import annotations

import math

from optimlab.schedules import decay_constant_for_halving, exponential_decay

from .cases import case
from .grading import Check, Mistake, Question
from .records import Signature

# ---------------------------------------------------------------- exponential_decay


def _decay_calls(eta0: float, k: float, epochs) -> dict:
    return case({}, [{"eta0": eta0, "k": k, "t": t} for t in epochs])


def _over_epochs() -> list[dict]:
    return [
        _decay_calls(0.1, 0.05, range(0, 41)),
        _decay_calls(1.0, 0.3, range(0, 21)),
        _decay_calls(0.5, 0.2, [0.5, 1.5, 2.5, 7.25]),  # a schedule may be read between epochs
    ]


def _no_decay() -> list[dict]:
    return [_decay_calls(0.1, 0.0, range(0, 30)), _decay_calls(2.0, 0.0, [0, 7, 1000])]


def _first_epoch() -> list[dict]:
    return [case({}, [{"eta0": eta0, "k": k, "t": 0} for eta0, k in [(0.1, 0.05), (1.0, 1.0), (3.0, 0.5)]])]


def _large_t() -> list[dict]:
    # Small k with large t, so that the rate is still well above the comparison's absolute tolerance.
    return [case({}, [{"eta0": 1.0, "k": k, "t": t} for k, t in [(0.002, 500), (1e-4, 10000), (0.01, 300)]])]


def _decay_mistakes() -> tuple[Mistake, ...]:
    def growing(eta0, k, t):
        return eta0 * math.exp(k * t)

    def base_two(eta0, k, t):
        return eta0 * 2 ** (-k * t)

    def discrete_compounding(eta0, k, t):
        return eta0 * (1 - k) ** t

    def exp_times_t(eta0, k, t):
        return eta0 * math.exp(-k) * t

    def epochs_from_one(eta0, k, t):
        return eta0 * math.exp(-k * (t + 1))

    def inverse_time(eta0, k, t):
        return eta0 / (1 + k * t)

    def eta0_missing(eta0, k, t):
        return math.exp(-k * t)

    return (
        Mistake(
            "growing",
            "the rate grows: the exponent must be negative, eta0 * exp(-k * t), so that it shrinks with t.",
            growing,
        ),
        Mistake("base_two", "use the natural exponential, math.exp(-k * t), not 2 ** (-k * t).", base_two),
        Mistake(
            "discrete_compounding",
            "(1 - k) ** t only approximates the decay for small k: the formula is eta0 * math.exp(-k * t).",
            discrete_compounding,
        ),
        Mistake(
            "exp_times_t",
            "t belongs inside the exponential: eta0 * math.exp(-k * t), not eta0 * math.exp(-k) * t.",
            exp_times_t,
        ),
        Mistake(
            "epochs_from_one",
            "epochs count from 0 and the rate at t = 0 is eta0 itself: use exp(-k * t), not exp(-k * (t + 1)).",
            epochs_from_one,
        ),
        Mistake(
            "inverse_time",
            "that is 1/t decay, eta0 / (1 + k t); the question asks for exponential decay, eta0 * exp(-k * t).",
            inverse_time,
            label="sec-lr-decay-exponential",
        ),
        Mistake("eta0_missing", "multiply by the initial rate: eta0 * math.exp(-k * t).", eta0_missing),
    )


# ---------------------------------------------------------------- decay_constant_for_halving


def _halving_calls(epochs) -> list[dict]:
    return [case({}, [{"epochs": e} for e in epochs])]


def _halving_mistakes() -> tuple[Mistake, ...]:
    def log_base_two(epochs):
        return math.log2(2) / epochs

    def linear(epochs):
        return 0.5 / epochs

    def log_times_epochs(epochs):
        return math.log(2) * epochs

    def negative(epochs):
        return -math.log(2) / epochs

    def log_base_ten(epochs):
        return math.log10(2) / epochs

    def factor_not_constant(epochs):
        return math.exp(-math.log(2) / epochs)

    return (
        Mistake(
            "log_base_two",
            "the logarithm must be natural, to match exp: solve exp(-k * epochs) = 1/2, so k = math.log(2) / epochs "
            "(log2(2) = 1 gives 1 / epochs).",
            log_base_two,
        ),
        Mistake(
            "linear",
            "the decay is exponential, not linear: solve exp(-k * epochs) = 1/2 for k, which gives "
            "k = math.log(2) / epochs, not 0.5 / epochs.",
            linear,
        ),
        Mistake(
            "log_times_epochs",
            "a longer halving time needs a smaller k: k = math.log(2) / epochs (divide, do not multiply).",
            log_times_epochs,
        ),
        Mistake(
            "negative",
            "k is positive: the minus sign is already in exp(-k t); k = math.log(2) / epochs.",
            negative,
        ),
        Mistake("log_base_ten", "use the natural logarithm math.log, not math.log10.", log_base_ten),
        Mistake(
            "factor_not_constant",
            "return the decay constant k = math.log(2) / epochs, not the per-epoch factor exp(-k).",
            factor_not_constant,
        ),
    )


QUESTIONS = {
    "exponential_decay": Question(
        signature=Signature("exponential_decay", ("eta0", "k", "t"), ("lr",), kinds=("number",)),
        reference=exponential_decay,
        checks={
            "decays_over_epochs": Check(cases=_over_epochs),
            "k_zero_keeps_the_rate": Check(cases=_no_decay),
            "t_zero_is_eta0": Check(cases=_first_epoch),
            "large_t": Check(cases=_large_t),
        },
        mistakes=_decay_mistakes(),
        label="sec-lr-decay-exponential",
    ),
    "decay_constant_for_halving": Question(
        signature=Signature("decay_constant_for_halving", ("epochs",), ("k",), kinds=("number",)),
        reference=decay_constant_for_halving,
        checks={
            "whole_epochs": Check(cases=lambda: _halving_calls([1, 2, 5, 10, 100])),
            "fractional_epochs": Check(cases=lambda: _halving_calls([0.5, 2.5, 7.25])),
            "one_epoch_is_ln_2": Check(cases=lambda: _halving_calls([1])),
        },
        mistakes=_halving_mistakes(),
        label="sec-lr-decay-exponential",
    ),
}

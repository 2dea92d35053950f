"""Exercise 03_schedulers: a runner that probes a returned `LambdaLR` factor, and makers of factors to pass in.

`warmup_then_exponential(warmup_epochs, k)` returns a function, which a record cannot carry:
the runner "lr_lambda_values" calls it at epochs `0 .. epochs - 1` (the case's `epochs`) and
records the values, as numbers. `lr_trajectory(lr0, lr_lambda, epochs)` takes a function:
`made("warmup_exponential_factor", warmup_epochs=..., k=...)`, `made("step_factor", ...)` and
`made("constant_factor", ...)` in a case become those factors in the sandbox. They are written
out here (not imported from optimlab), so that calling them never counts as delegation.
Like `records`, this module imports only the standard library, numpy, torch and `records`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from ..records import Signature, decode, describe_exception, maker, runner, watch_for_delegation


@maker("warmup_exponential_factor")
def warmup_exponential_factor(warmup_epochs: int, k: float) -> Callable[[int], float]:
    """`(e + 1) / W` while `e < W`, then `exp(-k (e - W))`."""
    warmup_epochs, k = int(warmup_epochs), float(k)

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / warmup_epochs
        return math.exp(-k * (epoch - warmup_epochs))

    return factor


@maker("step_factor")
def step_factor(step_size: int, gamma: float) -> Callable[[int], float]:
    """`gamma ** (e // step_size)`: the factor of `StepLR`."""
    step_size, gamma = int(step_size), float(gamma)
    return lambda epoch: gamma ** (epoch // step_size)


@maker("constant_factor")
def constant_factor(value: float) -> Callable[[int], float]:
    """The same factor in every epoch: under `LambdaLR` the rate stays at `lr0 * value` (it does not compound)."""
    value = float(value)
    return lambda epoch: value


def _as_number(value) -> float | None:
    """A plain float for a number (or a one-element tensor); None for anything else."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


@runner("lr_lambda_values")
def run_lr_lambda_values(fn: Callable, signature: Signature, case: dict) -> dict:
    """Call `fn(*params)` once, then the function it returns at epochs `0 .. epochs - 1`; one step with the values.

    The case has one step holding `fn`'s parameters and `epochs`. The step records
    {"out": [[f(0), f(1), ...]], "modified": []}, or {"error": ...} when `fn` raises, returns
    something that is not callable, or returns a function that raises or gives a non-number.
    """
    (step,) = case["steps"]
    args = {name: decode(value) for name, value in step.items()}
    delegated: set[str] = set()

    def record(entry: dict) -> dict:
        return {"steps": [entry], "delegated": sorted(delegated)}

    try:
        with watch_for_delegation(delegated, inside=fn, exempt=signature.exempt):
            factor = fn(*(args[name] for name in signature.params))
    except (Exception, SystemExit) as error:
        return record({"error": f"calling {signature.name} raised {describe_exception(error)}"})
    if not callable(factor):
        got = "None" if factor is None else type(factor).__name__
        return record(
            {
                "error": f"{signature.name} returned {got}; it must return a function of the epoch "
                "(define `def factor(epoch): ...` inside it and `return factor`)"
            }
        )
    values = []
    for epoch in range(int(args["epochs"])):
        try:
            with watch_for_delegation(delegated, inside=factor, exempt=signature.exempt):
                value = factor(epoch)
        except (Exception, SystemExit) as error:
            return record({"error": f"the returned function raised {describe_exception(error)} at epoch {epoch}"})
        number = _as_number(value)
        if number is None:
            got = "None" if value is None else type(value).__name__
            return record({"error": f"the returned function gave {got} at epoch {epoch}; it must return a number"})
        values.append(number)
    return record({"out": [values], "modified": []})

"""Calling a student's function safely and comparing its tensors, with messages a student can act on."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

# float64 throughout, so a tight tolerance separates real mistakes from rounding.
DTYPE = torch.float64
RTOL, ATOL = 1e-7, 1e-9


def close(a: Tensor, b: Tensor) -> bool:
    """Same shape and equal within the grading tolerance."""
    return isinstance(a, Tensor) and a.shape == b.shape and torch.allclose(a, b, rtol=RTOL, atol=ATOL)


def call_pair(fn: Callable, names: tuple[str, str], *args, **kwargs) -> tuple[Tensor, Tensor]:
    """Call a student's step function and check it returns a pair of tensors named `names`.

    Exceptions the student's code raises become an AssertionError that says which call failed,
    so the grader reports it as a failing test with a readable message.
    """
    try:
        result = fn(*args, **kwargs)
    except Exception as error:  # any student bug; reported, never re-raised as-is
        raise AssertionError(
            f"calling {fn.__name__} raised {type(error).__name__}: {error}") from None
    pair = f"({names[0]}, {names[1]})"
    if result is None:
        raise AssertionError(f"{fn.__name__} returned None; it must return the pair {pair}")
    if not isinstance(result, tuple) or len(result) != 2:
        raise AssertionError(f"{fn.__name__} must return the pair {pair}, got {type(result).__name__}")
    for name, value in zip(names, result):
        if not isinstance(value, Tensor):
            raise AssertionError(f"{fn.__name__} returned {type(value).__name__} for `{name}`; it must be a tensor")
    return result


def assert_inputs_unchanged(fn: Callable, inputs: dict[str, Tensor | None], **hyperparameters) -> None:
    """Call `fn(**inputs, **hyperparameters)` and fail, naming the input, if it changed one in place."""
    before = {name: None if value is None else value.clone() for name, value in inputs.items()}
    names = ("w", next(name for name in inputs if name not in ("w", "grad")))
    call_pair(fn, names, **inputs, **hyperparameters)  # a stub that returns nothing is not pure, it is unfinished
    for name, value in inputs.items():
        if value is not None and not torch.equal(value, before[name]):
            raise AssertionError(
                f"your function modified its input `{name}` in place; step functions must be pure: "
                f"write `{name} = ...` to build a new tensor instead of `{name} -= ...`, "
                f"`{name}.mul_(...)` or `{name}[...] = ...`")


def random_tensors(shape: tuple[int, ...], count: int, seed: int) -> list[Tensor]:
    """`count` seeded standard-normal float64 tensors of `shape`."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=DTYPE) for _ in range(count)]


# Shapes every trajectory is checked on: a scalar, a vector, a matrix, a 3-d tensor.
SHAPES = [(), (5,), (3, 4), (2, 3, 2)]

"""Building blocks for seeded hidden cases (see `records` for the case format)."""

from __future__ import annotations

import torch

from .records import encode

# float64, so a tight tolerance separates real mistakes from rounding (float32 only where the dtype is checked).
DTYPE = torch.float64
# Shapes every trajectory is checked on: a scalar, a vector, a matrix, a 3-d tensor.
SHAPES = [(), (5,), (3, 4), (2, 3, 2)]
STEPS = 50
# Trajectories in float32 are shorter: they check the dtype, and float32 rounding grows with the steps.
FLOAT32_STEPS = 20


def probe() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Small inputs with distinct values (a weight, a gradient, a state): each mistake leaves a distinct trace."""
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    grad = torch.tensor([0.5, 1.0, -1.5], dtype=torch.float64)
    state = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64)
    return w, grad, state


def normal(shape: tuple[int, ...], count: int, seed: int, dtype: torch.dtype = DTYPE) -> list[torch.Tensor]:
    """`count` seeded standard-normal tensors of `shape` (float64 unless a check is about the dtype)."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=DTYPE).to(dtype) for _ in range(count)]


def learning_rates(steps: int, schedule: str) -> list[float]:
    """The learning rate of each step: `constant`, or `changing` (decay by 0.7 every 5 steps, as a scheduler would)."""
    if schedule == "constant":
        return [0.05] * steps
    if schedule == "changing":
        return [0.1 * 0.7 ** (t // 5) for t in range(steps)]
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; use 'constant' or 'changing'")


def case(state: dict, steps: list[dict]) -> dict:
    """A case as plain data: the initial state and each step's fresh inputs, tensors encoded."""
    return {
        "state": {name: encode(value) for name, value in state.items()},
        "steps": [{name: encode(value) for name, value in step.items()} for step in steps],
    }

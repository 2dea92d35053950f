"""Exercise 05_nesterov's maker: the gradient function `nesterov_lookahead_step` takes as `grad_fn`.

The lecture's look-ahead step evaluates the gradient at a point of its own choosing, so a case
cannot hand it a gradient, only a function. `made("quadratic_gradient", curvature=..., shift=...)`
in a case becomes, in the sandbox, the gradient of `sum(curvature * (w - shift) ** 2) / 2`.
Like `records`, this module imports only torch and `records`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..records import maker


@maker("quadratic_gradient")
def quadratic_gradient(curvature: torch.Tensor, shift: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """`w -> curvature * (w - shift)`: a new tensor, of `w`'s dtype when `curvature` and `shift` share it."""

    def grad_fn(w: torch.Tensor) -> torch.Tensor:
        return curvature * (w - shift)

    return grad_fn

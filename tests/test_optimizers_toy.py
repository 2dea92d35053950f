"""Every optimizer against two toy problems: does it get (near) the minimum from a fixed start?"""

from __future__ import annotations

from functools import partial

import pytest
import torch

import optimlab.optimizers as ol


def ill_conditioned_quadratic(x: torch.Tensor) -> torch.Tensor:
    """Curvatures 1 and 100 (condition number 100); minimum 0 at the origin."""
    return 0.5 * (x[0] ** 2 + 100.0 * x[1] ** 2)


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    """A curved, narrow valley; minimum 0 at (1, 1)."""
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


# problem: (start, steps, loss to get below); start losses are 50.5 and 12.5.
PROBLEMS = {
    "quadratic": (ill_conditioned_quadratic, (1.0, 1.0), 500, 1e-4),
    "rosenbrock": (rosenbrock, (-1.5, 2.0), 2000, 5e-2),
}

# optimizer: (factory taking lr, lr on the quadratic, lr on Rosenbrock)
OPTIMIZERS = {
    "sgd": (ol.SGD, 0.01, 0.002),
    "sgd-momentum": (partial(ol.SGD, momentum=0.9), 0.003, 0.001),
    "sgd-nesterov": (partial(ol.SGD, momentum=0.9, nesterov=True), 0.003, 0.001),
    "momentum-lecture": (partial(ol.MomentumLecture, alpha=0.9), 0.003, 0.001),
    "nesterov-lookahead": (partial(ol.NesterovLookahead, alpha=0.9), 0.003, 0.001),
    "local-gain": (partial(ol.LocalGain, beta=0.05), 0.003, 0.001),
    "rmsprop": (ol.RMSprop, 0.01, 0.003),
    "adam": (ol.Adam, 0.03, 0.05),
    "adamw": (ol.AdamW, 0.03, 0.05),
}


@pytest.mark.parametrize("problem_id", PROBLEMS)
@pytest.mark.parametrize("optimizer_id", OPTIMIZERS)
def test_reaches_the_minimum(optimizer_id, problem_id):
    loss_fn, start, steps, target = PROBLEMS[problem_id]
    factory, lr_quadratic, lr_rosenbrock = OPTIMIZERS[optimizer_id]
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = factory([x], lr=lr_quadratic if problem_id == "quadratic" else lr_rosenbrock)

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    final = loss_fn(x).item()
    assert final < target, f"{optimizer_id} on {problem_id}: loss {final:.3g} after {steps} steps"

"""``rescale_velocity``: the lecture's velocity carried across a learning-rate change keeps PyTorch's steps."""

from __future__ import annotations

import pytest
import torch

import optimlab.optimizers as ol


def _gradient(step: int) -> torch.Tensor:
    return torch.randn(5, generator=torch.Generator().manual_seed(step), dtype=torch.float64)


def test_rescaled_lecture_form_takes_pytorchs_steps_through_rate_changes():
    alpha, schedule = 0.9, [0.1] * 10 + [0.02] * 10 + [0.05] * 10
    w_lecture = w_torch = _gradient(-1)
    delta_w, buf = torch.zeros_like(w_lecture), None
    previous_lr = schedule[0]
    for step, lr in enumerate(schedule):
        delta_w = ol.rescale_velocity(delta_w, previous_lr, lr)
        w_lecture, delta_w = ol.momentum_step_lecture(w_lecture, _gradient(step), delta_w, lr, alpha)
        w_torch, buf = ol.sgd_momentum_step(w_torch, _gradient(step), buf, lr, alpha)
        torch.testing.assert_close(w_lecture, w_torch, rtol=1e-12, atol=1e-12)
        previous_lr = lr


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rescale_velocity_is_pure_and_keeps_the_dtype(dtype):
    delta_w = torch.tensor([1.0, -2.0, 0.5], dtype=dtype)
    before = delta_w.clone()
    rescaled = ol.rescale_velocity(delta_w, 0.1, 0.01)
    assert rescaled.dtype == dtype
    assert rescaled.data_ptr() != delta_w.data_ptr()
    torch.testing.assert_close(delta_w, before, rtol=0, atol=0)
    torch.testing.assert_close(rescaled, before * 0.1)

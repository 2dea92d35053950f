"""The batched SGD step: a stack of models, each with its own hyperparameters, steps exactly
as that model alone does under ``sgd_momentum_step`` and ``torch.optim.SGD``."""

import pytest
import torch

import optimlab.optimizers as ol

STEPS = 30
# (lr, momentum, dampening, weight_decay) per model; zero momentum with dampening and decay
# is the case the batched form cannot branch on, and must still match SGD(momentum=0).
SETTINGS = [(0.05, 0.0, 0.5, 0.01), (0.1, 0.9, 0.3, 0.0), (0.02, 0.5, 0.0, 0.1), (0.07, 0.0, 0.0, 0.0)]


def _grads(shape: tuple[int, ...]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(shape, generator=generator, dtype=torch.float64) for _ in range(STEPS)]


def _columns(index: int, like: torch.Tensor) -> torch.Tensor:
    return ol.per_model(tuple(setting[index] for setting in SETTINGS), like)


def test_batched_step_matches_torch_sgd_model_by_model():
    shape = (len(SETTINGS), 3, 2)
    grad_of = _grads(shape)  # a gradient that depends on w too, so that paths differ
    start = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(1, 3, 2).expand(shape).clone()
    w, buf = start, None
    lr, momentum, dampening, weight_decay = (_columns(i, start) for i in range(4))
    for grad in grad_of:
        w, buf = ol.sgd_momentum_step_batched(w, grad * w + grad, buf, lr, momentum, dampening, weight_decay)
    for m, (m_lr, m_momentum, m_dampening, m_decay) in enumerate(SETTINGS):
        theirs = start[m].clone().requires_grad_()
        optimizer = torch.optim.SGD(
            [theirs], lr=m_lr, momentum=m_momentum, dampening=m_dampening, weight_decay=m_decay, foreach=False
        )
        ours, ours_buf = start[m], None
        for grad in grad_of:
            theirs.grad = grad[m] * theirs.detach() + grad[m]
            optimizer.step()
            ours, ours_buf = ol.sgd_momentum_step(
                ours, grad[m] * ours + grad[m], ours_buf, m_lr, m_momentum, m_dampening, m_decay
            )
        torch.testing.assert_close(w[m], theirs.detach(), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(w[m], ours, rtol=1e-12, atol=1e-14)
        if m_momentum != 0:
            torch.testing.assert_close(buf[m], ours_buf, rtol=1e-12, atol=1e-14)


def test_batched_step_with_shared_floats_equals_the_plain_step():
    grads = _grads((4,))
    w, buf, plain_w, plain_buf = torch.ones(4, dtype=torch.float64), None, torch.ones(4, dtype=torch.float64), None
    for grad in grads:
        w, buf = ol.sgd_momentum_step_batched(w, grad, buf, 0.1, 0.9, 0.2, 0.01)
        plain_w, plain_buf = ol.sgd_momentum_step(plain_w, grad, plain_buf, 0.1, 0.9, 0.2, 0.01)
    torch.testing.assert_close(w, plain_w, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(buf, plain_buf, rtol=1e-12, atol=1e-14)


def test_batched_step_is_pure():
    w, grad, buf = torch.ones(2, 3), torch.full((2, 3), 0.5), torch.full((2, 3), 0.25)
    copies = (w.clone(), grad.clone(), buf.clone())
    momentum = ol.per_model((0.0, 0.9), w)
    new_w, new_buf = ol.sgd_momentum_step_batched(w, grad, buf, 0.1, momentum, 0.5)
    assert all(torch.equal(a, b) for a, b in zip((w, grad, buf), copies, strict=True))
    assert new_w is not w and new_buf is not buf


def test_per_model_needs_one_value_per_model():
    assert ol.per_model((0.1, 0.2), torch.zeros(2, 5, 3)).shape == (2, 1, 1)
    with pytest.raises(ValueError, match="3 values for 2 models"):
        ol.per_model((0.1, 0.2, 0.3), torch.zeros(2, 5))

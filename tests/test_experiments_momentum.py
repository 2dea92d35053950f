"""Chapter 4's experiments: batched sweeps equal one-by-one training with torch.optim.SGD."""

import dataclasses

import pytest
import torch

from optimlab.data import load_digits
from optimlab.experiments import (
    ConventionsConfig,
    DigitsSweepConfig,
    QuadraticConfig,
    run_conventions,
    run_digits_sweep,
    run_quadratic,
)
from optimlab.experiments.batched_mlp import init_stacked_mlp, minibatch_order


def _quadratic_path_with_torch_sgd(config: QuadraticConfig, momentum: float) -> torch.Tensor:
    w = torch.tensor(config.start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=config.lr, momentum=momentum, dampening=config.dampening)
    curvatures = torch.tensor(config.curvatures, dtype=torch.float64)
    path = [w.detach().clone()]
    for _ in range(config.steps):
        optimizer.zero_grad()
        (0.5 * (curvatures * w**2).sum()).backward()
        optimizer.step()
        path.append(w.detach().clone())
    return torch.stack(path)


@pytest.mark.parametrize("dampening", [0.0, 0.3])
def test_quadratic_sweep_matches_torch_sgd_one_model_at_a_time(dampening):
    config = QuadraticConfig(momentums=(0.0, 0.5, 0.9), dampening=dampening, steps=40)
    result = run_quadratic(config)
    assert result.trajectories.shape == (3, 41, 2)
    for index, momentum in enumerate(config.momentums):
        expected = _quadratic_path_with_torch_sgd(config, momentum)
        torch.testing.assert_close(result.trajectories[index], expected, rtol=1e-12, atol=1e-12)
    a, b = config.curvatures
    torch.testing.assert_close(
        result.losses, 0.5 * (a * result.trajectories[..., 0] ** 2 + b * result.trajectories[..., 1] ** 2)
    )


def test_quadratic_momentum_damps_the_zigzag():
    result = run_quadratic(QuadraticConfig(momentums=(0.0, 0.5), steps=30))
    plain, damped = result.trajectories[:, :, 1].abs()  # distance across the ravine
    assert damped[-1] < 1e-2 * plain[-1]


def _train_one_digits_model_with_torch_sgd(
    config: DigitsSweepConfig, momentum: float, lr: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference: an ordinary nn.Sequential trained by torch.optim.SGD, from the sweep's initial weights,
    on the sweep's minibatches."""
    digits = load_digits(dtype=config.dtype, device="cpu")
    w1, b1, w2, b2 = (
        p[0]
        for p in init_stacked_mlp(
            (64, config.hidden, 10), 1, seed=config.seed, dtype=config.dtype, device=torch.device("cpu")
        )
    )
    model = torch.nn.Sequential(
        torch.nn.Linear(64, config.hidden), torch.nn.ReLU(), torch.nn.Linear(config.hidden, 10)
    ).to(config.dtype)
    with torch.no_grad():
        for linear, weight, bias in ((model[0], w1, b1), (model[2], w2, b2)):
            linear.weight.copy_(weight.T)
            linear.bias.copy_(bias[0])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, dampening=config.dampening)
    losses = []
    for batch in minibatch_order(len(digits.train.y), config.batch_size, config.steps, seed=config.seed):
        x, y = (digits.train.x, digits.train.y) if batch is None else (digits.train.x[batch], digits.train.y[batch])
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    with torch.no_grad():
        losses.append(torch.nn.functional.cross_entropy(model(digits.train.x), digits.train.y))
        accuracy = (model(digits.test.x).argmax(dim=1) == digits.test.y).double().mean()
    return torch.stack(losses), accuracy


@pytest.mark.parametrize(
    "lr, batch_size", [(0.1, None), ((0.1, 0.03, 0.05), 32)], ids=["full-batch", "minibatch-lr-pairs"]
)
def test_digits_sweep_matches_torch_sgd_one_model_at_a_time(lr, batch_size):
    config = DigitsSweepConfig(
        momentums=(0.0, 0.6, 0.95),
        lr=lr,
        dampening=0.2,
        steps=25,
        batch_size=batch_size,
        hidden=16,
        dtype=torch.float64,
    )
    result = run_digits_sweep(config)
    assert result.train_loss.shape == (3, 26)
    lrs = lr if isinstance(lr, tuple) else (lr,) * 3
    torch.testing.assert_close(result.lrs, torch.tensor(lrs, dtype=torch.float64))
    for index, momentum in enumerate(config.momentums):
        losses, accuracy = _train_one_digits_model_with_torch_sgd(config, momentum, lrs[index])
        torch.testing.assert_close(result.train_loss[index], losses, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(result.test_accuracy[index], accuracy)
    # the sweep really varies something: the curves differ
    assert (result.train_loss[0, -1] - result.train_loss[2, -1]).abs() > 1e-3


def test_batched_sweep_equals_the_same_sweep_run_one_model_at_a_time():
    config = DigitsSweepConfig(momentums=(0.0, 0.9, 0.5), lr=(0.05, 0.02, 0.1), steps=20, batch_size=64,
                               dtype=torch.float64)
    batched = run_digits_sweep(config)
    for index, (momentum, lr) in enumerate(zip(config.momentums, config.lr, strict=True)):
        alone = run_digits_sweep(dataclasses.replace(config, momentums=(momentum,), lr=lr))
        torch.testing.assert_close(batched.train_loss[index], alone.train_loss[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(batched.test_loss[index], alone.test_loss[0], rtol=1e-12, atol=1e-12)


def test_minibatch_order_covers_every_example_once_per_epoch():
    order = minibatch_order(10, 4, 7, seed=3)
    assert [len(batch) for batch in order] == [4, 4, 2, 4, 4, 2, 4]
    first, second = torch.cat(order[:3]), torch.cat(order[3:6])
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(10))
    assert not torch.equal(first, second)  # a fresh shuffle each epoch
    assert all(torch.equal(a, b) for a, b in zip(order, minibatch_order(10, 4, 7, seed=3), strict=True))
    assert minibatch_order(10, None, 2, seed=0) == [None, None]


def test_on_step_reports_progress_and_can_abandon_a_run():
    seen = []
    run_digits_sweep(DigitsSweepConfig(momentums=(0.9,), steps=5), on_step=seen.append)
    assert seen == [1, 2, 3, 4, 5]

    def stop_at_two(step):
        if step == 2:
            raise InterruptedError

    with pytest.raises(InterruptedError):
        run_digits_sweep(DigitsSweepConfig(momentums=(0.9,), steps=5), on_step=stop_at_two)


def test_experiments_are_seeded():
    config = DigitsSweepConfig(momentums=(0.0, 0.9), steps=10)
    first, second = run_digits_sweep(config), run_digits_sweep(config)
    assert torch.equal(first.train_loss, second.train_loss)
    other_seed = run_digits_sweep(dataclasses.replace(config, seed=1))
    assert not torch.equal(first.train_loss[:, 0], other_seed.train_loss[:, 0])


def test_conventions_agree_at_constant_lr_and_part_after_a_drop():
    constant = run_conventions(ConventionsConfig(drop_factor=1.0))
    torch.testing.assert_close(constant.lecture, constant.pytorch, rtol=1e-12, atol=1e-12)
    config = ConventionsConfig(drop_at=6, drop_factor=0.1)
    dropped = run_conventions(config)
    before = slice(0, config.drop_at + 1)  # w_0 .. w_6 come from steps at the original rate
    torch.testing.assert_close(dropped.lecture[before], dropped.pytorch[before], rtol=1e-12, atol=1e-12)
    assert (dropped.lecture[config.drop_at + 1 :] - dropped.pytorch[config.drop_at + 1 :]).abs().min() > 1e-2


def test_conventions_pytorch_form_matches_sgd_with_multisteplr():
    config = ConventionsConfig(drop_at=5, drop_factor=0.3, steps=10, curvature=2.0)
    result = run_conventions(config)
    w = torch.tensor(config.start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=config.lr, momentum=config.momentum)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[config.drop_at], gamma=config.drop_factor)
    path, lrs = [w.detach().clone()], []
    for _ in range(config.steps):
        optimizer.zero_grad()
        (0.5 * config.curvature * w**2).backward()
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        path.append(w.detach().clone())
    torch.testing.assert_close(result.pytorch, torch.stack(path), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(result.lrs, torch.tensor(lrs, dtype=torch.float64))


@pytest.mark.parametrize(
    "config, message",
    [
        (QuadraticConfig(momentums=()), "at least one"),
        (QuadraticConfig(momentums=(1.0,)), "momentum"),
        (QuadraticConfig(lr=0.0), "learning rate"),
        (QuadraticConfig(dampening=1.5), "dampening"),
        (QuadraticConfig(curvatures=(0.0, 1.0)), "curvatures"),
        (DigitsSweepConfig(steps=0), "steps"),
        (DigitsSweepConfig(momentums=(0.5, 0.9), lr=(0.1,)), "one learning rate per momentum"),
        (DigitsSweepConfig(lr=(0.1, -0.1, 0.1, 0.1, 0.1, 0.1)), "learning rate: -0.1"),
        (DigitsSweepConfig(batch_size=0), "batch_size"),
    ],
)
def test_bad_configs_are_named(config, message):
    run = run_quadratic if isinstance(config, QuadraticConfig) else run_digits_sweep
    with pytest.raises(ValueError, match=message):
        run(config)


def _torch_sgd_buffers(grads: list[float], momentum: float, dampening: float) -> list[float]:
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1, momentum=momentum, dampening=dampening)
    buffers = []
    for grad in grads:
        w.grad = torch.tensor([grad], dtype=torch.float64)
        optimizer.step()
        buffers.append(optimizer.state[w]["momentum_buffer"].item())
    return buffers


@pytest.mark.parametrize("momentum, dampening", [(0.9, 0.0), (0.9, 0.5), (0.5, 0.2)])
def test_chapter_theory_effective_step_and_damping_match_torch_sgd(momentum, dampening):
    # the chapter's claims: a constant gradient g is amplified to g (1 - τ) / (1 - μ) ...
    constant = _torch_sgd_buffers([1.0] * 400, momentum, dampening)
    assert constant[0] == 1.0  # the first step stores the raw gradient: no dampening
    assert constant[-1] == pytest.approx((1 - dampening) / (1 - momentum), rel=1e-9)
    # ... and a gradient flipping sign every step is shrunk to c (1 - τ) / (1 + μ)
    alternating = _torch_sgd_buffers([(-1.0) ** t for t in range(400)], momentum, dampening)
    assert abs(alternating[-1]) == pytest.approx((1 - dampening) / (1 + momentum), rel=1e-9)

"""Chapter 4's experiments: batched sweeps equal one-by-one training with torch.optim.SGD, and the
claims the chapter makes about its runs hold on those runs."""

import dataclasses

import pytest
import torch

from optimlab.data import load_digits
from optimlab.experiments import (
    CONVENTIONS,
    DIGITS_SAME_EFFECTIVE_LR,
    DIGITS_SAME_LR,
    DIGITS_SEEDS,
    RATE_SWEEP,
    RAVINE,
    WIDER_RANGE,
    ConventionsConfig,
    DigitsSweepConfig,
    QuadraticConfig,
    TorchMatchConfig,
    contraction_rates,
    equal_effective_lrs,
    measured_rates,
    rate_theory,
    run_conventions,
    run_digits_seeds,
    run_digits_sweep,
    run_quadratic,
    run_torch_match,
)
from optimlab.experiments.batched_mlp import init_stacked_mlp, minibatch_order
from optimlab.optimizers import sgd_momentum_step


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
    h_1, h_2 = config.curvatures
    torch.testing.assert_close(
        result.losses, 0.5 * (h_1 * result.trajectories[..., 0] ** 2 + h_2 * result.trajectories[..., 1] ** 2)
    )


def test_quadratic_moderate_momentum_shrinks_the_steep_direction_faster_than_plain_descent():
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
    config = DigitsSweepConfig(
        momentums=(0.0, 0.9, 0.5), lr=(0.05, 0.02, 0.1), steps=20, batch_size=64, dtype=torch.float64
    )
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
    after = slice(config.drop_at + 1, config.drop_at + 12)
    assert (dropped.lecture[after] - dropped.pytorch[after]).abs().min() > 1e-2


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
        (QuadraticConfig(momentums=(-0.1,)), "Invalid momentum value: -0.1"),
        (QuadraticConfig(lr=-0.01), "Invalid learning rate: -0.01"),
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


@pytest.mark.parametrize("momentum, dampening", [(0.9, 0.0), (0.9, 0.5), (0.5, 0.2), (0.9, 0.9)])
def test_chapter_theory_effective_step_and_damping_match_torch_sgd(momentum, dampening):
    """The buffer's weights add up to (1 - τ) / (1 - μ): a sum, an average only when τ = μ (the last case)."""
    # the chapter's claims: a constant gradient g is amplified to g (1 - τ) / (1 - μ) ...
    constant = _torch_sgd_buffers([1.0] * 400, momentum, dampening)
    assert constant[0] == 1.0  # the first step stores the raw gradient: no dampening
    assert constant[-1] == pytest.approx((1 - dampening) / (1 - momentum), rel=1e-9)
    # ... and a gradient flipping sign every step is shrunk to c (1 - τ) / (1 + μ)
    alternating = _torch_sgd_buffers([(-1.0) ** t for t in range(400)], momentum, dampening)
    assert abs(alternating[-1]) == pytest.approx((1 - dampening) / (1 + momentum), rel=1e-9)


# --- The chapter's claims, on the chapter's own runs --------------------------------------------


def _final_distances(config: QuadraticConfig) -> dict[float, float]:
    result = run_quadratic(config)
    return dict(zip(config.momentums, result.trajectories[:, -1].norm(dim=-1).tolist()))


def test_ravine_moderate_momentum_ends_nearest_and_high_momentum_ends_worse_than_plain_descent():
    distance = _final_distances(RAVINE)
    assert min(distance, key=distance.get) == 0.5
    assert distance[0.9] > distance[0.0] and distance[0.95] > distance[0.0]


def test_ravine_large_momentum_overshoots_along_the_gentle_direction_and_still_rings_across():
    result = run_quadratic(RAVINE)
    for momentum in (0.9, 0.95):
        path = result.trajectories[RAVINE.momentums.index(momentum)]
        assert path[:, 0].max() > 1.0  # started at w_1 = -4.5, went well past the minimum at 0
        steep = path[-11:, 1]
        assert (steep[1:] * steep[:-1] < 0).sum() >= 3  # still changing sides in the last ten steps


def test_ravine_plain_descent_flips_sides_at_every_step():
    steep = run_quadratic(dataclasses.replace(RAVINE, momentums=(0.0,))).trajectories[0, :, 1]
    assert (steep[1:] * steep[:-1] < 0).all()


def test_predicted_rates_match_the_rates_measured_on_the_ravine():
    result = run_quadratic(RATE_SWEEP)
    predicted = contraction_rates(RATE_SWEEP.lr, result.momentums, RATE_SWEEP.curvatures)
    measured = measured_rates(result.trajectories)
    torch.testing.assert_close(measured, predicted, rtol=0, atol=0.015)
    assert measured.argmin() == predicted.argmin()


def test_predicted_rate_is_the_decay_of_a_single_direction():
    """A path along one eigen-direction shrinks exactly as the largest root predicts (up to the polynomial
    factor of a double root, absent here)."""
    for momentum in (0.0, 0.3, 0.9):
        config = QuadraticConfig(momentums=(momentum,), lr=0.05, curvatures=(38.0, 2.0), start=(1.0, 0.0), steps=200)
        rate = contraction_rates(config.lr, torch.tensor([momentum], dtype=torch.float64), (38.0,))
        torch.testing.assert_close(measured_rates(run_quadratic(config).trajectories), rate, rtol=0, atol=5e-3)


def test_steep_direction_shrinks_by_the_square_root_of_momentum_once_it_oscillates():
    momentums = torch.tensor([0.2, 0.5, 0.9, 0.95], dtype=torch.float64)
    torch.testing.assert_close(contraction_rates(0.05, momentums, (38.0,)), momentums.sqrt())
    assert contraction_rates(0.05, torch.tensor([0.9], dtype=torch.float64), (38.0,)).item() > 0.9  # worse than plain


def test_rate_theory_closed_forms():
    theory = rate_theory(RAVINE.lr, RAVINE.curvatures)
    assert theory.condition_number == 19.0 and theory.best_plain_lr == RAVINE.lr
    fine = torch.linspace(0, 0.99, 9901, dtype=torch.float64)
    rates = contraction_rates(RAVINE.lr, fine, RAVINE.curvatures)
    assert fine[rates.argmin()].item() == pytest.approx(theory.best_momentum_at_lr, abs=2e-4)
    assert rates.min().item() == pytest.approx(theory.best_rate_at_lr, abs=1e-3)
    plain = contraction_rates(theory.best_plain_lr, torch.zeros(1, dtype=torch.float64), RAVINE.curvatures)
    assert plain.item() == pytest.approx(theory.plain_rate)
    optimal = torch.tensor([theory.optimal_momentum], dtype=torch.float64)
    assert contraction_rates(theory.optimal_lr, optimal, RAVINE.curvatures).item() == pytest.approx(theory.optimal_rate)
    assert theory.optimal_rate < theory.best_rate_at_lr < theory.plain_rate


def test_momentum_converges_at_a_rate_where_plain_descent_diverges():
    result = run_quadratic(WIDER_RANGE)
    plain, heavy_ball = result.losses[:, -1] / result.losses[:, 0]
    assert plain > 1e6 and heavy_ball < 1e-6
    rates = contraction_rates(WIDER_RANGE.lr, result.momentums, WIDER_RANGE.curvatures)
    assert rates[0] > 1 > rates[1]


def test_conventions_lecture_swings_out_then_both_settle_and_the_rescaled_velocity_is_pytorch():
    result = run_conventions(CONVENTIONS)
    torch.testing.assert_close(result.rescaled, result.pytorch, rtol=0, atol=1e-12)
    after = slice(CONVENTIONS.drop_at + 1, None)
    assert result.lecture[after].abs().max() > 2 * result.pytorch[after].abs().max()
    assert result.lecture[-1].abs() < 0.01 and result.pytorch[-1].abs() < 0.01


def test_torch_match_finds_our_step_equal_and_a_wrong_step_apart():
    assert run_torch_match(TorchMatchConfig()).largest_difference < 1e-12

    def without_dampening(w, grad, buf, lr, momentum, dampening, weight_decay):
        return sgd_momentum_step(w, grad, buf, lr, momentum, 0.0, weight_decay)

    assert run_torch_match(TorchMatchConfig(), step=without_dampening).largest_difference > 1e-3


def test_equal_effective_lrs():
    assert equal_effective_lrs(0.2, (0.0, 0.5, 0.9)) == pytest.approx((0.2, 0.1, 0.02))


@pytest.fixture(scope="module")
def digits_sweeps():
    return run_digits_seeds(DIGITS_SAME_LR, DIGITS_SEEDS), run_digits_seeds(DIGITS_SAME_EFFECTIVE_LR, DIGITS_SEEDS)


def test_digits_seeds_differ_and_are_reproducible(digits_sweeps):
    same_lr, _ = digits_sweeps
    assert len(DIGITS_SEEDS) >= 3 and same_lr.train_loss.shape[:2] == (len(DIGITS_SEEDS), len(DIGITS_SAME_LR.momentums))
    assert not torch.equal(same_lr.train_loss[0], same_lr.train_loss[1])
    again = run_digits_sweep(dataclasses.replace(DIGITS_SAME_LR, seed=DIGITS_SEEDS[1]))
    # alone, or stacked with the other seeds: the same run
    torch.testing.assert_close(again.train_loss, same_lr.train_loss[1], rtol=1e-5, atol=1e-6)


def test_digits_at_the_same_lr_more_momentum_trains_faster_in_every_seed(digits_sweeps):
    same_lr, _ = digits_sweeps
    final = same_lr.train_loss[:, :, -1]  # seeds x momentums, in increasing momentum
    assert (final[:, 1:] < final[:, :-1]).all()


def test_digits_at_equal_effective_lr_larger_momentum_starts_more_slowly(digits_sweeps):
    _, equal = digits_sweeps
    first_epoch = equal.train_loss[:, :, 1:43].mean(dim=(0, 2))  # per momentum, in increasing momentum
    assert (first_epoch[1:] > first_epoch[:-1]).all()


def test_digits_at_equal_effective_lr_momentum_matters_less_than_the_seed(digits_sweeps):
    _, equal = digits_sweeps
    for outcome in (equal.train_loss[:, :, -1], equal.test_accuracy):
        between_momentums = outcome.mean(dim=0).max() - outcome.mean(dim=0).min()
        between_seeds = (outcome.max(dim=0).values - outcome.min(dim=0).values).max()
        assert between_momentums < between_seeds

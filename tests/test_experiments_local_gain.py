"""Chapter 6's experiments: the batched runs equal plain loops over the reference optimizer, and the claims the
chapter makes about its runs hold on those runs."""

import dataclasses

import pytest
import torch

from optimlab.experiments.batched_mlp import minibatch_order
from optimlab.experiments.local_gain import (
    GAINS_BOUNDED,
    GAINS_QUADRATIC,
    GAINS_SEEDS,
    LEAST_SQUARES,
    GainsQuadraticConfig,
    LeastSquaresConfig,
    _least_squares_problem,
    bounded_local_gain_step,
    first_entry_into_band,
    gain_band,
    gain_curvature_slope,
    newton_gains,
    ramp_gains,
    run_gains_quadratic,
    run_least_squares,
    run_sign_steps,
    tuned_lr_index,
)
from optimlab.optimizers import LocalGain, local_gain_step


@pytest.fixture(scope="module")
def gains_run():
    return run_gains_quadratic(GAINS_QUADRATIC)


@pytest.fixture(scope="module")
def by_batch():
    return {batch_size: run_least_squares(config, GAINS_SEEDS) for batch_size, config in LEAST_SQUARES.items()}


def test_quadratic_sweep_equals_the_local_gain_optimizer_one_beta_at_a_time():
    config = GainsQuadraticConfig(betas=(0.0, 0.05, 0.3), steps=60)
    result = run_gains_quadratic(config)
    curvatures = torch.tensor(config.curvatures, dtype=torch.float64)
    for index, beta in enumerate(config.betas):
        w = torch.full((len(curvatures),), config.start, dtype=torch.float64, requires_grad=True)
        optimizer = LocalGain([w], lr=config.lr, beta=beta)
        for step in range(1, config.steps + 1):
            optimizer.zero_grad()
            (0.5 * (curvatures * w**2).sum()).backward()
            optimizer.step()
            torch.testing.assert_close(result.trajectories[index, step], w.detach(), rtol=1e-12, atol=1e-300)
            torch.testing.assert_close(result.gains[index, step], optimizer.state[w]["gain"], rtol=1e-12, atol=0)
    # beta = 0 is plain gradient descent: w_t = (1 - eta h)^t w_0
    t = torch.arange(config.steps + 1, dtype=torch.float64).unsqueeze(1)
    torch.testing.assert_close(result.trajectories[0], config.start * (1 - config.lr * curvatures) ** t)


def test_gentle_weights_follow_the_ramp_and_steep_ones_settle_in_the_band(gains_run):
    beta, lr, steps = GAINS_QUADRATIC.betas[1], GAINS_QUADRATIC.lr, GAINS_QUADRATIC.steps
    gains = gains_run.gains[1]
    lower, upper = gain_band(lr, gains_run.curvatures, beta)
    entered = first_entry_into_band(gains, lower, upper)
    targets = newton_gains(lr, gains_run.curvatures)
    ramp = ramp_gains(beta, steps)
    # the three gentle weights (Newton gain above the ramp's end) never enter; the other three do
    assert entered.tolist()[:3] == [steps + 1] * 3 and all(e <= steps for e in entered.tolist()[3:])
    assert (targets[:3] > ramp[-1]).all()
    for i, first in enumerate(entered.tolist()):
        if targets[i] > 1:  # the ramp is exact until the band (the steepest starts above its Newton gain)
            torch.testing.assert_close(gains[:first, i], ramp[:first], rtol=1e-12, atol=1e-12)
        if first <= steps:
            assert ((gains[first:, i] >= lower[i]) & (gains[first:, i] <= upper[i])).all()
    # the steepest weight starts above its Newton gain (eta h = 1.5): a flip at once
    assert lr * gains_run.curvatures[-1] == pytest.approx(1.5)
    assert gains[2, -1].item() == pytest.approx(1 - beta)
    assert gains.min() > 0
    assert gains_run.losses[1, -1] < 1e-6 * gains_run.losses[0, -1]


def test_bounded_gains_stop_the_ramp_and_leave_the_steep_weights_alone(gains_run):
    bounded = run_gains_quadratic(GAINS_BOUNDED)
    assert bounded.gains[1].max().item() == pytest.approx(GAINS_BOUNDED.gain_max)
    assert gains_run.gains[1].max() > 3 * GAINS_BOUNDED.gain_max
    steep = gains_run.curvatures >= 10.0
    assert (newton_gains(GAINS_QUADRATIC.lr, gains_run.curvatures[steep]) < GAINS_BOUNDED.gain_max).all()
    assert torch.equal(bounded.gains[1][:, steep], gains_run.gains[1][:, steep])


def test_bounded_step_is_the_reference_step_with_the_gain_clipped():
    generator = torch.Generator().manual_seed(0)
    w, grad, prev, gain = (torch.randn(50, generator=generator, dtype=torch.float64) for _ in range(4))
    gain = gain.abs() * 20
    prev[:5] = 0.0
    wide = bounded_local_gain_step(w, grad, prev, gain, 0.1, 0.2, gain_min=0.0, gain_max=1e9)
    for ours, reference in zip(wide, local_gain_step(w, grad, prev, gain, 0.1, 0.2), strict=True):
        torch.testing.assert_close(ours, reference)
    w_new, clipped = bounded_local_gain_step(w, grad, prev, gain, 0.1, 0.2, gain_min=0.5, gain_max=10.0)
    _, unclipped = local_gain_step(w, grad, prev, gain, 0.1, 0.2)
    torch.testing.assert_close(clipped, unclipped.clamp(0.5, 10.0))
    torch.testing.assert_close(w_new, w - 0.1 * clipped * grad)


def test_least_squares_stack_equals_a_plain_loop_for_one_seed_and_model():
    config = LeastSquaresConfig(batch_size=8, lrs=(0.01, 0.03), steps=40)
    stacked = run_least_squares(config, (3, 5))
    x, y = _least_squares_problem(config, 5)
    w_best = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1)
    min_loss = 0.5 * ((x @ w_best - y) ** 2).mean()
    w = torch.zeros(x.shape[1], dtype=torch.float64)
    gain, prev = torch.ones_like(w), torch.zeros_like(w)
    excess = []
    for batch in minibatch_order(config.n_examples, config.batch_size, config.steps, seed=5):
        excess.append(0.5 * ((x @ w - y) ** 2).mean() - min_loss)
        grad = x[batch].T @ (x[batch] @ w - y[batch]) / len(batch)
        w, gain = local_gain_step(w, grad, prev, gain, 0.03, config.beta)
        prev = grad
    excess.append(0.5 * ((x @ w - y) ** 2).mean() - min_loss)
    torch.testing.assert_close(stacked.excess_loss[1, 1, 1], torch.stack(excess), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(stacked.gains[1, 1], gain, rtol=1e-12, atol=0)
    alone = run_least_squares(config, (5,))
    torch.testing.assert_close(alone.excess_loss[0], stacked.excess_loss[1], rtol=1e-12, atol=1e-14)


def test_gains_win_big_on_full_batches_and_little_on_small_ones(by_batch):
    ratios = {}
    for batch_size, result in by_batch.items():
        sgd, lg = tuned_lr_index(result.excess_loss).tolist()
        assert 0 < sgd < len(result.lrs) - 1 and 0 < lg < len(result.lrs) - 1  # tuned inside the grid
        final = result.excess_loss[..., -1]
        ratios[batch_size] = final[:, 0, sgd] / final[:, 1, lg]
    assert (ratios[None] > 100).all()
    assert (ratios[8] < 10).all() and (ratios[8] > 1).all()
    assert ratios[32].min() > ratios[8].max()


def test_small_batches_decouple_the_gains_from_curvature(by_batch):
    slopes = {}
    for batch_size, result in by_batch.items():
        lg = tuned_lr_index(result.excess_loss)[1].item()
        slopes[batch_size] = gain_curvature_slope(result, lg)
    assert slopes[None] < slopes[32] < slopes[8] < 0
    assert slopes[None] < 1.5 * slopes[8]
    result = by_batch[8]
    steep = result.gains[:, tuned_lr_index(result.excess_loss)[1], -4:]
    assert steep.min() > 0.2 and steep.max() < 2.0  # of the order of the coin-flip value 1
    gentle = result.gains[:, tuned_lr_index(result.excess_loss)[1], :4]
    assert gentle.median() > 2.0  # still mostly signal: still ramping


def test_sign_steps_walk_away_where_rmsprop_nearly_stays():
    signs = run_sign_steps()
    assert abs(signs.gradient_sum) < 1e-9
    assert signs.sign_displacement == pytest.approx(-8.0)  # 100 cycles x (9 - 1) steps x 0.01
    assert abs(signs.rmsprop_displacement) < abs(signs.sign_displacement) / 10


def test_rprop_defaults_are_the_ones_the_chapter_explains():
    import inspect

    parameters = inspect.signature(torch.optim.Rprop).parameters
    assert parameters["etas"].default == (0.5, 1.2)
    low, high = parameters["step_sizes"].default
    assert 0 < low < high


def test_configs_check_their_hyperparameters():
    with pytest.raises(ValueError, match="beta"):
        run_gains_quadratic(dataclasses.replace(GAINS_QUADRATIC, betas=(1.0,)))
    with pytest.raises(ValueError, match="learning rate"):
        run_least_squares(LeastSquaresConfig(lrs=(-0.1,)), (0,))


def test_live_explorer_redraws_the_run_of_the_new_slider_values():
    import numpy as np

    from optimlab.widgets.local_gain import LocalGainExplorer

    explorer = LocalGainExplorer(beta=0.05)
    assert len(explorer.output.outputs) == 1  # the panel, published as a PNG
    explorer.beta.value = 0.2
    explorer.lr.value = 0.03
    expected = run_gains_quadratic(dataclasses.replace(GAINS_QUADRATIC, betas=(0.0, 0.2), lr=0.03))
    drawn = np.stack([line.get_ydata() for line in explorer.panel.gain_lines], axis=1)
    np.testing.assert_allclose(drawn, expected.gains[1].numpy())
    assert "β = 0.2" in explorer.panel.figure.get_suptitle() and len(explorer.output.outputs) == 1

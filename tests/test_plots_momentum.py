"""Chapter 4's figures draw what they are given: one artist per curve, seed or setting."""

import numpy as np
import torch

from optimlab.experiments import (
    CONVENTIONS,
    RATE_SWEEP,
    RAVINE,
    DigitsSweepConfig,
    contraction_rates,
    measured_rates,
    run_conventions,
    run_digits_seeds,
    run_quadratic,
)
from optimlab.plots.common import batch_loss_running_mean
from optimlab.plots.momentum import plot_conventions, plot_digits_seeds, plot_rates


def test_batch_loss_running_mean_leaves_out_the_final_whole_set_loss():
    train_loss = torch.tensor([[1.0, 3.0, 5.0, 7.0, 100.0]])
    torch.testing.assert_close(batch_loss_running_mean(train_loss, 2), torch.tensor([[2.0, 4.0, 6.0]]))


def test_plot_rates_draws_the_prediction_and_the_measurements():
    result = run_quadratic(RATE_SWEEP)
    curve = torch.linspace(0, 0.95, 20, dtype=torch.float64)
    predicted = contraction_rates(RATE_SWEEP.lr, curve, RATE_SWEEP.curvatures)
    measured = measured_rates(result.trajectories)
    fig = plot_rates(curve, predicted, result.momentums, measured, plain_rate=0.9, best_momentum=0.47)
    prediction, measurement = fig.axes[0].lines[:2]
    np.testing.assert_allclose(prediction.get_ydata(), predicted.numpy())
    np.testing.assert_allclose(measurement.get_ydata(), measured.numpy())


def test_plot_conventions_draws_three_velocities():
    result = run_conventions(CONVENTIONS)
    fig = plot_conventions(result.lrs, result.lecture, result.pytorch, result.rescaled, drop_at=CONVENTIONS.drop_at)
    drawn = [line.get_ydata() for line in fig.axes[0].lines if len(line.get_ydata()) == len(result.lecture)]
    assert len(drawn) == 3
    np.testing.assert_allclose(drawn[2], result.rescaled.numpy())


def test_plot_digits_seeds_draws_a_band_per_momentum_and_a_dot_per_seed():
    config = DigitsSweepConfig(momentums=(0.0, 0.9), lr=0.05, batch_size=32, steps=12)
    result = run_digits_seeds(config, (0, 1, 2))
    fig = plot_digits_seeds(result.train_loss, result.test_accuracy, result.momentums, title="t", window=4)
    loss_ax, accuracy_ax = fig.axes
    assert len(loss_ax.collections) == 2  # one min-max band per momentum
    dots = [line for line in accuracy_ax.lines if line.get_marker() == "o"]
    assert [len(line.get_ydata()) for line in dots] == [3, 3]
    np.testing.assert_allclose(dots[1].get_ydata(), 100 * result.test_accuracy[:, 1].numpy())


def test_the_panels_quick_render_shows_what_a_full_draw_shows():
    """render_png draws only the lines and title over a cached background: after two different settings,
    its picture matches a full draw of the same figure but for antialiasing where a grid line crosses a line."""
    import io

    from matplotlib.image import imread

    from optimlab.plots.momentum import MomentumPanel

    ravine = run_quadratic(RAVINE)
    panel = MomentumPanel(RAVINE.curvatures, steps=50)
    losses = torch.linspace(2.0, 0.01, 50).unsqueeze(0)
    panel.show(ravine.trajectories[0], losses[0], "first setting")
    panel.render_png()  # caches the background
    panel.show(ravine.trajectories[3], losses[0] * 0.5, "second setting")
    quick = imread(io.BytesIO(panel.render_png()))
    full_png = io.BytesIO()
    panel.figure.savefig(full_png, format="png", dpi=panel.figure.dpi)
    full = imread(io.BytesIO(full_png.getvalue()))
    assert quick.shape == full.shape
    differing = np.abs(quick - full).max(axis=-1) > 0.1
    assert differing.mean() < 0.005, f"{differing.mean():.2%} of the pixels differ"
    panel.show(ravine.trajectories[0], losses[0], "first setting")
    assert np.abs(imread(io.BytesIO(panel.render_png())) - quick).max() > 0.5  # the picture did change

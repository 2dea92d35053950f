"""Chapter 2's figures and explorers draw what they are given: one artist per curve, schedule or seed."""

import re

import numpy as np
import torch

from optimlab.experiments.lr_decay import (
    DecayPaths,
    EpochDecayConfig,
    SpreadSweep,
    choose_decay,
    epoch_ends,
    expected_final_loss,
    measure_stationary_spread,
    run_decay_paths,
    stationary_variance,
)
from optimlab.plots.lr_decay import (
    plot_batch_vs_decay,
    plot_chosen_decay,
    plot_decay_paths,
    plot_schedules,
    plot_stationary_spread,
)
from optimlab.widgets.lr_decay import DecayExplorer, decay_explorable, decay_run


def test_plot_stationary_spread_draws_the_formula_and_the_measurements():
    spread = measure_stationary_spread(SpreadSweep(lrs=(0.1, 1.0), steps=60, burn_in=30, chains=50))
    curve = torch.linspace(0.05, 1.5, 20, dtype=torch.float64)
    fig = plot_stationary_spread(curve, stationary_variance(curve, 1.0, 1.0), spread.lrs, spread.measured)
    prediction, measurement = fig.axes[0].lines
    np.testing.assert_allclose(prediction.get_ydata(), stationary_variance(curve, 1.0, 1.0).numpy())
    np.testing.assert_allclose(measurement.get_ydata(), spread.measured.numpy())


def test_plot_decay_paths_draws_a_path_a_mean_and_a_theory_curve_per_schedule():
    config = DecayPaths(steps=30, chains=20)
    paths = run_decay_paths(config)
    fig = plot_decay_paths(paths.sample_paths[:, 0], paths.loss, paths.expected_loss, config.labels())
    path_ax, loss_ax = fig.axes
    drawn = [line for line in path_ax.lines if len(line.get_ydata()) == config.steps + 1]
    assert [line.get_label() for line in drawn] == list(config.labels())
    assert len(loss_ax.lines) == 6
    np.testing.assert_allclose(loss_ax.lines[4].get_ydata(), paths.loss[2].numpy())
    np.testing.assert_allclose(loss_ax.lines[5].get_ydata(), paths.expected_loss[2].numpy())


def test_plot_schedules_draws_one_step_line_per_schedule():
    epochs = np.arange(5)
    fig = plot_schedules(epochs, {"a": [1.0, 0.5, 0.25, 0.1, 0.1], "b": [1.0] * 5}, title="t")
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[0].get_ydata(), [1.0, 0.5, 0.25, 0.1, 0.1])


def test_plot_chosen_decay_draws_the_runs_the_theory_and_a_dot_per_decaying_k():
    config = EpochDecayConfig(epochs=8, chains=20)
    chosen = choose_decay(config)
    curve_ks = torch.logspace(-2, 0, 10, dtype=torch.float64)
    fig = plot_chosen_decay(
        epoch_ends(chosen.result.loss, config.steps_per_epoch),
        chosen.ks,
        chosen.plateau,
        curve_ks,
        expected_final_loss(config, curve_ks),
    )
    loss_ax, k_ax = fig.axes
    runs = [line for line in loss_ax.lines if len(line.get_ydata()) == config.epochs + 1]
    assert len(runs) == len(chosen.ks)
    np.testing.assert_allclose(runs[2].get_ydata(), chosen.result.loss[2, :: config.steps_per_epoch].numpy())
    dots = [line for line in k_ax.lines if line.get_marker() == "o"]
    assert [line.get_xdata()[0] for line in dots] == list(chosen.ks[1:])
    theory = [line for line in k_ax.lines if line.get_label() == "theory"]
    np.testing.assert_allclose(theory[0].get_ydata(), expected_final_loss(config, curve_ks).numpy())


def test_plot_batch_vs_decay_draws_a_band_per_setting_and_a_dot_per_seed():
    train_loss = torch.rand(3, 3, 5) + 0.1
    accuracy = torch.rand(3, 3)
    fig = plot_batch_vs_decay(train_loss, accuracy, ("a", "b", "c"))
    loss_ax, accuracy_ax = fig.axes
    assert len(loss_ax.collections) == 3  # one min-max band over seeds per setting
    dots = [line for line in accuracy_ax.lines if line.get_marker() == "o"]
    assert [len(line.get_ydata()) for line in dots] == [3, 3, 3]
    np.testing.assert_allclose(dots[1].get_ydata(), 100 * accuracy[:, 1].numpy(), rtol=1e-6)


def test_decay_explorable_has_one_distinct_frame_per_setting():
    html = decay_explorable(eta0s=(0.5,), ks=(0.0, 0.5), dpi=30).data
    frames = re.findall(r'frames\[\d+\] = "(data:image/png;base64,[^"]+)"', html)
    assert '<div class="explorable">' in html and len(frames) == 2 and len(set(frames)) == 2


def test_live_explorer_draws_the_run_of_its_sliders():
    explorer = DecayExplorer(eta0=0.5, k=0.1)
    explorer.k.value = 0.3
    run = decay_run(0.5, (0.3,))
    np.testing.assert_allclose(explorer.panel.loss_line.get_ydata(), run.loss[0].numpy())
    lrs = explorer.panel.lr_line.get_ydata()
    np.testing.assert_allclose(lrs[:3], [0.5, 0.5 * np.exp(-0.3), 0.5 * np.exp(-0.6)])
    assert len(explorer.output.outputs) == 1

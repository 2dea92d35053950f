"""Chapter 5's figures and widgets draw what they are given: one artist per method, seed or setting."""

import re

import numpy as np
import torch

from optimlab.experiments.momentum import RAVINE
from optimlab.experiments.nesterov import METHODS, RavineComparisonConfig, run_ravine_comparison
from optimlab.plots.nesterov import NesterovPanel, plot_rate_comparison, plot_ravine_paths, plot_tuned_comparison
from optimlab.widgets.nesterov import (
    EXPLORABLE_LRS,
    EXPLORABLE_MOMENTUMS,
    NesterovExplorer,
    nesterov_explorable,
    nesterov_explorer,
)


def test_ravine_paths_draw_one_panel_per_method():
    result = run_ravine_comparison(RavineComparisonConfig(momentums=(0.9,), lrs=(0.025,), steps=10))
    fig = plot_ravine_paths(result.trajectories[:, 0], METHODS, RAVINE.curvatures, title="t")
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[1].lines[-1].get_ydata(), result.trajectories[1, 0, :, 1].numpy())


def test_rate_comparison_draws_predictions_and_measurements_of_both_methods():
    x = torch.linspace(0, 0.9, 5, dtype=torch.float64)
    predicted, measured = torch.rand(2, 5, dtype=torch.float64), torch.rand(2, 5, dtype=torch.float64)
    fig = plot_rate_comparison((x, predicted, x, measured), (x, predicted, x, measured), METHODS, lr=0.1, momentum=0.9)
    lines = [line for line in fig.axes[0].lines if len(line.get_ydata()) == 5]
    assert len(lines) == 4
    np.testing.assert_allclose(lines[3].get_ydata(), measured[1].numpy())


def test_tuned_comparison_leaves_out_diverged_learning_rates():
    lrs = torch.tensor([0.01, 0.02, 0.04], dtype=torch.float64)
    final = torch.tensor([[[1.0, 0.5, 1e9], [1.0, 0.4, float("inf")]]] * 3)  # (seeds, methods, lrs)
    curves = torch.rand(3, 2, 20) + 0.1
    tuned = torch.tensor([1, 1])
    fig = plot_tuned_comparison(curves, lrs, final, tuned, METHODS, ylabel="y", title="t", diverged_above=10.0)
    curve_ax, grid_ax = fig.axes
    assert len(curve_ax.collections) == 2  # one band over the seeds per method
    grid_lines = [line for line in grid_ax.lines if len(line.get_xdata()) > 1]
    assert [len(line.get_xdata()) for line in grid_lines] == [2, 2]


def test_explorer_redraws_both_methods_for_the_new_slider_values():
    explorer = NesterovExplorer(momentum=0.9, lr=0.025)
    explorer.momentum.value = 0.5
    explorer.lr.value = 0.03
    expected = run_ravine_comparison(RavineComparisonConfig(momentums=(0.5,), lrs=(0.03,), steps=100))
    for line, trajectory in zip(explorer.panel.path_lines, expected.trajectories[:, 0]):
        np.testing.assert_allclose(line.get_xydata(), trajectory.numpy())
    assert "μ = 0.5, η = 0.03" in explorer.panel.figure._suptitle.get_text()
    assert len(explorer.output.outputs) == 1


def test_the_chapters_live_cell_gives_both_sliders():
    # The chapter does not run this cell when the book is built (skip-execution): it is checked here.
    widget = nesterov_explorer(momentum=0.9, lr=0.025)
    sliders = widget.children[0].children
    assert [slider.value for slider in sliders] == [0.9, 0.025]
    assert len(widget.children[1].outputs) == 1


def test_explorable_has_one_frame_per_setting_and_works_offline():
    html = nesterov_explorable().data
    assert 'class="explorable"' in html and "<link" not in html
    frames = re.findall(r"frames\[(\d+)\] = ", html)
    assert len(frames) == len(EXPLORABLE_LRS) * len(EXPLORABLE_MOMENTUMS)
    assert 'aria-label="setting' in html and "alt=" in html


def test_panel_render_matches_a_full_draw_in_size():
    panel = NesterovPanel(RAVINE.curvatures, METHODS, steps=10, dpi=50)
    result = run_ravine_comparison(RavineComparisonConfig(momentums=(0.9,), lrs=(0.025,), steps=10))
    panel.show(result.trajectories[:, 0], "t")
    first = panel.render_rgba()
    panel.show(result.trajectories[:, 0] * 0.5, "u")
    second = panel.render_rgba()
    assert first.shape == second.shape == (int(3.3 * 50), int(9.0 * 50), 4)
    assert not np.array_equal(first, second)

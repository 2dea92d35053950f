"""The momentum widgets, headless: controls drive experiments, lines show their results."""

import re

import numpy as np

from optimlab.experiments import DigitsSweepConfig, QuadraticConfig, run_digits_sweep, run_quadratic
from optimlab.widgets import MomentumExplorer, momentum_explorable, momentum_explorer


def _plotted(explorer: MomentumExplorer) -> tuple[np.ndarray, np.ndarray]:
    return explorer.panel.path_line.get_xydata(), explorer.panel.loss_line.get_xydata()


def test_explorer_redraws_the_experiment_for_the_new_slider_values():
    explorer = MomentumExplorer(momentum=0.9, lr=0.05)
    path_before, loss_before = _plotted(explorer)
    lines = (explorer.panel.path_line, explorer.panel.loss_line)

    explorer.momentum.value = 0.5
    explorer.lr.value = 0.03
    explorer.dampening.value = 0.2

    path, loss = _plotted(explorer)
    setting = dict(momentums=(0.5,), lr=0.03, dampening=0.2)
    expected_path = run_quadratic(QuadraticConfig(**setting)).trajectories[0]
    expected_loss = run_digits_sweep(DigitsSweepConfig(**setting)).train_loss[0]
    np.testing.assert_allclose(path, expected_path.numpy())
    np.testing.assert_allclose(loss[:, 1], expected_loss.numpy())
    assert not np.allclose(path, path_before) and not np.allclose(loss[:, 1], loss_before[:, 1])
    # the same artists were updated, not a new figure
    assert (explorer.panel.path_line, explorer.panel.loss_line) == lines
    assert "μ = 0.5" in explorer.panel.figure.get_suptitle() and "τ = 0.2" in explorer.panel.figure.get_suptitle()


def test_explorer_configs_follow_the_sliders():
    explorer = MomentumExplorer()
    explorer.momentum.value = 0.7
    quadratic, digits = explorer.configs()
    assert quadratic.momentums == (0.7,) and digits.momentums == (0.7,)
    assert quadratic.lr == digits.lr == explorer.lr.value


def test_momentum_explorer_is_one_displayable_widget():
    widget = momentum_explorer(momentum=0.8)
    assert widget.children[0].children[0].value == 0.8


def test_momentum_explorable_has_one_frame_per_momentum():
    momentums = (0.0, 0.9)
    html = momentum_explorable(momentums).data
    assert 'class="explorable"' in html and re.search(r'type="range"', html)
    assert len(re.findall(r"frames\[\d+\] = ", html)) == len(momentums)
    assert len(html) < 1_500_000

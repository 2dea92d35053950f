"""The momentum widgets, headless: controls drive experiments, lines show their results."""

import dataclasses
import re

import numpy as np
import pytest

from optimlab.experiments import QuadraticConfig, run_digits_sweep, run_quadratic
from optimlab.plots.common import batch_loss_running_mean
from optimlab.widgets import momentum as momentum_widgets
from optimlab.widgets.live import ResultCache
from optimlab.widgets.momentum import (
    DIGITS_RUN,
    LOSS_WINDOW,
    MomentumExplorer,
    momentum_explorable,
    momentum_explorer,
)


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    """Every test starts with empty result caches: what it finds cached, it computed itself."""
    monkeypatch.setattr(momentum_widgets, "cached_quadratic", ResultCache(run_quadratic))
    monkeypatch.setattr(momentum_widgets, "cached_digits_sweep", ResultCache(run_digits_sweep))


def _digits_run(**setting):
    return dataclasses.replace(DIGITS_RUN, **setting)


def _drawn_loss(**setting) -> np.ndarray:
    """The digits loss the panel draws for ``setting``: its run's batch losses, averaged as the panel does."""
    return batch_loss_running_mean(run_digits_sweep(_digits_run(**setting)).train_loss[0], LOSS_WINDOW).numpy()


def _plotted(explorer: MomentumExplorer) -> tuple[np.ndarray, np.ndarray]:
    return explorer.panel.path_line.get_xydata(), explorer.panel.loss_line.get_xydata()


def test_explorer_redraws_the_experiment_for_the_new_slider_values():
    explorer = MomentumExplorer(momentum=0.9, lr=0.05)
    explorer.wait()
    path_before, loss_before = _plotted(explorer)
    lines = (explorer.panel.path_line, explorer.panel.loss_line)

    explorer.momentum.value = 0.5
    explorer.lr.value = 0.03
    explorer.dampening.value = 0.2
    explorer.wait()

    path, loss = _plotted(explorer)
    setting = dict(momentums=(0.5,), lr=0.03, dampening=0.2)
    expected_path = run_quadratic(QuadraticConfig(**setting)).trajectories[0]
    np.testing.assert_allclose(path, expected_path.numpy())
    np.testing.assert_allclose(loss[:, 1], _drawn_loss(**setting))
    assert not np.allclose(path, path_before) and not np.allclose(loss[:, 1], loss_before[:, 1])
    # the same artists were updated, not a new figure
    assert (explorer.panel.path_line, explorer.panel.loss_line) == lines
    assert "μ = 0.5" in explorer.panel.figure.get_suptitle() and "τ = 0.2" in explorer.panel.figure.get_suptitle()
    assert explorer.progress.value == 1.0 and "accuracy" in explorer.panel.figure.get_suptitle()


def test_an_uncached_setting_shows_a_pending_state_at_once_then_its_result():
    explorer = MomentumExplorer(momentum=0.9, lr=0.05)
    explorer.wait()
    explorer.momentum.value = 0.41  # not computed before: the handler returns before the run ends
    title = explorer.panel.figure.get_suptitle()
    assert "μ = 0.41" in title and "computing" in title
    assert explorer.panel.loss_line.get_alpha() < 1.0  # the old curve fades while the new one computes
    expected_path = run_quadratic(QuadraticConfig(momentums=(0.41,))).trajectories[0]
    np.testing.assert_allclose(explorer.panel.path_line.get_xydata(), expected_path.numpy())  # the path is at once
    explorer.wait()
    assert "accuracy" in explorer.panel.figure.get_suptitle() and explorer.panel.loss_line.get_alpha() == 1.0


def test_a_newer_value_stops_stale_work_instead_of_queueing_it():
    explorer = MomentumExplorer(momentum=0.9, lr=0.05)
    explorer.wait()
    explorer.lr.value = 0.035  # uncached; its run starts in the background ...
    explorer.lr.value = 0.04  # ... and is made stale before it can finish its steps
    explorer.wait()
    cache = momentum_widgets.cached_digits_sweep
    assert _digits_run(momentums=(0.9,), lr=0.035) not in cache  # abandoned, never finished
    assert _digits_run(momentums=(0.9,), lr=0.04) in cache
    np.testing.assert_allclose(explorer.panel.loss_line.get_xydata()[:, 1], _drawn_loss(momentums=(0.9,), lr=0.04))
    assert "η = 0.04" in explorer.panel.figure.get_suptitle()


def test_a_cached_setting_redraws_without_background_work():
    explorer = MomentumExplorer(momentum=0.9, lr=0.05)
    explorer.wait()
    worker = explorer.latest._worker
    explorer.momentum.value = 0.5
    explorer.wait()
    explorer.momentum.value = 0.9  # seen before
    assert explorer.panel.loss_line.get_alpha() == 1.0 and "accuracy" in explorer.panel.figure.get_suptitle()
    assert explorer.latest._worker is not worker  # one run, for 0.5 ...
    ran_for_half = explorer.latest._worker
    explorer.momentum.value = 0.5
    assert explorer.latest._worker is ran_for_half  # ... and none for going back to either


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

"""The minibatch widgets and figures, headless: controls drive experiments, lines show their results."""

import re

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from optimlab.experiments.minibatch import (
    BatchSizeSweepConfig,
    DoubleWellConfig,
    GradientNoiseConfig,
    one_thread,
    predicted_total_variance,
    run_batch_size_sweep,
    run_class_proportions,
    run_double_well,
    run_gradient_noise,
)
from optimlab.experiments.momentum import run_digits_sweep
from optimlab.plots.common import batch_loss_running_mean
from optimlab.plots.minibatch import (
    plot_batch_size_sweep,
    plot_class_proportions,
    plot_double_well,
    plot_gradient_noise,
)
from optimlab.widgets import minibatch as minibatch_widgets
from optimlab.widgets.live import ResultCache
from optimlab.widgets.minibatch import LOSS_WINDOW, MinibatchExplorer, digits_run, minibatch_explorable

SMALL_SWEEP = BatchSizeSweepConfig(batch_sizes=(8, 64), lrs=(0.3,), seeds=(0, 1, 2), epochs=None, updates=12)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(minibatch_widgets, "cached_digits_sweep", ResultCache(run_digits_sweep))


@pytest.fixture(autouse=True)
def single_thread():
    """The explorer trains in a worker thread; on a busy test machine torch's thread pool makes that crawl."""
    with one_thread():
        yield


def test_explorer_redraws_the_run_of_the_new_slider_values():
    explorer = MinibatchExplorer(batch_size=32, lr=0.3, noise_curve=(10.0, 1000))
    explorer.wait()
    explorer.batch_size.value = 8
    explorer.lr.value = 0.1
    explorer.seed.value = 2
    explorer.wait()
    expected = run_digits_sweep(digits_run(8, 0.1, 2)).train_loss[0]
    drawn = explorer.panel.loss_line.get_xydata()[:, 1]
    np.testing.assert_allclose(drawn, batch_loss_running_mean(expected, LOSS_WINDOW).numpy(), rtol=1e-6)
    marker = explorer.panel.noise_marker.get_xydata()[0]
    assert marker[0] == 8
    assert marker[1] == pytest.approx(predicted_total_variance(10.0, 1000, torch.tensor([8])).item())
    title = explorer.panel.figure.get_suptitle()
    assert "B = 8" in title and "η = 0.1" in title and "seed 2" in title and "accuracy" in title


def test_explorable_has_one_frame_per_batch_size():
    sweep = run_batch_size_sweep(SMALL_SWEEP)
    html = minibatch_explorable(sweep, 10.0, 1000, dpi=30).data
    assert html.startswith('<div class="explorable">') and 'type="range"' in html
    assert len(re.findall(r'frames\[\d+\] = "data:image/png', html)) == 2


def test_explorable_refuses_a_sweep_at_equal_epochs():
    sweep = run_batch_size_sweep(BatchSizeSweepConfig(batch_sizes=(512,), lrs=(0.3,), seeds=(0,), epochs=1))
    with pytest.raises(ValueError, match="equal numbers of updates"):
        minibatch_explorable(sweep, 10.0, 1000)


def test_every_figure_draws():
    noise = run_gradient_noise(GradientNoiseConfig(batch_sizes=(1, 64), stratified_batch_sizes=(64,), draws=20))
    figures = [
        plot_gradient_noise(noise),
        plot_class_proportions(run_class_proportions(batch_size=10)),
        plot_batch_size_sweep(run_batch_size_sweep(SMALL_SWEEP), n_examples=1347, title="t"),
        plot_double_well(DoubleWellConfig(steps=5, chains=2), run_double_well(DoubleWellConfig(steps=5, chains=2))),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        figure.canvas.draw()

"""Chapter 3's figures draw what they are given: a panel per scheduler, both step orders, the catalog panel."""

import numpy as np

from optimlab.plots.schedulers import CatalogPanel, plot_catalog, plot_step_order

RATES = {"one": [0.1, 0.1, 0.05], "two": [0.02, 0.04, 0.1], "three": [0.1, 0.05, 0.025], "four": [0.1, 0.0, 0.1]}


def test_plot_catalog_draws_one_panel_per_scheduler_and_hides_the_rest():
    fig = plot_catalog(RATES)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == list(RATES)
    assert len(fig.axes) == 6
    for ax, values in zip(visible, RATES.values(), strict=True):
        np.testing.assert_allclose(ax.lines[0].get_ydata(), values)


def test_plot_step_order_draws_both_orders():
    fig = plot_step_order([0.02, 0.04, 0.06], [0.04, 0.06, 0.08])
    right, wrong = fig.axes[0].lines
    np.testing.assert_allclose(right.get_ydata(), [0.02, 0.04, 0.06])
    np.testing.assert_allclose(wrong.get_ydata(), [0.04, 0.06, 0.08])


def test_catalog_panel_shows_the_picked_scheduler_in_colour_over_all_in_grey():
    panel = CatalogPanel(RATES, dpi=30)
    panel.show(1)
    assert panel.ax.get_title() == "two"
    np.testing.assert_allclose(panel.line.get_ydata(), RATES["two"])
    assert len(panel.ax.lines) == len(RATES) + 1

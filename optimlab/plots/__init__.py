"""Figures, one module per chapter (as :mod:`optimlab.experiments`) plus :mod:`optimlab.plots.common`.

Plots only draw results that experiments computed.
"""

from optimlab.plots.momentum import MomentumPanel, plot_conventions, plot_digits_seeds, plot_quadratic_sweep, plot_rates

__all__ = ["MomentumPanel", "plot_conventions", "plot_digits_seeds", "plot_quadratic_sweep", "plot_rates"]

"""Widgets, one module per chapter (as :mod:`optimlab.experiments`) plus the helpers they share.

- :mod:`optimlab.widgets.explorable`: a slider over precomputed frames, for the static book;
- :mod:`optimlab.widgets.live`: results cached by config and slow work off the kernel's thread,
  for live explorers in a notebook.
"""

from optimlab.widgets.momentum import MomentumExplorer, momentum_explorable, momentum_explorer

__all__ = ["MomentumExplorer", "momentum_explorable", "momentum_explorer"]

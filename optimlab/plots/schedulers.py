"""Chapter 3's figures: every scheduler's learning rate by epoch, the step-order pitfall, the catalog panel."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from optimlab.plots.common import sweep_color


def plot_catalog(lrs: dict[str, list[float]]) -> Figure:
    """Small multiples: one panel per scheduler, its rate by epoch (as read from the real scheduler)."""
    n = len(lrs)
    n_cols = 3
    n_rows = math.ceil(n / n_cols)
    fig = Figure(figsize=(9.0, 2.1 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    for index, ax in enumerate(axes.flat):
        if index >= n:
            ax.set_visible(False)
            continue
        name, values = list(lrs.items())[index]
        ax.step(np.arange(len(values)), values, where="post", color=sweep_color(index % 6 + 1), linewidth=1.8)
        ax.set_title(name, fontsize="small")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(0, 1.1 * max(max(v) for v in lrs.values()))
        if index % n_cols == 0:
            ax.set_ylabel("learning rate")
        if index >= n - n_cols:
            ax.set_xlabel("epoch")
    fig.suptitle("The rate in force in each epoch, read from torch.optim.lr_scheduler")
    return fig


def plot_step_order(right: list[float], wrong: list[float]) -> Figure:
    """The rate each epoch's ``optimizer.step()`` actually used, under both orders of the two calls."""
    fig = Figure(figsize=(6.5, 3.2), layout="constrained")
    ax = fig.subplots()
    epochs = np.arange(len(right))
    ax.plot(epochs, right, "o-", color=sweep_color(4), label="optimizer.step(), then scheduler.step()")
    ax.plot(epochs, wrong, "s--", color=sweep_color(5), label="scheduler.step() first (wrong)", markersize=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel("rate used by optimizer.step()")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title("Scheduler first: every epoch runs one epoch ahead")
    return fig


class CatalogPanel:
    """All schedules in light grey; :meth:`show` picks one to draw in colour, with its name as the title."""

    def __init__(self, lrs: dict[str, list[float]], *, dpi: int = 100):
        self.lrs = lrs
        self.figure = Figure(figsize=(6.0, 3.0), dpi=dpi, layout="constrained")
        self.ax = self.figure.subplots()
        epochs = np.arange(len(next(iter(lrs.values()))))
        for values in lrs.values():
            self.ax.step(epochs, values, where="post", color="0.85", linewidth=1.0)
        (self.line,) = self.ax.step([], [], where="post", color=sweep_color(5), linewidth=2.5)
        self.ax.set_xlabel("epoch")
        self.ax.set_ylabel("learning rate")
        self.ax.grid(True, alpha=0.3)
        self.ax.set_title(" ")
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")  # a frame only moves the line and the title

    def show(self, index: int) -> None:
        name, values = list(self.lrs.items())[index]
        self.line.set_data(np.arange(len(values)), values)
        self.ax.set_title(name)

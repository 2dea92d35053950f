"""Chapter 9's figures: every optimizer at its tuned rate, against steps and wall time, and the rate search."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from optimlab.experiments.pytorch_api import RaceResult, late_loss
from optimlab.plots.common import batch_loss_running_mean, draw_seed_spread, sweep_color

OPTIMIZER_LABELS = {
    "sgd": "SGD",
    "momentum": "momentum",
    "nesterov": "Nesterov",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "local_gain": "local gain",
}
# Minibatch losses are drawn as the mean of this many batches (half an epoch of 32-example batches).
WINDOW = 20
LOSS_LIMITS = (3e-3, 3.0)


def optimizer_label(name: str) -> str:
    return OPTIMIZER_LABELS.get(name, name)


def _window_ends(smoothed: Tensor) -> np.ndarray:
    """The number of steps taken at the end of each window of batches."""
    return np.arange(smoothed.shape[-1]) + WINDOW


def plot_race(race: RaceResult) -> Figure:
    """Each optimizer's runs at its tuned rate (median and range over seeds) against steps and against wall time."""
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    step_ax, time_ax = fig.subplots(1, 2, sharey=True)
    wall = race.wall_seconds().numpy()
    for k, name in enumerate(race.optimizers):
        lr, runs = race.tuned(k)
        smoothed = batch_loss_running_mean(runs, WINDOW)
        ends = _window_ends(smoothed)
        label = f"{optimizer_label(name)}, η = {lr:g}"
        draw_seed_spread(step_ax, ends, smoothed, color=sweep_color(k), label=label)
        draw_seed_spread(time_ax, wall[k, ends], smoothed, color=sweep_color(k), label=label)
    step_ax.set_xlabel("step")
    step_ax.set_ylabel(f"training loss (mean of {WINDOW} batches)")
    time_ax.set_xlabel("wall-clock time (s)")
    for ax in (step_ax, time_ax):
        ax.set_yscale("log")
        ax.set_ylim(*LOSS_LIMITS)
        ax.grid(True, which="major", alpha=0.3)
    step_ax.legend(fontsize="x-small", ncols=2, loc="lower left")
    fig.suptitle(f"Every optimizer at its tuned rate, {race.train_loss.shape[2]} seeds")
    return fig


class SearchPanel:
    """One optimizer's rate search: its loss curves at each rate (left), and where each rate ends (right).

    The right panel shows every optimizer's search in grey and the chosen one in colour;
    :meth:`show` moves the existing artists, for a slider over optimizers.
    """

    def __init__(self, race: RaceResult, *, dpi: int = 100):
        self.race = race
        self.figure = Figure(figsize=(7.5, 3.2), dpi=dpi, layout="constrained")
        self.curve_ax, self.search_ax = self.figure.subplots(1, 2)
        self.late = late_loss(race.train_loss).numpy()  # (K, L, S)
        n_lrs = race.lrs.shape[1]
        self.curves = [self.curve_ax.plot([], [], color=sweep_color(i + 1), linewidth=1.5)[0] for i in range(n_lrs)]
        self.curve_ax.set_xlim(0, race.train_loss.shape[-1] - 1)
        self.curve_ax.set_ylim(*LOSS_LIMITS)
        self.curve_ax.set_yscale("log")
        self.curve_ax.set_xlabel("step")
        self.curve_ax.set_ylabel(f"training loss (mean of {WINDOW} batches)")
        self.curve_ax.grid(True, alpha=0.3)
        for k in range(len(race.optimizers)):
            self.search_ax.plot(race.lrs[k].numpy(), np.median(self.late[k], axis=1), color="0.8", marker=".")
        (self.search_line,) = self.search_ax.plot([], [], color=sweep_color(6), marker="o", linewidth=2.0)
        (self.tuned_marker,) = self.search_ax.plot([], [], color=sweep_color(6), marker="*", markersize=14)
        self.search_ax.set_xscale("log")
        self.search_ax.set_yscale("log")
        self.search_ax.set_ylim(*LOSS_LIMITS)
        self.search_ax.set_xlabel("learning rate η")
        self.search_ax.set_ylabel("loss over the last quarter (median)")
        self.search_ax.grid(True, alpha=0.3)
        # Lay out once, on the first optimizer, then freeze: the boxes stay put from frame to frame, and each
        # frame skips the constrained-layout solver (half of its drawing time).
        self.show(0)
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")

    def show(self, k: int) -> None:
        """Draw optimizer ``k``'s search (seed medians; the star marks its tuned rate)."""
        race, lrs = self.race, self.race.lrs[k].numpy()
        for line, lr, runs in zip(self.curves, lrs, race.train_loss[k], strict=True):
            smoothed = batch_loss_running_mean(runs, WINDOW).median(dim=0).values
            line.set_data(_window_ends(smoothed), smoothed.numpy())
            line.set_label(f"η = {lr:g}" + (" (tuned)" if lr == lrs[race.best[k]] else ""))
        self.curve_ax.legend(fontsize="small", loc="lower left")
        medians = np.median(self.late[k], axis=1)
        self.search_line.set_data(lrs, medians)
        self.tuned_marker.set_data([lrs[race.best[k]]], [medians[race.best[k]]])
        self.figure.suptitle(f"{optimizer_label(race.optimizers[k])}: the learning-rate search")

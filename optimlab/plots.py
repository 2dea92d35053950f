"""Plot helpers: they only draw results that experiments computed.

Figures are built with :class:`matplotlib.figure.Figure` directly rather than through
``pyplot``, so a notebook shows a figure once, where a cell returns it, and nothing
lingers in pyplot's global figure list. (A notebook needs ``%matplotlib inline``, or
another backend, for Jupyter to render a bare ``Figure``.) Colours are the Okabe-Ito palette, which stays
distinguishable under the common forms of colour blindness.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
# Yellow is hard to see on white: sweeps draw from the other seven, in an order that keeps neighbours distinct.
SWEEP_COLORS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")


def sweep_color(index: int) -> str:
    """Colour of the ``index``-th value of a sweep (cycles after seven)."""
    return SWEEP_COLORS[index % len(SWEEP_COLORS)]


def momentum_label(momentum: float) -> str:
    return f"μ = {momentum:g}"


def draw_quadratic_contours(
    ax: Axes,
    curvatures: tuple[float, float],
    *,
    xlim: tuple[float, float] = (-5.0, 1.5),
    ylim: tuple[float, float] = (-1.6, 1.6),
) -> None:
    """Level sets of ``f(w) = (a w_1² + b w_2²) / 2`` in grey, the minimum marked, axes labelled."""
    a, b = curvatures
    w1, w2 = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 200))
    f = 0.5 * (a * w1**2 + b * w2**2)
    levels = np.geomspace(0.05, f.max(), 12)
    ax.contour(w1, w2, f, levels=levels, colors="0.75", linewidths=0.8)
    ax.plot([0.0], [0.0], marker="*", markersize=11, color="0.3", linestyle="none")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$w_1$ (gentle direction)")
    ax.set_ylabel("$w_2$ (steep direction)")


def draw_trajectory(ax: Axes, trajectory: Tensor, *, color: str, label: str | None = None) -> Line2D:
    """The path ``trajectory`` (``steps x 2``) as dots joined by lines; returns the line to update later."""
    (line,) = ax.plot(
        trajectory[:, 0].numpy(),
        trajectory[:, 1].numpy(),
        marker="o",
        markersize=2.5,
        linewidth=1.2,
        color=color,
        label=label,
    )
    return line


def plot_quadratic_sweep(
    trajectories: Tensor, momentums: Tensor, curvatures: tuple[float, float], *, lr: float
) -> Figure:
    """Small multiples: one panel per momentum value, each with its path on the ravine."""
    n = len(momentums)
    n_cols = min(n, 3)
    n_rows = math.ceil(n / n_cols)
    fig = Figure(figsize=(4.0 * n_cols, 2.4 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    for index, ax in enumerate(axes.flat):
        if index >= n:
            ax.set_visible(False)
            continue
        draw_quadratic_contours(ax, curvatures)
        draw_trajectory(ax, trajectories[index], color=sweep_color(index))
        ax.set_title(f"{momentum_label(float(momentums[index]))}, η = {lr:g}")
        ax.label_outer()
    fig.suptitle(f"{trajectories.shape[1] - 1} steps of SGD with momentum from the same start")
    return fig


def draw_loss_curves(ax: Axes, losses: Tensor, momentums: Tensor, *, ylabel: str) -> list[Line2D]:
    """One curve per momentum value, log scale, in sweep colours."""
    steps = np.arange(losses.shape[1])
    lines = []
    for index, (loss, momentum) in enumerate(zip(losses, momentums, strict=True)):
        (line,) = ax.plot(steps, loss.numpy(), color=sweep_color(index), label=momentum_label(float(momentum)))
        lines.append(line)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    return lines


def plot_loss_sweep(losses: Tensor, momentums: Tensor, *, ylabel: str, title: str) -> Figure:
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.subplots()
    draw_loss_curves(ax, losses, momentums, ylabel=ylabel)
    ax.legend(title="momentum", fontsize="small", ncols=2)
    ax.set_title(title)
    return fig


def plot_digits_sweep(train_loss: Tensor, test_accuracy: Tensor, momentums: Tensor, *, lr: float) -> Figure:
    """Training-loss curves (left) and final test accuracy (right) of a momentum sweep on the digits."""
    fig = Figure(figsize=(10.0, 3.6), layout="constrained")
    loss_ax, accuracy_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    draw_loss_curves(loss_ax, train_loss, momentums, ylabel="training loss (cross-entropy)")
    loss_ax.legend(title="momentum", fontsize="small", ncols=2)
    loss_ax.set_title(f"Full-batch SGD, η = {lr:g}")
    positions = np.arange(len(momentums))
    accuracy = 100 * test_accuracy.numpy()
    bars = accuracy_ax.bar(positions, accuracy, color=[sweep_color(i) for i in positions])
    accuracy_ax.bar_label(bars, fmt="%.1f", fontsize="small")
    accuracy_ax.set_xticks(positions, [f"{float(m):g}" for m in momentums])
    accuracy_ax.set_xlabel("momentum μ")
    accuracy_ax.set_ylabel("test accuracy (%)")
    accuracy_ax.set_ylim(max(0.0, accuracy.min() - 5), 100)
    accuracy_ax.set_title("After training")
    return fig


def plot_conventions(lrs: Tensor, lecture: Tensor, pytorch: Tensor, *, drop_at: int) -> Figure:
    """``w`` under the lecture's form and PyTorch's, with the learning-rate drop marked."""
    fig = Figure(figsize=(7.0, 3.2), layout="constrained")
    ax = fig.subplots()
    steps = np.arange(len(lecture))
    ax.plot(steps, lecture.numpy(), marker="o", color=sweep_color(1), label="lecture: lr inside the velocity")
    ax.plot(
        steps,
        pytorch.numpy(),
        marker="s",
        markersize=4,
        linestyle="--",
        color=sweep_color(4),
        label="PyTorch: lr outside the buffer",
    )
    ax.axvline(drop_at, color="0.5", linestyle=":")
    ax.annotate(
        f"η: {float(lrs[0]):g} → {float(lrs[-1]):g}",
        xy=(drop_at, ax.get_ylim()[1]),
        xytext=(4, -14),
        textcoords="offset points",
        color="0.3",
    )
    ax.set_xlabel("step")
    ax.set_ylabel("$w$")
    ax.legend(fontsize="small", loc="lower left")
    ax.set_title("Same momentum, same schedule, two conventions")
    return fig


class MomentumPanel:
    """One momentum setting at a glance: its path on the ravine (left) and its digits loss (right).

    Built once; :meth:`show` only moves the existing lines, so a widget or an animation
    redraws without rebuilding the figure. ``background`` loss curves (e.g. the rest of a
    sweep) are drawn in light grey for comparison.
    """

    def __init__(
        self, curvatures: tuple[float, float], *, steps: int, background: Tensor | None = None, dpi: int = 100
    ):
        self.figure = Figure(figsize=(9.0, 3.3), dpi=dpi, layout="constrained")
        self.path_ax, self.loss_ax = self.figure.subplots(1, 2)
        draw_quadratic_contours(self.path_ax, curvatures)
        self.path_ax.set_title("Path on the ravine")
        (self.path_line,) = self.path_ax.plot([], [], marker="o", markersize=2.5, linewidth=1.2, color=sweep_color(4))
        if background is not None:
            for curve in background:
                self.loss_ax.plot(np.arange(len(curve)), curve.numpy(), color="0.85", linewidth=1.0)
        (self.loss_line,) = self.loss_ax.plot([], [], color=sweep_color(6), linewidth=2.0)
        self.loss_ax.set_xlim(0, steps)
        self.loss_ax.set_ylim(1e-5, 5.0)
        self.loss_ax.set_yscale("log")
        self.loss_ax.set_xlabel("step")
        self.loss_ax.set_ylabel("digits training loss")
        self.loss_ax.grid(True, alpha=0.3)
        self.loss_ax.set_title("MLP on the digits")
        # Lay out once, with room for a title, then freeze: the boxes never move between
        # settings, and a redraw skips the constrained-layout solver (about half its time).
        self.figure.suptitle(" ")
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")

    def show(self, trajectory: Tensor, loss: Tensor, title: str) -> None:
        self.path_line.set_data(trajectory[:, 0].numpy(), trajectory[:, 1].numpy())
        self.loss_line.set_data(np.arange(len(loss)), loss.numpy())
        self.loss_line.set_alpha(1.0)
        self.figure.suptitle(title)

    def show_pending(self, trajectory: Tensor, title: str) -> None:
        """A new path at once, while the loss for it is being computed: the old loss curve fades."""
        self.path_line.set_data(trajectory[:, 0].numpy(), trajectory[:, 1].numpy())
        self.loss_line.set_alpha(0.25)
        self.figure.suptitle(title)

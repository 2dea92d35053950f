"""Plot helpers every chapter shares: colours, the ravine's contours, a path, loss curves, a spread over seeds.

Figures are built with :class:`matplotlib.figure.Figure` directly rather than through
``pyplot``, so a notebook shows a figure once, where a cell returns it, and nothing
lingers in pyplot's global figure list. (A notebook needs ``%matplotlib inline``, or
another backend, for Jupyter to render a bare ``Figure``.) Plots only draw results
that experiments computed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

# The Okabe-Ito palette, which stays distinguishable under the common forms of colour blindness,
# without its yellow (hard to see on white), in an order that keeps neighbours distinct.
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
    """Level sets of ``f(w) = (h_1 w_1² + h_2 w_2²) / 2`` in grey, the minimum marked, axes labelled."""
    h_1, h_2 = curvatures
    w1, w2 = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 200))
    f = 0.5 * (h_1 * w1**2 + h_2 * w2**2)
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


def draw_seed_spread(ax: Axes, x: np.ndarray, runs: Tensor, *, color: str, label: str) -> Line2D:
    """The median of ``runs`` (``seeds x len(x)``) as a line, the band from the lowest to the highest run behind it."""
    values = runs.numpy()
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2, linewidth=0)
    (line,) = ax.plot(x, np.median(values, axis=0), color=color, label=label)
    return line


def batch_loss_running_mean(train_loss: Tensor, window: int) -> Tensor:
    """The mean of each ``window`` consecutive batch losses along the last dimension (a minibatch loss is noisy).

    ``train_loss`` is laid out as the experiments record it: one loss per step, on that
    step's batch, then the whole training set's loss after the last step, which is left out.
    """
    return train_loss[..., :-1].unfold(-1, window, 1).mean(dim=-1)

"""Chapter 4's figures: the ravine, its rates, the two conventions, the digits sweeps, the explorer's panel."""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave
from torch import Tensor

from optimlab.plots.common import (
    batch_loss_running_mean,
    draw_quadratic_contours,
    draw_seed_spread,
    draw_trajectory,
    momentum_label,
    sweep_color,
)


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


def plot_rates(
    curve_momentums: Tensor,
    predicted: Tensor,
    momentums: Tensor,
    measured: Tensor,
    *,
    plain_rate: float,
    best_momentum: float,
) -> Figure:
    """The predicted rate at ``curve_momentums`` (a curve), the rates measured at ``momentums`` on top (dots)."""
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.plot(curve_momentums.numpy(), predicted.numpy(), color=sweep_color(4), label="predicted:\nlargest |root|")
    ax.plot(momentums.numpy(), measured.numpy(), "o", color=sweep_color(5), markersize=5, label="measured")
    ax.axhline(plain_rate, color="0.6", linestyle=":", label=f"plain gradient\ndescent ({plain_rate:.2f})")
    ax.axvline(best_momentum, color="0.6", linestyle="--", label=f"best μ at this η\n({best_momentum:.2f})")
    ax.set_xlabel("momentum μ")
    ax.set_ylabel("rate: distance shrinks by it per step")
    ax.grid(True, alpha=0.3)
    fig.legend(fontsize="small", loc="outside right upper")
    ax.set_title("Theory predicts the ravine")
    return fig


def plot_conventions(lrs: Tensor, lecture: Tensor, pytorch: Tensor, rescaled: Tensor, *, drop_at: int) -> Figure:
    """``w`` under the lecture's form, PyTorch's, and the lecture's with its velocity rescaled; the drop marked."""
    fig = Figure(figsize=(7.0, 3.4), layout="constrained")
    ax = fig.subplots()
    steps = np.arange(len(lecture))
    ax.axhline(0.0, color="0.85", linewidth=0.8)
    ax.plot(steps, lecture.numpy(), color=sweep_color(1), linewidth=2.0, label="lecture: η inside the velocity")
    ax.plot(steps, pytorch.numpy(), color=sweep_color(4), linewidth=2.5, label="PyTorch: η outside the buffer")
    ax.plot(
        steps,
        rescaled.numpy(),
        color=sweep_color(0),
        linestyle=(0, (2, 2)),
        linewidth=1.5,
        label="lecture, velocity × η′/η at the drop",
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
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title("Same momentum, same schedule, three velocities")
    return fig


def plot_digits_seeds(
    train_loss: Tensor, test_accuracy: Tensor, momentums: Tensor, *, title: str, window: int = 42
) -> Figure:
    """A sweep over several seeds: training loss (median and range over seeds, averaged over ``window`` steps)
    and each seed's test accuracy."""
    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    loss_ax, accuracy_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    smoothed = batch_loss_running_mean(train_loss, window)
    steps = np.arange(smoothed.shape[-1]) + window
    for index, momentum in enumerate(momentums.tolist()):
        draw_seed_spread(loss_ax, steps, smoothed[:, index], color=sweep_color(index), label=momentum_label(momentum))
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel(f"training loss (mean of {window} batches)")
    loss_ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize="small", ncols=2)
    positions = np.arange(len(momentums))
    accuracy = 100 * test_accuracy.numpy()
    for index in positions:
        seeds = accuracy[:, index]
        accuracy_ax.plot(np.full_like(seeds, index), seeds, "o", color=sweep_color(int(index)), alpha=0.6, markersize=4)
        accuracy_ax.plot([index - 0.3, index + 0.3], [np.median(seeds)] * 2, color=sweep_color(int(index)))
    accuracy_ax.set_xticks(positions, [f"{m:g}" for m in momentums.tolist()])
    accuracy_ax.set_xlabel("momentum μ")
    accuracy_ax.set_ylabel("test accuracy (%), one dot per seed")
    accuracy_ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    return fig


class MomentumPanel:
    """One momentum setting at a glance: its path on the ravine (left) and its digits loss (right).

    Built once; :meth:`show` only moves the existing lines, so a widget or an animation
    redraws without rebuilding the figure. ``background`` loss curves (e.g. the rest of a
    sweep) are drawn in light grey for comparison. Loss curves are training losses as
    :func:`optimlab.experiments.run_digits_sweep` records them, drawn as the mean of
    ``window`` consecutive batches (:func:`~optimlab.plots.common.batch_loss_running_mean`).
    """

    def __init__(
        self,
        curvatures: tuple[float, float],
        *,
        steps: int,
        window: int = 1,
        background: Tensor | None = None,
        dpi: int = 100,
    ):
        self.window = window
        self.figure = Figure(figsize=(9.0, 3.3), dpi=dpi, layout="constrained")
        self.path_ax, self.loss_ax = self.figure.subplots(1, 2)
        draw_quadratic_contours(self.path_ax, curvatures)
        self.path_ax.set_title("Path on the ravine")
        (self.path_line,) = self.path_ax.plot([], [], marker="o", markersize=2.5, linewidth=1.2, color=sweep_color(4))
        if background is not None:
            for curve in batch_loss_running_mean(background, window):
                self.loss_ax.plot(self._loss_steps(curve), curve.numpy(), color="0.85", linewidth=1.0)
        (self.loss_line,) = self.loss_ax.plot([], [], color=sweep_color(6), linewidth=2.0)
        self.loss_ax.set_xlim(0, steps)
        self.loss_ax.set_ylim(1e-3, 5.0)
        self.loss_ax.set_yscale("log")
        self.loss_ax.set_xlabel("step")
        self.loss_ax.set_ylabel("digits training loss" + (f" (mean of {window} batches)" if window > 1 else ""))
        self.loss_ax.grid(True, alpha=0.3)
        self.loss_ax.set_title("MLP on the digits")
        # Lay out once, with room for a title, then freeze: the boxes never move between
        # settings, and a redraw skips the constrained-layout solver (about half its time).
        self.figure.suptitle(" ")
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")
        self._moving = (self.path_line, self.loss_line, self.figure._suptitle)
        self._background = None  # everything but the moving artists, as pixels; made on the first render

    def render_png(self) -> bytes:
        """The figure as a PNG, drawing only the lines and the title over a cached picture of the rest.

        A full draw spends most of its time on what never changes between settings (the
        ravine's contours, the ticks and their labels); here that is drawn once. The moving
        artists are drawn on top, so a grid line that crosses them in a full draw is under
        them here: the only difference.
        """
        canvas = self.figure.canvas
        if not isinstance(canvas, FigureCanvasAgg):
            canvas = FigureCanvasAgg(self.figure)
        if self._background is None:
            visible = [artist.get_visible() for artist in self._moving]
            for artist in self._moving:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            for artist, was_visible in zip(self._moving, visible, strict=True):
                artist.set_visible(was_visible)
        canvas.restore_region(self._background)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        png = io.BytesIO()
        imsave(png, np.asarray(canvas.buffer_rgba()), format="png")
        return png.getvalue()

    def _loss_steps(self, smoothed: Tensor) -> np.ndarray:
        """The step at the end of each window of batches."""
        return np.arange(len(smoothed)) + self.window

    def show(self, trajectory: Tensor, loss: Tensor, title: str) -> None:
        self.path_line.set_data(trajectory[:, 0].numpy(), trajectory[:, 1].numpy())
        smoothed = batch_loss_running_mean(loss, self.window)
        self.loss_line.set_data(self._loss_steps(smoothed), smoothed.numpy())
        self.loss_line.set_alpha(1.0)
        self.figure.suptitle(title)

    def show_pending(self, trajectory: Tensor, title: str) -> None:
        """A new path at once, while the loss for it is being computed: the old loss curve fades."""
        self.path_line.set_data(trajectory[:, 0].numpy(), trajectory[:, 1].numpy())
        self.loss_line.set_alpha(0.25)
        self.figure.suptitle(title)

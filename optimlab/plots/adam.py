"""Chapter 8's figures: Adam's first steps, L2 decay against AdamW, AMSGrad, the digits comparison,
and the explorers' panel (a path on the ravine and the step sizes of one setting)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from torch import Tensor

from optimlab.plots.common import batch_loss_running_mean, draw_quadratic_contours, draw_seed_spread, sweep_color


def _measured_marks(n_steps: int, count: int = 24) -> np.ndarray:
    """Indices of about ``count`` steps spread evenly on a log axis (dots for measurements)."""
    return np.unique(np.geomspace(1, n_steps, count).round().astype(int)) - 1


def plot_first_steps(steps: Tensor, measured: Tensor, predicted: Tensor, labels: tuple[str, ...]) -> Figure:
    """Step size over ``lr`` against the step (log-log): predicted (lines, ``V x T``), measured (dots, ``V x T``)."""
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.subplots()
    marks = _measured_marks(len(steps))
    for index, label in enumerate(labels):
        color = sweep_color(index + 4 if index else 0)
        ax.plot(steps.numpy(), predicted[index].numpy(), color=color, label=label)
        ax.plot(steps.numpy()[marks], measured[index].numpy()[marks], "o", color=color, markersize=4)
    ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("step size / η")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", title="lines: predicted, dots: measured", title_fontsize="small")
    ax.set_title("Adam under a constant gradient")
    return fig


def plot_decay(
    noise_scales: Tensor, adam: Tensor, adamw: Tensor, predicted_adam: Tensor, predicted_adamw: Tensor
) -> Figure:
    """The mean weight under Adam's L2 decay (left) and AdamW (right), one colour per noise scale σ."""
    fig = Figure(figsize=(8.2, 3.3), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    steps = np.arange(adam.shape[1])
    for ax, measured, predicted, title in (
        (axes[0], adam, predicted_adam, "Adam, weight_decay (L2)"),
        (axes[1], adamw, predicted_adamw, "AdamW (decoupled)"),
    ):
        for index, sigma in enumerate(noise_scales.tolist()):
            label = f"σ = {sigma:g}" if ax is axes[0] else None  # one legend entry per σ
            ax.plot(steps, measured[index].numpy(), color=sweep_color(index + 3), linewidth=2.2, label=label)
            ax.plot(steps, predicted[index].numpy(), color="0.1", linewidth=0.9, linestyle=(0, (3, 2)))
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("mean weight (start 1)")
    axes[0].plot([], [], color="0.1", linewidth=0.9, linestyle=(0, (3, 2)), label="predicted")
    fig.legend(fontsize="small", title="gradient noise", title_fontsize="small", loc="outside right upper")
    return fig


def plot_amsgrad(
    steps: Tensor, adam: Tensor, amsgrad: Tensor, predicted: tuple[Tensor, Tensor], *, drop_at: int
) -> Figure:
    """Step size over ``lr`` of Adam and AMSGrad around a drop in the gradient; predicted lines, measured dots."""
    fig = Figure(figsize=(7.0, 3.2), layout="constrained")
    ax = fig.subplots()
    marks = np.arange(0, len(steps), max(1, len(steps) // 40))
    for index, (measured, curve, label) in enumerate(
        ((adam, predicted[0], "Adam"), (amsgrad, predicted[1], "AMSGrad"))
    ):
        color = sweep_color(4 + index)
        ax.plot(steps.numpy(), curve.numpy(), color=color, label=label)
        ax.plot(steps.numpy()[marks], measured.numpy()[marks], "o", color=color, markersize=3)
    ax.axvline(drop_at, color="0.5", linestyle=":")
    ax.set_xlabel("step t")
    ax.set_ylabel("step size / η")
    ax.set_ylim(0, 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", title="lines: predicted, dots: measured", title_fontsize="small")
    ax.set_title("The gradient drops tenfold at the dotted line")
    return fig


def plot_digits_comparison(
    sgd_lrs: Tensor,
    sgd_accuracy: Tensor,
    adam_lrs: Tensor,
    adam_accuracy: Tensor,
    sgd_loss: Tensor,
    adam_loss: Tensor,
    *,
    adam_default_lr: float,
    tuned_sgd_lr: float,
    window: int = 42,
) -> Figure:
    """Left: test accuracy against the learning rate, one dot per seed, median line. Right: the training loss of
    Adam at its default rate and SGD at its tuned one (``seeds x (steps + 1)``), median and range over seeds."""
    fig = Figure(figsize=(7.8, 3.4), layout="constrained")
    accuracy_ax, loss_ax = fig.subplots(1, 2)
    for index, (lrs, accuracy, label) in enumerate(
        ((sgd_lrs, sgd_accuracy, "SGD, μ = 0.9"), (adam_lrs, adam_accuracy, "Adam"))
    ):
        color = sweep_color(4 + index)
        percent = 100 * accuracy.numpy()
        for seed in percent:
            accuracy_ax.plot(lrs.numpy(), seed, "o", color=color, alpha=0.5, markersize=4)
        accuracy_ax.plot(lrs.numpy(), np.median(percent, axis=0), color=color, label=label)
    accuracy_ax.axvline(adam_default_lr, color=sweep_color(5), linestyle=":", label="Adam's default η")
    accuracy_ax.set_xscale("log")
    accuracy_ax.set_xlabel("learning rate η")
    accuracy_ax.set_ylabel("test accuracy (%)")
    accuracy_ax.grid(True, alpha=0.3)
    accuracy_ax.legend(fontsize="small")
    for index, (loss, label) in enumerate(
        ((sgd_loss, f"SGD, tuned η = {tuned_sgd_lr:g}"), (adam_loss, f"Adam, default η = {adam_default_lr:g}"))
    ):
        smoothed = batch_loss_running_mean(loss, window)
        steps = np.arange(smoothed.shape[-1]) + window
        draw_seed_spread(loss_ax, steps, smoothed, color=sweep_color(4 + index), label=label)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel(f"training loss (mean of {window} batches)")
    loss_ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize="small")
    return fig


class AdamPanel:
    """One Adam setting at a glance: its path on the ravine (left), its step sizes under a constant gradient (right).

    Built once; :meth:`show` moves the existing lines, so widgets and the static explorable
    redraw without rebuilding the figure. PyTorch's defaults are drawn in grey on the right.
    """

    def __init__(self, curvatures: tuple[float, float], steps: Tensor, default_sizes: Tensor, *, dpi: int = 100):
        self.steps = steps.numpy()
        self.figure = Figure(figsize=(8.4, 3.3), dpi=dpi, layout="constrained")
        self.path_ax, self.size_ax = self.figure.subplots(1, 2)
        draw_quadratic_contours(self.path_ax, curvatures)
        self.path_ax.set_title("Path on the ravine")
        (self.path_line,) = self.path_ax.plot([], [], marker="o", markersize=2.5, linewidth=1.2, color=sweep_color(4))
        self.size_ax.plot(self.steps, default_sizes.numpy(), color="0.75", linewidth=3.0, label="PyTorch's defaults")
        (self.size_line,) = self.size_ax.plot([], [], color=sweep_color(5), linewidth=1.6, label="this setting")
        self.size_ax.set_xscale("log")
        self.size_ax.set_yscale("log")
        self.size_ax.set_ylim(1e-3, 20.0)
        self.size_ax.set_xlim(1, self.steps[-1])
        # Decades only, labelled in plain text: the log axes' mathtext tick labels ($10^{-3}$) and
        # minor ticks would cost most of each frame's drawing time.
        self.size_ax.minorticks_off()
        for axis in (self.size_ax.xaxis, self.size_ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
        self.size_ax.set_xlabel("step t")
        self.size_ax.set_ylabel("step size / η, constant gradient")
        self.size_ax.grid(True, alpha=0.3)
        self.size_ax.legend(fontsize="small", loc="lower right")
        self.size_ax.set_title("Step sizes")
        # Lay out once, with room for a title, then freeze: the boxes stay put between settings
        # and each frame skips the constrained-layout solver.
        self.figure.suptitle(" ")
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")

    def show(self, path: Tensor, sizes: Tensor, title: str) -> None:
        self.path_line.set_data(path[:, 0].numpy(), path[:, 1].numpy())
        self.size_line.set_data(self.steps, sizes.numpy())
        self.figure.suptitle(title)

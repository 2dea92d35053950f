"""Chapter 2's figures: the stationary spread, decay on the noisy quadratic, schedules, batch size vs decay."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator
from torch import Tensor

from optimlab.plots.common import draw_seed_spread, sweep_color


def plot_stationary_spread(curve_lrs: Tensor, predicted: Tensor, lrs: Tensor, measured: Tensor) -> Figure:
    """The predicted stationary variance as a curve over ``curve_lrs``, the measured ones as dots."""
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.plot(curve_lrs.numpy(), predicted.numpy(), color=sweep_color(4), label="predicted: η σ² / (h (2 − η h))")
    ax.plot(lrs.numpy(), measured.numpy(), "o", color=sweep_color(5), markersize=5, label="measured")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate η (h = 1)")
    ax.set_ylabel("variance of w around the minimum")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("The spread SGD settles to grows with the learning rate")
    return fig


def plot_decay_paths(sample_paths: Tensor, loss: Tensor, expected_loss: Tensor, labels: tuple[str, ...]) -> Figure:
    """Left: one chain per schedule (``G x T+1``). Right: the loss averaged over chains, and its expectation."""
    fig = Figure(figsize=(8.0, 3.2), layout="constrained")
    path_ax, loss_ax = fig.subplots(1, 2)
    steps = np.arange(sample_paths.shape[-1])
    for index, label in enumerate(labels):
        color = sweep_color(index + 1)
        path_ax.plot(steps, sample_paths[index].numpy(), color=color, linewidth=1.0, label=label)
        loss_ax.plot(steps, loss[index].numpy(), color=color, linewidth=1.5)
        loss_ax.plot(steps, expected_loss[index].numpy(), color="0.2", linewidth=0.8, linestyle=":")
    path_ax.axhline(0.0, color="0.7", linewidth=0.8)
    path_ax.set_xlabel("step t")
    path_ax.set_ylabel("w (one run)")
    path_ax.legend(fontsize="small")
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("step t")
    loss_ax.set_ylabel("mean loss over runs (dotted: theory)")
    loss_ax.grid(True, which="major", alpha=0.3)
    fig.suptitle("A large rate gets close fast and then bounces; decay keeps both")
    return fig


def plot_schedules(epochs: np.ndarray, schedules: dict[str, list[float]], *, title: str) -> Figure:
    """One line per schedule: its learning rate by epoch (a step drawn as a step)."""
    fig = Figure(figsize=(6.0, 3.2), layout="constrained")
    ax = fig.subplots()
    for index, (label, lrs) in enumerate(schedules.items()):
        ax.step(epochs, lrs, where="post", color=sweep_color(index), label=label, linewidth=1.6)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title)
    return fig


def plot_chosen_decay(
    epoch_loss: Tensor,
    ks: tuple[float, ...],
    plateau: int,
    curve_ks: Tensor,
    curve_final: Tensor,
) -> Figure:
    """Left: the loss after each epoch for each ``k`` (plateau of the run without decay marked).
    Right: the expected final loss against ``k`` (curve) and the runs' final losses (dots)."""
    fig = Figure(figsize=(8.5, 3.3), layout="constrained")
    loss_ax, k_ax = fig.subplots(1, 2)
    epochs = np.arange(epoch_loss.shape[-1])
    for index, (loss, k) in enumerate(zip(epoch_loss, ks, strict=True)):
        label = "no decay" if k == 0 else f"k = {k:.3f}"
        loss_ax.plot(epochs, loss.numpy(), color=sweep_color(index), label=label)
        if k > 0:
            k_ax.plot([k], [float(loss[-1])], "o", color=sweep_color(index), markersize=6)
    loss_ax.axvline(plateau, color="0.5", linestyle=":")
    loss_ax.annotate("plateau", xy=(plateau, loss_ax.get_ylim()[1]), xytext=(3, -12), textcoords="offset points")
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean loss over runs")
    loss_ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize="small")
    k_ax.plot(curve_ks.numpy(), curve_final.numpy(), color="0.3", label="theory")
    k_ax.axhline(float(epoch_loss[0, -1]), color=sweep_color(0), linestyle="--", linewidth=1.0, label="no decay")
    k_ax.set_xscale("log")
    k_ax.set_yscale("log")
    k_ax.set_xlabel("decay constant k (per epoch)")
    k_ax.set_ylabel("loss after the last epoch")
    k_ax.grid(True, which="major", alpha=0.3)
    k_ax.legend(fontsize="small")
    fig.suptitle("Reading k off a run without decay")
    return fig


def plot_batch_vs_decay(train_loss: Tensor, test_accuracy: Tensor, labels: tuple[str, ...]) -> Figure:
    """Left: the training loss by epoch (median and range over seeds). Right: each seed's test accuracy."""
    fig = Figure(figsize=(8.0, 3.3), layout="constrained")
    loss_ax, accuracy_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    epochs = np.arange(train_loss.shape[-1])
    for index, label in enumerate(labels):
        draw_seed_spread(loss_ax, epochs, train_loss[:, index], color=sweep_color(index), label=label)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (whole set)")
    loss_ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize="small")
    accuracy = 100 * test_accuracy.numpy()
    for index in range(len(labels)):
        seeds = accuracy[:, index]
        color = sweep_color(index)
        accuracy_ax.plot(np.full_like(seeds, index), seeds, "o", color=color, alpha=0.7, markersize=5)
        accuracy_ax.plot([index - 0.3, index + 0.3], [np.median(seeds)] * 2, color=color)
    accuracy_ax.set_xticks(range(len(labels)), ["constant", "decay η", "grow batch"])
    accuracy_ax.set_ylabel("test accuracy (%), one dot per seed")
    accuracy_ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"The same epochs, {train_loss.shape[0]} seeds")
    return fig


class DecayPanel:
    """One setting of ``(η₀, k)``: its schedule by epoch (left) and the loss it gives (right).

    Built once with fixed axes; :meth:`show` only moves the lines, so the explorable's frames
    and the live widget's redraws all share one layout. :meth:`show_others` draws the loss
    of other settings in light grey behind.
    """

    def __init__(
        self,
        *,
        epochs: int,
        steps_per_epoch: int,
        max_lr: float,
        loss_range: tuple[float, float],
        dpi: int = 100,
    ):
        self.steps_per_epoch = steps_per_epoch
        self.figure = Figure(figsize=(8.0, 3.0), dpi=dpi, layout="constrained")
        self.lr_ax, self.loss_ax = self.figure.subplots(1, 2)
        (self.lr_line,) = self.lr_ax.step([], [], where="post", color=sweep_color(4), linewidth=2.0)
        self.lr_ax.set_xlim(0, epochs)
        self.lr_ax.set_ylim(0, 1.05 * max_lr)
        self.lr_ax.set_xlabel("epoch")
        self.lr_ax.set_ylabel("learning rate")
        self.lr_ax.grid(True, alpha=0.3)
        self.lr_ax.set_title("Schedule")
        self.other_lines: list = []
        (self.loss_line,) = self.loss_ax.plot([], [], color=sweep_color(5), linewidth=2.0)
        self.loss_ax.set_xlim(0, epochs)
        self.loss_ax.set_ylim(*loss_range)
        self.loss_ax.set_yscale("log")
        # Ticks on the decades only, and fixed: every frame redraws the ticks, and they are most of its cost.
        self.loss_ax.yaxis.set_major_locator(FixedLocator([1e-2, 1e-1, 1.0, 10.0]))
        self.loss_ax.yaxis.set_major_formatter(FixedFormatter(["0.01", "0.1", "1", "10"]))
        self.loss_ax.yaxis.set_minor_locator(NullLocator())
        self.loss_ax.set_xlabel("epoch")
        self.loss_ax.set_ylabel("mean loss over runs")
        self.loss_ax.grid(True, which="major", alpha=0.3)
        self.loss_ax.set_title("Noisy quadratic")
        # Lay out once, with room for a title, then freeze: every frame keeps the same boxes,
        # and a redraw skips the constrained-layout solver.
        self.figure.suptitle(" ")
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")

    def _epochs(self, per_step: Tensor) -> np.ndarray:
        return np.arange(len(per_step)) / self.steps_per_epoch

    def show_others(self, losses: Tensor) -> None:
        """Grey curves for the losses (``n x T+1``) of other settings, replacing the previous ones."""
        while len(self.other_lines) < len(losses):
            self.other_lines.append(self.loss_ax.plot([], [], color="0.8", linewidth=1.0, zorder=1)[0])
        for line in self.other_lines[len(losses) :]:
            line.set_data([], [])
        for line, loss in zip(self.other_lines, losses, strict=False):
            line.set_data(self._epochs(loss), loss.numpy())

    def render_png(self) -> bytes:
        png = io.BytesIO()
        self.figure.savefig(png, format="png")
        return png.getvalue()

    def show(self, lrs: Tensor, loss: Tensor, title: str) -> None:
        """``lrs``: the rate of each step; ``loss``: the mean loss before and after each step."""
        by_epoch = lrs[:: self.steps_per_epoch].numpy()
        self.lr_line.set_data(np.arange(len(by_epoch) + 1), np.append(by_epoch, by_epoch[-1]))
        self.loss_line.set_data(self._epochs(loss), loss.numpy())
        self.figure.suptitle(title)

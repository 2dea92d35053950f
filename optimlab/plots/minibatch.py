"""Chapter 1's figures: gradient noise against batch size, class proportions, training sweeps, costs, a double well."""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from optimlab.experiments.minibatch import (
    BatchSizeSweepResult,
    ClassProportionsResult,
    CostResult,
    DoubleWellConfig,
    DoubleWellResult,
    GradientNoiseResult,
    double_well_minima,
    predicted_total_variance,
    steps_for,
)
from optimlab.plots.common import batch_loss_running_mean, draw_seed_spread, sweep_color


def batch_size_label(batch_size: int) -> str:
    return f"B = {batch_size}"


def draw_noise_theory(ax, sigma2_total: float, n: int, *, within_class_total: float | None = None) -> None:
    """The formula's curve for ``B = 1 .. N − 1`` (log-log), with replacement dashed, stratified dotted."""
    # 200 points spaced evenly on the log axis draw the same curve as all N - 1 batch sizes, for less work.
    sizes = torch.logspace(0, math.log10(n - 1), 200, dtype=torch.float64).round().unique()
    ax.plot(
        sizes.numpy(),
        predicted_total_variance(sigma2_total, n, sizes).numpy(),
        color=sweep_color(4),
        label="σ²/B · (N−B)/(N−1)",
    )
    ax.plot(
        sizes.numpy(),
        predicted_total_variance(sigma2_total, n, sizes, replacement=True).numpy(),
        color="0.6",
        linestyle="--",
        label="σ²/B (with replacement)",
    )
    if within_class_total is not None:
        ax.plot(
            sizes.numpy(),
            predicted_total_variance(within_class_total, n, sizes).numpy(),
            color=sweep_color(5),
            linestyle=":",
            label="within-class σ² only",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("variance of the batch gradient\n(summed over coordinates)")
    ax.grid(True, which="major", alpha=0.3)


def plot_gradient_noise(result: GradientNoiseResult) -> Figure:
    """The formula against the Monte-Carlo measurement (dots, ±2 standard errors), random and stratified."""
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.subplots()
    draw_noise_theory(ax, result.sigma2_total, result.n_examples, within_class_total=result.within_class_total)
    ax.errorbar(
        result.batch_sizes.numpy(),
        result.measured.numpy(),
        yerr=2 * result.standard_error.numpy(),
        fmt="o",
        color=sweep_color(4),
        markersize=5,
        label="measured, random batches",
    )
    ax.errorbar(
        result.stratified_batch_sizes.numpy(),
        result.stratified_measured.numpy(),
        yerr=2 * result.stratified_standard_error.numpy(),
        fmt="s",
        color=sweep_color(5),
        markersize=5,
        label="measured, stratified batches",
    )
    ax.axvline(result.n_examples, color="0.8", linewidth=0.8)
    ax.legend(fontsize="small")
    ax.set_title(f"Gradient noise of the digits MLP (N = {result.n_examples})")
    return fig


def plot_class_proportions(result: ClassProportionsResult, *, n_batches: int = 24) -> Figure:
    """Class counts of the first ``n_batches`` batches of an epoch: random batches above, stratified below."""
    fig = Figure(figsize=(7.0, 4.4), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    panels = (("random batches", result.random_counts), ("stratified batches", result.stratified_counts))
    vmax = max(int(counts[:n_batches].max()) for _, counts in panels)
    for ax, (name, counts) in zip(axes, panels, strict=True):
        image = ax.imshow(counts[:n_batches].T.numpy(), cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
        missing = int((counts[:n_batches] == 0).sum())
        ax.set_title(f"{name}: {missing} empty class slots in {n_batches} batches", fontsize="medium")
        ax.set_ylabel("class (digit)")
        ax.set_yticks(range(0, counts.shape[1], 3))
    axes[-1].set_xlabel(f"batch (B = {result.batch_size}), in the order of one epoch")
    fig.colorbar(image, ax=axes, label="examples of the class in the batch", shrink=0.8)
    return fig


def plot_batch_size_sweep(result: BatchSizeSweepResult, *, n_examples: int, title: str, window: int = 5) -> Figure:
    """Training loss (median and range over seeds, mean of ``window`` batches) and each seed's test accuracy.

    The loss is drawn against epochs when the sweep gives every batch size the same number
    of epochs, against updates when it gives them the same number of updates.
    """
    per_epoch = result.config.epochs is not None
    fig = Figure(figsize=(7.5, 3.3), layout="constrained")
    loss_ax, accuracy_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    for index, run in enumerate(result.runs):
        steps_per_epoch = -(-n_examples // run.batch_size)
        smoothed = batch_loss_running_mean(run.train_loss, min(window, run.train_loss.shape[-1] - 1))
        steps = np.arange(smoothed.shape[-1]) + min(window, run.train_loss.shape[-1] - 1)
        draw_seed_spread(
            loss_ax,
            steps / steps_per_epoch if per_epoch else steps,
            smoothed,
            color=sweep_color(index),
            label=f"{batch_size_label(run.batch_size)}, η = {run.lr:g}",
        )
        seeds = 100 * run.test_accuracy.numpy()
        accuracy_ax.plot(np.full_like(seeds, index), seeds, "o", color=sweep_color(index), alpha=0.7, markersize=4)
    loss_ax.set_yscale("log")
    loss_ax.set_xscale("log")
    loss_ax.set_xlabel("epochs" if per_epoch else "updates")
    loss_ax.set_ylabel(f"training loss\n(mean of {window} batches)")
    loss_ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize="small")
    accuracy_ax.set_xticks(range(len(result.runs)), [str(run.batch_size) for run in result.runs])
    accuracy_ax.set_xlabel("batch size B")
    accuracy_ax.set_ylabel("test accuracy (%), one dot per seed")
    accuracy_ax.grid(True, axis="y", alpha=0.3)
    updates = [steps_for(result.config, run.batch_size, n_examples) for run in result.runs]
    fig.suptitle(f"{title} (updates: {', '.join(map(str, updates))})")
    return fig


def plot_costs(result: CostResult) -> Figure:
    """Memory of one training step and time of one epoch, against batch size."""
    fig = Figure(figsize=(7.5, 3.0), layout="constrained")
    memory_ax, time_ax = fig.subplots(1, 2)
    sizes = result.batch_sizes.numpy()
    measured = "peak cuda allocation" if result.device == "cuda" else "saved tensors, counted"
    memory_ax.plot(
        sizes, result.estimated_bytes.numpy() / 1024, color=sweep_color(4), label="estimate from layer sizes"
    )
    memory_ax.plot(sizes, result.measured_bytes.numpy() / 1024, "o", color=sweep_color(5), label=measured)
    memory_ax.set_xlabel("batch size B")
    memory_ax.set_ylabel("memory of one step (KiB)")
    memory_ax.legend(fontsize="small")
    time_ax.plot(sizes, 1000 * result.seconds_per_epoch.numpy(), "o-", color=sweep_color(3))
    time_ax.set_yscale("log")
    time_ax.set_ylabel(f"time per epoch (ms, {result.device})")
    for ax in (memory_ax, time_ax):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size B")
        ax.grid(True, alpha=0.3)
    return fig


def plot_double_well(config: DoubleWellConfig, result: DoubleWellResult) -> Figure:
    """The double well's landscape, and how often chains change basin, against batch size."""
    fig = Figure(figsize=(7.5, 3.0), layout="constrained")
    landscape_ax, fraction_ax = fig.subplots(1, 2)
    w = np.linspace(-1.7, 1.6, 300)
    landscape_ax.plot(w, (w**2 - 1) ** 2 / 4 + config.tilt * w, color="0.3")
    deep, barrier, shallow = double_well_minima(config.tilt)
    for point, name, color in ((deep, "deep", sweep_color(3)), (shallow, "shallow", sweep_color(5))):
        value = (point**2 - 1) ** 2 / 4 + config.tilt * point
        landscape_ax.plot([point], [value], "o", color=color, label=f"{name} minimum")
    landscape_ax.axvline(barrier, color="0.8", linestyle=":")
    landscape_ax.set_xlabel("w")
    landscape_ax.set_ylabel("f(w)")
    landscape_ax.legend(fontsize="small")
    positions = np.arange(len(result.batch_sizes))
    fraction_ax.bar(
        positions - 0.2, 100 * result.shallow_start_to_deep.numpy(), 0.4, color=sweep_color(5), label="shallow → deep"
    )
    fraction_ax.bar(
        positions + 0.2, 100 * result.deep_start_to_shallow.numpy(), 0.4, color=sweep_color(3), label="deep → shallow"
    )
    fraction_ax.set_xticks(positions, [str(b) for b in result.batch_sizes.tolist()])
    fraction_ax.set_xlabel(f"batch size B (N = {config.n_examples})")
    fraction_ax.set_ylabel(f"% of chains that changed\nbasin in {config.steps} steps")
    fraction_ax.legend(fontsize="small")
    fraction_ax.grid(True, axis="y", alpha=0.3)
    return fig


class MinibatchPanel:
    """One batch size at a glance: its digits loss curve (left) and its place on the noise curve (right).

    Built once; :meth:`show` only moves lines, so a slider redraws without rebuilding the figure.
    ``background`` loss curves (the rest of a sweep) are drawn in light grey for comparison.
    """

    def __init__(
        self,
        sigma2_total: float,
        n: int,
        *,
        steps: int,
        window: int = 5,
        background: Tensor | None = None,
        dpi: int = 100,
    ):
        self.sigma2_total, self.n, self.window = sigma2_total, n, window
        self.figure = Figure(figsize=(8.0, 3.2), dpi=dpi, layout="constrained")
        self.loss_ax, self.noise_ax = self.figure.subplots(1, 2)
        if background is not None:
            for curve in batch_loss_running_mean(background, window):
                self.loss_ax.plot(np.arange(len(curve)) + window, curve.numpy(), color="0.85", linewidth=1.0)
        (self.loss_line,) = self.loss_ax.plot([], [], color=sweep_color(6), linewidth=2.0)
        self.loss_ax.set_xlim(0, steps)
        self.loss_ax.set_ylim(5e-3, 5.0)
        self.loss_ax.set_yscale("log")
        self.loss_ax.set_xlabel("update")
        self.loss_ax.set_ylabel(f"digits training loss\n(mean of {window} batches)")
        self.loss_ax.grid(True, alpha=0.3)
        draw_noise_theory(self.noise_ax, sigma2_total, n)
        (self.noise_marker,) = self.noise_ax.plot([], [], "o", color=sweep_color(6), markersize=9)
        for ax in (self.loss_ax, self.noise_ax):
            ax.minorticks_off()  # every frame is a full draw: fewer ticks, faster frames
        self.noise_ax.legend(fontsize="x-small", loc="lower left")
        # Lay out once, with room for a title, then freeze: every frame skips the layout solver.
        self.figure.suptitle(" ")
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")

    def show(self, batch_size: int, loss: Tensor, title: str) -> None:
        smoothed = batch_loss_running_mean(loss, self.window)
        self.loss_line.set_data(np.arange(len(smoothed)) + self.window, smoothed.numpy())
        variance = predicted_total_variance(self.sigma2_total, self.n, torch.tensor([batch_size]))
        self.noise_marker.set_data([batch_size], variance.numpy())
        self.figure.suptitle(title)

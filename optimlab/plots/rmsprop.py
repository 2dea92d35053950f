"""Chapter 7's figures: per-coordinate step sizes with their theory, RMSProp against SGD on a network, and the
explorers' panel."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from optimlab.experiments.rmsprop import (
    LayerScalesResult,
    ScaledQuadraticResult,
    constant_gradient_steps,
    tuned_indices,
)
from optimlab.plots.common import batch_loss_running_mean, draw_quadratic_contours, draw_seed_spread, sweep_color
from optimlab.plots.local_gain import plain_log_labels


def _curvature_label(curvature: float) -> str:
    return f"h = {curvature:.0e}".replace("e+00", "").replace("e-0", "e-").replace("e+0", "e")


class StepSizesPanel:
    """One ``α`` of a :class:`ScaledQuadraticResult`: each coordinate's step ``|Δw_i|`` over the steps (solid)
    with the constant-gradient prediction (dashed); beside it, when a ``ravine`` result is given, RMSProp's path
    on chapter 4's ravine with the same ``α``, else the first and last steps against curvature
    (:func:`draw_steps_against_curvature`, for the first ``α``).

    Built once; :meth:`show` only moves the lines, so an explorable's frames redraw without a new figure.
    """

    def __init__(
        self,
        result: ScaledQuadraticResult,
        *,
        lr: float,
        eps: float,
        ravine: ScaledQuadraticResult | None = None,
        dpi: int = 100,
    ):
        self.result, self.ravine, self.lr, self.eps = result, ravine, lr, eps
        self.figure = Figure(figsize=(8.8, 3.6), dpi=dpi, layout="constrained")
        self.step_ax, other_ax = self.figure.subplots(1, 2)
        t = np.arange(1, result.steps.shape[1] + 1)
        self.t = t
        self.step_lines, self.predicted_lines = [], []
        for index, curvature in enumerate(result.curvatures.tolist()):
            color = sweep_color(index)
            (line,) = self.step_ax.plot(t, t * 0.0 + 1.0, color=color, linewidth=2.0, label=_curvature_label(curvature))
            (predicted,) = self.step_ax.plot(t, t * 0.0 + 1.0, color="0.15", linewidth=0.9, linestyle=(0, (2, 2)))
            self.step_lines.append(line)
            self.predicted_lines.append(predicted)
        self.step_ax.set_yscale("log")
        self.step_ax.set_ylim(lr / 3000, lr * 30)
        plain_log_labels(self.step_ax.yaxis)
        self.step_ax.set_xlabel("step t")
        self.step_ax.set_ylabel("|Δw| per coordinate")
        self.step_ax.grid(True, which="major", alpha=0.3)
        self.step_ax.legend(
            fontsize="x-small", title_fontsize="x-small", ncols=2, loc="center right", title="black dashes: predicted"
        )
        self.step_ax.set_title(f"Badly scaled quadratic, η = {lr:g}")
        if ravine is None:
            draw_steps_against_curvature(other_ax, result, lr=lr, eps=eps)
        else:
            self.path_ax = other_ax
            draw_quadratic_contours(self.path_ax, tuple(ravine.curvatures.tolist()))
            (self.path_line,) = self.path_ax.plot(
                [], [], marker="o", markersize=2.5, linewidth=1.2, color=sweep_color(4)
            )
            self.path_ax.set_title("Path on chapter 4's ravine")
        self.figure.suptitle(" ")

    def freeze_layout(self) -> None:
        """Lay the figure out once, then keep the boxes (for a panel drawn many times)."""
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")

    def show(self, index: int) -> None:
        """Draw the run of ``alphas[index]``."""
        alpha = float(self.result.alphas[index])
        predicted = constant_gradient_steps(
            self.lr, alpha, self.eps, self.result.grads[index, 0], self.result.steps.shape[1]
        )
        for i, (line, prediction) in enumerate(zip(self.step_lines, self.predicted_lines, strict=True)):
            line.set_ydata(self.result.steps[index, :, i].numpy())
            prediction.set_ydata(predicted[:, i].numpy())
        if self.ravine is not None:
            path = self.ravine.trajectories[index]
            self.path_line.set_data(path[:, 0].numpy(), path[:, 1].numpy())
        self.figure.suptitle(f"RMSProp with α = {alpha:g}")


def plot_step_sizes(result: ScaledQuadraticResult, *, lr: float, eps: float) -> Figure:
    """RMSProp's per-coordinate steps over time and against curvature, with their prediction (first ``α``)."""
    panel = StepSizesPanel(result, lr=lr, eps=eps)
    panel.show(0)
    return panel.figure


def draw_steps_against_curvature(ax: Axes, result: ScaledQuadraticResult, *, lr: float, eps: float) -> None:
    """The first and the last step of every coordinate against its curvature: RMSProp (first ``α``) with its
    prediction, and gradient descent at its largest safe rate."""
    h = result.curvatures.numpy()
    steps = result.steps.shape[1]
    predicted = constant_gradient_steps(lr, float(result.alphas[0]), eps, result.grads[0, 0], steps)
    for row, (t, marker) in enumerate(((1, "o"), (steps, "s"))):
        color = sweep_color(4 + row)
        ax.plot(h, predicted[t - 1].numpy(), color=color, linewidth=1.0, linestyle=(0, (3, 2)))
        ax.plot(h, result.steps[0, t - 1].numpy(), marker, color=color, label=f"RMSProp, step {t}")
    ax.plot(h, result.sgd_steps[0].numpy(), "^", color=sweep_color(0), label=f"GD (η = {result.sgd_lr:g}), step 1")
    ax.axvline(eps, color="0.6", linestyle=":")
    ax.annotate("|g| = ε", xy=(eps, 1e-12), xytext=(4, 0), textcoords="offset points", color="0.3")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_labels(ax.xaxis)
    plain_log_labels(ax.yaxis)
    ax.set_xlabel("curvature h (= |g| at the start)")
    ax.set_ylabel("|Δw|")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="x-small", loc="lower right")
    ax.set_title("Against scale (dashed: predicted)")


def plot_layer_scales(results: dict[str, LayerScalesResult], *, window: int = 20) -> Figure:
    """For each network of ``results`` (name -> result), SGD and RMSProp at their tuned learning rates: the training
    loss (mean of ``window`` batches; median and range over seeds) and each seed's test accuracy."""
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    loss_ax, accuracy_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    ticks = []
    # Colour says the method, line style (and filled or open dots) the network.
    for row, (name, result) in enumerate(results.items()):
        sgd, rms = tuned_indices(result)
        n_sgd = len(result.sgd_lrs)
        for method, index, lr, color in (
            ("SGD", sgd, result.sgd_lrs[sgd], sweep_color(1)),
            ("RMSProp", n_sgd + rms, result.rmsprop_lrs[rms], sweep_color(4)),
        ):
            smoothed = batch_loss_running_mean(result.train_loss[:, index], window)
            steps = np.arange(smoothed.shape[-1]) + window
            line = draw_seed_spread(loss_ax, steps, smoothed, color=color, label=f"{name}: {method}, η = {float(lr):g}")
            line.set_linestyle("-" if row == 0 else (0, (4, 2)))
            position = len(ticks)
            accuracy = 100 * result.test_accuracy[:, index].numpy()
            face = color if row == 0 else "white"
            accuracy_ax.plot(
                np.full_like(accuracy, position), accuracy, "o", color=color, markerfacecolor=face, markersize=5
            )
            ticks.append(f"{method}\n{name}")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel(f"training loss (mean of {window} batches)")
    loss_ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize="x-small")
    accuracy_ax.set_xticks(np.arange(len(ticks)), ticks, fontsize="x-small")
    accuracy_ax.set_xlim(-0.5, len(ticks) - 0.5)
    accuracy_ax.set_ylabel("test accuracy (%), one dot per seed")
    accuracy_ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Each method at its tuned learning rate, 3 seeds")
    return fig

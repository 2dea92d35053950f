"""Chapter 6's figures: the gains of every weight over training with their theory, and the batch-size sweep."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from optimlab.experiments.local_gain import GainsQuadraticResult, LeastSquaresResult, newton_gains, tuned_lr_index
from optimlab.plots.common import draw_seed_spread, sweep_color

# Plain-text labels on log axes: matplotlib's default 10^k labels go through its TeX parser, which costs
# more than the rest of a frame.
_PLAIN = FuncFormatter(lambda value, _: f"{value:g}")


def plain_log_labels(axis) -> None:
    """Label a log axis's decades as plain numbers (1e-05, 0.01, 100) and leave its minor ticks bare."""
    axis.set_major_formatter(_PLAIN)
    axis.set_minor_formatter(NullFormatter())


def _curvature_label(curvature: float) -> str:
    return f"h = {curvature:g}"


class GainsPanel:
    """One ``β`` of a :class:`GainsQuadraticResult`: each weight's gain over the steps (left, with its Newton
    gain ``1 / (η h)`` dashed in the same colour) and the loss against plain gradient descent's (right).

    Built once; :meth:`show` only moves the lines, so an explorable's frames redraw without a new figure.
    """

    def __init__(self, result: GainsQuadraticResult, *, lr: float, dpi: int = 100):
        self.result = result
        self.lr = lr
        self.figure = Figure(figsize=(8.0, 3.3), dpi=dpi, layout="constrained")
        self.gain_ax, self.loss_ax = self.figure.subplots(1, 2, width_ratios=(3, 2))
        steps = np.arange(result.gains.shape[1])
        self.steps = steps
        targets = newton_gains(lr, result.curvatures).numpy()
        self.gain_lines = []
        for index, (curvature, target) in enumerate(zip(result.curvatures.tolist(), targets, strict=True)):
            color = sweep_color(index + 1)
            (line,) = self.gain_ax.plot(steps, np.ones_like(steps, dtype=float), color=color, linewidth=1.8)
            line.set_label(_curvature_label(curvature))
            self.gain_lines.append(line)
            self.gain_ax.axhline(target, color=color, linestyle=(0, (3, 3)), linewidth=1.0)
        self.gain_ax.set_yscale("log")
        self.gain_ax.set_ylim(0.3, 300)
        plain_log_labels(self.gain_ax.yaxis)
        self.gain_ax.set_xlabel("step")
        self.gain_ax.set_ylabel("gain γ (dashed: 1 / (η h))")
        self.gain_ax.grid(True, which="major", alpha=0.3)
        self.gain_ax.legend(fontsize="small", ncols=2, loc="upper left")
        plain = int(np.argmin(np.abs(result.betas.numpy())))
        self.loss_ax.plot(steps, result.losses[plain].numpy(), color="0.6", label="plain (β = 0)")
        (self.loss_line,) = self.loss_ax.plot(steps, result.losses[plain].numpy(), color=sweep_color(4))
        self.loss_line.set_label("local gains")
        self.loss_ax.set_yscale("log")
        lowest = max(float(result.losses.min()), 1e-30)
        self.loss_ax.set_ylim(lowest / 10, 10 * float(result.losses.max()))
        plain_log_labels(self.loss_ax.yaxis)
        self.loss_ax.set_xlabel("step")
        self.loss_ax.set_ylabel("$f(w)$")
        self.loss_ax.grid(True, which="major", alpha=0.3)
        self.loss_ax.legend(fontsize="small", loc="lower left")
        self.gain_ax.set_title("Gains per weight")
        self.loss_ax.set_title("Loss")
        self.figure.suptitle(" ")

    def freeze_layout(self) -> None:
        """Lay the figure out once, then keep the boxes: for a panel drawn many times (frames only move lines),
        so that each redraw skips the constrained-layout solver."""
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")

    def show(self, index: int) -> None:
        """Draw the run of ``betas[index]``."""
        for line, gains in zip(self.gain_lines, self.result.gains[index].T, strict=True):
            line.set_ydata(gains.numpy())
        self.loss_line.set_ydata(self.result.losses[index].clamp(min=1e-300).numpy())
        self.figure.suptitle(f"Local gains with β = {float(self.result.betas[index]):g}, η = {self.lr:g}")


def plot_gains(result: GainsQuadraticResult, *, lr: float, index: int = -1) -> Figure:
    """The gains and the loss of the run ``betas[index]`` (:class:`GainsPanel`)."""
    panel = GainsPanel(result, lr=lr)
    panel.show(index % len(result.betas))
    return panel.figure


def plot_batch_sizes(results: dict[int | None, LeastSquaresResult], *, n_examples: int) -> Figure:
    """Each batch size at each method's tuned learning rate: the excess loss over the steps (median and range
    over seeds; plain SGD dashed, local gains solid), and the final gains against each weight's curvature."""
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    loss_ax, gain_ax = fig.subplots(1, 2)
    for index, (batch_size, result) in enumerate(results.items()):
        color = sweep_color(index + 4)
        name = f"batch {batch_size}" if batch_size is not None else f"full batch ({n_examples})"
        sgd, gains = tuned_lr_index(result.excess_loss).tolist()
        steps = np.arange(result.excess_loss.shape[-1])
        draw_seed_spread(loss_ax, steps, result.excess_loss[:, 1, gains], color=color, label=f"{name}: local gains")
        line = draw_seed_spread(loss_ax, steps, result.excess_loss[:, 0, sgd], color=color, label=f"{name}: SGD")
        line.set_linestyle((0, (4, 2)))
        gain_ax.plot(
            result.curvatures.flatten().numpy(),
            result.gains[:, gains].flatten().numpy(),
            "o",
            color=color,
            alpha=0.6,
            markersize=4,
            label=name,
        )
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("excess training loss")
    loss_ax.grid(True, which="major", alpha=0.3)
    loss_ax.legend(fontsize="x-small", ncols=1)
    gain_ax.axhline(1.0, color="0.6", linestyle=":")
    gain_ax.set_xscale("log")
    gain_ax.set_yscale("log")
    gain_ax.set_xlabel("curvature $h_i$ of the weight")
    gain_ax.set_ylabel("final gain (one dot per weight and seed)")
    gain_ax.grid(True, which="major", alpha=0.3)
    gain_ax.legend(fontsize="x-small")
    fig.suptitle("Each method at its tuned learning rate, 3 seeds")
    return fig

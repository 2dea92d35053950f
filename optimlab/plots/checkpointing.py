"""Chapter 10's figures: resumed runs against the run that never stopped, and the explorable's panel."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from optimlab.plots.common import sweep_color

# Weight distances span from 0 (an exact resume) to about 1: a linear scale below this, logarithmic above.
DISTANCE_LINEAR_BELOW = 1e-4
UNINTERRUPTED_COLOR = "0.75"


def resume_color(index: int) -> str:
    """The exact resume (index 0) in black, each forgetful one in its own colour."""
    return sweep_color(index)


def _setup_axes(loss_ax: Axes, distance_ax: Axes, stop_step: int, n_steps: int) -> None:
    for ax in (loss_ax, distance_ax):
        ax.axvline(stop_step, color="0.4", linestyle=":")
        ax.set_xlim(0, n_steps)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    loss_ax.annotate(
        "stop, save,\nresume",
        xy=(stop_step, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-4, -6),
        textcoords="offset points",
        ha="right",
        va="top",
        color="0.3",
        fontsize="small",
    )
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("batch loss")
    distance_ax.set_yscale("symlog", linthresh=DISTANCE_LINEAR_BELOW)
    distance_ax.set_ylim(-DISTANCE_LINEAR_BELOW / 5, 10.0)
    distance_ax.set_ylabel("distance of the weights\nfrom the run that never stopped")


def _draw_resume(loss_ax: Axes, distance_ax: Axes, result, name: str, color: str, exact: bool) -> list:
    steps = np.arange(len(result.resumed_loss[name])) + result.stop_step + 1
    style = dict(color=color, linewidth=1.4, linestyle=(0, (3, 2)) if exact else "-", label=name)
    (loss_line,) = loss_ax.plot(steps, result.resumed_loss[name].numpy(), **style)
    (distance_line,) = distance_ax.plot(steps, result.weight_distance[name].numpy(), **style)
    return [loss_line, distance_line]


def _draw_uninterrupted(loss_ax: Axes, result) -> None:
    steps = np.arange(len(result.uninterrupted_loss)) + 1
    loss_ax.plot(
        steps, result.uninterrupted_loss.numpy(), color=UNINTERRUPTED_COLOR, linewidth=3.0, label="never stopped"
    )


def plot_resumes(result) -> Figure:
    """Left: batch losses of every resume over the run that never stopped. Right: how far each resume's weights
    are from that run's (exactly 0 for the exact resume)."""
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    loss_ax, distance_ax = fig.subplots(1, 2)
    _draw_uninterrupted(loss_ax, result)
    for index, name in enumerate(result.resumed_loss):
        _draw_resume(loss_ax, distance_ax, result, name, resume_color(index), exact=index == 0)
    _setup_axes(loss_ax, distance_ax, result.stop_step, len(result.uninterrupted_loss))
    fig.legend(*loss_ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small")
    fig.suptitle("Train, stop after a checkpoint, resume in a fresh process")
    return fig


class ResumePanel:
    """The explorable's figure: the run that never stopped, and one resume at a time drawn over it."""

    def __init__(self, result, *, dpi: int = 80):
        self.result = result
        self.names = list(result.resumed_loss)
        self.figure = Figure(figsize=(8.0, 3.2), dpi=dpi, layout="constrained")
        self.loss_ax, self.distance_ax = self.figure.subplots(1, 2)
        _draw_uninterrupted(self.loss_ax, result)
        _setup_axes(self.loss_ax, self.distance_ax, result.stop_step, len(result.uninterrupted_loss))
        self.lines = {
            name: _draw_resume(self.loss_ax, self.distance_ax, result, name, resume_color(index), exact=index == 0)
            for index, name in enumerate(self.names)
        }

    def show(self, index: int) -> None:
        """Show resume number ``index`` (in the order of the result's dicts) and hide the others."""
        chosen = self.names[index]
        for name, lines in self.lines.items():
            for line in lines:
                line.set_visible(name == chosen)
        distance = self.result.weight_distance[chosen][-1].item()
        self.figure.suptitle(f"Resume: {chosen}  ·  the weights end {distance:.3g} away")

    def render_png(self) -> bytes:
        """The figure as it stands, as PNG bytes (for a live widget, where no canvas is shown)."""
        png = io.BytesIO()
        self.figure.savefig(png, format="png")
        return png.getvalue()

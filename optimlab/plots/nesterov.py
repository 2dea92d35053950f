"""Chapter 5's figures: heavy ball against Nesterov on the ravine, their rates, and the tuned comparisons."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage, imsave
from matplotlib.ticker import NullLocator
from torch import Tensor

from optimlab.plots.common import draw_quadratic_contours, draw_seed_spread, draw_trajectory, sweep_color

METHOD_COLORS = (sweep_color(4), sweep_color(5))  # heavy ball blue, Nesterov vermilion, in METHODS order


def plot_ravine_paths(
    trajectories: Tensor, methods: tuple[str, ...], curvatures: tuple[float, float], *, title: str
) -> Figure:
    """One panel per method (``trajectories`` is ``methods x steps + 1 x 2``), the paths on the ravine."""
    fig = Figure(figsize=(8.0, 2.6), layout="constrained")
    axes = fig.subplots(1, len(methods), sharex=True, sharey=True)
    for index, (ax, method) in enumerate(zip(axes, methods, strict=True)):
        draw_quadratic_contours(ax, curvatures)
        draw_trajectory(ax, trajectories[index], color=METHOD_COLORS[index])
        ax.set_title(method)
        ax.label_outer()
    fig.suptitle(title)
    return fig


def draw_rate_panel(
    ax: Axes,
    curve_x: Tensor,
    predicted: Tensor,
    points_x: Tensor,
    measured: Tensor,
    methods: tuple[str, ...],
    *,
    xlabel: str,
) -> None:
    """Predicted rates (``methods x len(curve_x)``) as curves, measured ones (``methods x len(points_x)``) as dots."""
    for index, method in enumerate(methods):
        color = METHOD_COLORS[index]
        ax.plot(curve_x.numpy(), predicted[index].numpy(), color=color, label=f"{method}, predicted")
        marker = "o" if index == 0 else "s"
        ax.plot(
            points_x.numpy(), measured[index].numpy(), marker, color=color, markersize=4, label=f"{method}, measured"
        )
    ax.axhline(1.0, color="0.6", linestyle=":")
    ax.set_ylim(0.75, 1.05)
    ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)


def plot_rate_comparison(
    by_momentum: tuple[Tensor, Tensor, Tensor, Tensor],
    by_lr: tuple[Tensor, Tensor, Tensor, Tensor],
    methods: tuple[str, ...],
    *,
    lr: float,
    momentum: float,
) -> Figure:
    """Two panels of :func:`draw_rate_panel`: rate against momentum at ``lr``, and against lr at ``momentum``.

    Each argument tuple is ``(curve_x, predicted, points_x, measured)``. Rates above the
    panel (diverging runs) are cut off at its top.
    """
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    momentum_ax, lr_ax = fig.subplots(1, 2, sharey=True)
    draw_rate_panel(momentum_ax, *by_momentum, methods, xlabel="momentum μ")
    momentum_ax.set_title(f"η = {lr:g}")
    momentum_ax.set_ylabel("rate: distance shrinks by it per step")
    draw_rate_panel(lr_ax, *by_lr, methods, xlabel="learning rate η")
    lr_ax.set_title(f"μ = {momentum:g}")
    handles, labels = momentum_ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize="small", loc="outside lower center", ncols=2)
    return fig


def plot_tuned_comparison(
    curves: Tensor,
    lrs: Tensor,
    final: Tensor,
    tuned: Tensor,
    methods: tuple[str, ...],
    *,
    ylabel: str,
    title: str,
    diverged_above: float,
    first_step: int = 0,
) -> Figure:
    """Left: each method at its tuned learning rate, median and range over seeds of ``curves`` (``S x methods x T``).

    Right: the tuning grid, the final value (``S x methods x lrs``) at every learning rate
    where no seed diverged (ended above ``diverged_above``, or not finite), median and range
    over seeds, the tuned one ringed. ``first_step`` is the step of the
    curves' first point (a running mean starts late).
    """
    fig = Figure(figsize=(8.0, 3.2), layout="constrained")
    curve_ax, grid_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    steps = np.arange(curves.shape[-1]) + first_step
    for index, method in enumerate(methods):
        lr = float(lrs[tuned[index]])
        draw_seed_spread(curve_ax, steps, curves[:, index], color=METHOD_COLORS[index], label=f"{method}, η = {lr:.3g}")
        values = final[:, index].double().numpy()
        kept = (np.isfinite(values) & (values <= diverged_above)).all(axis=0)
        values = values[:, kept]
        median = np.median(values, axis=0)
        spread = np.stack([median - values.min(axis=0), values.max(axis=0) - median])
        color = METHOD_COLORS[index]
        grid_ax.errorbar(lrs.numpy()[kept], median, yerr=spread, color=color, marker="o", markersize=4)
        tuned_median = np.median(final[:, index, tuned[index]].double().numpy())
        grid_ax.plot(lr, tuned_median, "o", markersize=11, markerfacecolor="none", color=color)
    curve_ax.set_yscale("log")
    curve_ax.set_xlabel("step")
    curve_ax.set_ylabel(ylabel)
    curve_ax.grid(True, which="major", alpha=0.3)
    curve_ax.legend(fontsize="small")
    grid_ax.set_xscale("log")
    # Tick every other learning rate of the grid, by its value: log-scale minor labels overlap.
    grid_ax.set_xticks(lrs[::2].numpy(), [f"{lr:.3g}" for lr in lrs[::2].tolist()])
    grid_ax.xaxis.set_minor_locator(NullLocator())
    grid_ax.set_yscale("log")
    grid_ax.set_xlabel("learning rate η")
    grid_ax.set_ylabel("final value (ringed: tuned)")
    grid_ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(title)
    return fig


class NesterovPanel:
    """One ``(μ, η)`` setting at a glance: both methods' paths on the ravine and their distance to the minimum.

    Built once; :meth:`show` only moves the lines, so the explorable's frames and the live
    widget redraw without rebuilding the figure.
    """

    def __init__(self, curvatures: tuple[float, float], methods: tuple[str, ...], *, steps: int, dpi: int = 100):
        self.figure = Figure(figsize=(9.0, 3.3), dpi=dpi, layout="constrained")
        self.path_ax, self.distance_ax = self.figure.subplots(1, 2)
        draw_quadratic_contours(self.path_ax, curvatures)
        self.path_ax.set_title("Paths on the ravine")
        self.path_lines = []
        self.distance_lines = []
        for index, method in enumerate(methods):
            color = METHOD_COLORS[index]
            (path,) = self.path_ax.plot([], [], marker="o", markersize=2.5, linewidth=1.2, color=color, label=method)
            (distance,) = self.distance_ax.plot([], [], color=color, linewidth=2.0, label=method)
            self.path_lines.append(path)
            self.distance_lines.append(distance)
        self.path_ax.legend(fontsize="small", loc="lower right")
        self.distance_ax.set_xlim(0, steps)
        self.distance_ax.set_ylim(1e-8, 1e3)
        self.distance_ax.set_yscale("log")
        self.distance_ax.set_xlabel("step")
        self.distance_ax.set_ylabel("distance to the minimum")
        self.distance_ax.grid(True, alpha=0.3)
        self.distance_ax.set_title("Distance (log scale)")
        # Lay out once, with room for a title, then freeze: the boxes never move between
        # settings, and a frame skips the constrained-layout solver (as chapter 4's panel does).
        self.figure.suptitle(" ")
        self.figure.draw_without_rendering()
        self.figure.set_layout_engine("none")
        self._moving = (*self.path_lines, *self.distance_lines, self.figure._suptitle)
        self._background = None  # everything but the moving artists, as pixels; made on the first render

    def show(self, trajectories: Tensor, title: str) -> None:
        """Draw ``trajectories`` (``methods x steps + 1 x 2``) under ``title``."""
        steps = np.arange(trajectories.shape[1])
        for path, distance, trajectory in zip(self.path_lines, self.distance_lines, trajectories, strict=True):
            path.set_data(trajectory[:, 0].numpy(), trajectory[:, 1].numpy())
            distance.set_data(steps, trajectory.norm(dim=-1).numpy())
        self.figure.suptitle(title)

    def render_rgba(self) -> np.ndarray:
        """The figure's pixels (``height x width x 4``), drawing only the moving artists over a cached background.

        The contours, ticks and labels never change between settings and take most of a
        full draw's time, so they are drawn once (the pattern of chapter 4's panel).
        """
        canvas = self.figure.canvas
        if not isinstance(canvas, FigureCanvasAgg):
            canvas = FigureCanvasAgg(self.figure)
        if self._background is None:
            for artist in self._moving:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            for artist in self._moving:
                artist.set_visible(True)
        canvas.restore_region(self._background)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba()).copy()

    def render_png(self) -> bytes:
        png = io.BytesIO()
        imsave(png, self.render_rgba(), format="png")
        return png.getvalue()


def picture_frame(pixels: np.ndarray, *, dpi: int) -> tuple[Figure, AxesImage]:
    """A figure that is nothing but ``pixels`` at their own size: a player's frames redraw in no time."""
    height, width = pixels.shape[:2]
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    image = ax.imshow(pixels, interpolation="none")
    return fig, image

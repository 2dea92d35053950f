"""Ways to explore chapter 5's ravine: live sliders in a notebook, a frame player in the book.

Both draw the same :class:`optimlab.plots.nesterov.NesterovPanel` (heavy ball and
Nesterov from the same start, at the same momentum and learning rate) and only bind
controls to :func:`optimlab.experiments.nesterov.run_ravine_comparison`, cached by its
frozen config. A ravine run takes milliseconds, so the live explorer computes in the
kernel's thread.
"""

from __future__ import annotations

import itertools

import ipywidgets as widgets
from IPython.display import HTML, Image

from optimlab.experiments.momentum import RAVINE
from optimlab.experiments.nesterov import METHODS, RavineComparisonConfig, run_ravine_comparison
from optimlab.plots.nesterov import NesterovPanel, picture_frame
from optimlab.widgets.explorable import explorable
from optimlab.widgets.live import ResultCache

# The book's frames: every momentum at every learning rate (learning rate outer, momentum inner).
EXPLORABLE_LRS = (0.01, 0.025, 0.05)
EXPLORABLE_MOMENTUMS = (0.5, 0.8, 0.9, 0.95)
PANEL_STEPS = 100

cached_ravine = ResultCache(run_ravine_comparison)


def _setting_config(momentum: float, lr: float) -> RavineComparisonConfig:
    return RavineComparisonConfig(momentums=(momentum,), lrs=(lr,), steps=PANEL_STEPS)


def _panel_title(momentum: float, lr: float, predicted: tuple[float, float]) -> str:
    rates = ", ".join(f"{method} {rate:.3f}" for method, rate in zip(METHODS, predicted, strict=True))
    return f"μ = {momentum:g}, η = {lr:g}  ·  predicted rates: {rates}"


class NesterovExplorer:
    """Sliders for momentum and learning rate that redraw one :class:`NesterovPanel` at once."""

    def __init__(self, *, momentum: float = 0.9, lr: float = 0.025):
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.momentum = widgets.FloatSlider(
            value=momentum, min=0.0, max=0.99, step=0.01, description="momentum μ", **slider
        )
        self.lr = widgets.FloatSlider(
            value=lr, min=0.005, max=0.1, step=0.005, description="learning rate η", readout_format=".3f", **slider
        )
        self.output = widgets.Output()
        self.panel = NesterovPanel(RAVINE.curvatures, METHODS, steps=PANEL_STEPS)
        for control in (self.momentum, self.lr):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.momentum, self.lr]), self.output])
        self.redraw()

    def redraw(self) -> None:
        momentum, lr = self.momentum.value, self.lr.value
        result = cached_ravine(_setting_config(momentum, lr))
        self.panel.show(result.trajectories[:, 0], _panel_title(momentum, lr, tuple(result.predicted[:, 0].tolist())))
        self.output.outputs = ()
        self.output.append_display_data(Image(data=self.panel.render_png(), format="png"))


def nesterov_explorer(**initial: float) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``nesterov_explorer(momentum=0.9, lr=0.025)``."""
    return NesterovExplorer(**initial).widget


def nesterov_explorable(
    lrs: tuple[float, ...] = EXPLORABLE_LRS, momentums: tuple[float, ...] = EXPLORABLE_MOMENTUMS, *, dpi: int = 72
) -> HTML:
    """The book's static explorable: one precomputed frame per ``(η, μ)`` pair, picked with a slider."""
    settings = list(itertools.product(lrs, momentums))
    result = cached_ravine(
        RavineComparisonConfig(
            momentums=tuple(m for _, m in settings), lrs=tuple(lr for lr, _ in settings), steps=PANEL_STEPS
        )
    )
    panel = NesterovPanel(RAVINE.curvatures, METHODS, steps=PANEL_STEPS, dpi=dpi)
    frames = []
    for index, (lr, momentum) in enumerate(settings):
        predicted = tuple(result.predicted[:, index].tolist())
        panel.show(result.trajectories[:, index], _panel_title(momentum, lr, predicted))
        frames.append(panel.render_rgba())
    # The player redraws its figure once per frame; a figure holding only the finished
    # picture redraws far faster than the panel with its contours and ticks.
    figure, image = picture_frame(frames[0], dpi=dpi)

    def draw_frame(index: int) -> None:
        image.set_data(frames[index])

    return explorable(
        figure,
        draw_frame,
        len(settings),
        description="Left: the paths of heavy-ball momentum and of Nesterov momentum across an ill-conditioned "
        "quadratic ravine, from the same start with the same momentum and learning rate. Right: their distance "
        "to the minimum at every step, on a log scale.",
        slider_label=f"setting: learning rate from {lrs[0]:g} to {lrs[-1]:g}, "
        f"and within each, momentum from {momentums[0]:g} to {momentums[-1]:g}",
    )

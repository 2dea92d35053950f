"""Ways to explore chapter 7's RMSProp: a frame player over ``α`` in the book, sliders in a live notebook.

Both draw :class:`optimlab.plots.rmsprop.StepSizesPanel` (per-coordinate steps on the badly scaled quadratic,
the path on chapter 4's ravine) over runs of :func:`optimlab.experiments.rmsprop.run_scaled_quadratic`, which
take milliseconds: the live explorer computes each setting at once (cached by config).
"""

from __future__ import annotations

import dataclasses
import io

import ipywidgets as widgets
from IPython.display import HTML, Image

from optimlab.experiments.rmsprop import RAVINE, SCALED_QUADRATIC, run_scaled_quadratic
from optimlab.plots.rmsprop import StepSizesPanel
from optimlab.widgets.explorable import explorable
from optimlab.widgets.live import ResultCache

# The frames of the book's explorable; alpha = 0 divides each gradient by its own size: sign steps.
EXPLORABLE_ALPHAS = (0.0, 0.9, 0.99)

cached_runs = ResultCache(run_scaled_quadratic)


def _panel(alphas: tuple[float, ...], lr_scale: float, dpi: int) -> StepSizesPanel:
    """A panel over both problems for ``alphas``; ``lr_scale`` multiplies both problems' learning rates."""
    quadratic = dataclasses.replace(SCALED_QUADRATIC, alphas=alphas, lr=SCALED_QUADRATIC.lr * lr_scale)
    ravine = dataclasses.replace(RAVINE, alphas=alphas, lr=RAVINE.lr * lr_scale)
    return StepSizesPanel(
        cached_runs(quadratic), lr=quadratic.lr, eps=quadratic.eps, ravine=cached_runs(ravine), dpi=dpi
    )


class RMSpropExplorer:
    """Sliders for ``α`` and the learning rate (as a multiple of the chapter's) that redraw a
    :class:`StepSizesPanel`, published as a PNG."""

    def __init__(self, *, alpha: float = 0.99, lr_scale: float = 1.0):
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.alpha = widgets.FloatSlider(value=alpha, min=0.0, max=0.999, step=0.001, description="α", **slider)
        self.lr_scale = widgets.FloatLogSlider(
            value=lr_scale, base=10, min=-1, max=1, step=0.1, description="learning rate × chapter's", **slider
        )
        self.output = widgets.Output()
        for control in (self.alpha, self.lr_scale):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.alpha, self.lr_scale]), self.output])
        self.panel: StepSizesPanel | None = None
        self.redraw()

    def redraw(self) -> None:
        self.panel = _panel((self.alpha.value,), self.lr_scale.value, dpi=64)
        self.panel.show(0)
        buffer = io.BytesIO()
        self.panel.figure.savefig(buffer, format="png")
        self.output.outputs = ()
        self.output.append_display_data(Image(data=buffer.getvalue(), format="png"))


def rmsprop_explorer(**initial: float) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``rmsprop_explorer(alpha=0.9)``."""
    return RMSpropExplorer(**initial).widget


def rmsprop_explorable(alphas: tuple[float, ...] = EXPLORABLE_ALPHAS, *, dpi: int = 56) -> HTML:
    """The book's static explorable: one precomputed frame per ``α``, picked with a slider."""
    panel = _panel(alphas, 1.0, dpi)
    panel.freeze_layout()
    return explorable(
        panel.figure,
        panel.show,
        len(alphas),
        description="Left: the size of RMSProp's step on each coordinate of a quadratic whose curvatures span "
        "twelve orders of magnitude, with the predicted sizes dashed. Right: RMSProp's path on a narrow "
        "two-dimensional ravine.",
        slider_label=f"α, from {alphas[0]:g} to {alphas[-1]:g}",
    )

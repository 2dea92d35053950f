"""Ways to explore chapter 6's gains: a frame player over ``β`` in the book, sliders in a live notebook.

Both draw :class:`optimlab.plots.local_gain.GainsPanel` over runs of
:func:`optimlab.experiments.local_gain.run_gains_quadratic`, which take milliseconds: the live explorer
computes each setting at once (cached by config) and needs no background work.
"""

from __future__ import annotations

import dataclasses
import io

import ipywidgets as widgets
from IPython.display import HTML, Image

from optimlab.experiments.local_gain import GAINS_QUADRATIC, GainsQuadraticConfig, run_gains_quadratic
from optimlab.plots.local_gain import GainsPanel
from optimlab.widgets.explorable import explorable
from optimlab.widgets.live import ResultCache

# The frames of the book's explorable; 0 is plain gradient descent.
EXPLORABLE_BETAS = (0.0, 0.05, 0.2, 0.5)

cached_gains = ResultCache(run_gains_quadratic)


def _config(beta: float, lr: float) -> GainsQuadraticConfig:
    # beta = 0 rides along, so that the panel's grey reference curve is plain gradient descent at this lr.
    return dataclasses.replace(GAINS_QUADRATIC, betas=(0.0, beta), lr=lr)


class LocalGainExplorer:
    """Sliders for ``β`` and the learning rate ``η`` that redraw a :class:`GainsPanel`, published as a PNG."""

    def __init__(self, *, beta: float = 0.05, lr: float = GAINS_QUADRATIC.lr):
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.beta = widgets.FloatSlider(value=beta, min=0.0, max=0.9, step=0.01, description="gain step β", **slider)
        self.lr = widgets.FloatSlider(
            value=lr, min=0.005, max=0.06, step=0.005, description="learning rate η", readout_format=".3f", **slider
        )
        self.output = widgets.Output()
        for control in (self.beta, self.lr):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.beta, self.lr]), self.output])
        self.panel: GainsPanel | None = None
        self.redraw()

    def redraw(self) -> None:
        result = cached_gains(_config(self.beta.value, self.lr.value))
        self.panel = GainsPanel(result, lr=self.lr.value, dpi=64)
        self.panel.show(1)
        self.output.outputs = ()
        self.output.append_display_data(Image(data=_png(self.panel), format="png"))


def _png(panel: GainsPanel) -> bytes:
    buffer = io.BytesIO()
    panel.figure.savefig(buffer, format="png")
    return buffer.getvalue()


def local_gain_explorer(**initial: float) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``local_gain_explorer(beta=0.05)``."""
    return LocalGainExplorer(**initial).widget


def local_gain_explorable(betas: tuple[float, ...] = EXPLORABLE_BETAS, *, dpi: int = 56) -> HTML:
    """The book's static explorable: one precomputed frame per ``β``, picked with a slider."""
    result = cached_gains(dataclasses.replace(GAINS_QUADRATIC, betas=betas))
    panel = GainsPanel(result, lr=GAINS_QUADRATIC.lr, dpi=dpi)
    panel.freeze_layout()
    return explorable(
        panel.figure,
        panel.show,
        len(betas),
        description="Left: the local gain of each of six weights of a badly scaled quadratic over 300 steps, "
        "with dashed lines at the Newton gain 1/(η h) of each. Right: the loss with these gains and with plain "
        "gradient descent.",
        slider_label=f"gain step β, from {betas[0]:g} to {betas[-1]:g}",
    )

"""Ways to explore Adam's ``betas`` and bias correction: live controls in a notebook, a frame player in the book.

Both draw the same :class:`optimlab.plots.adam.AdamPanel`: the path of one setting on chapter 4's
ravine (:func:`optimlab.experiments.adam.run_ravine`) and its step sizes under a constant gradient
(:func:`optimlab.experiments.adam.predicted_step_over_lr`, the closed form the chapter's tests hold
against measured steps). Both take milliseconds, so the live explorer computes in the kernel's
thread as a control moves.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import torch
from IPython.display import HTML, Image

from optimlab.experiments.adam import RAVINE, RavineConfig, predicted_step_over_lr, run_ravine
from optimlab.plots.adam import AdamPanel
from optimlab.widgets.explorable import explorable

# The step sizes are drawn over this many steps (log axis).
SIZE_STEPS = torch.arange(1, 3001, dtype=torch.float64)
DEFAULT_BETAS = (0.9, 0.999)
# The book's frames, as (beta1, beta2, bias_correction): PyTorch's defaults, the notes' form (no
# correction) with the betas in the right and in the swapped roles, then one change at a time.
EXPLORABLE_SETTINGS = (
    (0.9, 0.999, True),
    (0.9, 0.999, False),
    (0.999, 0.9, False),
    (0.0, 0.999, True),
    (0.99, 0.999, True),
    (0.9, 0.99, True),
)
BETA1_CHOICES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
BETA2_CHOICES = (0.9, 0.99, 0.999, 0.9999)


def _setting_title(beta1: float, beta2: float, bias_correction: bool) -> str:
    correction = "bias corrected" if bias_correction else "no bias correction"
    return f"betas = ({beta1:g}, {beta2:g}), {correction}, η = {RAVINE.lr:g}"


def _draw(panel: AdamPanel, beta1: float, beta2: float, bias_correction: bool) -> None:
    betas = (beta1, beta2)
    path = run_ravine(RavineConfig(betas=betas, bias_correction=bias_correction))
    sizes = predicted_step_over_lr(SIZE_STEPS, betas, bias_correction)
    panel.show(path, sizes, _setting_title(beta1, beta2, bias_correction))


def _new_panel(dpi: int) -> AdamPanel:
    defaults = predicted_step_over_lr(SIZE_STEPS, DEFAULT_BETAS, True)
    return AdamPanel(RAVINE.curvatures, SIZE_STEPS, defaults, dpi=dpi)


class AdamExplorer:
    """Controls for ``beta1``, ``beta2`` and bias correction that redraw one :class:`AdamPanel`."""

    def __init__(self, *, beta1: float = 0.9, beta2: float = 0.999, bias_correction: bool = True):
        style = dict(continuous_update=False, style={"description_width": "initial"})
        self.beta1 = widgets.SelectionSlider(options=BETA1_CHOICES, value=beta1, description="beta1 (m)", **style)
        self.beta2 = widgets.SelectionSlider(options=BETA2_CHOICES, value=beta2, description="beta2 (v)", **style)
        self.bias_correction = widgets.Checkbox(value=bias_correction, description="bias correction")
        self.output = widgets.Output()
        self.panel = _new_panel(dpi=100)
        for control in (self.beta1, self.beta2, self.bias_correction):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.beta1, self.beta2, self.bias_correction]), self.output])
        self.redraw()

    def redraw(self) -> None:
        _draw(self.panel, self.beta1.value, self.beta2.value, self.bias_correction.value)
        png = io.BytesIO()
        self.panel.figure.savefig(png, format="png")
        self.output.outputs = ()
        self.output.append_display_data(Image(data=png.getvalue(), format="png"))


def adam_explorer(**initial) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``adam_explorer(beta1=0.9, bias_correction=False)``."""
    return AdamExplorer(**initial).widget


def adam_explorable(settings: tuple[tuple[float, float, bool], ...] = EXPLORABLE_SETTINGS, *, dpi: int = 70) -> HTML:
    """The book's static explorable: one precomputed frame per ``(beta1, beta2, bias_correction)`` of ``settings``."""
    panel = _new_panel(dpi=dpi)
    return explorable(
        panel.figure,
        lambda index: _draw(panel, *settings[index]),
        len(settings),
        description="Left: the path of Adam on an ill-conditioned quadratic ravine for the chosen betas and "
        "bias correction. Right: its step size over the learning rate under a constant gradient, "
        "against PyTorch's defaults in grey.",
        slider_label="Adam setting: betas and bias correction, PyTorch's defaults first",
    )

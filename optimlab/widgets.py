"""Ways to explore chapter 4's experiments: live sliders in a notebook, a frame player in the book.

Both draw the same :class:`optimlab.plots.MomentumPanel` (path on the ravine, digits
loss) and only bind controls to experiments: results come from
:mod:`optimlab.experiments`, cached by their frozen config so that going back to a
setting already seen redraws at once.
"""

from __future__ import annotations

from functools import lru_cache

import ipywidgets as widgets
from IPython.display import HTML, clear_output, display

from optimlab.experiments import (
    DigitsSweepConfig,
    DigitsSweepResult,
    QuadraticConfig,
    QuadraticResult,
    run_digits_sweep,
    run_quadratic,
)
from optimlab.explorable import explorable
from optimlab.plots import MomentumPanel

# The frames of the book's explorable: dense where momentum's effect changes fastest.
EXPLORABLE_MOMENTUMS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)

cached_quadratic = lru_cache(maxsize=256)(run_quadratic)
cached_digits_sweep = lru_cache(maxsize=256)(run_digits_sweep)


def _panel_title(momentum: float, lr: float, dampening: float, test_accuracy: float) -> str:
    setting = f"momentum μ = {momentum:g}, lr η = {lr:g}" + (f", dampening τ = {dampening:g}" if dampening else "")
    return f"{setting}  ·  digits test accuracy {100 * test_accuracy:.1f}%"


class MomentumExplorer:
    """Sliders for momentum, learning rate and dampening that redraw one :class:`MomentumPanel`.

    A slider change runs (or looks up) the two experiments for the new setting and moves
    the panel's existing lines. Without an interactive matplotlib backend (the usual
    ``inline`` one in Jupyter and Colab) the updated figure is shown again in the
    widget's output area.
    """

    def __init__(self, *, momentum: float = 0.9, lr: float = 0.05, dampening: float = 0.0):
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.momentum = widgets.FloatSlider(
            value=momentum, min=0.0, max=0.99, step=0.01, description="momentum μ", **slider
        )
        self.lr = widgets.FloatSlider(
            value=lr, min=0.005, max=0.15, step=0.005, description="learning rate η", readout_format=".3f", **slider
        )
        self.dampening = widgets.FloatSlider(
            value=dampening, min=0.0, max=0.9, step=0.1, description="dampening τ", **slider
        )
        self.output = widgets.Output()
        self.panel = MomentumPanel(QuadraticConfig().curvatures, steps=DigitsSweepConfig().steps)
        for control in (self.momentum, self.lr, self.dampening):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.momentum, self.lr, self.dampening]), self.output])
        self.redraw()

    def configs(self) -> tuple[QuadraticConfig, DigitsSweepConfig]:
        """The experiments' configs for the sliders' current values."""
        setting = dict(momentums=(self.momentum.value,), lr=self.lr.value, dampening=self.dampening.value)
        return QuadraticConfig(**setting), DigitsSweepConfig(**setting)

    def results(self) -> tuple[QuadraticResult, DigitsSweepResult]:
        quadratic_config, digits_config = self.configs()
        return cached_quadratic(quadratic_config), cached_digits_sweep(digits_config)

    def redraw(self) -> None:
        quadratic, digits = self.results()
        title = _panel_title(self.momentum.value, self.lr.value, self.dampening.value, float(digits.test_accuracy[0]))
        self.panel.show(quadratic.trajectories[0], digits.train_loss[0], title)
        self.panel.figure.canvas.draw_idle()
        with self.output:
            clear_output(wait=True)
            display(self.panel.figure)


def momentum_explorer(**initial: float) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``momentum_explorer(momentum=0.9)``."""
    return MomentumExplorer(**initial).widget


def momentum_explorable(
    momentums: tuple[float, ...] = EXPLORABLE_MOMENTUMS, *, lr: float = 0.05, dampening: float = 0.0, dpi: int = 80
) -> HTML:
    """The book's static explorable: one precomputed frame per momentum value, picked with a slider.

    Both sweeps run batched; every frame shows the whole digits sweep in grey behind
    the selected momentum's curve.
    """
    quadratic = cached_quadratic(QuadraticConfig(momentums=momentums, lr=lr, dampening=dampening))
    digits = cached_digits_sweep(DigitsSweepConfig(momentums=momentums, lr=lr, dampening=dampening))
    panel = MomentumPanel(
        QuadraticConfig().curvatures, steps=DigitsSweepConfig().steps, background=digits.train_loss, dpi=dpi
    )

    def draw_frame(index: int) -> None:
        title = _panel_title(momentums[index], lr, dampening, float(digits.test_accuracy[index]))
        panel.show(quadratic.trajectories[index], digits.train_loss[index], title)

    return explorable(panel.figure, draw_frame, len(momentums))

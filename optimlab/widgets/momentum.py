"""Ways to explore chapter 4's experiments: live sliders in a notebook, a frame player in the book.

Both draw the same :class:`optimlab.plots.momentum.MomentumPanel` (path on the ravine,
digits loss) and only bind controls to experiments: results come from
:mod:`optimlab.experiments.momentum`, cached by their frozen config
(:class:`optimlab.widgets.live.ResultCache`) so that going back to a setting already seen
redraws at once. The live explorer follows :mod:`optimlab.widgets.live`'s pattern:
uncached work runs in the background with a progress bar, and a newer slider value
makes older work stop.
"""

from __future__ import annotations

import dataclasses

import ipywidgets as widgets
from IPython.display import HTML, Image

from optimlab.experiments.momentum import (
    DIGITS_SAME_LR,
    DigitsSweepConfig,
    DigitsSweepResult,
    QuadraticConfig,
    QuadraticResult,
    run_digits_sweep,
    run_quadratic,
)
from optimlab.plots.momentum import MomentumPanel
from optimlab.widgets.explorable import explorable
from optimlab.widgets.live import LatestOnly, ResultCache

# The frames of the book's explorable: dense where momentum's effect changes fastest.
EXPLORABLE_MOMENTUMS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
# The digits run of every setting: the chapter's minibatches and step count, one seed.
DIGITS_RUN = dataclasses.replace(DIGITS_SAME_LR, momentums=(0.9,), seed=0)
# Minibatch losses are drawn as the mean of this many batches (about an epoch of 32-example batches).
LOSS_WINDOW = 42
# Progress messages per run: each one is a message to the browser, so not one per step.
PROGRESS_UPDATES = 20

cached_quadratic = ResultCache(run_quadratic)
cached_digits_sweep = ResultCache(run_digits_sweep)


def _panel_title(momentum: float, lr: float, dampening: float, test_accuracy: float | None) -> str:
    setting = f"momentum μ = {momentum:g}, lr η = {lr:g}" + (f", dampening τ = {dampening:g}" if dampening else "")
    if test_accuracy is None:
        outcome = "computing the digits run…"
    else:
        outcome = f"digits test accuracy {100 * test_accuracy:.1f}%"
    return f"{setting}  ·  {outcome}"


class MomentumExplorer:
    """Sliders for momentum, learning rate and dampening that redraw one :class:`MomentumPanel`.

    A slider change moves the panel's existing lines: the ravine path at once (it takes
    well under a millisecond), the digits loss at once if that setting was computed
    before, otherwise after a background run, with a progress bar and a faded curve
    meanwhile. As the usual ``inline`` backend (Jupyter, Colab) shows no live canvas,
    each redraw publishes the panel as a PNG in the widget's output area; only the lines
    and the title are drawn again (:meth:`MomentumPanel.render_png`).
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
        self.progress = widgets.FloatProgress(value=1.0, min=0.0, max=1.0, description="digits run")
        self.output = widgets.Output()
        self.panel = MomentumPanel(QuadraticConfig().curvatures, steps=DIGITS_RUN.steps, window=LOSS_WINDOW)
        self.latest = LatestOnly()
        for control in (self.momentum, self.lr, self.dampening):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.momentum, self.lr, self.dampening]), self.progress, self.output])
        self.redraw()

    def configs(self) -> tuple[QuadraticConfig, DigitsSweepConfig]:
        """The experiments' configs for the sliders' current values."""
        setting = dict(momentums=(self.momentum.value,), lr=self.lr.value, dampening=self.dampening.value)
        return QuadraticConfig(**setting), dataclasses.replace(DIGITS_RUN, **setting)

    def redraw(self) -> None:
        """Show the sliders' setting: fully at once if cached, else pending until a background run ends."""
        generation = self.latest.start()
        quadratic_config, digits_config = self.configs()
        quadratic = cached_quadratic(quadratic_config)
        digits = cached_digits_sweep.get(digits_config)
        if digits is not None:
            self.latest.show(generation, lambda: self._draw(quadratic, digits))
            return
        self.latest.show(generation, lambda: self._draw_pending(quadratic))
        self.latest.run_in_background(generation, lambda: self._compute(generation, quadratic, digits_config))

    def wait(self, timeout: float | None = None) -> None:
        """Block until the latest setting's background run (if any) has been drawn."""
        self.latest.wait(timeout)

    def _compute(self, generation: int, quadratic: QuadraticResult, config: DigitsSweepConfig) -> None:
        report_every = max(1, config.steps // PROGRESS_UPDATES)

        def on_step(step: int) -> None:
            self.latest.check(generation)  # stops this run once a newer setting exists
            if step % report_every == 0:
                self.progress.value = step / config.steps

        digits = cached_digits_sweep(config, on_step=on_step)
        self.latest.show(generation, lambda: self._draw(quadratic, digits))

    def _draw(self, quadratic: QuadraticResult, digits: DigitsSweepResult) -> None:
        title = _panel_title(self.momentum.value, self.lr.value, self.dampening.value, float(digits.test_accuracy[0]))
        self.panel.show(quadratic.trajectories[0], digits.train_loss[0], title)
        self.progress.value = 1.0
        self._publish()

    def _draw_pending(self, quadratic: QuadraticResult) -> None:
        title = _panel_title(self.momentum.value, self.lr.value, self.dampening.value, None)
        self.panel.show_pending(quadratic.trajectories[0], title)
        self.progress.value = 0.0
        self._publish()

    def _publish(self) -> None:
        image = Image(data=self.panel.render_png(), format="png")
        # Not `with self.output:`, which ties output to the kernel's current message and
        # misroutes it from a worker thread; setting the outputs directly works from any thread.
        self.output.outputs = ()
        self.output.append_display_data(image)


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
    digits = cached_digits_sweep(dataclasses.replace(DIGITS_RUN, momentums=momentums, lr=lr, dampening=dampening))
    panel = MomentumPanel(
        QuadraticConfig().curvatures, steps=DIGITS_RUN.steps, window=LOSS_WINDOW, background=digits.train_loss, dpi=dpi
    )

    def draw_frame(index: int) -> None:
        title = _panel_title(momentums[index], lr, dampening, float(digits.test_accuracy[index]))
        panel.show(quadratic.trajectories[index], digits.train_loss[index], title)

    return explorable(
        panel.figure,
        draw_frame,
        len(momentums),
        description="Left: the path of SGD with momentum across an ill-conditioned quadratic ravine. "
        "Right: the training loss of a small network on the digits data, for the chosen momentum "
        "(in colour) and every other momentum of the sweep (in grey).",
        slider_label=f"momentum, from {momentums[0]:g} to {momentums[-1]:g}",
    )

"""Ways to explore chapter 2's decay: live sliders for ``η₀`` and ``k``, and a frame player in the book.

Both draw the same :class:`optimlab.plots.lr_decay.DecayPanel` (the schedule by epoch and the
loss of the noisy quadratic it gives) from :func:`optimlab.experiments.lr_decay.run_epoch_decay`,
cached by config. A run of the quadratic takes milliseconds, so the live widget computes in the
control's callback: there is no slow work to move off the kernel's thread.
"""

from __future__ import annotations

import dataclasses
import itertools

import ipywidgets as widgets
from IPython.display import HTML, Image

from optimlab.experiments.lr_decay import EPOCH_DECAY, EpochDecayConfig, NoisyQuadraticResult, run_epoch_decay
from optimlab.plots.lr_decay import DecayPanel
from optimlab.widgets.explorable import explorable
from optimlab.widgets.live import ResultCache

# The book's frames: every pair of these (η₀ outer, k inner).
EXPLORABLE_ETA0S = (0.25, 0.5, 1.0)
EXPLORABLE_KS = (0.0, 0.1, 0.5)
# Fewer runs per setting than the chapter's figures: a frame needs a readable curve, not a tight average.
RUN = dataclasses.replace(EPOCH_DECAY, chains=300)
LOSS_RANGE = (3e-3, 30.0)
MAX_LR = 1.5

cached_decay = ResultCache(run_epoch_decay)


def _title(eta0: float, k: float, final_loss: float) -> str:
    return f"η₀ = {eta0:g}, k = {k:g}  ·  loss after {RUN.epochs} epochs: {final_loss:.3g}"


def _panel(**options) -> DecayPanel:
    return DecayPanel(
        epochs=RUN.epochs, steps_per_epoch=RUN.steps_per_epoch, max_lr=MAX_LR, loss_range=LOSS_RANGE, **options
    )


def decay_run(eta0: float, ks: tuple[float, ...]) -> NoisyQuadraticResult:
    """The quadratic under ``η₀ e^(−k e)`` for every ``k`` of ``ks`` (one batch), cached."""
    config: EpochDecayConfig = dataclasses.replace(RUN, eta0=eta0, ks=ks)
    return cached_decay(config)


class DecayExplorer:
    """Sliders for ``η₀`` and ``k`` that redraw the schedule and the loss together."""

    def __init__(self, *, eta0: float = 0.5, k: float = 0.1):
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.eta0 = widgets.FloatSlider(value=eta0, min=0.05, max=MAX_LR, step=0.05, description="η₀", **slider)
        self.k = widgets.FloatSlider(value=k, min=0.0, max=1.0, step=0.01, description="decay k (per epoch)", **slider)
        self.output = widgets.Output()
        self.panel = _panel()
        for control in (self.eta0, self.k):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.eta0, self.k]), self.output])
        self.redraw()

    def redraw(self) -> None:
        result = decay_run(self.eta0.value, (self.k.value,))
        self.panel.show(result.lrs[0], result.loss[0], _title(self.eta0.value, self.k.value, float(result.loss[0, -1])))
        self.output.outputs = ()
        self.output.append_display_data(Image(data=self.panel.render_png(), format="png"))


def decay_explorer(**initial: float) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``decay_explorer(eta0=0.5, k=0.1)``."""
    return DecayExplorer(**initial).widget


def decay_explorable(
    eta0s: tuple[float, ...] = EXPLORABLE_ETA0S, ks: tuple[float, ...] = EXPLORABLE_KS, *, dpi: int = 72
) -> HTML:
    """The book's static explorable: one precomputed frame per ``(η₀, k)``, picked with a slider.

    Each ``η₀`` runs all its ``k`` in one batch; a frame shows the other ``k`` of the same
    ``η₀`` in grey.
    """
    runs = {eta0: decay_run(eta0, ks) for eta0 in eta0s}
    settings = list(itertools.product(eta0s, range(len(ks))))
    panel = _panel(dpi=dpi)

    def draw_frame(index: int) -> None:
        eta0, k_index = settings[index]
        result = runs[eta0]
        panel.show_others(result.loss)
        loss = result.loss[k_index]
        panel.show(result.lrs[k_index], loss, _title(eta0, ks[k_index], float(loss[-1])))

    return explorable(
        panel.figure,
        draw_frame,
        len(settings),
        description="Left: the learning rate by epoch under exponential decay from η₀ with constant k. "
        "Right: the mean loss of SGD on a noisy quadratic under that schedule (in colour), and under the "
        "other decay constants for the same η₀ (in grey).",
        slider_label=f"setting: η₀ from {eta0s[0]:g} to {eta0s[-1]:g}, and for each, k from {ks[0]:g} to {ks[-1]:g}",
    )

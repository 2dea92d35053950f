"""Ways to explore chapter 1's experiments: live sliders in a notebook, a frame player in the book.

Both draw the same :class:`optimlab.plots.minibatch.MinibatchPanel` (the digits loss of one
batch size, and that batch size's place on the noise curve) and only bind controls to
experiments. The live explorer follows :mod:`optimlab.widgets.live`'s pattern: results are
cached by their frozen config, uncached runs go to the background with a progress bar, and
a newer slider value makes older work stop.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import torch
from IPython.display import HTML, Image

from optimlab.experiments.minibatch import BatchSizeSweepResult, digits_per_example_gradients
from optimlab.experiments.momentum import DigitsSweepConfig, DigitsSweepResult, run_digits_sweep
from optimlab.plots.minibatch import MinibatchPanel
from optimlab.widgets.explorable import explorable
from optimlab.widgets.live import LatestOnly, ResultCache

BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
LEARNING_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 2.0)
UPDATES = 80
LOSS_WINDOW = 5
PROGRESS_UPDATES = 20

cached_digits_sweep = ResultCache(run_digits_sweep)


def digits_run(batch_size: int, lr: float, seed: int) -> DigitsSweepConfig:
    """Plain SGD (momentum 0) on the digits MLP: ``UPDATES`` updates on batches of ``batch_size``."""
    return DigitsSweepConfig(momentums=(0.0,), lr=lr, batch_size=batch_size, steps=UPDATES, seed=seed)


def _title(batch_size: int, lr: float, seed: int, test_accuracy: float | None) -> str:
    outcome = "computing…" if test_accuracy is None else f"test accuracy {100 * test_accuracy:.1f}%"
    return f"B = {batch_size}, η = {lr:g}, seed {seed}  ·  {outcome}"


def _noise_curve() -> tuple[float, int]:
    """``Σσ²`` and ``N`` of the digits MLP's per-example gradients at its initial weights."""
    grads, labels = digits_per_example_gradients()
    return grads.var(dim=0, correction=0).sum().item(), len(labels)


class MinibatchExplorer:
    """Sliders for batch size, learning rate and seed that redraw one :class:`MinibatchPanel`."""

    def __init__(
        self, *, batch_size: int = 32, lr: float = 0.3, seed: int = 0, noise_curve: tuple[float, int] | None = None
    ):
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.batch_size = widgets.SelectionSlider(
            options=BATCH_SIZES, value=batch_size, description="batch size B", **slider
        )
        self.lr = widgets.SelectionSlider(options=LEARNING_RATES, value=lr, description="learning rate η", **slider)
        self.seed = widgets.IntSlider(value=seed, min=0, max=9, description="seed", **slider)
        self.progress = widgets.FloatProgress(value=1.0, min=0.0, max=1.0, description="digits run")
        self.output = widgets.Output()
        # (Σσ², N) of the noise curve: computed here unless the caller has it already.
        sigma2_total, n = _noise_curve() if noise_curve is None else noise_curve
        self.panel = MinibatchPanel(sigma2_total, n, steps=UPDATES, window=LOSS_WINDOW)
        self.latest = LatestOnly()
        for control in (self.batch_size, self.lr, self.seed):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.batch_size, self.lr, self.seed]), self.progress, self.output])
        self.redraw()

    def config(self) -> DigitsSweepConfig:
        return digits_run(self.batch_size.value, self.lr.value, self.seed.value)

    def redraw(self) -> None:
        generation = self.latest.start()
        config = self.config()
        result = cached_digits_sweep.get(config)
        if result is not None:
            self.latest.show(generation, lambda: self._draw(result))
            return
        self.progress.value = 0.0
        self.latest.run_in_background(generation, lambda: self._compute(generation, config))

    def wait(self, timeout: float | None = None) -> None:
        self.latest.wait(timeout)

    def _compute(self, generation: int, config: DigitsSweepConfig) -> None:
        report_every = max(1, config.steps // PROGRESS_UPDATES)

        def on_step(step: int) -> None:
            self.latest.check(generation)
            if step % report_every == 0:
                self.progress.value = step / config.steps

        result = cached_digits_sweep(config, on_step=on_step)
        self.latest.show(generation, lambda: self._draw(result))

    def _draw(self, result: DigitsSweepResult) -> None:
        title = _title(self.batch_size.value, self.lr.value, self.seed.value, float(result.test_accuracy[0]))
        self.panel.show(self.batch_size.value, result.train_loss[0], title)
        self.progress.value = 1.0
        buffer = io.BytesIO()
        self.panel.figure.savefig(buffer, format="png", dpi=self.panel.figure.dpi)
        # Not `with self.output:`, which misroutes output from a worker thread (see the momentum explorer).
        self.output.outputs = ()
        self.output.append_display_data(Image(data=buffer.getvalue(), format="png"))


def minibatch_explorer(**initial) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``minibatch_explorer(batch_size=8, lr=0.1)``."""
    return MinibatchExplorer(**initial).widget


def minibatch_explorable(sweep: BatchSizeSweepResult, sigma2_total: float, n: int, *, dpi: int = 80) -> HTML:
    """The book's static explorable: one frame per batch size of ``sweep`` (seed 0 at its tuned rate).

    ``sweep`` gives every batch size the same number of updates (``epochs=None``), so that
    all its curves share one axis.
    """
    if sweep.config.epochs is not None:
        raise ValueError("the explorable draws a sweep at equal numbers of updates (epochs=None)")
    curves = torch.stack([run.train_loss[0] for run in sweep.runs])
    panel = MinibatchPanel(sigma2_total, n, steps=sweep.config.updates, window=LOSS_WINDOW, background=curves, dpi=dpi)

    def draw_frame(index: int) -> None:
        run = sweep.runs[index]
        panel.show(run.batch_size, run.train_loss[0], _title(run.batch_size, run.lr, 0, float(run.test_accuracy[0])))

    sizes = [run.batch_size for run in sweep.runs]
    return explorable(
        panel.figure,
        draw_frame,
        len(sizes),
        description="Left: the training loss of a small network on the digits data for the chosen batch size "
        "(in colour) and the other batch sizes (in grey), each at its tuned learning rate. Right: the variance "
        "of the minibatch gradient against batch size, with the chosen batch size marked.",
        slider_label=f"batch size, from {sizes[0]} to {sizes[-1]}",
    )

"""Ways to explore chapter 9's race: a frame player in the book, a live explorer in a notebook.

The player steps through the optimizers of a precomputed :class:`RaceResult`, one frame
each (:class:`optimlab.plots.pytorch_api.SearchPanel`). The live explorer trains one
optimizer at any learning rate (its seeds as one stack) in the background and draws it
over the race's tuned curves, following :mod:`optimlab.widgets.live`'s pattern.
"""

from __future__ import annotations

import dataclasses
import io

import ipywidgets as widgets
from IPython.display import HTML, Image
from matplotlib.figure import Figure

from optimlab.experiments.pytorch_api import RACE, RaceConfig, RaceResult, run_race
from optimlab.plots.common import batch_loss_running_mean, sweep_color
from optimlab.plots.pytorch_api import LOSS_LIMITS, WINDOW, SearchPanel, optimizer_label
from optimlab.widgets.explorable import explorable
from optimlab.widgets.live import LatestOnly, ResultCache

cached_race = ResultCache(run_race)


def race_explorable(race: RaceResult, *, dpi: int = 80) -> HTML:
    """The book's static explorable: one precomputed frame per optimizer of ``race``, picked with a slider."""
    panel = SearchPanel(race, dpi=dpi)
    names = [optimizer_label(name) for name in race.optimizers]
    return explorable(
        panel.figure,
        panel.show,
        len(race.optimizers),
        description="Left: the training loss of the digits network for each learning rate tried with the "
        "chosen optimizer (median over seeds). Right: the loss each rate reaches, for the chosen optimizer "
        "in colour and every other optimizer in grey; the star marks the tuned rate.",
        slider_label=f"optimizer, from {names[0]} to {names[-1]}",
    )


def single_run(optimizer: str, lr: float) -> RaceConfig:
    """The race's setting for one optimizer at one rate: its seeds, steps and weight decay."""
    k = RACE.optimizers.index(optimizer)
    return dataclasses.replace(RACE, optimizers=(optimizer,), lrs=((lr,),), weight_decays=(RACE.weight_decays[k],))


class RaceExplorer:
    """An optimizer menu and a learning-rate slider; the run's loss (median over seeds) over the tuned race in grey.

    Every setting the race ran is cached from it, so those redraw at once; any other trains in the background.
    """

    def __init__(self, race: RaceResult, *, optimizer: str = "adam", lr: float = 1e-2):
        for k, name in enumerate(race.optimizers):
            for i, rate in enumerate(race.lrs[k].tolist()):
                cached_race.put(single_run(name, rate), race.single(k, i))
        self.optimizer = widgets.Dropdown(
            options=[(optimizer_label(name), name) for name in RACE.optimizers],
            value=optimizer,
            description="optimizer",
        )
        self.lr = widgets.FloatLogSlider(
            value=lr, base=10, min=-4, max=0.5, step=0.25, description="learning rate η", continuous_update=False
        )
        self.output = widgets.Output()
        self.figure = Figure(figsize=(6.0, 3.4), dpi=90, layout="constrained")
        ax = self.figure.subplots()
        for k in range(len(race.optimizers)):
            smoothed = batch_loss_running_mean(race.tuned(k)[1], WINDOW).median(dim=0).values
            ax.plot(range(WINDOW, WINDOW + len(smoothed)), smoothed.numpy(), color="0.8")
        (self.line,) = ax.plot([], [], color=sweep_color(6), linewidth=2.0)
        ax.set_xlim(0, race.train_loss.shape[-1] - 1)
        ax.set_ylim(*LOSS_LIMITS)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(f"training loss (mean of {WINDOW} batches)")
        ax.grid(True, alpha=0.3)
        self.latest = LatestOnly()
        for control in (self.optimizer, self.lr):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.optimizer, self.lr]), self.output])
        self.redraw()

    def redraw(self) -> None:
        generation = self.latest.start()
        config = single_run(self.optimizer.value, self.lr.value)
        result = cached_race.get(config)
        if result is not None:
            self.latest.show(generation, lambda: self._draw(result))
            return
        self.line.set_alpha(0.25)
        self.figure.suptitle(f"{optimizer_label(self.optimizer.value)}, η = {self.lr.value:.3g}: training…")
        self.latest.show(generation, self._publish)
        self.latest.run_in_background(generation, lambda: self._compute(generation, config))

    def wait(self, timeout: float | None = None) -> None:
        self.latest.wait(timeout)

    def _compute(self, generation: int, config: RaceConfig) -> None:
        result = cached_race(config, on_step=lambda _step: self.latest.check(generation))
        self.latest.show(generation, lambda: self._draw(result))

    def _draw(self, result: RaceResult) -> None:
        smoothed = batch_loss_running_mean(result.train_loss[0, 0], WINDOW).median(dim=0).values
        self.line.set_data(range(WINDOW, WINDOW + len(smoothed)), smoothed.numpy())
        self.line.set_alpha(1.0)
        accuracy = 100 * result.test_accuracy[0, 0].mean().item()
        self.figure.suptitle(
            f"{optimizer_label(self.optimizer.value)}, η = {self.lr.value:.3g}: test accuracy {accuracy:.1f}%"
        )
        self._publish()

    def _publish(self) -> None:
        png = io.BytesIO()
        self.figure.savefig(png, format="png")
        # Not `with self.output:` (tied to the kernel's current message, wrong from a worker thread).
        self.output.outputs = ()
        self.output.append_display_data(Image(data=png.getvalue(), format="png"))


def race_explorer(race: RaceResult, **initial) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``race_explorer(race, optimizer="sgd", lr=0.3)``."""
    return RaceExplorer(race, **initial).widget

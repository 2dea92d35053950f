"""Chapter 10's live explorer: choose where training stops, the seed, and what the resume forgets.

Controls only bind to :func:`optimlab.experiments.checkpointing.run_resumes` (cached by its
frozen config, :class:`optimlab.widgets.live.ResultCache`) and to
:class:`optimlab.plots.checkpointing.ResumePanel`. One run of every resume takes well under a
second, so a new stop or seed computes in the foreground; changing the resume only redraws.
"""

from __future__ import annotations

import dataclasses

import ipywidgets as widgets
from IPython.display import Image

from optimlab.experiments.checkpointing import RESUME, RESUMES, run_resumes
from optimlab.plots.checkpointing import ResumePanel
from optimlab.widgets.live import ResultCache

cached_resumes = ResultCache(run_resumes)


class ResumeExplorer:
    """A slider for the epoch training stops after, one for the seed, and a choice of resume."""

    def __init__(self, *, stop_after: int = RESUME.stop_after, seed: int = RESUME.seed, resume: str = "exact"):
        style = dict(continuous_update=False, style={"description_width": "initial"})
        self.stop_after = widgets.IntSlider(
            value=stop_after, min=1, max=RESUME.epochs - 1, description="stop after epochs", **style
        )
        self.seed = widgets.IntSlider(value=seed, min=0, max=9, description="seed", **style)
        self.resume = widgets.Dropdown(options=list(RESUMES), value=resume, description="resume")
        self.output = widgets.Output()
        for control in (self.stop_after, self.seed, self.resume):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.stop_after, self.seed, self.resume]), self.output])
        self.panel: ResumePanel | None = None
        self.redraw()

    def config(self):
        return dataclasses.replace(RESUME, stop_after=self.stop_after.value, seed=self.seed.value)

    def redraw(self) -> None:
        result = cached_resumes(self.config())
        if self.panel is None or self.panel.result is not result:
            self.panel = ResumePanel(result, dpi=90)
        self.panel.show(self.panel.names.index(self.resume.value))
        self.output.outputs = ()
        self.output.append_display_data(Image(data=self.panel.render_png(), format="png"))


def resume_explorer(**initial) -> widgets.VBox:
    """The live explorer's widget, ready to display: ``resume_explorer(resume="forgot the scheduler")``."""
    return ResumeExplorer(**initial).widget
